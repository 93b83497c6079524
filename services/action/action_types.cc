#include "action_types.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace cloudillo::action {
namespace {

constexpr Rule O = Rule::kOptional, R = Rule::kRequired, F = Rule::kForbidden;
constexpr ContentKind kStr = ContentKind::kString, kObj = ContentKind::kObject, kNone = ContentKind::kNone,
                      kAny = ContentKind::kAny;

// PROTOCOL §2.4, one row per definition. Columns: type, aud, sub, p, c, a, content,
// min, max, allow_unknown, key, broadcast, approvable, ephemeral, local_only.
constexpr std::array<TypeDef, 17> kTypes{{
    {"CONN", R, F, F, O, F, kStr, 0, 500, true, "{type}:{issuer}:{audience}", false, false, false, false},
    {"FLLW", R, F, F, O, F, kStr, 0, 500, true, "{type}:{issuer}:{audience}", false, false, false, false},
    {"POST", O, O, O, R, O, kStr, 1, 50000, false, nullptr, true, true, false, false},
    {"REPOST", O, R, F, O, F, kStr, 0, 1000, false, "{type}:{subject}:{issuer}:{audience}", true, true, false,
     false},
    {"REACT", O, R, F, F, O, kNone, 0, 0, true, "{type}:{subject}:{issuer}", false, false, false, false},
    {"CMNT", O, O, R, R, O, kStr, 1, 10000, true, nullptr, false, false, false, false},
    {"MSG", O, O, O, R, O, kStr, 1, 50000, false, nullptr, false, true, false, false},
    {"APRV", O, R, O, F, F, kNone, 0, 0, false, nullptr, true, false, false, false},
    {"STAT", O, O, R, R, F, kObj, 0, 0, false, "{type}:{parent}", true, false, false, false},
    {"IDP:REG", R, F, F, R, F, kObj, 0, 0, true, nullptr, false, false, false, false},
    {"FSHR", R, R, F, R, F, kObj, 0, 0, false, "{type}:{subject}:{audience}", false, false, false, false},
    {"PRES", O, R, O, O, F, kObj, 0, 0, true, nullptr, false, false, true, false},
    {"SUBS", R, R, F, O, F, kObj, 0, 0, true, "{type}:{subject}:{issuer}", false, false, false, false},
    {"CONV", O, F, F, R, O, kObj, 0, 0, false, nullptr, false, false, false, false},
    {"INVT", R, R, F, O, F, kObj, 0, 0, false, "{type}:{subject}:{audience}", false, false, false, false},
    {"PRINVT", R, F, F, R, F, kObj, 0, 0, false, "{type}:{issuer}:{audience}", false, false, false, false},
    {"APKG", F, F, F, R, R, kObj, 0, 0, true, nullptr, false, true, false, true},
}};

constexpr TypeDef kCustom{"", O, O, O, O, O, kAny, 0, 0, false, nullptr, false, false, false, false};

absl::Status Check(Rule rule, bool present, const char* field) {
  if (rule == Rule::kRequired && !present)
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  if (rule == Rule::kForbidden && present)
    return absl::InvalidArgumentError(absl::StrCat(field, " is not allowed"));
  return absl::OkStatus();
}

size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}

bool IsUpperAlnum(char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'); }

}  // namespace

const TypeDef* FindType(std::string_view t) {
  for (const TypeDef& d : kTypes)
    if (t == d.type) return &d;
  std::string_view base = t.substr(0, t.find(':'));
  if (base == "IDP") return nullptr;  // only IDP:REG is defined (E20)
  for (const TypeDef& d : kTypes)
    if (base == d.type) return &d;
  return nullptr;
}

const TypeDef& CustomType() { return kCustom; }

bool ValidTypeName(std::string_view t) {
  size_t colon = t.find(':');
  std::string_view base = t.substr(0, colon);
  if (base.size() < 2 || base.size() > 16 || !(base[0] >= 'A' && base[0] <= 'Z')) return false;
  for (char ch : base)
    if (!IsUpperAlnum(ch)) return false;
  if (colon == std::string_view::npos) return true;
  std::string_view sub = t.substr(colon + 1);
  if (sub.empty() || sub.size() > 16) return false;
  for (char ch : sub)
    if (!IsUpperAlnum(ch)) return false;
  return true;
}

absl::Status ValidateFields(const TypeDef& def, const Claims& c) {
  if (absl::Status st = Check(def.aud, !c.aud.empty(), "aud"); !st.ok()) return st;
  if (absl::Status st = Check(def.sub, !c.sub.empty(), "sub"); !st.ok()) return st;
  if (absl::Status st = Check(def.parent, !c.p.empty(), "p"); !st.ok()) return st;
  if (absl::Status st = Check(def.content, c.c.has_value(), "c"); !st.ok()) return st;
  if (absl::Status st = Check(def.attachments, !c.a.empty(), "a"); !st.ok()) return st;
  if (!c.v.empty() &&
      (c.v.size() != 1 || std::string_view("PV2FCS").find(c.v[0]) == std::string_view::npos)) {
    return absl::InvalidArgumentError("v is not a visibility");
  }
  if (!c.c) return absl::OkStatus();
  switch (def.content_kind) {
    case ContentKind::kString: {
      if (!c.c->is_string()) return absl::InvalidArgumentError("c must be a string");
      size_t n = Utf8Length(c.c->get_ref<const std::string&>());
      if (n < def.min_len || n > def.max_len) return absl::InvalidArgumentError("c has the wrong length");
      break;
    }
    case ContentKind::kObject:
      if (!c.c->is_object()) return absl::InvalidArgumentError("c must be an object");
      if (std::string_view(def.type) == "FSHR") {
        for (const char* k : {"contentType", "fileName", "fileTp"})
          if (!c.c->contains(k) || !(*c.c)[k].is_string())
            return absl::InvalidArgumentError("FSHR content incomplete");
        const std::string& tp = (*c.c)["fileTp"].get_ref<const std::string&>();
        if (tp != "BLOB" && tp != "CRDT" && tp != "RTDB")
          return absl::InvalidArgumentError("FSHR fileTp invalid");
      } else if (std::string_view(def.type) == "CONV") {
        const auto* name = c.c->contains("name") ? &(*c.c)["name"] : nullptr;
        if (!name || !name->is_string() || name->get_ref<const std::string&>().empty() ||
            Utf8Length(name->get_ref<const std::string&>()) > 100) {
          return absl::InvalidArgumentError("CONV name invalid");
        }
      }
      break;
    case ContentKind::kNone:
    case ContentKind::kAny:
      break;
  }
  return absl::OkStatus();
}

std::string DedupKey(const TypeDef& def, const Claims& c) {
  if (!def.key_pattern) return "";
  std::string base = c.base_type();
  return absl::StrReplaceAll(def.key_pattern, {{"{type}", base},
                                               {"{issuer}", c.iss},
                                               {"{audience}", c.aud},
                                               {"{subject}", c.sub},
                                               {"{parent}", c.p}});
}

}  // namespace cloudillo::action
