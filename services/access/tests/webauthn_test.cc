// WebAuthn verification against a software authenticator built here with OpenSSL:
// each algorithm registers (none, packed self, packed x5c) and signs in, and each
// check refuses the one thing a test breaks.
#include "webauthn.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "cloudillo/core/base64.h"
#include "cloudillo/crypto/hash.h"

namespace cloudillo::access::webauthn {
namespace {

using crypto::CborValue;

CborValue Int(int64_t v) {
  CborValue c;
  c.type = v >= 0 ? CborValue::Type::kUnsigned : CborValue::Type::kNegative;
  c.number = v >= 0 ? static_cast<uint64_t>(v) : static_cast<uint64_t>(-1 - v);
  return c;
}
CborValue Bytes(std::string b) {
  CborValue c;
  c.type = CborValue::Type::kBytes;
  c.bytes = std::move(b);
  return c;
}
CborValue Text(std::string t) {
  CborValue c = Bytes(std::move(t));
  c.type = CborValue::Type::kText;
  return c;
}
CborValue Map(std::vector<crypto::CborMapEntry> m) {
  CborValue c;
  c.type = CborValue::Type::kMap;
  c.map = std::move(m);
  return c;
}

std::string BnBytes(const BIGNUM* bn, int len = 0) {
  std::string out(len ? len : BN_num_bytes(bn), '\0');
  if (len)
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len);
  else
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

// A software authenticator holding one key of one algorithm.
class Authenticator {
 public:
  explicit Authenticator(int64_t alg) : alg_(alg) {
    if (alg == kEs256) {
      key_.reset(EVP_EC_gen("P-256"));
    } else if (alg == kEdDsa) {
      key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    } else {
      key_.reset(EVP_RSA_gen(2048));
    }
    credential_id_ = "cred-" + std::to_string(alg);
  }

  CborValue Cose() const {
    if (alg_ == kEs256) {
      BIGNUM *x = nullptr, *y = nullptr;
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
      CborValue c = Map({{Int(1), Int(2)},
                         {Int(3), Int(kEs256)},
                         {Int(-1), Int(1)},
                         {Int(-2), Bytes(BnBytes(x, 32))},
                         {Int(-3), Bytes(BnBytes(y, 32))}});
      BN_free(x);
      BN_free(y);
      return c;
    }
    if (alg_ == kEdDsa) {
      std::string raw(32, '\0');
      size_t len = raw.size();
      EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len);
      return Map({{Int(1), Int(1)}, {Int(3), Int(kEdDsa)}, {Int(-1), Int(6)}, {Int(-2), Bytes(raw)}});
    }
    BIGNUM *n = nullptr, *e = nullptr;
    EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, &e);
    CborValue c = Map({{Int(1), Int(3)},
                       {Int(3), Int(kRs256)},
                       {Int(-1), Bytes(BnBytes(n))},
                       {Int(-2), Bytes(BnBytes(e))}});
    BN_free(n);
    BN_free(e);
    return c;
  }

  std::string Sign(std::string_view msg) const { return SignWith(key_.get(), alg_, msg); }

  static std::string SignWith(EVP_PKEY* key, int64_t alg, std::string_view msg) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, alg == kEdDsa ? nullptr : EVP_sha256(), nullptr, key);
    size_t len = 0;
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return sig;
  }

  std::string AuthData(const std::string& rp_id, uint32_t count, bool attested, uint8_t flags = 0x05) const {
    std::string ad = crypto::Sha256(rp_id);
    ad.push_back(static_cast<char>(flags | (attested ? 0x40 : 0)));
    for (int i = 3; i >= 0; --i) ad.push_back(static_cast<char>((count >> (8 * i)) & 0xff));
    if (attested) {
      ad += aaguid_;
      ad.push_back(0);
      ad.push_back(static_cast<char>(credential_id_.size()));
      ad += credential_id_ + crypto::EncodeCbor(Cose());
    }
    return ad;
  }

  int64_t alg() const { return alg_; }
  EVP_PKEY* key() const { return key_.get(); }
  const std::string& credential_id() const { return credential_id_; }
  std::string aaguid_ = std::string(16, '\x07');

 private:
  struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  };
  int64_t alg_;
  std::unique_ptr<EVP_PKEY, Free> key_;
  std::string credential_id_;
};

