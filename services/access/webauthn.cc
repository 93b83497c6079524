#include "webauthn.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/hash.h"

namespace cloudillo::access::webauthn {
namespace {

using crypto::CborValue;

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(X509* p) const { X509_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

constexpr uint8_t kUserPresent = 0x01;
constexpr uint8_t kUserVerified = 0x04;
constexpr uint8_t kAttestedData = 0x40;
constexpr uint8_t kExtensionData = 0x80;
constexpr size_t kMaxCredentialId = 1023;  // WebAuthn §6.1 (credentialIdLength)

absl::Status Bad(const char* what) { return absl::InvalidArgumentError(what); }
absl::Status Refused(const char* what) { return absl::PermissionDeniedError(what); }

const std::string* Bytes(const CborValue& map, int64_t key, size_t size = 0) {
  const CborValue* v = map.Find(key);
  if (!v || !v->IsBytes() || (size && v->bytes.size() != size)) return nullptr;
  return &v->bytes;
}

absl::StatusOr<std::string> SpkiDer(EVP_PKEY* key) {
  unsigned char* buf = nullptr;
  int n = i2d_PUBKEY(key, &buf);
  if (n <= 0) return absl::InternalError("cannot encode public key");
  std::string der(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
  OPENSSL_free(buf);
  return der;
}

Ptr<EVP_PKEY> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  Ptr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return nullptr;
  }
  return Ptr<EVP_PKEY>(key);
}

absl::StatusOr<Ptr<EVP_PKEY>> Ec2Key(const CborValue& cose) {
  const CborValue* crv = cose.Find(-1);
  const std::string* x = Bytes(cose, -2, 32);
  const std::string* y = Bytes(cose, -3, 32);
  if (!crv || crv->AsInt() != 1 || !x || !y) return Bad("ES256 key must be P-256 with 32-byte x and y");
  std::string point = "\x04" + *x + *y;
  Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size())) {
    return absl::InternalError("OpenSSL parameter build failed");
  }
  Ptr<EVP_PKEY> key = FromData("EC", bld.get());
  if (!key) return Bad("ES256 key is not a point on P-256");
  // fromdata does not always check the point; a point off the curve must not pass.
  Ptr<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return Bad("ES256 key is not a point on P-256");
  return key;
}

absl::StatusOr<Ptr<EVP_PKEY>> OkpKey(const CborValue& cose) {
  const CborValue* crv = cose.Find(-1);
  const std::string* x = Bytes(cose, -2, 32);
  if (!crv || crv->AsInt() != 6 || !x) return Bad("EdDSA key must be Ed25519 with a 32-byte x");
  Ptr<EVP_PKEY> key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()));
  if (!key) return Bad("invalid Ed25519 key");
  return key;
}

absl::StatusOr<Ptr<EVP_PKEY>> RsaKey(const CborValue& cose) {
  const std::string* n = Bytes(cose, -1);
  const std::string* e = Bytes(cose, -2);
  if (!n || !e || e->empty() || e->size() > 8) return Bad("RS256 key needs n and e");
  Ptr<BIGNUM> bn_n(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
  Ptr<BIGNUM> bn_e(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e) return absl::InternalError("OpenSSL bignum failed");
  // Small moduli are forgeable and huge ones make every login cost seconds.
  int bits = BN_num_bits(bn_n.get());
  if (bits < 2048 || bits > 8192) return Bad("RS256 modulus must have 2048 to 8192 bits");
  if (!BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get())) return Bad("invalid RSA exponent");
  Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return absl::InternalError("OpenSSL parameter build failed");
  }
  Ptr<EVP_PKEY> key = FromData("RSA", bld.get());
  if (!key) return Bad("invalid RSA key");
  return key;
}

bool Verify(EVP_PKEY* key, int64_t alg, std::string_view msg, std::string_view sig) {
  Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  // Ed25519 hashes internally; the others sign SHA-256 of the message.
  const EVP_MD* md = alg == kEdDsa ? nullptr : EVP_sha256();
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
}

// The key type a COSE algorithm must come with.
int KeyTypeFor(int64_t alg) {
  switch (alg) {
    case kEs256:
      return EVP_PKEY_EC;
    case kEdDsa:
      return EVP_PKEY_ED25519;
    case kRs256:
      return EVP_PKEY_RSA;
    default:
      return -1;
  }
}

