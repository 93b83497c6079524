// lib0 binary encoding primitives as Yjs uses them (internal to libs/yjs).
// Reader methods return false on malformed input and never read past the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cloudillo::yjs::lib0 {

inline constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

// What lib0's readVarUint returns, in the terms that matter to Yjs: a safe integer,
// NaN (a zero payload byte after 2^1022 overflowed the multiplier to Infinity), or a
// number beyond 2^53 - 1 (rounded by the double arithmetic, or Infinity).
enum class VarKind : uint8_t { kSafe, kNaN, kBeyond };

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  size_t remaining() const { return data_.size() - pos_; }
  bool done() const { return pos_ == data_.size(); }
  size_t pos() const { return pos_; }
  std::string_view Slice(size_t from, size_t to) const { return data_.substr(from, to - from); }
  // Why the last read failed; lib0's own wording where lib0 throws too.
  const char* error() const { return error_; }

  bool Byte(uint8_t* out) {
    if (pos_ >= data_.size()) return Fail(kEnd);
    *out = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  // lib0 decoding.readVarUint. lib0 has no length limit: it sums payload * 128^i in
  // doubles and throws only when a continuation byte follows a sum beyond 2^53 - 1, so
  // zero-padded (overlong) encodings of any length are accepted. This reproduces the
  // double arithmetic exactly without using doubles.
  bool VarUintAny(uint64_t* out, VarKind* kind) {
    uint64_t num = 0;
    bool nan = false;
    for (int i = 0;; ++i) {
      uint8_t b;
      if (!Byte(&b)) return false;
      bool beyond = AddPayload(b & 0x7f, i, 7 * i, &num, &nan);
      if (b < 0x80) {
        *kind = nan ? VarKind::kNaN : beyond ? VarKind::kBeyond : VarKind::kSafe;
        *out = *kind == VarKind::kSafe ? num : 0;
        return true;
      }
      if (beyond) return Fail(kRange);
    }
  }
  // A varUint that must be a safe integer: where lib0 would hand Yjs a NaN or a
  // rounded number, no answer of ours could match Yjs', so the input is refused.
  bool VarUint(uint64_t* out) {
    VarKind kind;
    if (!VarUintAny(out, &kind)) return false;
    if (kind != VarKind::kSafe) return Fail(kUnsafe);
    return true;
  }
  // lib0 decoding.readVarInt (sign in bit 6 of the first byte, 6 payload bits, then 7
  // per byte), only checked and skipped: the same throw rule as readVarUint.
  bool SkipVarInt() {
    uint8_t b;
    if (!Byte(&b)) return false;
    uint64_t num = b & 0x3f;
    bool nan = false;
    for (int i = 1; b >= 0x80; ++i) {
      if (!Byte(&b)) return false;
      bool beyond = AddPayload(b & 0x7f, i, 7 * i - 1, &num, &nan);
      if (b >= 0x80 && beyond) return Fail(kRange);
    }
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (n > remaining()) return Fail(kEnd);
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool VarBytes(std::string_view* out) {
    uint64_t n;
    return VarUint(&n) && Bytes(size_t(n), out);
  }

 private:
  // From this byte on the multiplier is Infinity: 128^147 = 2^1029 for readVarUint,
  // 64 * 128^146 = 2^1028 for readVarInt.
  static constexpr int kInfiniteMultiplierAt = 147;

  // Byte `index` of a lib0 varint adds `payload` times 2^shift to the sum, in lib0's
  // double arithmetic: true when this byte takes the sum beyond 2^53 - 1 (rounded or
  // Infinity). A NaN sum absorbs everything and never compares greater than
  // MAX_SAFE_INTEGER; 0 * Infinity is NaN, anything else times Infinity is Infinity.
  static bool AddPayload(uint64_t payload, int index, int shift, uint64_t* num, bool* nan) {
    if (*nan) return false;
    if (index >= kInfiniteMultiplierAt) {
      if (payload == 0) *nan = true;
      return payload != 0;
    }
    if (payload == 0) return false;
    if (shift >= 53) return true;
    *num += payload << shift;
    return *num > kMaxSafeInteger;
  }
  static constexpr const char* kEnd = "unexpected end of array";
  static constexpr const char* kRange = "integer out of range";
  static constexpr const char* kUnsafe = "integer beyond 2^53 - 1";
  bool Fail(const char* why) {
    error_ = why;
    return false;
  }
  std::string_view data_;
  size_t pos_ = 0;
  const char* error_ = "";
};

inline void WriteVarUint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += char((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += char(v);
}

inline void WriteVarString(std::string& out, std::string_view s) {
  WriteVarUint(out, s.size());
  out.append(s);
}

}  // namespace cloudillo::yjs::lib0
