// For this library's own claim readers: a verification that hands over the payload
// Split() already parsed (to check it is an object), so that it is not parsed twice.
// Private: the public headers stay free of nlohmann's templates.
#pragma once

#include <nlohmann/json.hpp>

#include "cloudillo/crypto/jws.h"

namespace cloudillo::crypto {

absl::StatusOr<VerifiedJws> VerifyHs256(
    std::string_view token, const std::function<std::optional<std::string>(std::string_view)>& key_for_kid,
    nlohmann::json* payload);

}  // namespace cloudillo::crypto
