#include "cloudillo/core/id_tag.h"

#include <idn2.h>

#include <cstdlib>
#include <memory>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "cloudillo/core/absl_compat.h"

namespace cloudillo {
namespace {

struct FreeDeleter {
  void operator()(char* p) const { idn2_free(p); }
};

bool IsLdhLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> IdTagToAscii(std::string_view id_tag) {
  if (id_tag.empty() || id_tag.size() > 1024) return absl::InvalidArgumentError("invalid id_tag");
  std::string input(id_tag);
  // libidn2's STD3 mode silently drops some disallowed ASCII (`_`, `/`) instead of
  // failing, so ASCII is checked here before it gets the chance.
  for (unsigned char c : input) {
    if (c < 0x80 && !(absl::ascii_isalnum(c) || c == '-' || c == '.')) {
      return absl::InvalidArgumentError("invalid id_tag");
    }
  }
  char* out = nullptr;
  int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(input.c_str()), reinterpret_cast<uint8_t**>(&out),
                          IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT | IDN2_USE_STD3_ASCII_RULES);
  std::unique_ptr<char, FreeDeleter> guard(out);
  if (rc != IDN2_OK) return absl::InvalidArgumentError("invalid id_tag");
  std::string ascii = absl::AsciiStrToLower(out);
  if (ascii.size() > 253) return absl::InvalidArgumentError("invalid id_tag: too long");
  size_t start = 0;
  while (true) {
    size_t dot = ascii.find('.', start);
    std::string_view label =
        std::string_view(ascii).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!IsLdhLabel(label)) return absl::InvalidArgumentError("invalid id_tag");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return ascii;
}

namespace {
// Plain ASCII LDH names without punycode labels are their own canonical form once
// lowercased: no need for libidn2's UTS-46 pass, which every request's Host would pay.
std::optional<std::string> AsciiFastPath(std::string_view name) {
  if (name.empty() || name.size() > 253) return std::nullopt;
  std::string out(name);
  size_t start = 0;
  for (;;) {
    size_t dot = out.find('.', start);
    std::string_view label =
        std::string_view(out).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!IsLdhLabel(label)) return std::nullopt;
    if (label.size() >= 4 && absl::StartsWithIgnoreCase(AV(label), "xn--")) return std::nullopt;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  absl::AsciiStrToLower(&out);
  return out;
}
}  // namespace

absl::StatusOr<std::string> CanonicalIdTag(std::string_view name) {
  if (auto fast = AsciiFastPath(name)) return *std::move(fast);
  auto ascii = IdTagToAscii(name);
  if (!ascii.ok()) return ascii.status();
  char* out = nullptr;
  int rc = idn2_to_unicode_8z8z(ascii->c_str(), &out, 0);
  std::unique_ptr<char, FreeDeleter> guard(out);
  if (rc != IDN2_OK) return absl::InvalidArgumentError("invalid id_tag");
  return std::string(out);
}

bool IsCanonicalIdTag(std::string_view id_tag) {
  auto canonical = CanonicalIdTag(id_tag);
  if (!canonical.ok() || *canonical != id_tag) return false;
  // A canonical all-ASCII name is its own A-label; only U-labels need encoding to count.
  size_t ascii_length = id_tag.size();
  for (unsigned char c : id_tag) {
    if (c >= 0x80) {
      auto ascii = IdTagToAscii(id_tag);
      if (!ascii.ok()) return false;
      ascii_length = ascii->size();
      break;
    }
  }
  return ascii_length >= 5 && ascii_length <= 62;
}

ParsedHost ParseHost(std::string_view host) {
  ParsedHost result;
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos) {
    std::string_view port = host.substr(colon + 1);
    bool digits = !port.empty();
    for (char c : port) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
    if (digits) host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.find(':') != std::string_view::npos) {  // a non-numeric port, or an IP literal
    result.kind = absl::StartsWithIgnoreCase(AV(host), "cl-o.") ? ParsedHost::Kind::kInvalidApi
                                                                : ParsedHost::Kind::kInvalid;
    return result;
  }
  if (host.size() > 5 && absl::StartsWithIgnoreCase(AV(host), "cl-o.")) {
    auto id_tag = CanonicalIdTag(host.substr(5));
    if (!id_tag.ok()) {
      result.kind = ParsedHost::Kind::kInvalidApi;
      return result;
    }
    result.kind = ParsedHost::Kind::kApi;
    result.id_tag = *std::move(id_tag);
    return result;
  }
  auto app = CanonicalIdTag(host);
  if (!app.ok()) return result;
  result.kind = ParsedHost::Kind::kApp;
  result.id_tag = *std::move(app);
  return result;
}

}  // namespace cloudillo
