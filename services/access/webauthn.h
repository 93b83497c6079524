// WebAuthn verification (W3C WebAuthn Level 2 §7.1 and §7.2) for passkeys: no I/O, so
// every check can be tested with made-up authenticators. The relying party is the
// tenant: RP id = idTag, origin = https://<idTag> (PROTOCOL §3.7).
//
// Keys: ES256 (ECDSA P-256, DER signatures), EdDSA (Ed25519) and RS256
// (RSASSA-PKCS1-v1_5 with SHA-256, modulus 2048 to 8192 bits), read from COSE and kept
// as SubjectPublicKeyInfo DER beside the COSE algorithm number.
//
// Every failure is InvalidArgument (malformed input: a 400) or PermissionDenied (well
// formed but not acceptable: a 403); nothing here crashes on hostile input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cloudillo/crypto/cbor.h"

namespace cloudillo::access::webauthn {

constexpr int64_t kEs256 = -7;
constexpr int64_t kEdDsa = -8;
constexpr int64_t kRs256 = -257;

// The ceremony the client data must name, and what it must match.
struct Expected {
  std::string type;       // "webauthn.create" or "webauthn.get"
  std::string challenge;  // base64url without padding, as the options carried it
  std::string rp_id;      // the tenant's idTag; the origin is https://<rp_id>
};

struct PublicKey {
  int64_t alg = 0;
  std::string spki_der;
};

// COSE_Key (RFC 9053) to SPKI; the key's own alg must be one of the three above and
// agree with its key type and curve.
absl::StatusOr<PublicKey> PublicKeyFromCose(const crypto::CborValue& cose);

// Verifies `sig` over `msg` with a stored key; false for any malformed input.
bool VerifySignature(const PublicKey& key, std::string_view msg, std::string_view sig);

// clientDataJSON: type, challenge and origin exactly as expected; crossOrigin refused.
absl::Status CheckClientData(std::string_view client_data_json, const Expected& expected);

struct AuthenticatorData {
  std::string rp_id_hash;
  uint8_t flags = 0;
  uint32_t sign_count = 0;
  // Present when the AT flag is set (registration).
  std::string credential_id;
  PublicKey key;
};

// Parses authenticator data; checks rpIdHash = SHA-256(rp_id), user presence and user
// verification (our options ask for "required", as the reference's passkeys do), and
// that nothing follows the last field.
absl::StatusOr<AuthenticatorData> ParseAuthenticatorData(std::string_view raw, std::string_view rp_id);

struct Registration {
  std::string credential_id;  // raw bytes
  PublicKey key;
  uint32_t sign_count = 0;
  std::string fmt;  // "none" or "packed"
};

// A registration response (attestationObject and clientDataJSON, both raw bytes).
// Attestation formats: "none" (empty statement) and "packed", either self attestation
// (signed with the credential key) or x5c (signed with the leaf certificate's key,
// which must be an end-entity certificate whose AAGUID extension, when present, matches
// the authenticator data). Chains are not checked against a trust store: we ask for no
// attestation, so a statement proves only that the response is consistent.
absl::StatusOr<Registration> VerifyRegistration(std::string_view attestation_object,
                                                std::string_view client_data_json, const Expected& expected);

// An assertion (login) for a stored credential. Returns the new signature counter.
// A counter must grow whenever either side is non-zero: an authenticator that reports
// a lower or equal one may be a clone, and is refused.
absl::StatusOr<uint32_t> VerifyAssertion(std::string_view authenticator_data,
                                         std::string_view client_data_json, std::string_view signature,
                                         const PublicKey& key, uint32_t stored_count,
                                         const Expected& expected);

// True when a stored counter may be replaced by `next` (see VerifyAssertion).
bool CounterAcceptable(uint32_t stored, uint32_t next);

}  // namespace cloudillo::access::webauthn
