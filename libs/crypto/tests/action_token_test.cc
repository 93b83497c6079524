// Action tokens as PROTOCOL §2.1/§2.2 and Appendix E14/E21 describe them, and every
// hostile form a peer could send: each is built here from its parts, then mutated the
// way an attacker would.
#include "cloudillo/crypto/action_token.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/crypto/jws.h"
#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::crypto {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;

constexpr char kHeader[] = R"({"typ":"JWT","alg":"ES384"})";
constexpr char kMinimal[] = R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":1700000000})";
const absl::Time kNow = absl::FromUnixSeconds(1700000100);
// The group order n of P-384, big-endian.
const std::string kOrder = absl::HexStringToBytes(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973");

const P384PrivateKey& Key() {
  static const auto* key = new P384PrivateKey(*P384PrivateKey::Generate());
  return *key;
}

ActionClaims Minimal() {
  ActionClaims c;
  c.iss = "alice.example.com";
  c.k = "250814";
  c.t = "POST";
  c.iat = 1700000000;
  return c;
}

// header.payload signed by Key(), whatever the header claims.
std::string SignParts(std::string_view header, std::string_view payload) {
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  return input + "." + Base64UrlEncode(*Key().Sign(input));
}

std::string WithSignature(std::string_view token, std::string_view raw_sig) {
  return std::string(token.substr(0, token.rfind('.') + 1)) + Base64UrlEncode(raw_sig);
}

std::string SignatureOf(std::string_view token) {
  return *Base64UrlDecode(token.substr(token.rfind('.') + 1));
}

// (a - b) mod 2^384 on 48-byte big-endian numbers; the tests only use a >= b.
std::string Subtract(std::string a, const std::string& b) {
  int borrow = 0;
  for (int i = 47; i >= 0; --i) {
    int d = int(uint8_t(a[i])) - int(uint8_t(b[i])) - borrow;
    borrow = d < 0;
    a[i] = char(d + (borrow ? 256 : 0));
  }
  return a;
}

auto Rejected() { return StatusIs(absl::StatusCode::kUnauthenticated); }
auto Malformed() { return StatusIs(absl::StatusCode::kInvalidArgument); }

TEST(ActionToken, ClaimsInProtocolOrderWithAbsentOnesOmitted) {
  EXPECT_EQ(*ActionClaimsJson(Minimal()), kMinimal);
  ActionClaims c = Minimal();
  c.pow = "n0nce";
  c.v = "P";
  c.f = "RC";
  c.exp = 1700003600;
  c.sub = "a1~sub";
  c.aud = "bob.example.com";
  c.a = std::vector<std::string>{"f1~x", "f1~y"};
  c.p = "a1~parent";
  c.c = R"({ "z": 1, "a": ["x", null], "m": "ü" })";
  EXPECT_EQ(*ActionClaimsJson(c),
            R"({"iss":"alice.example.com","k":"250814","t":"POST","c":{"z":1,"a":["x",null],"m":"ü"},)"
            R"("p":"a1~parent","a":["f1~x","f1~y"],"aud":"bob.example.com","sub":"a1~sub","iat":1700000000,)"
            R"("exp":1700003600,"f":"RC","v":"P","_":"n0nce"})");
  c = Minimal();
  c.c = R"("Hello \"world\"")";
  EXPECT_EQ(*ActionClaimsJson(c),
            R"({"iss":"alice.example.com","k":"250814","t":"POST","c":"Hello \"world\"","iat":1700000000})");
}

TEST(ActionToken, SignsWithTheFixedHeaderAndVerifiesRoundTrip) {
  ActionClaims c = Minimal();
  c.c = R"({"text":"hi","b":[1,2]})";
  c.aud = "bob.example.com";
  c.exp = 1700003600;
  CL_ASSERT_OK_AND_ASSIGN(std::string token, SignActionToken(c, Key()));
  EXPECT_EQ(token.substr(0, token.find('.')), Base64UrlEncode(kHeader));
  EXPECT_EQ(token.substr(0, token.find('.')), "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzM4NCJ9");
  EXPECT_EQ(SignatureOf(token).size(), 96u);
  CL_ASSERT_OK_AND_ASSIGN(ActionClaims back, VerifyActionToken(token, Key().PublicKey(), kNow));
  EXPECT_EQ(back.iss, "alice.example.com");
  EXPECT_EQ(back.k, "250814");
  EXPECT_EQ(back.t, "POST");
  EXPECT_EQ(back.c, R"({"text":"hi","b":[1,2]})");
  EXPECT_EQ(back.aud, "bob.example.com");
  EXPECT_EQ(back.iat, 1700000000);
  EXPECT_EQ(back.exp, 1700003600);
  EXPECT_FALSE(back.p || back.a || back.sub || back.f || back.v || back.pow);
  CL_ASSERT_OK_AND_ASSIGN(ActionClaims unverified, DecodeActionToken(token));
  EXPECT_EQ(unverified.iss, "alice.example.com");
  EXPECT_EQ(unverified.k, "250814");
}

