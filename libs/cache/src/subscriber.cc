// Subscriber: a Dial'd connection in pub/sub mode on its own I/O thread.
//
//   connecting --dial ok--> subscribing --all (P)SUBSCRIBE confirmed--> subscribed
//        ^                       |                                       |
//        +---- backoff <--fail---+------------ lost / silent ------------+
//
// A subscription that was up reconnects at once when lost; failures back off from
// 100 ms doubling to 5 s. The keepalive PING runs only while subscribed; its deadline
// shares one timer with the SUBSCRIBE confirmation (never both at once).
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/log.h"
#include "connection.h"
#include "dial.h"
#include "io_thread.h"

namespace cloudillo::cache {

namespace asio = boost::asio;
using internal::Clock;
using internal::Connection;
using internal::ToChrono;

namespace {
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

std::string Wire(const std::vector<std::string>& args) {
  std::string out;
  internal::AppendCommand(out, args);
  return out;
}
}  // namespace

class Subscriber::Core {
 public:
  Core(RedisConfig config, std::vector<std::string> channels, Handler on_message,
       std::function<void()> on_reset, Options options)
      : config_(std::move(config)),
        channels_(std::move(channels)),
        on_message_(std::move(on_message)),
        on_reset_(std::move(on_reset)),
        options_(options),
        work_(io_.get_executor()) {
    internal::ClientSetup setup = internal::PrepareClient(config_);
    tls_ = std::move(setup.tls);
    setup_error_ = std::move(setup.error);
  }

  asio::io_context& io() { return io_; }
  bool connected() const { return connected_.load(); }
  bool has_channels() const { return !channels_.empty() || !options_.patterns.empty(); }
  internal::IoThread& thread() { return thread_; }

  void Connect() {
    if (stopped_) return;
    state_ = State::kConnecting;
    if (!setup_error_.ok()) {
      Failed(setup_error_);
      return;
    }
    dial_ = internal::Dial::Start(io_, config_, tls_, [this](auto r) { OnDialed(std::move(r)); });
  }

  void Stop() {
    stopped_ = true;
    connected_ = false;
    if (dial_) dial_->Cancel();
    dial_ = nullptr;
    if (conn_) conn_->Close(absl::CancelledError("redis: subscriber stopped"));
    conn_ = nullptr;
    backoff_timer_.cancel();
    CancelDeadline();
    keepalive_timer_.cancel();
    work_.reset();
  }

 private:
  enum class State { kConnecting, kSubscribing, kSubscribed, kBackoff };

  void OnDialed(absl::StatusOr<std::shared_ptr<Connection>> r) {
    dial_ = nullptr;
    if (stopped_) {
      if (r.ok()) (*r)->Close(absl::CancelledError("redis: subscriber stopped"));
      return;
    }
    if (!r.ok()) {
      Failed(r.status());
      return;
    }
    conn_ = *r;
    std::weak_ptr<Connection> weak = conn_;
    conn_->SetHandlers(
        [this, weak](absl::StatusOr<Reply> reply) {
          if (auto c = weak.lock(); c && c == conn_) OnPush(std::move(reply));
        },
        [this, weak](const absl::Status& why) {
          if (auto c = weak.lock(); c && c == conn_) Lost(why);
        });
    // Both commands go out at once; each name is confirmed on its own.
    std::string wire;
    if (!channels_.empty()) {
      std::vector<std::string> args = {"SUBSCRIBE"};
      args.insert(args.end(), channels_.begin(), channels_.end());
      wire += Wire(args);
    }
    if (!options_.patterns.empty()) {
      std::vector<std::string> args = {"PSUBSCRIBE"};
      args.insert(args.end(), options_.patterns.begin(), options_.patterns.end());
      wire += Wire(args);
    }
    confirmed_ = 0;
    state_ = State::kSubscribing;
    conn_->Write(wire);
    ArmDeadline(config_.connect_timeout + config_.command_timeout, "SUBSCRIBE was not confirmed");
  }

  void OnPush(absl::StatusOr<Reply> reply) {
    if (!reply.ok()) {
      Drop(absl::UnavailableError("redis: subscriber got " + std::string(reply.status().message())));
      return;
    }
    if (reply->type != Reply::Type::kArray || reply->elements.empty()) return;
    const std::string& kind = reply->elements[0].str;
    if (kind == "message" && reply->elements.size() == 3) {
      if (state_ == State::kSubscribed) on_message_(reply->elements[1].str, reply->elements[2].str);
    } else if (kind == "pmessage" && reply->elements.size() == 4) {
      // [pmessage, pattern, channel, message]
      if (state_ == State::kSubscribed) on_message_(reply->elements[2].str, reply->elements[3].str);
    } else if (kind == "subscribe" || kind == "psubscribe") {
      // One confirmation per channel or pattern named, duplicates included.
      if (state_ == State::kSubscribing && ++confirmed_ == channels_.size() + options_.patterns.size()) {
        CancelDeadline();
        state_ = State::kSubscribed;
        connected_ = true;
        backoff_ = Clock::duration::zero();
        if (logged_failure_) LogInfo("redis_subscriber_connected", {{"peer", conn_->peer()}});
        logged_failure_ = false;
        if (on_reset_) on_reset_();
        ScheduleKeepalive();
      }
    } else if (kind == "pong") {
      CancelDeadline();
      ScheduleKeepalive();
    }
  }

