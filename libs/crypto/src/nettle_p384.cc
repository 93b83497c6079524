#include "nettle_p384.h"

#include <gmp.h>
#include <nettle/bignum.h>
#include <nettle/dsa.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecdsa.h>
#include <nettle/sha2.h>
#include <strings.h>

#include "cloudillo/core/random.h"

namespace cloudillo::crypto::nettle_p384 {
namespace {

const ecc_curve* Curve() { return nettle_get_secp_384r1(); }

const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Holds a big integer that may be secret: its limbs are wiped before GMP frees them.
class WipedMpz {
 public:
  explicit WipedMpz(std::string_view big_endian) {
    mpz_init(v_);
    nettle_mpz_set_str_256_u(v_, big_endian.size(), Bytes(big_endian));
  }
  ~WipedMpz() {
    size_t n = mpz_size(v_);
    if (n) explicit_bzero(mpz_limbs_modify(v_, n), n * sizeof(mp_limb_t));
    mpz_clear(v_);
  }
  WipedMpz(const WipedMpz&) = delete;
  WipedMpz& operator=(const WipedMpz&) = delete;
  mpz_srcptr get() const { return v_; }

 private:
  mpz_t v_;
};

std::string FixedBigEndian(mpz_srcptr v) {
  std::string out(kFieldBytes, '\0');
  nettle_mpz_get_str_256(kFieldBytes, reinterpret_cast<uint8_t*>(out.data()), v);
  return out;
}

void Sha384(std::string_view msg, uint8_t digest[SHA384_DIGEST_SIZE]) {
  sha384_ctx ctx;
  sha384_init(&ctx);
  sha384_update(&ctx, msg.size(), Bytes(msg));
  sha384_digest(&ctx, SHA384_DIGEST_SIZE, digest);
}

// The group order n of P-384.
constexpr const char* kOrderHex =
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

class Mpz {
 public:
  Mpz() { mpz_init(v_); }
  ~Mpz() { mpz_clear(v_); }
  Mpz(const Mpz&) = delete;
  Mpz& operator=(const Mpz&) = delete;
  mpz_ptr get() { return v_; }

