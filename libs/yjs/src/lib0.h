// lib0 binary encoding primitives as Yjs uses them (internal to libs/yjs).
// Reader methods return false on malformed input and never read past the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cloudillo::yjs::lib0 {

inline constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  size_t remaining() const { return data_.size() - pos_; }
  bool done() const { return pos_ == data_.size(); }
  size_t pos() const { return pos_; }
  std::string_view Slice(size_t from, size_t to) const { return data_.substr(from, to - from); }

  bool Byte(uint8_t* out) {
    if (pos_ >= data_.size()) return false;
    *out = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  // Unsigned LEB128 limited to 2^53 - 1 (lib0 refuses larger values).
  bool VarUint(uint64_t* out) {
    uint64_t num = 0;
    for (int shift = 0; shift < 56; shift += 7) {
      uint8_t b;
      if (!Byte(&b)) return false;
      num |= uint64_t(b & 0x7f) << shift;
      if (b < 0x80) {
        if (num > kMaxSafeInteger) return false;
        *out = num;
        return true;
      }
    }
    return false;
  }
  // lib0 varInt: sign in bit 6 of the first byte; only skipped here.
  bool SkipVarInt() {
    for (int i = 0; i < 10; ++i) {
      uint8_t b;
      if (!Byte(&b)) return false;
      if (b < 0x80) return true;
    }
    return false;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (n > remaining()) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool VarBytes(std::string_view* out) {
    uint64_t n;
    return VarUint(&n) && Bytes(size_t(n), out);
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
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
