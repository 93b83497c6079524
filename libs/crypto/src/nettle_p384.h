// ES384 arithmetic on Nettle (private to libs/crypto; DESIGN.md "ES384 hot path").
//
// Nettle's P-384 code is constant-time and, unlike OpenSSL's generic EC code, needs no
// per-call object setup, which is where the sign rate comes from. Keys arrive here as
// raw big-endian coordinates and scalars (OpenSSL still parses the storage formats) and
// stay as Nettle objects, so signing and verifying never touch OpenSSL.
//
// Both classes are immutable after construction and safe to share between threads.
#pragma once

#include <nettle/ecc.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cloudillo::crypto::nettle_p384 {

inline constexpr size_t kFieldBytes = 48;
inline constexpr size_t kSignatureBytes = 2 * kFieldBytes;

class Point {
 public:
  // x, y: 48 bytes each, big-endian. InvalidArgument unless (x, y) is on P-384.
  static absl::StatusOr<Point> FromXY(std::string_view x, std::string_view y);
  Point(Point&& o) noexcept;
  Point& operator=(Point&&) = delete;
  Point(const Point&) = delete;
  ~Point();

  std::string XY() const;  // 96 bytes: x ‖ y, big-endian
  // `raw_sig` is r ‖ s (96 bytes). False for any other length, r or s outside [1, n-1],
  // or a signature that does not match SHA-384(msg).
  bool Verify(std::string_view msg, std::string_view raw_sig) const;

 private:
  friend class Scalar;
  Point();
  ecc_point p_;
  bool live_ = true;
};

class Scalar {
 public:
  // d: 48 bytes, big-endian. InvalidArgument unless 0 < d < n.
  static absl::StatusOr<Scalar> FromBytes(std::string_view d);
  Scalar(Scalar&& o) noexcept;
  Scalar& operator=(Scalar&&) = delete;
  Scalar(const Scalar&) = delete;
  ~Scalar();  // wipes the limbs

  Point PublicPoint() const;
  // r ‖ s over SHA-384(msg), with a fresh uniform nonce from getrandom(2).
  std::string Sign(std::string_view msg) const;

 private:
  Scalar();
  ecc_scalar s_;
  bool live_ = true;
};

}  // namespace cloudillo::crypto::nettle_p384