  void ScheduleKeepalive() {
    if (stopped_ || !conn_) return;
    keepalive_timer_.expires_after(ToChrono(options_.keepalive));
    keepalive_timer_.async_wait(
        [this, conn = std::weak_ptr<Connection>(conn_)](const boost::system::error_code& ec) {
          auto c = conn.lock();
          if (ec || stopped_ || !c || c != conn_ || state_ != State::kSubscribed) return;
          c->Write(Wire({"PING"}));
          ArmDeadline(options_.keepalive_timeout, "no answer to PING");
        });
  }

  // A generation number tells a stale (cancelled) wake-up from the current one.
  void ArmDeadline(absl::Duration after, std::string what) {
    uint64_t gen = ++deadline_gen_;
    deadline_timer_.expires_after(ToChrono(after));
    deadline_timer_.async_wait([this, gen, what, after](const boost::system::error_code& ec) {
      if (ec || gen != deadline_gen_ || stopped_ || !conn_) return;
      Drop(absl::UnavailableError(absl::StrCat("redis: ", conn_->peer(), " silent: ", what, " within ",
                                               absl::FormatDuration(after))));
    });
  }
  void CancelDeadline() {
    ++deadline_gen_;
    deadline_timer_.cancel();
  }

  // We end the connection ourselves (silent peer, error reply).
  void Drop(const absl::Status& why) {
    if (!conn_) return;
    auto c = conn_;
    c->Close(why);
    Lost(why);
  }

  void Lost(const absl::Status& why) {
    bool was_up = state_ == State::kSubscribed;
    conn_ = nullptr;
    connected_ = false;
    CancelDeadline();
    keepalive_timer_.cancel();
    LogWarn("redis_subscriber_disconnected", {{"error", std::string(why.message())}});
    logged_failure_ = true;
    if (was_up) {
      backoff_ = Clock::duration::zero();
      Connect();
    } else {
      Failed(why);
    }
  }

  void Failed(const absl::Status& why) {
    if (stopped_) return;
    std::string text(why.message());
    if (text != last_error_) LogWarn("redis_subscriber_connect_failed", {{"error", text}});
    last_error_ = text;
    logged_failure_ = true;
    state_ = State::kBackoff;
    backoff_ = backoff_ == Clock::duration::zero() ? Clock::duration(kFirstBackoff)
                                                   : std::min<Clock::duration>(backoff_ * 2, kMaxBackoff);
    backoff_timer_.expires_after(backoff_);
    backoff_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopped_ && state_ == State::kBackoff) Connect();
    });
  }

  asio::io_context io_;
  RedisConfig config_;
  std::vector<std::string> channels_;
  Handler on_message_;
  std::function<void()> on_reset_;
  Options options_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::shared_ptr<asio::ssl::context> tls_;
  absl::Status setup_error_;
  std::atomic<bool> connected_{false};
  internal::IoThread thread_;

  bool stopped_ = false;
  State state_ = State::kConnecting;
  std::shared_ptr<internal::Dial> dial_;
  std::shared_ptr<Connection> conn_;
  size_t confirmed_ = 0;
  asio::steady_timer backoff_timer_{io_};
  asio::steady_timer keepalive_timer_{io_};
  asio::steady_timer deadline_timer_{io_};
  uint64_t deadline_gen_ = 0;
  Clock::duration backoff_ = Clock::duration::zero();
  std::string last_error_;
  bool logged_failure_ = false;
};

Subscriber::Subscriber(RedisConfig config, std::vector<std::string> channels, Handler on_message,
                       std::function<void()> on_reset, Options options)
    : core_(std::make_shared<Core>(std::move(config), std::move(channels), std::move(on_message),
                                   std::move(on_reset), options)) {}

Subscriber::~Subscriber() { Stop(); }

void Subscriber::Start() {
  if (!core_ || started_) return;
  if (!core_->has_channels()) {
    LogWarn("redis_subscriber_without_channels");
    return;
  }
  started_ = true;
  core_->thread().Start(core_->io(), core_, "redis-sub");
  asio::post(core_->io(), [core = core_.get()] { core->Connect(); });
}

void Subscriber::Stop() {
  if (!core_) return;
  if (started_) {
    asio::post(core_->io(), [core = core_.get()] { core->Stop(); });
    core_->thread().Join();
  }
  core_ = nullptr;
}

bool Subscriber::connected() const { return core_ && core_->connected(); }

}  // namespace cloudillo::cache
