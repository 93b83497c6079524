#include "cloudillo/crypto/cbor.h"

#include <string>

namespace cloudillo::crypto {
namespace {

class Reader {
 public:
  Reader(std::string_view in, CborLimits limits) : in_(in), limits_(limits) {}

  absl::StatusOr<CborValue> Item(int depth) {
    if (depth > limits_.max_depth) return Error("nesting too deep");
    if (++items_ > limits_.max_items) return Error("too many items");
    if (pos_ >= in_.size()) return Error("truncated");
    const auto initial = static_cast<uint8_t>(in_[pos_++]);
    const int major = initial >> 5;
    const int info = initial & 0x1f;
    uint64_t arg = 0;
    if (info < 24) {
      arg = static_cast<uint64_t>(info);
    } else if (info <= 27) {
      const size_t n = size_t{1} << (info - 24);
      if (in_.size() - pos_ < n) return Error("truncated argument");
      for (size_t i = 0; i < n; ++i) arg = (arg << 8) | static_cast<uint8_t>(in_[pos_++]);
    } else if (info == 31) {
      return Error("indefinite length not supported");
    } else {
      return Error("reserved additional information");
    }
    CborValue v;
    switch (major) {
      case 0:
        v.type = CborValue::Type::kUnsigned;
        v.number = arg;
        return v;
      case 1:
        v.type = CborValue::Type::kNegative;
        v.number = arg;
        return v;
      case 2:
      case 3: {
        // Compared against what is left before any allocation.
        if (arg > in_.size() - pos_) return Error("string longer than input");
        v.type = major == 2 ? CborValue::Type::kBytes : CborValue::Type::kText;
        v.bytes.assign(in_.substr(pos_, static_cast<size_t>(arg)));
        pos_ += static_cast<size_t>(arg);
        return v;
      }
      case 4: {
        if (arg > in_.size() - pos_) return Error("array longer than input");
        v.type = CborValue::Type::kArray;
        v.items.reserve(static_cast<size_t>(arg));
        for (uint64_t i = 0; i < arg; ++i) {
          auto item = Item(depth + 1);
          if (!item.ok()) return item.status();
          v.items.push_back(std::move(*item));
        }
        return v;
      }
      case 5: {
        // Each entry needs two bytes at least.
        if (arg > (in_.size() - pos_) / 2) return Error("map longer than input");
        v.type = CborValue::Type::kMap;
        v.map.reserve(static_cast<size_t>(arg));
        for (uint64_t i = 0; i < arg; ++i) {
          auto key = Item(depth + 1);
          if (!key.ok()) return key.status();
          auto val = Item(depth + 1);
          if (!val.ok()) return val.status();
          v.map.push_back(CborMapEntry{std::move(*key), std::move(*val)});
        }
        return v;
      }
      case 6:
        return Error("tags not supported");
      default:  // 7: simple values and floats
        if (info >= 25) {
          v.type = CborValue::Type::kFloat;
          v.number = arg;
          return v;
        }
        switch (arg) {
          case 20:
            v.type = CborValue::Type::kFalse;
            return v;
          case 21:
            v.type = CborValue::Type::kTrue;
            return v;
          case 22:
            v.type = CborValue::Type::kNull;
            return v;
          case 23:
            v.type = CborValue::Type::kUndefined;
            return v;
          default:
            return Error("unsupported simple value");
        }
    }
  }

  size_t pos() const { return pos_; }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError("CBOR: " + std::string(what) + " at offset " + std::to_string(pos_));
  }

  std::string_view in_;
  CborLimits limits_;
  size_t pos_ = 0;
  size_t items_ = 0;
};

void Head(std::string& out, int major, uint64_t arg) {
  const auto m = static_cast<uint8_t>(major << 5);
  if (arg < 24) {
    out.push_back(static_cast<char>(m | arg));
    return;
  }
  int n = arg <= 0xff ? 1 : arg <= 0xffff ? 2 : arg <= 0xffffffff ? 4 : 8;
  out.push_back(static_cast<char>(m | (n == 1 ? 24 : n == 2 ? 25 : n == 4 ? 26 : 27)));
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>((arg >> (8 * i)) & 0xff));
}

}  // namespace

std::optional<int64_t> CborValue::AsInt() const {
  constexpr uint64_t kMax = static_cast<uint64_t>(INT64_MAX);
  if (type == Type::kUnsigned && number <= kMax) return static_cast<int64_t>(number);
  if (type == Type::kNegative && number <= kMax) return -1 - static_cast<int64_t>(number);
  return std::nullopt;
}

const CborValue* CborValue::Find(int64_t key) const {
  if (type != Type::kMap) return nullptr;
  for (const auto& [k, v] : map) {
    if (auto i = k.AsInt(); i && *i == key) return &v;
  }
  return nullptr;
}

const CborValue* CborValue::Find(std::string_view key) const {
  if (type != Type::kMap) return nullptr;
  for (const auto& [k, v] : map) {
    if (k.type == Type::kText && k.bytes == key) return &v;
  }
  return nullptr;
}

absl::StatusOr<CborValue> DecodeCbor(std::string_view in, size_t* consumed, CborLimits limits) {
  Reader r(in, limits);
  auto v = r.Item(0);
  if (!v.ok()) return v.status();
  if (consumed) {
    *consumed = r.pos();
  } else if (r.pos() != in.size()) {
    return absl::InvalidArgumentError("CBOR: trailing bytes at offset " + std::to_string(r.pos()));
  }
  return v;
}

std::string EncodeCbor(const CborValue& v) {
  std::string out;
  switch (v.type) {
    case CborValue::Type::kUnsigned:
      Head(out, 0, v.number);
      break;
    case CborValue::Type::kNegative:
      Head(out, 1, v.number);
      break;
    case CborValue::Type::kBytes:
    case CborValue::Type::kText:
      Head(out, v.type == CborValue::Type::kBytes ? 2 : 3, v.bytes.size());
      out += v.bytes;
      break;
    case CborValue::Type::kArray:
      Head(out, 4, v.items.size());
      for (const auto& i : v.items) out += EncodeCbor(i);
      break;
    case CborValue::Type::kMap:
      Head(out, 5, v.map.size());
      for (const auto& [k, val] : v.map) out += EncodeCbor(k) + EncodeCbor(val);
      break;
    case CborValue::Type::kFalse:
      out.push_back(static_cast<char>(0xf4));
      break;
    case CborValue::Type::kTrue:
      out.push_back(static_cast<char>(0xf5));
      break;
    case CborValue::Type::kNull:
      out.push_back(static_cast<char>(0xf6));
      break;
    case CborValue::Type::kUndefined:
      out.push_back(static_cast<char>(0xf7));
      break;
    case CborValue::Type::kFloat:
      out.push_back(static_cast<char>(0xfb));
      for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v.number >> (8 * i)) & 0xff));
      break;
  }
  return out;
}

}  // namespace cloudillo::crypto
