#include "verified_tokens.h"

#include "cloudillo/crypto/access_token.h"
#include "cloudillo/crypto/hash.h"

namespace cloudillo::gateway {

std::string VerifiedTokens::KeyOf(int64_t tn_id, std::string_view token) {
  std::string input = std::to_string(tn_id);
  input += ':';
  input.append(token.data(), token.size());
  return crypto::Sha256(input);
}

std::optional<Caller> VerifiedTokens::Find(const std::string& key, const Secrets& secrets, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = entries_.Find(key);
  if (!e) return std::nullopt;
  // The same set object, not an equal one: owner_before orders by control block, which
  // an entry's weak_ptr keeps alive, so a later set can never pass for this one.
  bool same_set =
      !e->secrets.owner_before(secrets) && !secrets.owner_before(e->secrets) && !e->secrets.expired();
  if (!same_set || crypto::AccessTokenExpired(e->exp, now)) {
    entries_.Erase(key);
    return std::nullopt;
  }
  return e->caller;
}

void VerifiedTokens::Store(const std::string& key, const Secrets& secrets, Caller caller, int64_t exp) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.Put(key, Entry{secrets, std::move(caller), exp});
}

}  // namespace cloudillo::gateway