// Packed attestation with a certificate (WebAuthn §8.2.1): the basic requirements on
// the leaf, then its signature over authData || clientDataHash.
absl::Status CheckPackedX5c(const CborValue& x5c, int64_t alg, std::string_view signed_data,
                            std::string_view sig, std::string_view aaguid) {
  if (x5c.type != CborValue::Type::kArray || x5c.items.empty() || !x5c.items[0].IsBytes())
    return Bad("packed x5c must be a non-empty array of certificates");
  const std::string& der = x5c.items[0].bytes;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size())
    return Bad("packed attestation certificate does not parse");
  if (X509_get_version(cert.get()) != 2) return Refused("attestation certificate must be version 3");
  if (X509_check_ca(cert.get()) != 0) return Refused("attestation certificate must not be a CA");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  char ou[64] = {0};
  if (X509_NAME_get_text_by_NID(subject, NID_organizationalUnitName, ou, sizeof(ou)) <= 0 ||
      std::string_view(ou) != "Authenticator Attestation") {
    return Refused("attestation certificate OU must be \"Authenticator Attestation\"");
  }
  // id-fido-gen-ce-aaguid: an OCTET STRING wrapping the 16-byte AAGUID.
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1);
  int idx = oid ? X509_get_ext_by_OBJ(cert.get(), oid, -1) : -1;
  ASN1_OBJECT_free(oid);
  if (idx >= 0) {
    X509_EXTENSION* ext = X509_get_ext(cert.get(), idx);
    if (X509_EXTENSION_get_critical(ext)) return Refused("AAGUID extension must not be critical");
    ASN1_OCTET_STRING* outer = X509_EXTENSION_get_data(ext);
    const unsigned char* q = ASN1_STRING_get0_data(outer);
    ASN1_OCTET_STRING* inner = d2i_ASN1_OCTET_STRING(nullptr, &q, ASN1_STRING_length(outer));
    bool match = inner && ASN1_STRING_length(inner) == 16 &&
                 std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(inner)), 16) == aaguid;
    ASN1_OCTET_STRING_free(inner);
    if (!match) return Refused("attestation certificate AAGUID does not match");
  }
  EVP_PKEY* cert_key = X509_get0_pubkey(cert.get());
  if (!cert_key || EVP_PKEY_get_base_id(cert_key) != KeyTypeFor(alg))
    return Refused("attestation algorithm does not match the certificate key");
  if (!Verify(cert_key, alg, signed_data, sig)) return Refused("attestation signature does not verify");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PublicKey> PublicKeyFromCose(const CborValue& cose) {
  if (!cose.IsMap()) return Bad("credential public key must be a COSE map");
  const CborValue* kty = cose.Find(1);
  const CborValue* alg = cose.Find(3);
  if (!kty || !alg || !kty->AsInt() || !alg->AsInt()) return Bad("COSE key needs kty and alg");
  absl::StatusOr<Ptr<EVP_PKEY>> key = Bad("unsupported COSE algorithm");
  if (*alg->AsInt() == kEs256 && *kty->AsInt() == 2) {
    key = Ec2Key(cose);
  } else if (*alg->AsInt() == kEdDsa && *kty->AsInt() == 1) {
    key = OkpKey(cose);
  } else if (*alg->AsInt() == kRs256 && *kty->AsInt() == 3) {
    key = RsaKey(cose);
  }
  if (!key.ok()) return key.status();
  CL_ASSIGN_OR_RETURN(std::string der, SpkiDer(key->get()));
  return PublicKey{*alg->AsInt(), std::move(der)};
}

bool VerifySignature(const PublicKey& key, std::string_view msg, std::string_view sig) {
  const auto* p = reinterpret_cast<const unsigned char*>(key.spki_der.data());
  Ptr<EVP_PKEY> pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(key.spki_der.size())));
  if (!pkey || EVP_PKEY_get_base_id(pkey.get()) != KeyTypeFor(key.alg)) return false;
  return Verify(pkey.get(), key.alg, msg, sig);
}

