#include "settings_registry.h"

namespace cloudillo::identity {
namespace {

using S = SettingScope;
using P = SettingPermission;

std::vector<SettingDef> Build() {
  std::vector<SettingDef> d = {
      {"server.registration_enabled", "true", S::kGlobal, P::kAdmin, "Allow new registrations"},
      {"core.db_maintenance_cron", "\"20 4 * * *\"", S::kGlobal, P::kAdmin,
       "Nightly database maintenance schedule (cron)"},
      {"core.vacuum_min_free_pct", "20", S::kGlobal, P::kAdmin, "Free-page percentage before VACUUM"},
      {"ui.*", std::nullopt, S::kTenant, P::kUser, "User interface settings and preferences"},
      {"app.*", std::nullopt, S::kTenant, P::kUser, "Application state and preferences"},
      {"auth.session_timeout", "86400", S::kTenant, P::kAdmin, "Session timeout in seconds"},
      {"federation.auto_accept_followers", "false", S::kTenant, P::kAdmin,
       "Automatically accept follow requests"},
      {"federation.key_failure_cache_size", "100", S::kGlobal, P::kAdmin,
       "Size of the key-fetch failure cache"},
      {"federation.history_sync.since_days", "30", S::kTenant, P::kAdmin,
       "Age window for history sync on a new connection"},
      {"federation.history_sync.limit", "10", S::kTenant, P::kAdmin, "Maximum actions per history sync"},
      {"federation.stat_coalesce_window_secs", "10", S::kTenant, P::kAdmin,
       "Quiet period before a STAT broadcast"},
      {"federation.stat_coalesce_max_window_secs", "60", S::kTenant, P::kAdmin,
       "Maximum deferral of a STAT broadcast"},
      {"file.max_file_size_mb", "100", S::kGlobal, P::kAdmin, "Upload size cap in MB"},
      {"file.max_streaming_file_size_mb", "100", S::kGlobal, P::kAdmin,
       "Video, audio and raw upload cap in MB"},
      {"file.max_generate_variant", "\"hd\"", S::kGlobal, P::kAdmin, "Largest variant generated"},
      {"file.max_cache_variant", "\"md\"", S::kGlobal, P::kAdmin,
       "Largest variant cached for remote attachments"},
      {"file.sync_max_vis", "\"md\"", S::kTenant, P::kUser, "Largest visual variant synced"},
      {"file.sync_max_vid", "\"sd\"", S::kTenant, P::kUser, "Largest video variant synced"},
      {"file.sync_max_aud", "\"md\"", S::kTenant, P::kUser, "Largest audio variant synced"},
      {"file.sync_variant_timeout_secs", "300", S::kTenant, P::kAdmin, "Per-variant sync timeout in seconds"},
      {"file.thumbnail_format", "\"webp\"", S::kGlobal, P::kAdmin, "Thumbnail image format"},
      {"file.image_format", "\"webp\"", S::kGlobal, P::kAdmin, "Format of larger image variants"},
      {"file.shared_blob_store_enabled", "true", S::kGlobal, P::kAdmin,
       "Shared blob store for public attachments"},
      {"file.gc_cron", "\"0 4 * * *\"", S::kGlobal, P::kAdmin, "Garbage collection schedule (cron)"},
      {"file.gc_safety_window_secs", "3600", S::kGlobal, P::kAdmin, "Minimum age before garbage collection"},
      {"limits.max_storage_gb", "100", S::kTenant, P::kAdmin, "Storage quota in GB"},
      {"email.enabled", "false", S::kGlobal, P::kAdmin, "Enable sending email"},
      {"email.presence_suppress_minutes", "1", S::kGlobal, P::kAdmin,
       "Defer notification email while the user is present"},
      {"email.throttle_hours", "24", S::kGlobal, P::kAdmin, "Offline email throttle window in hours"},
      {"email.smtp.host", std::nullopt, S::kGlobal, P::kAdmin, "SMTP host"},
      {"email.smtp.port", "587", S::kGlobal, P::kAdmin, "SMTP port"},
      {"email.smtp.username", std::nullopt, S::kGlobal, P::kAdmin, "SMTP user name"},
      {"email.smtp.password", std::nullopt, S::kGlobal, P::kAdmin, "SMTP password"},
      {"email.from.address", std::nullopt, S::kGlobal, P::kAdmin, "Sender address"},
      {"email.from.name", "\"Cloudillo\"", S::kGlobal, P::kAdmin, "Sender display name"},
      {"email.smtp.tls_mode", "\"starttls\"", S::kGlobal, P::kAdmin, "SMTP TLS mode: none, starttls or tls"},
      {"email.smtp.timeout_seconds", "30", S::kGlobal, P::kAdmin, "SMTP timeout in seconds"},
      {"email.template_dir", "\"./templates/email\"", S::kSystem, P::kSystem, "Email template folder"},
      {"email.retry_attempts", "3", S::kGlobal, P::kAdmin, "Email delivery attempts"},
      {"idp.enabled", "false", S::kTenant, P::kAdmin,
       "Enable Identity Provider functionality for this tenant"},
      {"idp.list", "\"\"", S::kGlobal, P::kAdmin, "Trusted identity providers (comma-separated domains)"},
      {"idp.renewal_interval", "365", S::kTenant, P::kAdmin, "Identity renewal interval in days"},
      {"idp.name", "\"\"", S::kTenant, P::kAdmin, "Identity provider name"},
      {"idp.info", "\"\"", S::kTenant, P::kAdmin, "Identity provider description"},
      {"idp.url", "\"\"", S::kTenant, P::kAdmin, "Identity provider URL"},
      {"notify.push", "true", S::kTenant, P::kUser, "Enable push notifications"},
      {"notify.email", "false", S::kTenant, P::kUser, "Enable email notifications"},
      {"profile.lang", std::nullopt, S::kTenant, P::kUser, "Language for emails"},
      {"profile.default_visibility", "\"F\"", S::kTenant, P::kUser, "Default post visibility"},
      {"profile.visibility_cap", "\"P\"", S::kTenant, P::kUser, "Maximum visibility allowed"},
      {"profile.allow_followers", "true", S::kTenant, P::kUser, "Allow followers"},
      {"profile.connection_mode", "\"M\"", S::kTenant, P::kUser,
       "Incoming connections: M manual, A auto-accept, I ignore"},
      {"onboarding.welcome_email_delay", "60", S::kGlobal, P::kAdmin,
       "Delay in seconds before the welcome email"},
      {"profile.auto_approve_actions", "false", S::kTenant, P::kUser,
       "Auto-approve incoming posts and messages from trusted sources"},
      {"search.store_text", "true", S::kTenant, P::kUser, "Keep extracted text next to the search index"},
  };
  for (const char* type :
       {"message", "connection", "file_share", "comment", "mention", "follow", "reaction", "post"}) {
    std::string t = type;
    bool on = t != "follow" && t != "reaction" && t != "post";
    d.push_back(
        {"notify.push." + t, on ? "true" : "false", S::kTenant, P::kUser, "Push notifications for " + t});
    d.push_back(
        {"notify.email." + t, on ? "true" : "false", S::kTenant, P::kUser, "Email notifications for " + t});
  }
  return d;
}

}  // namespace

const std::vector<SettingDef>& SettingDefinitions() {
  static const auto* defs = new std::vector<SettingDef>(Build());
  return *defs;
}

const SettingDef* FindSetting(std::string_view key) {
  for (const auto& d : SettingDefinitions()) {
    if (d.key == key) return &d;
  }
  size_t dot = key.find('.');
  if (dot == std::string_view::npos || dot + 1 >= key.size()) return nullptr;
  std::string ns = std::string(key.substr(0, dot)) + ".*";
  for (const auto& d : SettingDefinitions()) {
    if (d.key == ns) return &d;
  }
  return nullptr;
}

const char* ScopeName(SettingScope s) {
  switch (s) {
    case SettingScope::kSystem:
      return "System";
    case SettingScope::kGlobal:
      return "Global";
    case SettingScope::kTenant:
      return "Tenant";
  }
  return "Tenant";
}

const char* PermissionName(SettingPermission p) {
  switch (p) {
    case SettingPermission::kSystem:
      return "System";
    case SettingPermission::kAdmin:
      return "Admin";
    case SettingPermission::kUser:
      return "User";
  }
  return "User";
}

bool IsSecretSetting(std::string_view key) {
  auto ends = [&](std::string_view suffix) {
    return key.size() >= suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".password") || ends(".secret") || ends(".key");
}

}  // namespace cloudillo::identity
