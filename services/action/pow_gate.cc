#include "pow_gate.h"

#include <arpa/inet.h>

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace cloudillo::action {

std::string PowKey(std::string_view ip) {
  std::string s(ip);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1)
    return absl::StrCat("pow:v4:", buf[0], ".", buf[1], ".", buf[2]);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    char out[64];
    std::snprintf(out, sizeof(out), "pow:v6:%x:%x:%x:%x", buf[0] << 8 | buf[1], buf[2] << 8 | buf[3],
                  buf[4] << 8 | buf[5], buf[6] << 8 | buf[7]);
    return out;
  }
  return "";
}

bool PowSatisfied(std::string_view token, int required) {
  if (required <= 0) return true;
  if (token.size() < size_t(required)) return false;
  for (size_t i = token.size() - size_t(required); i < token.size(); ++i)
    if (token[i] != 'A') return false;
  return true;
}

int PowGate::Required(std::string_view ip) {
  std::string key = PowKey(ip);
  if (key.empty()) return 0;
  auto r = redis_->Command({"GET", key});
  if (!r.ok() || r->type != cache::Reply::Type::kString) return 0;
  int n = 0;
  for (char ch : r->str) {
    if (ch < '0' || ch > '9') return 0;
    n = n * 10 + (ch - '0');
    if (n > 10) return 10;
  }
  return n;
}

void PowGate::Penalize(std::string_view ip) {
  std::string key = PowKey(ip);
  if (key.empty()) return;
  // INCR then cap at 10, expiring an hour after the last rise.
  static const std::string kScript =
      "local n = redis.call('INCR', KEYS[1]) if n > 10 then redis.call('SET', KEYS[1], 10) end "
      "redis.call('EXPIRE', KEYS[1], 3600) return n";
  redis_->ScriptAsync(kScript, {key}, {}, [](absl::StatusOr<cache::Reply>) {});
}

}  // namespace cloudillo::action
