// Structured logs: one JSON object per line on stderr, for operators' collectors.
//
//   Log(LogLevel::kInfo, "http_request", {{"status", 404}, {"path", path}});
//
// prints {"ts":"…","level":"info","service":"gateway","msg":"http_request","status":404,…}.
// Thread-safe and non-blocking: lines go to a writer thread that writes them to
// stderr in batches; a backlog beyond 8 MiB is dropped and counted rather than
// grown. Values are JSON-escaped.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cloudillo {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogValue = std::variant<std::string_view, int64_t, double, bool>;
struct LogField {
  std::string_view key;
  LogValue value;
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, int v) : key(k), value(int64_t(v)) {}
  LogField(std::string_view k, int64_t v) : key(k), value(v) {}
  LogField(std::string_view k, uint64_t v) : key(k), value(int64_t(v)) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
};

// Names the process in every line; call once at startup.
void InitLogging(std::string_view service);
// Lines below `min_level` are dropped (CLOUDILLO_LOG_LEVEL).
void SetLogLevel(LogLevel min_level);
void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
// Whether a line at `level` would be written (to skip building costly fields).
bool LogEnabled(LogLevel level);
// Blocks until every line logged so far has been written (startup errors, exit, tests).
void FlushLogs();

inline void LogInfo(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, msg, f);
}
inline void LogWarn(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarn, msg, f);
}
inline void LogError(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, msg, f);
}

// Appends `s` to `out` as a JSON string literal (quotes included). Invalid UTF-8
// bytes are replaced by U+FFFD so a log line is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace cloudillo
