#include "cloudillo/core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cloudillo/core/utf8.h"

namespace cloudillo {
namespace {

std::string& ServiceName() {
  static std::string name = "cloudillo";
  return name;
}
std::atomic<int> g_min_level{int(LogLevel::kInfo)};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// Lines are handed to one writer thread that writes whole batches to stderr, so a
// request thread never waits on the pipe or file behind stderr (a slow log collector
// must not stall the gateway) and the access log costs one write(2) per batch, not
// per line. The writer is woken once per batch, not per line (waking a thread costs
// more than formatting a line) and lets lines gather for 10 ms before writing.
// The backlog is bounded: beyond kMaxPendingBytes lines are dropped and counted, and
// the count is reported in the next line that gets through.
class LogWriter {
 public:
  static constexpr size_t kMaxPendingBytes = 8 << 20;
  static constexpr size_t kWakeBytes = 256 << 10;  // a big backlog is written at once
  static constexpr auto kInterval = std::chrono::milliseconds(10);

  LogWriter() : thread_([this] { Run(); }) {}
  ~LogWriter() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  void Append(std::string&& line) {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_.size() + line.size() > kMaxPendingBytes) {
        ++dropped_;
        return;
      }
      if (dropped_ > 0) {
        pending_ += absl::StrCat("{\"level\":\"warn\",\"msg\":\"log_lines_dropped\",\"count\":", dropped_, "}\n");
        dropped_ = 0;
      }
      wake = pending_.empty() || pending_.size() + line.size() >= kWakeBytes;
      pending_ += line;
      pending_ += '\n';
    }
    if (wake) cv_.notify_one();
  }

  void Flush() {
    std::unique_lock<std::mutex> lock(mu_);
    uint64_t target = appended_generation();
    flush_requested_ = true;
    cv_.notify_one();
    flushed_cv_.wait(lock, [&] { return written_ >= target || stop_; });
  }

 private:
  // How many Append batches have been handed over so far (under mu_).
  uint64_t appended_generation() const { return taken_ + (pending_.empty() ? 0 : 1); }

  void Run() {
    std::string batch;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      // Idle until a first line arrives; then let more gather for one interval.
      cv_.wait(lock, [&] { return stop_ || flush_requested_ || !pending_.empty(); });
      cv_.wait_for(lock, kInterval, [&] { return stop_ || flush_requested_ || pending_.size() >= kWakeBytes; });
      flush_requested_ = false;
      if (pending_.empty()) {
        if (stop_) break;
        continue;
      }
      batch.swap(pending_);
      ++taken_;
      lock.unlock();
      WriteAll(batch);
      batch.clear();
      lock.lock();
      written_ = taken_;
      flushed_cv_.notify_all();
    }
    flushed_cv_.notify_all();
  }

  static void WriteAll(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::write(STDERR_FILENO, s.data() + off, s.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // stderr is gone; nothing sensible is left to do with the lines
      }
      off += size_t(n);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, flushed_cv_;
  std::string pending_;
  uint64_t dropped_ = 0, taken_ = 0, written_ = 0;
  bool stop_ = false, flush_requested_ = false;
  std::thread thread_;
};

LogWriter& Writer() {
  // Leaked on purpose: threads may log during static destruction.
  static LogWriter* writer = new LogWriter();
  return *writer;
}

// Formatting the timestamp is the dearest part of a line; it changes once a millisecond.
void AppendTimestamp(std::string& out) {
  thread_local int64_t cached_ms = -1;
  thread_local char cached[32];
  int64_t now_ms = absl::ToUnixMillis(absl::Now());
  if (now_ms != cached_ms) {
    std::string s = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(now_ms), absl::UTCTimeZone());
    std::snprintf(cached, sizeof cached, "%s", s.c_str());
    cached_ms = now_ms;
  }
  out += cached;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += "\xef\xbf\xbd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
    ++i;
  }
  out += '"';
}

void InitLogging(std::string_view service) { ServiceName() = std::string(service); }

void SetLogLevel(LogLevel min_level) { g_min_level = int(min_level); }

bool LogEnabled(LogLevel level) { return int(level) >= g_min_level.load(std::memory_order_relaxed); }

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string line;
  line.reserve(256);
  line += "{\"ts\":\"";
  AppendTimestamp(line);
  line += "\",\"level\":\"";
  line += LevelName(level);
  line += "\",\"service\":";
  AppendJsonString(line, ServiceName());
  line += ",\"msg\":";
  AppendJsonString(line, msg);
  for (const auto& f : fields) {
    line += ',';
    AppendJsonString(line, f.key);
    line += ':';
    if (auto* s = std::get_if<std::string_view>(&f.value)) {
      AppendJsonString(line, *s);
    } else if (auto* i = std::get_if<int64_t>(&f.value)) {
      absl::StrAppend(&line, *i);
    } else if (auto* d = std::get_if<double>(&f.value)) {
      absl::StrAppend(&line, *d);
    } else {
      line += std::get<bool>(f.value) ? "true" : "false";
    }
  }
  line += '}';
  Writer().Append(std::move(line));
}

void FlushLogs() { Writer().Flush(); }

}  // namespace cloudillo
