// libFuzzer target for token parsing: compact JWS splitting and header checks,
// HS256 and access-token verification, ES384 and action-token decoding and
// verification, and P-384 key decoding. The input is read four ways: as a whole
// token, as the claims of an ES384 token, as the raw signature of a real action token
// (reaching Nettle's range checks and arithmetic with any r and s), and as key bytes.
// No input may crash or verify without the key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/crypto/access_token.h"
#include "cloudillo/crypto/action_token.h"
#include "cloudillo/crypto/jws.h"
#include "cloudillo/crypto/p384.h"

namespace {
using namespace cloudillo::crypto;

struct Fixture {
  P384PrivateKey key = *P384PrivateKey::Generate();
  P384PublicKey pub = key.PublicKey();
  std::string signing_input;  // header.payload of a real action token
  std::string signature;      // its raw r ‖ s
  absl::Time now = absl::FromUnixSeconds(1700000000);

  Fixture() {
    ActionClaims c;
    c.iss = "alice.example.com";
    c.k = "250814";
    c.t = "POST";
    c.c = R"("hello")";
    c.iat = 1700000000;
    std::string token = *SignActionToken(c, key);
    signing_input = token.substr(0, token.rfind('.'));
    signature = *cloudillo::Base64UrlDecode(token.substr(token.rfind('.') + 1));
  }
};

// (r, n - s) also verifies (ECDSA malleability). With r fixed, s is fixed up to its
// sign, so a verifying signature with the real r is one of those two; anything else
// passing is a forgery.
bool IsKnownSignature(const Fixture& f, const std::string& sig) {
  return sig == f.signature || (sig.size() == 96 && sig.compare(0, 48, f.signature, 0, 48) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture* f = new Fixture();
  std::string in(reinterpret_cast<const char*>(data), size);

  // 1. The whole input as a token.
  (void)DecodeUnverified(in);
  auto secret = [](std::string_view) -> std::optional<std::string> { return std::string("fuzz-secret"); };
  // A fuzzer cannot find an HMAC or an ECDSA signature: passing means a forgery.
  if (VerifyHs256(in, secret).ok()) std::abort();
  (void)VerifyAccessToken(in, "alice.example.com", f->now, secret);
  if (VerifyEs384(in, f->pub).ok()) std::abort();
  (void)DecodeActionToken(in);
  if (VerifyActionToken(in, f->pub, f->now).ok()) std::abort();
  if (VerifyEs384Signature(in, f->pub).ok()) std::abort();

  // 2. The input as the claims of an ES384 token (the claim reader, without a signature).
  std::string with_claims = cloudillo::Base64UrlEncode(R"({"typ":"JWT","alg":"ES384"})") + "." +
                            cloudillo::Base64UrlEncode(in) + "." + cloudillo::Base64UrlEncode(f->signature);
  auto claims = DecodeActionToken(with_claims);
  if (claims.ok() && (!cloudillo::IsCanonicalIdTag(claims->iss) ||
                      (claims->aud && !cloudillo::IsCanonicalIdTag(*claims->aud)))) {
    std::abort();
  }

  // 3. The input as the signature of a real token: Nettle sees arbitrary r and s.
  bool accepted = f->pub.Verify(f->signing_input, in);
  if (accepted && !IsKnownSignature(*f, in)) std::abort();
  std::string with_sig = f->signing_input + "." + cloudillo::Base64UrlEncode(in);
  if (VerifyActionToken(with_sig, f->pub, f->now).ok() != accepted) std::abort();
  if (VerifyActionTokenSignature(with_sig, std::nullopt, f->pub, f->now).ok() != accepted) std::abort();

  // 4. The input as key bytes.
  (void)P384PublicKey::FromSpkiDer(in);
  (void)P384PublicKey::FromBase64Spki(in);
  (void)P384PrivateKey::FromPkcs8Der(in);
  return 0;
}
