#include "frames.h"

#include <nlohmann/json.hpp>

namespace cloudillo::collab {
namespace {

constexpr uint64_t kMaxSafe = (uint64_t{1} << 53) - 1;

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool VarUint(uint64_t* out) {
    uint64_t n = 0;
    for (int shift = 0; shift < 63; shift += 7) {
      if (pos_ >= d_.size()) return false;
      uint8_t b = uint8_t(d_[pos_++]);
      n |= uint64_t(b & 0x7f) << shift;
      if (n > kMaxSafe) return false;
      if (b < 0x80) {
        *out = n;
        return true;
      }
    }
    return false;
  }
  bool VarBytes(std::string_view* out) {
    uint64_t len;
    if (!VarUint(&len) || len > d_.size() - pos_) return false;
    *out = d_.substr(pos_, size_t(len));
    pos_ += size_t(len);
    return true;
  }

 private:
  std::string_view d_;
  size_t pos_ = 0;
};

void PutVarUint(std::string& out, uint64_t n) {
  while (n >= 0x80) {
    out.push_back(char(0x80 | (n & 0x7f)));
    n >>= 7;
  }
  out.push_back(char(n));
}

void PutVarBytes(std::string& out, std::string_view b) {
  PutVarUint(out, b.size());
  out.append(b);
}

absl::Status Malformed(const char* what) { return absl::InvalidArgumentError(what); }

}  // namespace

absl::StatusOr<Message> ParseMessage(std::string_view frame) {
  Reader r(frame);
  uint64_t type;
  if (!r.VarUint(&type)) return Malformed("truncated message type");
  Message m;
  if (type == 0) {
    uint64_t sub;
    if (!r.VarUint(&sub)) return Malformed("truncated sync type");
    if (sub > 2) return Malformed("unknown sync message");
    m.type = MessageType::kSync;
    m.sync = SyncType(sub);
    if (!r.VarBytes(&m.payload)) return Malformed("truncated sync payload");
  } else if (type == 1) {
    m.type = MessageType::kAwareness;
    if (!r.VarBytes(&m.payload)) return Malformed("truncated awareness payload");
  }
  return m;
}

std::string EncodeSync(SyncType type, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 12);
  PutVarUint(out, 0);
  PutVarUint(out, uint64_t(type));
  PutVarBytes(out, payload);
  return out;
}

std::string EncodeAwarenessMessage(std::string_view awareness_update) {
  std::string out;
  out.reserve(awareness_update.size() + 8);
  PutVarUint(out, 1);
  PutVarBytes(out, awareness_update);
  return out;
}

absl::StatusOr<std::vector<AwarenessEntry>> DecodeAwareness(std::string_view update, size_t max_entries) {
  Reader r(update);
  uint64_t n;
  if (!r.VarUint(&n)) return Malformed("truncated awareness count");
  if (n > max_entries) return Malformed("too many awareness entries");
  std::vector<AwarenessEntry> out;
  out.reserve(size_t(n));
  for (uint64_t i = 0; i < n; ++i) {
    AwarenessEntry e;
    std::string_view state;
    if (!r.VarUint(&e.client) || !r.VarUint(&e.clock) || !r.VarBytes(&state))
      return Malformed("truncated awareness entry");
    e.state_json.assign(state);
    out.push_back(std::move(e));
  }
  return out;
}

std::string EncodeAwareness(const std::vector<AwarenessEntry>& entries) {
  std::string out;
  PutVarUint(out, entries.size());
  for (const auto& e : entries) {
    PutVarUint(out, e.client);
    PutVarUint(out, e.clock);
    PutVarBytes(out, e.state_json);
  }
  return out;
}

std::optional<std::vector<AwarenessEntry>> StampAwareness(std::vector<AwarenessEntry> entries,
                                                          const std::string& id_tag) {
  for (auto& e : entries) {
    auto state = nlohmann::json::parse(e.state_json, nullptr, false);
    if (state.is_discarded()) return std::nullopt;
    if (state.is_null()) {
      e.state_json = "null";
      continue;
    }
    if (!state.is_object()) return std::nullopt;
    auto user = state.find("user");
    if (user != state.end()) {
      if (!user->is_object()) return std::nullopt;
      if (id_tag.empty()) {
        user->erase("idTag");
      } else {
        (*user)["idTag"] = id_tag;
      }
    }
    e.state_json = state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return entries;
}

}  // namespace cloudillo::collab
