// Configuration from environment variables, with `--flag=value` overrides for local runs.
//
// Each service declares its settings in one Load() function by calling the typed
// getters below; every getter records the name, default and description so that
// `--help` prints the full table. Problems are collected, not thrown: Finish()
// returns InvalidArgument naming every bad or missing variable and every unknown
// flag at once, so an operator fixes a configuration in one round.
//
// A flag's name is the variable's name without `CLOUDILLO_`, lowercased, with `_`
// turned into `-`: CLOUDILLO_HTTP_PORT <-> --http-port.
//
// Secrets (Secret()) come from the environment or from a file, never from a flag: a
// command line is visible to every user of the machine (ps, /proc/<pid>/cmdline).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace cloudillo {

class ConfigSource {
 public:
  // Reads the process environment (variables starting with CLOUDILLO_) and argv flags.
  static ConfigSource FromProcess(int argc, char** argv);
  explicit ConfigSource(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  std::string Str(std::string_view name, std::string_view def, std::string_view help);
  std::string Required(std::string_view name, std::string_view help);
  int64_t Int(std::string_view name, int64_t def, int64_t min, int64_t max, std::string_view help);
  bool Bool(std::string_view name, bool def, std::string_view help);
  // NAME, or else the contents of the file named by NAME_FILE (trailing whitespace
  // stripped); "" when neither is set. A flag for NAME, both NAME and NAME_FILE, or an
  // unreadable file are configuration errors; --name-file= flags are fine. The value
  // never appears in an error or the help text.
  std::string Secret(std::string_view name, std::string_view help);
  // Secret() that is a configuration error when unset.
  std::string RequiredSecret(std::string_view name, std::string_view help);

  // A value that was read but does not parse in the component's own terms; Finish()
  // reports it with the others.
  void AddError(std::string message) { errors_.push_back(std::move(message)); }

  bool help_requested() const { return help_requested_; }
  std::string HelpText() const;
  absl::Status Finish() const;

 private:
  const std::string* Find(std::string_view name);

  std::map<std::string, std::string> values_;
  std::set<std::string> used_;
  std::vector<std::string> errors_;
  std::vector<std::string> unknown_flags_;
  std::set<std::string> used_flags_pending_;  // set by flags; each must be read
  std::vector<std::string> help_rows_;
  bool help_requested_ = false;
};

std::string FlagNameFor(std::string_view env_name);

}  // namespace cloudillo
