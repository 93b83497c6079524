// The JSON type of the RTDB engine and the guarded parse of client frames.
// ordered_json keeps documents' key order as the client wrote it, as the reference does.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace cloudillo::collab::rtdb {

using Json = nlohmann::ordered_json;

// nullopt for invalid JSON, or text nested deeper than `max_depth` (checked before
// parsing, so nothing deep is ever built).
std::optional<Json> ParseJson(std::string_view text, int max_depth);

// Serialises without throwing on invalid UTF-8 (replaced by U+FFFD).
std::string Dump(const Json& v);

}  // namespace cloudillo::collab::rtdb