std::string ClientData(const std::string& type, const std::string& challenge, const std::string& origin) {
  return R"({"type":")" + type + R"(","challenge":")" + challenge + R"(","origin":")" + origin +
         R"(","crossOrigin":false})";
}

const std::string kRp = "alice.example.com";
const std::string kChallenge = Base64UrlEncode("0123456789abcdef0123456789abcdef");
const Expected kCreate{"webauthn.create", kChallenge, kRp};
const Expected kGet{"webauthn.get", kChallenge, kRp};

std::string AttestationObject(const std::string& fmt, CborValue stmt, const std::string& auth_data) {
  return crypto::EncodeCbor(Map(
      {{Text("fmt"), Text(fmt)}, {Text("attStmt"), std::move(stmt)}, {Text("authData"), Bytes(auth_data)}}));
}

absl::StatusOr<Registration> RegisterNone(const Authenticator& a) {
  return VerifyRegistration(AttestationObject("none", Map({}), a.AuthData(kRp, 0, true)),
                            ClientData("webauthn.create", kChallenge, "https://" + kRp), kCreate);
}

class PerAlgorithm : public ::testing::TestWithParam<int64_t> {};

TEST_P(PerAlgorithm, NoneAttestationThenLogin) {
  Authenticator a(GetParam());
  auto reg = RegisterNone(a);
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->credential_id, a.credential_id());
  EXPECT_EQ(reg->key.alg, GetParam());
  EXPECT_EQ(reg->fmt, "none");

  std::string cd = ClientData("webauthn.get", kChallenge, "https://" + kRp);
  std::string ad = a.AuthData(kRp, 5, false);
  std::string sig = a.Sign(ad + crypto::Sha256(cd));
  auto count = VerifyAssertion(ad, cd, sig, reg->key, 4, kGet);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 5u);

  // A bad signature: one flipped bit in the signed data, or another key's signature.
  std::string other = a.Sign(ad + crypto::Sha256(cd + " "));
  EXPECT_EQ(VerifyAssertion(ad, cd, other, reg->key, 4, kGet).status().code(),
            absl::StatusCode::kPermissionDenied);
  Authenticator b(GetParam());
  EXPECT_FALSE(VerifyAssertion(ad, cd, b.Sign(ad + crypto::Sha256(cd)), reg->key, 4, kGet).ok());
  EXPECT_FALSE(VerifyAssertion(ad, cd, "", reg->key, 4, kGet).ok());
  EXPECT_FALSE(VerifyAssertion(ad, cd, sig.substr(1), reg->key, 4, kGet).ok());

  // Counter regression: equal or lower than stored is refused.
  EXPECT_EQ(VerifyAssertion(ad, cd, sig, reg->key, 5, kGet).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(VerifyAssertion(ad, cd, sig, reg->key, 9, kGet).ok());
}

TEST_P(PerAlgorithm, PackedSelfAttestation) {
  Authenticator a(GetParam());
  std::string ad = a.AuthData(kRp, 0, true);
  std::string cd = ClientData("webauthn.create", kChallenge, "https://" + kRp);
  std::string sig = a.Sign(ad + crypto::Sha256(cd));
  auto reg = VerifyRegistration(
      AttestationObject("packed", Map({{Text("alg"), Int(a.alg())}, {Text("sig"), Bytes(sig)}}), ad), cd,
      kCreate);
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->fmt, "packed");
  // A self attestation signed over something else.
  std::string bad = a.Sign(ad + crypto::Sha256(cd + "x"));
  EXPECT_EQ(
      VerifyRegistration(
          AttestationObject("packed", Map({{Text("alg"), Int(a.alg())}, {Text("sig"), Bytes(bad)}}), ad), cd,
          kCreate)
          .status()
          .code(),
      absl::StatusCode::kPermissionDenied);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, PerAlgorithm, ::testing::Values(kEs256, kEdDsa, kRs256));

// A self-signed end-entity certificate with OU "Authenticator Attestation".
std::string AttestationCert(EVP_PKEY* key, bool ca) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("US"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Test"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Authenticator Attestation"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Test"), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  X509_EXTENSION* bc =
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  X509_add_ext(cert, bc, -1);
  X509_EXTENSION_free(bc);
  X509_sign(cert, key, EVP_sha256());
  unsigned char* buf = nullptr;
  int n = i2d_X509(cert, &buf);
  std::string der(reinterpret_cast<char*>(buf), n);
  OPENSSL_free(buf);
  X509_free(cert);
  return der;
}

