// RESP on hiredis: command formatting (redisFormatCommandArgv) and the reply reader
// (redisReader), building our Reply directly through hiredis' object callbacks.
//
// hiredis 0.14's reader has no size limits of its own, so the reader here refuses a
// reply whose buffered bytes or built objects exceed a budget: a misbehaving or hostile
// peer cannot make us allocate without bound. After such a refusal (or a protocol error)
// the reader is broken and the connection must be closed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloudillo/cache/redis.h"

struct redisReader;

namespace cloudillo::cache::internal {

// Redis' own ceiling for one bulk string (proto-max-bulk-len).
inline constexpr size_t kMaxReplyBytes = size_t(512) << 20;

// Appends the binary-safe RESP encoding of `args` to `out`.
void AppendCommand(std::string& out, const std::vector<std::string>& args);

class RespReader {
 public:
  explicit RespReader(size_t max_reply_bytes = kMaxReplyBytes);
  ~RespReader();
  RespReader(const RespReader&) = delete;
  RespReader& operator=(const RespReader&) = delete;

  // Unavailable once the stream is broken (protocol error, reply over budget).
  absl::Status Feed(const char* data, size_t n);
  // The next complete reply, or nullopt when more bytes are needed or the stream is
  // broken (then status() says why). An error reply is Internal("redis: <message>").
  std::optional<absl::StatusOr<Reply>> Next();
  const absl::Status& status() const { return status_; }

  struct Budget {
    size_t used = 0, limit = 0;
    std::string error;  // first error reply seen in the reply being built
    bool has_error = false;
  };

 private:
  redisReader* reader_;
  Budget budget_;
  absl::Status status_;
};

// The first word of an Internal("redis: WORD ...") status: "NOSCRIPT", "READONLY", ...
std::string ErrorCode(const absl::Status& status);

}  // namespace cloudillo::cache::internal