TEST(ActionToken, ActionIdHashesTheExactTokenBytes) {
  // Expected value computed independently: base64url(sha256(token)) with Python's hashlib.
  EXPECT_EQ(ActionId("eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJhbGljZS5leGFtcGxlLmNvbSJ9.c2ln"),
            "a1~dkw-QXVR5kavfY61msoAvQTA5L4HvMuly0upq4bBAK0");
  std::string token = *SignActionToken(Minimal(), Key());
  EXPECT_EQ(ActionId(token), "a1~" + Base64UrlEncode(Sha256(token)));
  EXPECT_EQ(ActionId(token).size(), 3u + 43u);
}

TEST(ActionToken, ReadsWhatTheReferenceAccepts) {
  // RFC 3339 timestamps (E14), null optional claims, unknown claims (a repeated key
  // inside one is not ours to judge), a non-ASCII `v`.
  std::string t = SignParts(kHeader, R"({"iss":"alice.example.com","k":"250814","t":"POST",)"
                                     R"("iat":"2023-11-14T22:13:20Z","exp":"2023-11-15T00:13:20+01:00",)"
                                     R"("p":null,"c":null,"x":{"role":"admin","role":"user"},"v":"é"})");
  CL_ASSERT_OK_AND_ASSIGN(ActionClaims c, VerifyActionToken(t, Key().PublicKey(), kNow));
  EXPECT_EQ(c.iat, 1700000000);
  EXPECT_EQ(c.exp, 1700003600);
  EXPECT_FALSE(c.p.has_value());
  EXPECT_FALSE(c.c.has_value());
  EXPECT_EQ(c.v, "é");
  // A U-label iss is canonical.
  t = SignParts(kHeader, R"({"iss":"bücher.example","k":"250814","t":"POST","iat":1})");
  EXPECT_THAT(VerifyActionToken(t, Key().PublicKey(), kNow), IsOk());
}

TEST(ActionToken, SigningRefusesWhatPeersWouldReject) {
  for (const char* iss : {"Alice.example.com", "a.io", "alice.example.com.", "xn--bcher-kva.example", ""}) {
    ActionClaims c = Minimal();
    c.iss = iss;
    EXPECT_THAT(SignActionToken(c, Key()), Malformed()) << iss;
  }
  ActionClaims c = Minimal();
  c.aud = "Bob.example.com";
  EXPECT_THAT(SignActionToken(c, Key()), Malformed());
  c = Minimal();
  c.v = "PV";
  EXPECT_THAT(SignActionToken(c, Key()), Malformed());
  c = Minimal();
  c.c = "{not json";
  EXPECT_THAT(SignActionToken(c, Key()), Malformed());
  c = Minimal();
  c.p = "\xff\xfe";
  EXPECT_THAT(SignActionToken(c, Key()), Malformed());
}

TEST(ActionToken, OtherAlgorithmsRejectedBeforeAnyKeyIsNeeded) {
  const P384PublicKey pub = Key().PublicKey();
  // Each header is signed with the right P-384 key: only its alg can be the reason.
  for (const char* header :
       {R"({"alg":"none"})", R"({"typ":"JWT","alg":"none"})", R"({"alg":"None"})", R"({"alg":"ES256"})",
        R"({"alg":"ES512"})", R"({"alg":"HS256"})", R"({"alg":"RS384"})", R"({"alg":"PS384"})",
        R"({"alg":"EdDSA"})", R"({"alg":"es384"})", R"({"alg":["ES384"]})", R"({"alg":""})",
        R"({"typ":"JWT"})", R"({"alg":"ES384","crit":["exp"]})"}) {
    std::string t = SignParts(header, kMinimal);
    EXPECT_THAT(DecodeActionToken(t), Rejected()) << header;
    EXPECT_THAT(VerifyActionToken(t, pub, kNow), Rejected()) << header;
  }
  EXPECT_THAT(VerifyActionToken(Base64UrlEncode(R"({"alg":"none"})") + "." + Base64UrlEncode(kMinimal) + ".",
                                pub, kNow),
              Rejected());
  // Key confusion: an HS256 token keyed with the published public key.
  std::string input = Base64UrlEncode(R"({"typ":"JWT","alg":"HS256"})") + "." + Base64UrlEncode(kMinimal);
  for (const std::string& secret : {pub.SpkiBase64(), pub.SpkiDer()}) {
    EXPECT_THAT(VerifyActionToken(input + "." + Base64UrlEncode(HmacSha256(secret, input)), pub, kNow),
                Rejected());
  }
}