TEST(WebAuthnPacked, X5cAttestation) {
  Authenticator a(kEs256);
  Authenticator attester(kEs256);
  std::string ad = a.AuthData(kRp, 0, true);
  std::string cd = ClientData("webauthn.create", kChallenge, "https://" + kRp);
  std::string sig = attester.Sign(ad + crypto::Sha256(cd));
  CborValue x5c;
  x5c.type = CborValue::Type::kArray;
  x5c.items.push_back(Bytes(AttestationCert(attester.key(), false)));
  auto stmt = Map({{Text("alg"), Int(kEs256)}, {Text("sig"), Bytes(sig)}, {Text("x5c"), x5c}});
  auto reg = VerifyRegistration(AttestationObject("packed", stmt, ad), cd, kCreate);
  ASSERT_TRUE(reg.ok()) << reg.status();
  // Signed by the credential key instead of the certificate's: refused.
  auto wrong = Map({{Text("alg"), Int(kEs256)},
                    {Text("sig"), Bytes(a.Sign(ad + crypto::Sha256(cd)))},
                    {Text("x5c"), x5c}});
  EXPECT_FALSE(VerifyRegistration(AttestationObject("packed", wrong, ad), cd, kCreate).ok());
  // A CA certificate may not attest.
  x5c.items[0] = Bytes(AttestationCert(attester.key(), true));
  auto ca = Map({{Text("alg"), Int(kEs256)}, {Text("sig"), Bytes(sig)}, {Text("x5c"), x5c}});
  EXPECT_FALSE(VerifyRegistration(AttestationObject("packed", ca, ad), cd, kCreate).ok());
  // Garbage instead of a certificate.
  x5c.items[0] = Bytes("not a certificate");
  auto junk = Map({{Text("alg"), Int(kEs256)}, {Text("sig"), Bytes(sig)}, {Text("x5c"), x5c}});
  EXPECT_EQ(VerifyRegistration(AttestationObject("packed", junk, ad), cd, kCreate).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WebAuthnRegistration, RefusesWrongClientDataAndRelyingParty) {
  Authenticator a(kEs256);
  std::string ad = a.AuthData(kRp, 0, true);
  auto att = AttestationObject("none", Map({}), ad);
  auto refused = [&](const std::string& cd) {
    return VerifyRegistration(att, cd, kCreate).status().code() == absl::StatusCode::kPermissionDenied;
  };
  EXPECT_TRUE(refused(ClientData("webauthn.get", kChallenge, "https://" + kRp)));  // wrong type
  EXPECT_TRUE(
      refused(ClientData("webauthn.create", Base64UrlEncode("other"), "https://" + kRp)));      // challenge
  EXPECT_TRUE(refused(ClientData("webauthn.create", kChallenge, "https://evil.example.com")));  // origin
  EXPECT_TRUE(refused(ClientData("webauthn.create", kChallenge, "http://" + kRp)));
  EXPECT_TRUE(refused(ClientData("webauthn.create", kChallenge, "https://" + kRp + ":8443")));
  EXPECT_TRUE(refused(R"({"type":"webauthn.create","challenge":")" + kChallenge + R"(","origin":"https://)" +
                      kRp + R"(","crossOrigin":true})"));
  EXPECT_EQ(VerifyRegistration(att, "not json", kCreate).status().code(), absl::StatusCode::kInvalidArgument);

  std::string cd = ClientData("webauthn.create", kChallenge, "https://" + kRp);
  // Wrong RP id hash.
  EXPECT_EQ(VerifyRegistration(AttestationObject("none", Map({}), a.AuthData("evil.example.com", 0, true)),
                               cd, kCreate)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  // Without user presence, without user verification, without attested data.
  EXPECT_FALSE(
      VerifyRegistration(AttestationObject("none", Map({}), a.AuthData(kRp, 0, true, 0x04)), cd, kCreate)
          .ok());
  EXPECT_FALSE(
      VerifyRegistration(AttestationObject("none", Map({}), a.AuthData(kRp, 0, true, 0x01)), cd, kCreate)
          .ok());
  EXPECT_FALSE(
      VerifyRegistration(AttestationObject("none", Map({}), a.AuthData(kRp, 0, false)), cd, kCreate).ok());
  // "none" with a statement; an unknown format.
  EXPECT_FALSE(
      VerifyRegistration(AttestationObject("none", Map({{Text("x"), Int(1)}}), ad), cd, kCreate).ok());
  EXPECT_FALSE(VerifyRegistration(AttestationObject("fido-u2f", Map({}), ad), cd, kCreate).ok());
  // Trailing bytes after the key; every truncation of the authenticator data.
  EXPECT_FALSE(VerifyRegistration(AttestationObject("none", Map({}), ad + "x"), cd, kCreate).ok());
  for (size_t n = 0; n < ad.size(); ++n)
    EXPECT_FALSE(VerifyRegistration(AttestationObject("none", Map({}), ad.substr(0, n)), cd, kCreate).ok())
        << n;
}

TEST(WebAuthnAssertion, RefusesWrongRelyingPartyOriginChallengeType) {
  Authenticator a(kEdDsa);
  auto reg = RegisterNone(a);
  ASSERT_TRUE(reg.ok());
  auto attempt = [&](const std::string& rp, const std::string& type, const std::string& challenge,
                     const std::string& origin) {
    std::string cd = ClientData(type, challenge, origin);
    std::string ad = a.AuthData(rp, 1, false);
    return VerifyAssertion(ad, cd, a.Sign(ad + crypto::Sha256(cd)), reg->key, 0, kGet).status().code();
  };
  const std::string origin = "https://" + kRp;
  EXPECT_EQ(attempt(kRp, "webauthn.get", kChallenge, origin), absl::StatusCode::kOk);
  EXPECT_EQ(attempt("bob.example.com", "webauthn.get", kChallenge, origin),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(attempt(kRp, "webauthn.create", kChallenge, origin), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(attempt(kRp, "webauthn.get", Base64UrlEncode("x"), origin), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(attempt(kRp, "webauthn.get", kChallenge, "https://bob.example.com"),
            absl::StatusCode::kPermissionDenied);
}

TEST(WebAuthnCounter, Rules) {
  EXPECT_TRUE(CounterAcceptable(0, 0));  // authenticators without a counter
  EXPECT_TRUE(CounterAcceptable(0, 1));
  EXPECT_TRUE(CounterAcceptable(7, 8));
  EXPECT_FALSE(CounterAcceptable(7, 7));
  EXPECT_FALSE(CounterAcceptable(7, 3));
  EXPECT_FALSE(CounterAcceptable(7, 0));
}

TEST(WebAuthnCose, RefusesBadKeys) {
  Authenticator ec(kEs256);
  CborValue c = ec.Cose();
  c.map[1].value = Int(kRs256);  // alg does not match kty
  EXPECT_FALSE(PublicKeyFromCose(c).ok());
  c = ec.Cose();
  c.map[3].value.bytes[31] ^= 1;  // x moved off the curve
  EXPECT_FALSE(PublicKeyFromCose(c).ok());
  c = ec.Cose();
  c.map[2].value = Int(2);  // P-384 curve id
  EXPECT_FALSE(PublicKeyFromCose(c).ok());
  EXPECT_FALSE(PublicKeyFromCose(Int(1)).ok());
  EXPECT_FALSE(PublicKeyFromCose(Map({})).ok());
  // A 1024-bit RSA key is too small.
  EVP_PKEY* small = EVP_RSA_gen(1024);
  BIGNUM *n = nullptr, *e = nullptr;
  EVP_PKEY_get_bn_param(small, OSSL_PKEY_PARAM_RSA_N, &n);
  EVP_PKEY_get_bn_param(small, OSSL_PKEY_PARAM_RSA_E, &e);
  EXPECT_FALSE(PublicKeyFromCose(Map({{Int(1), Int(3)},
                                      {Int(3), Int(kRs256)},
                                      {Int(-1), Bytes(BnBytes(n))},
                                      {Int(-2), Bytes(BnBytes(e))}}))
                   .ok());
  BN_free(n);
  BN_free(e);
  EVP_PKEY_free(small);
  // A stored key whose type disagrees with its algorithm never verifies.
  auto key = PublicKeyFromCose(ec.Cose());
  ASSERT_TRUE(key.ok());
  PublicKey mixed = *key;
  mixed.alg = kEdDsa;
  EXPECT_FALSE(VerifySignature(mixed, "m", ec.Sign("m")));
  EXPECT_TRUE(VerifySignature(*key, "m", ec.Sign("m")));
  EXPECT_FALSE(VerifySignature(PublicKey{kEs256, "junk"}, "m", ec.Sign("m")));
}

}  // namespace
}  // namespace cloudillo::access::webauthn
