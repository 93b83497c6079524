// The hint of an address that login-init shows a visitor (PROTOCOL Appendix C.2
// `maskedEmail`): the first character of the local part and of the domain name, and
// the top-level domain, e.g. "a***@e***.com". Enough for the owner to recognise it,
// too little to write to it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cloudillo::identity {

// nullopt when `email` has no usable shape (no '@', no dot in the domain, an empty
// part): then login-init omits the hint.
std::optional<std::string> MaskEmail(std::string_view email);

}  // namespace cloudillo::identity
