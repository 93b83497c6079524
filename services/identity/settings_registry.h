// Every registered setting (PROTOCOL Appendix B.2): key, default, scope, permission,
// description. A key ending in `.*` registers a namespace (`ui.*`, `app.*`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cloudillo::identity {

enum class SettingScope { kSystem, kGlobal, kTenant };
enum class SettingPermission { kSystem, kAdmin, kUser };

struct SettingDef {
  std::string key;
  std::optional<std::string> default_json;  // JSON text of the default, if any
  SettingScope scope;
  SettingPermission permission;
  std::string description;

  bool wildcard() const { return key.size() > 2 && key.compare(key.size() - 2, 2, ".*") == 0; }
};

const std::vector<SettingDef>& SettingDefinitions();
// Exact key first, then `<first segment>.*`.
const SettingDef* FindSetting(std::string_view key);

const char* ScopeName(SettingScope s);            // "Tenant" | "Global" | "System"
const char* PermissionName(SettingPermission p);  // "User" | "Admin" | "System"

// §13.14: secrets never leave the server.
bool IsSecretSetting(std::string_view key);

}  // namespace cloudillo::identity
