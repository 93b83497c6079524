// libFuzzer target for WebAuthn input: the input is tried as an attestation object
// (with client data that matches) and as authenticator data of an assertion. Nothing
// may crash, and no assertion may verify: a fuzzer cannot sign with the fixed key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "webauthn.h"

namespace wa = cloudillo::access::webauthn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  const wa::Expected create{"webauthn.create", "Y2hhbGxlbmdl", "alice.example.com"};
  const wa::Expected get{"webauthn.get", "Y2hhbGxlbmdl", "alice.example.com"};
  const std::string client_create =
      R"({"type":"webauthn.create","challenge":"Y2hhbGxlbmdl","origin":"https://alice.example.com"})";
  const std::string client_get =
      R"({"type":"webauthn.get","challenge":"Y2hhbGxlbmdl","origin":"https://alice.example.com"})";
  (void)wa::VerifyRegistration(in, client_create, create);
  (void)wa::ParseAuthenticatorData(in, "alice.example.com");
  if (auto cose = cloudillo::crypto::DecodeCbor(in); cose.ok()) (void)wa::PublicKeyFromCose(*cose);
  // A P-256 SPKI: the curve generator, whose private key is 1; a fuzzer still cannot
  // compute an ECDSA signature, so a verifying assertion means a verification bug.
  static const std::string spki = std::string(
      "\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x03\x42"
      "\x00\x04"
      "\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40\xf2\x77\x03\x7d\x81\x2d\xeb\x33\xa0\xf4"
      "\xa1\x39"
      "\x45\xd8\x98\xc2\x96\x4f\xe3\x42\xe2\xfe\x1a\x7f\x9b\x8e\xe7\xeb\x4a\x7c\x0f\x9e\x16\x2b\xce\x33\x57"
      "\x6b\x31"
      "\x5e\xce\xcb\xb6\x40\x68\x37\xbf\x51\xf5",
      91);
  const wa::PublicKey key{wa::kEs256, spki};
  size_t half = in.size() / 2;
  if (wa::VerifyAssertion(in.substr(0, half), client_get, in.substr(half), key, 0, get).ok()) std::abort();
  return 0;
}
