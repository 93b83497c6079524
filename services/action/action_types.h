// The action type definitions (PROTOCOL §2.4, §2.12, E20): field rules, content
// schemas, dedup keys and delivery behaviour. A type we have no definition for is a
// custom type (§2.12): any name matching ^[A-Z][A-Z0-9]{1,15}$ is stored, delivered and
// listed under the generic rules (no field constraints, needs a relationship, not
// broadcast), so apps add types without a code change.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace cloudillo::action {

// Claims of an action token as parsed from its payload (E14: iss, k, t, iat required).
struct Claims {
  std::string iss, k, t;
  std::optional<nlohmann::json> c;  // absent or null: nullopt
  std::string p, aud, sub, f, v, pow;
  std::vector<std::string> a;
  int64_t iat = 0;
  int64_t exp = 0;       // 0: absent
  bool has_exp = false;  // an exp of 0 is present, and long past

  std::string base_type() const { return t.substr(0, t.find(':')); }
  std::string sub_type() const {
    size_t i = t.find(':');
    return i == std::string::npos ? "" : t.substr(i + 1);
  }
};

enum class Rule { kOptional, kRequired, kForbidden };
enum class ContentKind { kAny, kString, kObject, kNone };

struct TypeDef {
  const char* type;
  Rule aud, sub, parent, content, attachments;
  ContentKind content_kind;
  size_t min_len, max_len;  // string content bounds
  bool allow_unknown;       // accepted from senders with no relationship (§2.8 step 5)
  const char* key_pattern;  // "{type}:{issuer}:{audience}", nullptr when not keyed
  bool broadcast, approvable, ephemeral, local_only;
};

// Full type first (IDP:REG), then the base type; nullptr for a custom type.
const TypeDef* FindType(std::string_view t);
// The definition a custom type gets.
const TypeDef& CustomType();
// Valid as a type (built-in or custom name with an optional subtype).
bool ValidTypeName(std::string_view t);

// Field presence and content schema, on create and on receive (E20). InvalidArgument.
absl::Status ValidateFields(const TypeDef& def, const Claims& c);
// The dedup key (§2.7) with the base type in {type}; "" when the type is not keyed.
std::string DedupKey(const TypeDef& def, const Claims& c);

}  // namespace cloudillo::action