TEST(ActionToken, BadSignaturesRejected) {
  const P384PublicKey pub = Key().PublicKey();
  std::string good = *SignActionToken(Minimal(), Key());
  ASSERT_THAT(VerifyActionToken(good, pub, kNow), IsOk());
  std::string sig = SignatureOf(good);
  std::string r = sig.substr(0, 48), s = sig.substr(48);
  std::string zero(48, '\0'), one = zero, all_ones(48, '\xff');
  one[47] = 1;
  std::string n_plus_1 = kOrder;
  n_plus_1[47] = char(uint8_t(n_plus_1[47]) + 1);  // ...73 + 1: no carry
  for (const std::string& bad :
       {std::string(), sig.substr(0, 95), sig + std::string(1, '\0'), std::string(1, '\0') + sig, sig + sig,
        zero + s, r + zero, zero + zero, kOrder + s, r + kOrder, n_plus_1 + s, r + n_plus_1, all_ones + s,
        r + all_ones, one + one, s + r, std::string(96, '\0')}) {
    EXPECT_THAT(VerifyActionToken(WithSignature(good, bad), pub, kNow), Rejected())
        << absl::BytesToHexString(bad.substr(0, 8)) << " len " << bad.size();
  }
  // Altered payload under the original signature, and another key.
  std::string other = *SignActionToken(
      [] {
        ActionClaims c = Minimal();
        c.t = "REACT:LIKE";
        return c;
      }(),
      Key());
  EXPECT_THAT(VerifyActionToken(WithSignature(other, sig), pub, kNow), Rejected());
  EXPECT_THAT(VerifyActionToken(good, P384PrivateKey::Generate()->PublicKey(), kNow), Rejected());
  // (r, n - s) is the other valid signature of the same message: ES384 verifiers,
  // the reference's included, accept it, so a replayed token may come with a
  // different action id; deduplication cannot rest on the signature bytes alone.
  EXPECT_THAT(VerifyActionToken(WithSignature(good, r + Subtract(kOrder, s)), pub, kNow), IsOk());
}

TEST(ActionToken, MalformedStructureRejected) {
  const P384PublicKey pub = Key().PublicKey();
  std::string good = *SignActionToken(Minimal(), Key());
  size_t d1 = good.find('.'), d2 = good.rfind('.');
  std::string h = good.substr(0, d1), p = good.substr(d1 + 1, d2 - d1 - 1), s = good.substr(d2 + 1);
  for (const std::string& bad :
       {std::string(), h, h + "." + p, "." + p + "." + s, h + ".." + s, h + "." + p + "." + s + ".",
        h + "." + p + "." + s + ".x", h + "=." + p + "." + s, h + "." + p + "=." + s,
        h + "." + p + "." + s + "=", h + "." + p + " ." + s, h + "." + p + ".\n" + s,
        h + "." + p + "." + s.substr(0, s.size() - 1) + "+",
        h + "." + p + "." + s.substr(0, s.size() - 1) + "/", h + ".!!!." + s, h + "." + p.substr(1) + "." + s,
        "\xff." + p + "." + s}) {
    auto v = VerifyActionToken(bad, pub, kNow);
    EXPECT_FALSE(v.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(v.status()) || absl::IsUnauthenticated(v.status())) << v.status();
  }
  // Signature truncated to 95 bytes or padded to 97 in base64url form.
  EXPECT_THAT(
      VerifyActionToken(h + "." + p + "." + Base64UrlEncode(SignatureOf(good).substr(0, 95)), pub, kNow),
      Rejected());
  EXPECT_THAT(VerifyActionToken(h + "." + p + "." + Base64UrlEncode(SignatureOf(good) + "x"), pub, kNow),
              Rejected());
}

TEST(ActionToken, ClaimsOfTheWrongShapeRejected) {
  for (const char* payload : {
           R"([])",
           R"("iss")",
           R"({"k":"250814","t":"POST","iat":1})",                          // no iss
           R"({"iss":"alice.example.com","t":"POST","iat":1})",             // no k
           R"({"iss":"alice.example.com","k":"250814","iat":1})",           // no t
           R"({"iss":"alice.example.com","k":"250814","t":"POST"})",        // no iat
           R"({"iss":null,"k":"250814","t":"POST","iat":1})",               // null iss
           R"({"iss":"alice.example.com","k":250814,"t":"POST","iat":1})",  // k a number
           R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":"yesterday"})",
           R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":1.5})",
           R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":1,"exp":true})",
           R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":1,"exp":18446744073709551615})",
           R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":1,"a":"f1~x"})",
           R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":1,"a":[1]})",
           R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":1,"v":"PV"})",
           R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":1,"v":""})",
           R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":1,"aud":7})",
           R"({"iss":"alice.example.com","k":"250814","t":"POST","iat":1,"_":0})",
           R"({"iss":"alice.example.com","iss":"mallory.example.com","k":"250814","t":"POST","iat":1})",
       }) {
    std::string t = SignParts(kHeader, payload);
    EXPECT_THAT(DecodeActionToken(t), Malformed()) << payload;
    EXPECT_THAT(VerifyActionToken(t, Key().PublicKey(), kNow), Malformed()) << payload;
  }
}

