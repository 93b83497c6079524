// The ActionView JSON of GET /api/actions and friends (PROTOCOL E24 item 6, §7 ACTION).
// Absent options are omitted; `stat` is always present; `visibility` is omitted for
// Direct; `token` only when asked for.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "action_store.h"
#include "cloudillo/v1/identity.pb.h"

namespace cloudillo::action {

using ojson = nlohmann::ordered_json;

// Names and pictures of the identities a page mentions, keyed by id_tag.
using ProfileIndex = std::map<std::string, cloudillo::v1::Relationship>;

ojson ActionView(const ActionRow& row, const ProfileIndex& profiles, bool include_token);
std::string IsoTime(int64_t unix_seconds);

}  // namespace cloudillo::action