absl::Status CheckClientData(std::string_view client_data_json, const Expected& expected) {
  auto j = nlohmann::json::parse(client_data_json, nullptr, false);
  if (!j.is_object()) return Bad("clientDataJSON is not a JSON object");
  auto field = [&](const char* name) -> std::string {
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (field("type") != expected.type) return Refused("clientDataJSON has the wrong type");
  if (!crypto::ConstantTimeEqual(field("challenge"), expected.challenge))
    return Refused("clientDataJSON has the wrong challenge");
  if (field("origin") != "https://" + expected.rp_id) return Refused("clientDataJSON has the wrong origin");
  // A credential used from inside another site's frame is not a login to this tenant.
  if (auto co = j.find("crossOrigin"); co != j.end() && co->is_boolean() && co->get<bool>())
    return Refused("cross-origin WebAuthn is not accepted");
  return absl::OkStatus();
}

absl::StatusOr<AuthenticatorData> ParseAuthenticatorData(std::string_view raw, std::string_view rp_id) {
  if (raw.size() < 37) return Bad("authenticator data is too short");
  AuthenticatorData ad;
  ad.rp_id_hash.assign(raw.substr(0, 32));
  ad.flags = static_cast<uint8_t>(raw[32]);
  for (int i = 0; i < 4; ++i) ad.sign_count = (ad.sign_count << 8) | static_cast<uint8_t>(raw[33 + i]);
  size_t pos = 37;
  if (ad.flags & kAttestedData) {
    if (raw.size() < pos + 18) return Bad("attested credential data is truncated");
    pos += 16;  // AAGUID
    size_t len =
        (static_cast<size_t>(static_cast<uint8_t>(raw[pos])) << 8) | static_cast<uint8_t>(raw[pos + 1]);
    pos += 2;
    if (len == 0 || len > kMaxCredentialId || raw.size() - pos < len)
      return Bad("invalid credential id length");
    ad.credential_id.assign(raw.substr(pos, len));
    pos += len;
    size_t used = 0;
    auto cose = crypto::DecodeCbor(raw.substr(pos), &used);
    if (!cose.ok()) return cose.status();
    CL_ASSIGN_OR_RETURN(ad.key, PublicKeyFromCose(*cose));
    pos += used;
  }
  if (ad.flags & kExtensionData) {
    size_t used = 0;
    auto ext = crypto::DecodeCbor(raw.substr(pos), &used);
    if (!ext.ok()) return ext.status();
    if (!ext->IsMap()) return Bad("authenticator extensions must be a map");
    pos += used;
  }
  if (pos != raw.size()) return Bad("authenticator data has trailing bytes");
  if (!crypto::ConstantTimeEqual(ad.rp_id_hash, crypto::Sha256(rp_id)))
    return Refused("authenticator data is for another relying party");
  if (!(ad.flags & kUserPresent)) return Refused("user presence flag not set");
  if (!(ad.flags & kUserVerified)) return Refused("user verification flag not set");
  return ad;
}

absl::StatusOr<Registration> VerifyRegistration(std::string_view attestation_object,
                                                std::string_view client_data_json, const Expected& expected) {
  CL_RETURN_IF_ERROR(CheckClientData(client_data_json, expected));
  auto att = crypto::DecodeCbor(attestation_object);
  if (!att.ok()) return att.status();
  const CborValue* fmt = att->Find("fmt");
  const CborValue* stmt = att->Find("attStmt");
  const CborValue* auth_data = att->Find("authData");
  if (!fmt || !fmt->IsText() || !stmt || !stmt->IsMap() || !auth_data || !auth_data->IsBytes())
    return Bad("attestationObject needs fmt, attStmt and authData");
  CL_ASSIGN_OR_RETURN(AuthenticatorData ad, ParseAuthenticatorData(auth_data->bytes, expected.rp_id));
  if (!(ad.flags & kAttestedData)) return Bad("registration without attested credential data");
  if (fmt->bytes == "none") {
    if (!stmt->map.empty()) return Bad("\"none\" attestation must have an empty statement");
  } else if (fmt->bytes == "packed") {
    const CborValue* alg = stmt->Find("alg");
    const CborValue* sig = stmt->Find("sig");
    if (!alg || !alg->AsInt() || !sig || !sig->IsBytes()) return Bad("packed attestation needs alg and sig");
    std::string signed_data = auth_data->bytes + crypto::Sha256(client_data_json);
    if (const CborValue* x5c = stmt->Find("x5c")) {
      CL_RETURN_IF_ERROR(CheckPackedX5c(*x5c, *alg->AsInt(), signed_data, sig->bytes,
                                        std::string_view(auth_data->bytes).substr(37, 16)));
    } else {
      if (*alg->AsInt() != ad.key.alg) return Refused("self attestation algorithm differs from the key's");
      if (!VerifySignature(ad.key, signed_data, sig->bytes))
        return Refused("self attestation signature does not verify");
    }
  } else {
    return Refused("unsupported attestation format");
  }
  return Registration{std::move(ad.credential_id), std::move(ad.key), ad.sign_count, fmt->bytes};
}

bool CounterAcceptable(uint32_t stored, uint32_t next) { return (stored == 0 && next == 0) || next > stored; }

absl::StatusOr<uint32_t> VerifyAssertion(std::string_view authenticator_data,
                                         std::string_view client_data_json, std::string_view signature,
                                         const PublicKey& key, uint32_t stored_count,
                                         const Expected& expected) {
  CL_RETURN_IF_ERROR(CheckClientData(client_data_json, expected));
  CL_ASSIGN_OR_RETURN(AuthenticatorData ad, ParseAuthenticatorData(authenticator_data, expected.rp_id));
  std::string signed_data = std::string(authenticator_data) + crypto::Sha256(client_data_json);
  if (!VerifySignature(key, signed_data, signature)) return Refused("assertion signature does not verify");
  if (!CounterAcceptable(stored_count, ad.sign_count))
    return Refused("signature counter did not increase: possibly a cloned authenticator");
  return ad.sign_count;
}

}  // namespace cloudillo::access::webauthn
