// Cross-node access (PROTOCOL §3.4, §3.5, §13.1, E6, E7): both sides of the PROXY
// exchange, shared by access (which answers and calls it) and action (history sync).
//
// Receiving side:
//   CheckProxyClaims() is the pure claim rule of §13.1: t == "PROXY", aud == the host
//   tenant, exp present, not passed (60 s leeway) and at most 300 s ahead. Every
//   failure is PermissionDenied.
//   VerifyProxyToken() decodes, checks the claims (before any key fetch, so garbage
//   never makes us contact a peer), fetches the issuer's key and verifies. Every
//   refusal, an undecodable token or an unlisted key included, is PermissionDenied;
//   a key-fetch failure is Unavailable (503, E6 recommend).
//
// Calling side:
//   ProxyExchange::Get() mints a PROXY token through `signer` (iat = now, exp = now +
//   60, no content), sends it to `GET https://cl-o.<peer>/api/auth/access-token?token=`
//   and returns the peer's JWT with its `r` and `exp` decoded (not verified: only the
//   peer verifies its own tokens). Grants are cached per (tenant, peer) until exp − 60 s
//   in a bounded process map. Status codes: PermissionDenied when the peer answers a
//   4xx, Unavailable for 5xx, transport errors and unreadable answers, the signer's
//   and client's own codes otherwise.
// Thread-safe; blocking (worker threads only).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/crypto/action_token.h"

namespace cloudillo::federation {

class Client;
class KeyResolver;

constexpr int64_t kProxyLeeway = 60;     // seconds an expired PROXY token is still taken
constexpr int64_t kProxyMaxAhead = 300;  // seconds exp may lie in the future
constexpr int64_t kProxyLifetime = 60;   // what we put in exp (as the reference does)

absl::Status CheckProxyClaims(const crypto::ActionClaims& c, std::string_view host_tenant, int64_t now);

absl::StatusOr<crypto::ActionClaims> VerifyProxyToken(std::string_view token, std::string_view host_tenant,
                                                      KeyResolver& keys, absl::Time now);

struct ProxyGrant {
  std::string token;  // the peer's access token
  std::string roles;  // its `r`, "" when absent
  int64_t exp = 0;
};

// Reads `r` and `exp` of a peer's access token without verifying it. InvalidArgument
// when it is not a JWT with an integer exp.
absl::StatusOr<ProxyGrant> ReadGrant(std::string_view token);

class ProxyExchange {
 public:
  // Signs a PROXY action token for tenant `tn_id`: t = "PROXY", aud, iat, exp.
  using Signer = std::function<absl::StatusOr<std::string>(int64_t tn_id, const std::string& aud, int64_t iat,
                                                           int64_t exp)>;

  ProxyExchange(std::shared_ptr<Client> client, Signer signer, size_t max_entries = 10000);

  absl::StatusOr<ProxyGrant> Get(int64_t tn_id, const std::string& peer, absl::Time now);
  // Drops a cached grant (the peer answered 401/403 to it).
  void Forget(int64_t tn_id, const std::string& peer);

 private:
  std::shared_ptr<Client> client_;
  Signer signer_;
  size_t max_entries_;
  std::mutex mu_;
  std::map<std::pair<int64_t, std::string>, ProxyGrant> cache_;
};

}  // namespace cloudillo::federation
