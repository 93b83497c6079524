#include "ref_fields.h"

#include "absl/time/time.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"

namespace cloudillo::access {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxText = 2048;  // description and params (the reference's cap)
constexpr int64_t kMaxCount = 1000000;

absl::StatusOr<int64_t> Timestamp(const json& v, int64_t now) {
  int64_t t = 0;
  if (v.is_number_integer()) {
    t = v.get<int64_t>();
  } else if (v.is_string()) {
    absl::Time parsed;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, v.get<std::string>(), &parsed, &err))
      return rpc::BadRequest("expiresAt must be Unix seconds or RFC 3339");
    t = absl::ToUnixSeconds(parsed);
  } else {
    return rpc::BadRequest("expiresAt must be Unix seconds or RFC 3339");
  }
  if (t <= now) return rpc::BadRequest("Expiration time must be in the future");
  // Beyond year 9999 PostgreSQL refuses the value; refuse it here with the envelope.
  if (t > 253402300799) return rpc::BadRequest("expiresAt is too far in the future");
  return t;
}

absl::StatusOr<std::string> Text(const json& v, const char* name) {
  if (!v.is_string()) return rpc::BadRequest(std::string(name) + " must be a string");
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() > kMaxText) return rpc::BadRequest(std::string(name) + " is too long (max 2048 bytes)");
  return s;
}

absl::StatusOr<int64_t> Count(const json& v) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxCount)
    return rpc::BadRequest("count must be null or an integer from 0 to 1000000");
  return v.get<int64_t>();
}

const json* Field(const json& body, const char* camel, const char* snake) {
  if (auto it = body.find(camel); it != body.end()) return &*it;
  if (snake != nullptr) {
    if (auto it = body.find(snake); it != body.end()) return &*it;
  }
  return nullptr;
}

}  // namespace

bool IsRefId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

bool IsScopeFileId(std::string_view id) {
  if (id.empty() || id.size() > 200) return false;
  for (char c : id) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '~' || c == '-' || c == '_' || c == '.' || c == '@'))
      return false;
  }
  return true;
}

char ParseAccessLevel(std::string_view s) {
  if (s == "read" || s == "R") return 'R';
  if (s == "comment" || s == "C") return 'C';
  if (s == "write" || s == "W") return 'W';
  return 0;
}

const char* AccessLevelName(char c) {
  if (c == 'R') return "read";
  if (c == 'C') return "comment";
  return "write";
}

bool RefExpired(std::string_view expires_at, int64_t now) {
  if (expires_at.empty()) return false;
  absl::Time t;
  std::string err;
  const std::string text(expires_at);
  constexpr char kFormat[] = "%Y-%m-%dT%H:%M:%SZ";
  // absl normalizes out-of-range fields (month 13 is next January): only a time that
  // prints back as the same text was read as written.
  if (!absl::ParseTime(kFormat, text, absl::UTCTimeZone(), &t, &err) ||
      absl::FormatTime(kFormat, t, absl::UTCTimeZone()) != text)
    return true;
  return absl::ToUnixSeconds(t) <= now;
}

absl::StatusOr<RefCreate> ParseRefCreate(const json& body, int64_t now) {
  RefCreate r;
  const json* type = Field(body, "type", nullptr);
  if (type == nullptr || !type->is_string() || type->get_ref<const std::string&>().empty())
    return rpc::BadRequest("ref type is required");
  r.type = type->get<std::string>();
  if (const json* d = Field(body, "description", nullptr); d != nullptr && !d->is_null()) {
    CL_ASSIGN_OR_RETURN(r.description, Text(*d, "description"));
  }
  if (const json* e = Field(body, "expiresAt", "expires_at"); e != nullptr && !e->is_null()) {
    CL_ASSIGN_OR_RETURN(r.expires_at, Timestamp(*e, now));
  }
  r.count = 1;
  if (const json* c = Field(body, "count", nullptr); c != nullptr) {
    if (c->is_null()) {
      r.count.reset();
    } else {
      CL_ASSIGN_OR_RETURN(r.count, Count(*c));
      if (*r.count == 0) return rpc::BadRequest("count must be at least 1");
    }
  }
  if (const json* id = Field(body, "resourceId", "resource_id"); id != nullptr && !id->is_null()) {
    if (!id->is_string() || !IsScopeFileId(id->get_ref<const std::string&>()))
      return rpc::BadRequest("resourceId must be a file id");
    r.resource_id = id->get<std::string>();
  }
  if (const json* a = Field(body, "accessLevel", "access_level"); a != nullptr && !a->is_null()) {
    r.access_level = a->is_string() ? ParseAccessLevel(a->get_ref<const std::string&>()) : 0;
    if (r.access_level == 0) return rpc::BadRequest("accessLevel must be read, comment or write");
  }
  if (const json* p = Field(body, "params", nullptr); p != nullptr && !p->is_null()) {
    CL_ASSIGN_OR_RETURN(r.params, Text(*p, "params"));
  }
  return r;
}

absl::StatusOr<RefUpdate> ParseRefUpdate(const json& body, int64_t now) {
  RefUpdate u;
  if (const json* d = Field(body, "description", nullptr); d != nullptr) {
    u.description.present = true;
    if (!d->is_null()) {
      CL_ASSIGN_OR_RETURN(u.description.value, Text(*d, "description"));
    }
  }
  if (const json* e = Field(body, "expiresAt", "expires_at"); e != nullptr) {
    u.expires_at.present = true;
    if (!e->is_null()) {
      CL_ASSIGN_OR_RETURN(u.expires_at.value, Timestamp(*e, now));
    }
  }
  if (const json* c = Field(body, "count", nullptr); c != nullptr) {
    u.count.present = true;
    if (!c->is_null()) {
      CL_ASSIGN_OR_RETURN(u.count.value, Count(*c));
      if (*u.count.value == 0) return rpc::BadRequest("cannot set count to 0; DELETE the ref to revoke it");
    }
  }
  if (const json* a = Field(body, "accessLevel", "access_level"); a != nullptr) {
    if (a->is_null()) return rpc::BadRequest("accessLevel cannot be cleared; DELETE the ref instead");
    char c = a->is_string() ? ParseAccessLevel(a->get_ref<const std::string&>()) : 0;
    if (c == 0) return rpc::BadRequest("accessLevel must be read, comment or write");
    u.access_level = c;
  }
  if (u.Empty()) return rpc::BadRequest("no fields to update");
  return u;
}

}  // namespace cloudillo::access