 private:
  mpz_t v_;
};

// Nettle's verify adds u1·G and u2·Q with a formula that is incomplete when the two are
// equal (its source says so): it then rejects, never accepts. That sum is 2·u1·G, and
// u1·G = u2·Q exactly when Q = (h/r)·G, so after a rejection one fixed-base
// multiplication tells whether this rare case applied and, if so, settles it. Only
// rejected signatures pay for it. Everything here is public, so timing does not matter.
bool VerifiesByDoubling(const ecc_point& pub, const uint8_t digest[SHA384_DIGEST_SIZE], mpz_srcptr r,
                        mpz_srcptr s) {
  Mpz n, h, t, x, y, qx, qy;
  mpz_set_str(n.get(), kOrderHex, 16);
  if (mpz_sgn(r) <= 0 || mpz_sgn(s) <= 0 || mpz_cmp(r, n.get()) >= 0 || mpz_cmp(s, n.get()) >= 0)
    return false;
  nettle_mpz_set_str_256_u(h.get(), SHA384_DIGEST_SIZE, digest);
  mpz_mod(h.get(), h.get(), n.get());
  if (mpz_sgn(h.get()) == 0 || !mpz_invert(t.get(), r, n.get())) return false;
  mpz_mul(t.get(), t.get(), h.get());
  mpz_mod(t.get(), t.get(), n.get());  // t = h / r
  ecc_scalar k;
  ecc_scalar_init(&k, Curve());
  ecc_point p;
  ecc_point_init(&p, Curve());
  bool ok = false;
  if (ecc_scalar_set(&k, t.get())) {
    ecc_point_mul_g(&p, &k);
    ecc_point_get(&p, x.get(), y.get());
    ecc_point_get(&pub, qx.get(), qy.get());
    if (mpz_cmp(x.get(), qx.get()) == 0 && mpz_cmp(y.get(), qy.get()) == 0 &&
        mpz_invert(t.get(), s, n.get())) {
      mpz_mul(t.get(), t.get(), h.get());
      mpz_mul_2exp(t.get(), t.get(), 1);
      mpz_mod(t.get(), t.get(), n.get());  // t = 2·h / s = 2·u1
      if (ecc_scalar_set(&k, t.get())) {
        ecc_point_mul_g(&p, &k);
        ecc_point_get(&p, x.get(), y.get());
        mpz_mod(x.get(), x.get(), n.get());
        ok = mpz_cmp(x.get(), r) == 0;
      }
    }
  }
  ecc_point_clear(&p);
  ecc_scalar_clear(&k);
  return ok;
}

// Nettle asks for the nonce's bytes through this callback; it draws until the value is
// below n, so the nonce is uniform.
void KernelRandom(void* /*ctx*/, size_t length, uint8_t* dst) { RandomFill(dst, length); }

}  // namespace

Point::Point() { ecc_point_init(&p_, Curve()); }

Point::Point(Point&& o) noexcept : p_(o.p_) { o.live_ = false; }

Point::~Point() {
  if (live_) ecc_point_clear(&p_);
}

absl::StatusOr<Point> Point::FromXY(std::string_view x, std::string_view y) {
  if (x.size() != kFieldBytes || y.size() != kFieldBytes) {
    return absl::InvalidArgumentError("P-384 coordinates must be 48 bytes");
  }
  WipedMpz mx(x), my(y);
  Point p;
  if (!ecc_point_set(&p.p_, mx.get(), my.get())) return absl::InvalidArgumentError("point is not on P-384");
  return p;
}

std::string Point::XY() const {
  mpz_t x, y;
  mpz_init(x);
  mpz_init(y);
  ecc_point_get(&p_, x, y);
  std::string out = FixedBigEndian(x) + FixedBigEndian(y);
  mpz_clear(x);
  mpz_clear(y);
  return out;
}

bool Point::Verify(std::string_view msg, std::string_view raw_sig) const {
  if (raw_sig.size() != kSignatureBytes) return false;
  uint8_t digest[SHA384_DIGEST_SIZE];
  Sha384(msg, digest);
  dsa_signature sig;
  dsa_signature_init(&sig);
  nettle_mpz_set_str_256_u(sig.r, kFieldBytes, Bytes(raw_sig));
  nettle_mpz_set_str_256_u(sig.s, kFieldBytes, Bytes(raw_sig) + kFieldBytes);
  // ecdsa_verify itself refuses r or s that is 0 or not below n before any arithmetic;
  // 48 bytes cannot hold more than n's 384 bits, so nothing else is out of range.
  bool ok = ecdsa_verify(&p_, sizeof digest, digest, &sig) == 1;
  if (!ok) ok = VerifiesByDoubling(p_, digest, sig.r, sig.s);
  dsa_signature_clear(&sig);
  return ok;
}

Scalar::Scalar() { ecc_scalar_init(&s_, Curve()); }

Scalar::Scalar(Scalar&& o) noexcept : s_(o.s_) { o.live_ = false; }

Scalar::~Scalar() {
  if (!live_) return;
  explicit_bzero(s_.p, ecc_size(Curve()) * sizeof(mp_limb_t));
  ecc_scalar_clear(&s_);
}

absl::StatusOr<Scalar> Scalar::FromBytes(std::string_view d) {
  if (d.size() != kFieldBytes) return absl::InvalidArgumentError("P-384 private scalar must be 48 bytes");
  WipedMpz md(d);
  Scalar s;
  if (!ecc_scalar_set(&s.s_, md.get())) return absl::InvalidArgumentError("private scalar out of range");
  return s;
}

Point Scalar::PublicPoint() const {
  Point p;
  ecc_point_mul_g(&p.p_, &s_);
  return p;
}

std::string Scalar::Sign(std::string_view msg) const {
  uint8_t digest[SHA384_DIGEST_SIZE];
  Sha384(msg, digest);
  dsa_signature sig;
  dsa_signature_init(&sig);
  ecdsa_sign(&s_, nullptr, KernelRandom, sizeof digest, digest, &sig);
  std::string out = FixedBigEndian(sig.r) + FixedBigEndian(sig.s);
  dsa_signature_clear(&sig);
  return out;
}

}  // namespace cloudillo::crypto::nettle_p384
