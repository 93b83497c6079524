#include "cloudillo/cache/redis.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/strings/numbers.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/log.h"

namespace cloudillo::cache {
namespace {

struct CtxDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using CtxPtr = std::unique_ptr<redisContext, CtxDeleter>;

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

CtxPtr Open(const RedisAddress& a, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  CtxPtr c(redisConnectWithTimeout(a.host.c_str(), a.port, tv));
  if (!c || c->err) return nullptr;
  redisSetTimeout(c.get(), timeval{2, 0});
  return c;
}

absl::StatusOr<Reply> Run(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, int(argv.size()), argv.data(), lens.data()));
  if (!r)
    return absl::UnavailableError(std::string("redis: ") + (c->errstr[0] ? c->errstr : "connection lost"));
  if (r->type == REDIS_REPLY_ERROR) {
    std::string err(r->str, r->len);
    freeReplyObject(r);
    return absl::InternalError("redis: " + err);
  }
  Reply out = Convert(r);
  freeReplyObject(r);
  return out;
}

class PooledRedis final : public Redis {
 public:
  PooledRedis(RedisAddress addr, int size) : addr_(std::move(addr)), slots_(size) {}

  absl::StatusOr<Reply> Command(const std::vector<std::string>& args) override {
    CtxPtr c = Take();
    if (!c) c = Open(addr_, 1000);
    if (!c)
      return absl::UnavailableError("redis unreachable at " + addr_.host + ":" + std::to_string(addr_.port));
    auto r = Run(c.get(), args);
    if (r.ok() || r.status().code() == absl::StatusCode::kInternal) Give(std::move(c));
    return r;
  }

  absl::Status Ping() override { return Command({"PING"}).status(); }

 private:
  CtxPtr Take() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : slots_) {
      if (s) return std::move(s);
    }
    return nullptr;
  }
  void Give(CtxPtr c) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : slots_) {
      if (!s) {
        s = std::move(c);
        return;
      }
    }
  }

  RedisAddress addr_;
  std::mutex mu_;
  std::vector<CtxPtr> slots_;
};

}  // namespace

absl::StatusOr<RedisAddress> RedisAddress::Parse(const std::string& text) {
  size_t colon = text.rfind(':');
  RedisAddress a;
  if (colon == std::string::npos || colon == 0)
    return absl::InvalidArgumentError("redis address must be host:port");
  a.host = text.substr(0, colon);
  if (!absl::SimpleAtoi(AV(std::string_view(text).substr(colon + 1)), &a.port) || a.port <= 0 ||
      a.port > 65535) {
    return absl::InvalidArgumentError("redis address must be host:port");
  }
  return a;
}

std::shared_ptr<Redis> Redis::Create(RedisAddress addr, int pool_size) {
  return std::make_shared<PooledRedis>(std::move(addr), pool_size < 1 ? 1 : pool_size);
}

absl::Status Redis::Publish(const std::string& channel, const std::string& message) {
  return Command({"PUBLISH", channel, message}).status();
}

Subscriber::Subscriber(RedisAddress addr, std::vector<std::string> channels, Handler on_message,
                       std::function<void()> on_reset)
    : addr_(std::move(addr)),
      channels_(std::move(channels)),
      on_message_(std::move(on_message)),
      on_reset_(std::move(on_reset)) {}

Subscriber::~Subscriber() { Stop(); }

void Subscriber::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Subscriber::Stop() {
  stop_ = true;
  if (auto* c = static_cast<redisContext*>(live_ctx_.load())) ::shutdown(c->fd, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
}

void Subscriber::Run() {
  int backoff_ms = 100;
  while (!stop_) {
    CtxPtr c = Open(addr_, 1000);
    if (!c) {
      connected_ = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    redisSetTimeout(c.get(), timeval{0, 0});  // block until a message arrives
    std::vector<std::string> args = {"SUBSCRIBE"};
    args.insert(args.end(), channels_.begin(), channels_.end());
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(c.get(), int(argv.size()), argv.data(), lens.data());
    live_ctx_ = c.get();
    if (stop_) break;
    connected_ = true;
    backoff_ms = 100;
    if (on_reset_) on_reset_();
    while (!stop_) {
      void* raw = nullptr;
      if (redisGetReply(c.get(), &raw) != REDIS_OK || !raw) break;
      auto* r = static_cast<redisReply*>(raw);
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING &&
          std::string(r->element[0]->str, r->element[0]->len) == "message") {
        on_message_(std::string(r->element[1]->str, r->element[1]->len),
                    std::string(r->element[2]->str, r->element[2]->len));
      }
      freeReplyObject(r);
    }
    live_ctx_ = nullptr;
    connected_ = false;
    if (!stop_) LogWarn("redis_subscriber_disconnected", {{"host", addr_.host}, {"port", addr_.port}});
  }
  live_ctx_ = nullptr;
}

}  // namespace cloudillo::cache
