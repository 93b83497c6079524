#include "cloudillo/core/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "cloudillo/core/absl_compat.h"

extern char** environ;

namespace cloudillo {

std::string FlagNameFor(std::string_view env_name) {
  std::string_view rest = env_name;
  if (absl::StartsWith(AV(rest), "CLOUDILLO_")) rest.remove_prefix(10);
  return absl::StrReplaceAll(absl::AsciiStrToLower(AV(rest)), {{"_", "-"}});
}

ConfigSource ConfigSource::FromProcess(int argc, char** argv) {
  std::map<std::string, std::string> values;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (!absl::StartsWith(AV(kv), "CLOUDILLO_")) continue;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    values[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  ConfigSource source(std::move(values));
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg == "--help" || arg == "-h") {
      source.help_requested_ = true;
      continue;
    }
    if (!absl::StartsWith(AV(arg), "--") || arg.find('=') == std::string_view::npos) {
      source.unknown_flags_.push_back(std::string(arg));
      continue;
    }
    size_t eq = arg.find('=');
    std::string flag(arg.substr(2, eq - 2));
    std::string env = "CLOUDILLO_" + absl::AsciiStrToUpper(absl::StrReplaceAll(flag, {{"-", "_"}}));
    source.values_[env] = std::string(arg.substr(eq + 1));
    source.used_flags_pending_.insert(env);
  }
  return source;
}

const std::string* ConfigSource::Find(std::string_view name) {
  used_.insert(std::string(name));
  auto it = values_.find(std::string(name));
  return it == values_.end() ? nullptr : &it->second;
}

std::string ConfigSource::Str(std::string_view name, std::string_view def, std::string_view help) {
  help_rows_.push_back(
      absl::StrCat(AV(name), " (--", FlagNameFor(name), ") default '", AV(def), "': ", AV(help)));
  const std::string* v = Find(name);
  return v ? *v : std::string(def);
}

std::string ConfigSource::Required(std::string_view name, std::string_view help) {
  help_rows_.push_back(absl::StrCat(AV(name), " (--", FlagNameFor(name), ") required: ", AV(help)));
  const std::string* v = Find(name);
  if (!v || v->empty()) {
    errors_.push_back(absl::StrCat(AV(name), " is required: ", AV(help)));
    return "";
  }
  return *v;
}

int64_t ConfigSource::Int(std::string_view name, int64_t def, int64_t min, int64_t max,
                          std::string_view help) {
  help_rows_.push_back(absl::StrCat(AV(name), " (--", FlagNameFor(name), ") default ", def, " [", min, "..",
                                    max, "]: ", AV(help)));
  const std::string* v = Find(name);
  if (!v) return def;
  int64_t out = 0;
  if (!absl::SimpleAtoi(*v, &out) || out < min || out > max) {
    errors_.push_back(absl::StrCat(AV(name), "='", *v, "' must be an integer in [", min, ", ", max, "]"));
    return def;
  }
  return out;
}

bool ConfigSource::Bool(std::string_view name, bool def, std::string_view help) {
  help_rows_.push_back(absl::StrCat(AV(name), " (--", FlagNameFor(name), ") default ", def ? "true" : "false",
                                    ": ", AV(help)));
  const std::string* v = Find(name);
  if (!v) return def;
  bool out = false;
  if (!absl::SimpleAtob(*v, &out)) {
    errors_.push_back(absl::StrCat(AV(name), "='", *v, "' must be true or false"));
    return def;
  }
  return out;
}

std::string ConfigSource::Secret(std::string_view name, std::string_view help) {
  std::string file_name = absl::StrCat(AV(name), "_FILE");
  help_rows_.push_back(absl::StrCat(AV(name), " (secret: environment only; or ", file_name, " / --",
                                    FlagNameFor(file_name), " naming a file): ", AV(help)));
  std::string key(name);
  if (used_flags_pending_.count(key)) {
    used_.insert(key);  // one clear message instead of also "unknown flag"
    errors_.push_back(
        absl::StrCat(AV(name), " is a secret: set ", AV(name), " or ", file_name, ", never a flag"));
    return "";
  }
  const std::string* value = Find(name);
  const std::string* file = Find(file_name);
  bool has_value = value && !value->empty(), has_file = file && !file->empty();
  if (has_value && has_file) {
    errors_.push_back(absl::StrCat("set only one of ", AV(name), " and ", file_name));
    return "";
  }
  if (has_value) return *value;
  if (!has_file) return "";
  std::ifstream in(*file, std::ios::binary);
  std::stringstream content;
  if (!in || !(content << in.rdbuf())) {
    // An empty file also lands here (nothing to copy): a secret file must hold a secret.
    errors_.push_back(absl::StrCat(file_name, "='", *file, "' cannot be read or is empty"));
    return "";
  }
  return std::string(absl::StripTrailingAsciiWhitespace(content.str()));
}

std::string ConfigSource::RequiredSecret(std::string_view name, std::string_view help) {
  size_t errors_before = errors_.size();
  std::string v = Secret(name, help);
  if (v.empty() && errors_.size() == errors_before) {
    errors_.push_back(absl::StrCat(AV(name), " is required (or ", AV(name), "_FILE): ", AV(help)));
  }
  return v;
}

std::string ConfigSource::HelpText() const { return absl::StrJoin(help_rows_, "\n"); }

absl::Status ConfigSource::Finish() const {
  std::vector<std::string> problems;
  // Two components may read the same variables (the all-in-one binary): name each problem once.
  std::set<std::string> seen;
  for (const auto& e : errors_) {
    if (seen.insert(e).second) problems.push_back(e);
  }
  for (const auto& f : unknown_flags_) problems.push_back(absl::StrCat("unknown argument '", f, "'"));
  for (const auto& env : used_flags_pending_) {
    if (!used_.count(env)) problems.push_back(absl::StrCat("unknown flag --", FlagNameFor(env)));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("bad configuration:\n  ", absl::StrJoin(problems, "\n  ")));
}

}  // namespace cloudillo
