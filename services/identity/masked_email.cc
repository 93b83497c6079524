#include "masked_email.h"

namespace cloudillo::identity {
namespace {

// The first UTF-8 character of `s` (a lead byte and its continuation bytes), so that
// a non-ASCII first letter is never cut in half.
std::string_view FirstCharacter(std::string_view s) {
  size_t n = 1;
  while (n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80 && n < 4) ++n;
  return s.substr(0, n);
}

}  // namespace

std::optional<std::string> MaskEmail(std::string_view email) {
  size_t at = email.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view local = email.substr(0, at), domain = email.substr(at + 1);
  size_t dot = domain.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string_view name = domain.substr(0, dot), tld = domain.substr(dot + 1);
  if (local.empty() || name.empty()) return std::nullopt;
  return std::string(FirstCharacter(local)) + "***@" + std::string(FirstCharacter(name)) + "***." +
         std::string(tld);
}

}  // namespace cloudillo::identity