TEST(ActionToken, NonCanonicalIssuerOrAudienceRejected) {
  for (const char* id : {"Alice.example.com", "ALICE.EXAMPLE.COM", "xn--bcher-kva.example",
                         " alice.example.com", "alice.example.com.", "alice_x.example.com", "a.io", "dev",
                         "alice..example.com", "alice.example.com/x", "@alice.example.com", ""}) {
    std::string iss = std::string(R"({"iss":")") + id + R"(","k":"250814","t":"POST","iat":1})";
    EXPECT_THAT(DecodeActionToken(SignParts(kHeader, iss)), Malformed()) << id;
    std::string aud =
        std::string(R"({"iss":"alice.example.com","k":"250814","t":"POST","aud":")") + id + R"(","iat":1})";
    EXPECT_THAT(DecodeActionToken(SignParts(kHeader, aud)), Malformed()) << id;
  }
}

TEST(ActionToken, ExpiryCheckedWithSixtySecondsLeeway) {
  const P384PublicKey pub = Key().PublicKey();
  int64_t now = absl::ToUnixSeconds(kNow);
  ActionClaims c = Minimal();
  c.exp = now - 60;
  EXPECT_THAT(VerifyActionToken(*SignActionToken(c, Key()), pub, kNow), IsOk());
  c.exp = now - 61;
  EXPECT_THAT(VerifyActionToken(*SignActionToken(c, Key()), pub, kNow), Rejected());
  c.exp = std::numeric_limits<int64_t>::min();
  EXPECT_THAT(VerifyActionToken(*SignActionToken(c, Key()), pub, kNow), Rejected());
  c.exp = std::numeric_limits<int64_t>::max();
  EXPECT_THAT(VerifyActionToken(*SignActionToken(c, Key()), pub, kNow), IsOk());
  // No exp: never expires, and iat is not checked for freshness (§2.1).
  c = Minimal();
  c.iat = 0;
  EXPECT_THAT(VerifyActionToken(*SignActionToken(c, Key()), pub, kNow), IsOk());
  // An expired token is still decodable: the caller may want its iss for logging.
  c.exp = now - 3600;
  EXPECT_THAT(DecodeActionToken(*SignActionToken(c, Key())), IsOk());
}

// The verifier of a token its caller decoded already gives VerifyActionToken's answer
// for every token that decodes: forged signatures, foreign keys, an altered payload
// under the original signature, expiry (exp 0 included: present, and long past).
TEST(ActionToken, SignatureCheckOfADecodedTokenAgreesWithVerify) {
  const P384PublicKey pub = Key().PublicKey();
  std::string good = *SignActionToken(Minimal(), Key());
  std::string sig = SignatureOf(good);
  ActionClaims expiring = Minimal();
  std::vector<std::string> tokens = {good, WithSignature(good, sig.substr(0, 95)),
                                     WithSignature(good, std::string(96, '\0')),
                                     WithSignature(good, sig.substr(48) + sig.substr(0, 48)),
                                     *SignActionToken(Minimal(), *P384PrivateKey::Generate())};
  ActionClaims react = Minimal();
  react.t = "REACT:LIKE";
  tokens.push_back(WithSignature(*SignActionToken(react, Key()), sig));
  for (int64_t exp : {int64_t{0}, absl::ToUnixSeconds(kNow) - 61, absl::ToUnixSeconds(kNow) - 60}) {
    expiring.exp = exp;
    tokens.push_back(*SignActionToken(expiring, Key()));
  }
  tokens.push_back(SignParts(R"({"typ":"JWT","alg":"ES384","crit":["b64"]})", kMinimal));
  int accepted = 0;
  for (const std::string& t : tokens) {
    auto verified = VerifyActionToken(t, pub, kNow);
    auto decoded = DecodeActionToken(t);
    if (!decoded.ok()) {
      EXPECT_FALSE(verified.ok()) << t;
      continue;
    }
    absl::Status st = VerifyActionTokenSignature(t, decoded->exp, pub, kNow);
    EXPECT_EQ(st.code(), verified.status().code()) << t;
    accepted += st.ok();
  }
  EXPECT_EQ(accepted, 2);  // the good token and the one expiring 60 s ago
}

}  // namespace
}  // namespace cloudillo::crypto
