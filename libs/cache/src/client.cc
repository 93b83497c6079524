// The Redis client: one I/O thread, one pipelined connection, and the state machine
// around it (idle -> connecting -> ready; a failed attempt -> backoff -> connecting).
//
// Commands are formatted on the caller's thread and posted to the I/O thread, which
// owns every piece of state below except the two atomics. The outstanding-command count
// is an atomic so that a full queue refuses at once, without a trip through the thread.
#include <openssl/evp.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/log.h"
#include "connection.h"
#include "dial.h"
#include "io_thread.h"
#include "resp.h"

namespace cloudillo::cache {
namespace {

namespace asio = boost::asio;
using internal::Clock;
using internal::Connection;
using internal::Deliver;
using internal::ToChrono;

constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);
// A connection that dies sooner than this after opening is treated like a failed attempt
// (backoff), so a server that accepts and drops us at once is not hammered.
constexpr auto kHealthyLifetime = std::chrono::seconds(1);
constexpr size_t kMaxScripts = 1024;

std::string Sha1Hex(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
}

class ClientCore {
 public:
  explicit ClientCore(RedisConfig config) : config_(std::move(config)), work_(io_.get_executor()) {
    internal::ClientSetup setup = internal::PrepareClient(config_);
    tls_ = std::move(setup.tls);
    setup_error_ = std::move(setup.error);
  }

  asio::io_context& io() { return io_; }
  const RedisConfig& config() const { return config_; }
  bool connected() const { return connected_.load(); }

  // Counts a command in; false (and the refusal is posted) when max_pending are out.
  bool Admit(const Redis::Callback& done) {
    if (pending_.fetch_add(1) < config_.max_pending) return true;
    pending_.fetch_sub(1);
    asio::post(io_, [done, max = config_.max_pending] {
      Deliver(done, absl::UnavailableError(absl::StrCat("redis: ", max, " commands pending already")));
    });
    return false;
  }

  void Submit(std::string wire, Redis::Callback done) {
    Entry e{std::move(wire), WrapDone(std::move(done)), Clock::now() + ToChrono(config_.connect_timeout)};
    Route(std::move(e));
  }

  void RunScript(const std::string& script, const std::vector<std::string>& keys,
                 const std::vector<std::string>& args, Redis::Callback done) {
    std::string sha = ShaOf(script);
    auto call = [&](const std::string& verb, const std::string& body) {
      std::vector<std::string> argv = {verb, body, std::to_string(keys.size())};
      argv.insert(argv.end(), keys.begin(), keys.end());
      argv.insert(argv.end(), args.begin(), args.end());
      std::string wire;
      internal::AppendCommand(wire, argv);
      return wire;
    };
    auto remember = [this, sha](const absl::StatusOr<Reply>& r) {
      if (!r.ok()) return;
      if (loaded_scripts_.size() >= kMaxScripts) loaded_scripts_.clear();
      loaded_scripts_.insert(sha);
    };
    if (state_ == State::kReady && loaded_scripts_.count(sha)) {
      std::string eval = call("EVAL", script);
      Entry e{call("EVALSHA", sha),
              [this, sha, eval = std::move(eval), done = std::move(done),
               remember](absl::StatusOr<Reply> r) mutable {
                if (internal::ErrorCode(r.status()) != "NOSCRIPT") {
                  Finish(done, std::move(r));
                  return;
                }
                loaded_scripts_.erase(sha);
                Route(Entry{std::move(eval),
                            [this, done = std::move(done), remember](absl::StatusOr<Reply> r) {
                              remember(r);
                              Finish(done, std::move(r));
                            },
                            Clock::now() + ToChrono(config_.connect_timeout)});
              },
              Clock::now() + ToChrono(config_.connect_timeout)};
      Route(std::move(e));
      return;
    }
    Route(Entry{call("EVAL", script),
                [this, done = std::move(done), remember](absl::StatusOr<Reply> r) {
                  remember(r);
                  Finish(done, std::move(r));
                },
                Clock::now() + ToChrono(config_.connect_timeout)});
  }

  void Shutdown() {
    state_ = State::kShutdown;
    connected_ = false;
    if (dial_) dial_->Cancel();
    dial_ = nullptr;
    absl::Status stopped = absl::UnavailableError("redis: client stopped");
    if (conn_) conn_->Close(stopped);
    conn_ = nullptr;
    FailWaiting(stopped);
    backoff_timer_.cancel();
    CancelWaitTimer();
    work_.reset();
  }

 private:
  enum class State { kIdle, kConnecting, kReady, kBackoff, kShutdown };
  struct Entry {
    std::string wire;
    Redis::Callback done;  // internal: already counts the command out when it runs
    Clock::time_point wait_deadline;
  };

  // Every command leaves the outstanding count exactly when its caller's callback runs.
  Redis::Callback WrapDone(Redis::Callback done) {
    return [this, done = std::move(done)](absl::StatusOr<Reply> r) { Finish(done, std::move(r)); };
  }
  void Finish(const Redis::Callback& done, absl::StatusOr<Reply> r) {
    pending_.fetch_sub(1);
    if (!config_.sentinels.empty() && internal::ErrorCode(r.status()) == "READONLY" && conn_) {
      // We are talking to a replica: a failover happened without our connection being
      // killed. Go back to the sentinels.
      LogWarn("redis_readonly_reconnect", {{"peer", conn_->peer()}});
      auto conn = conn_;
      asio::post(io_, [this, conn] {
        if (conn_ == conn) {
          conn->Close(absl::UnavailableError("redis: " + conn->peer() + " became a replica"));
          OnLost(conn, absl::UnavailableError("redis: " + conn->peer() + " became a replica"));
        }
      });
    }
    Deliver(done, std::move(r));
  }

  void Route(Entry e) {
    switch (state_) {
      case State::kReady:
        conn_->Send(e.wire, std::move(e.done));
        return;
      case State::kBackoff:
        Deliver(e.done, absl::UnavailableError("redis: not connected: " + last_error_));
        return;
      case State::kShutdown:
        Deliver(e.done, absl::UnavailableError("redis: client stopped"));
        return;
      case State::kIdle:
        waiting_.push_back(std::move(e));
        Connect();
        return;
      case State::kConnecting:
        waiting_.push_back(std::move(e));
        ArmWaitTimer();
        return;
    }
  }

  void Connect() {
    state_ = State::kConnecting;
    ArmWaitTimer();
    if (!setup_error_.ok()) {
      // Not a passing condition, but retrying keeps the one code path (and the log line).
      asio::post(io_, [this] { OnDialed(setup_error_); });
      return;
    }
    dial_ = internal::Dial::Start(io_, config_, tls_, [this](auto r) { OnDialed(std::move(r)); });
  }

  void OnDialed(absl::StatusOr<std::shared_ptr<Connection>> r) {
    dial_ = nullptr;
    if (state_ != State::kConnecting) {
      if (r.ok()) (*r)->Close(absl::UnavailableError("redis: client stopped"));
      return;
    }
    if (!r.ok()) {
      EnterBackoff(r.status());
      return;
    }
    conn_ = *r;
    loaded_scripts_.clear();
    std::weak_ptr<Connection> weak = conn_;
    conn_->SetHandlers(nullptr, [this, weak](const absl::Status& why) {
      if (auto c = weak.lock()) OnLost(c, why);
    });
    state_ = State::kReady;
    connected_ = true;
    CancelWaitTimer();
    if (!last_error_.empty()) LogInfo("redis_connected", {{"peer", conn_->peer()}});
    last_error_.clear();
    std::deque<Entry> waiting;
    waiting.swap(waiting_);
    for (auto& e : waiting) conn_->Send(e.wire, std::move(e.done));
  }

  void EnterBackoff(const absl::Status& why) {
    std::string text(why.message());
    if (text != last_error_) LogWarn("redis_connect_failed", {{"error", text}});
    last_error_ = text;
    backoff_ = backoff_ == Clock::duration::zero() ? Clock::duration(kFirstBackoff)
                                                   : std::min<Clock::duration>(backoff_ * 2, kMaxBackoff);
    state_ = State::kBackoff;
    CancelWaitTimer();
    FailWaiting(absl::UnavailableError("redis: not connected: " + text));
    backoff_timer_.expires_after(backoff_);
    backoff_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && state_ == State::kBackoff) Connect();
    });
  }

  void OnLost(const std::shared_ptr<Connection>& conn, const absl::Status& why) {
    if (conn != conn_ || state_ != State::kReady) return;
    conn_ = nullptr;
    connected_ = false;
    LogWarn("redis_connection_lost", {{"peer", conn->peer()}, {"error", std::string(why.message())}});
    last_error_ = std::string(why.message());
    if (Clock::now() - conn->opened_at() >= kHealthyLifetime) {
      backoff_ = Clock::duration::zero();
      Connect();  // at once: this is also how a failover is followed
    } else {
      EnterBackoff(why);
    }
  }

  // Fails commands that waited connect_timeout for a connection. A generation number
  // tells a stale (cancelled) wake-up from the current one.
  void ArmWaitTimer() {
    if (wait_armed_ || waiting_.empty()) return;
    wait_armed_ = true;
    uint64_t gen = ++wait_gen_;
    wait_timer_.expires_at(waiting_.front().wait_deadline);
    wait_timer_.async_wait([this, gen](const boost::system::error_code& ec) {
      if (gen != wait_gen_) return;
      wait_armed_ = false;
      if (ec || state_ != State::kConnecting) return;
      auto now = Clock::now();
      while (!waiting_.empty() && waiting_.front().wait_deadline <= now) {
        Entry e = std::move(waiting_.front());
        waiting_.pop_front();
        Deliver(e.done, absl::UnavailableError(absl::StrCat("redis: still connecting after ",
                                                            absl::FormatDuration(config_.connect_timeout))));
      }
      ArmWaitTimer();
    });
  }

  void CancelWaitTimer() {
    ++wait_gen_;
    wait_armed_ = false;
    wait_timer_.cancel();
  }

  void FailWaiting(const absl::Status& why) {
    std::deque<Entry> failed;
    failed.swap(waiting_);
    for (auto& e : failed) Deliver(e.done, why);
  }

  const std::string& ShaOf(const std::string& script) {
    auto it = shas_.find(script);
    if (it != shas_.end()) return it->second;
    if (shas_.size() >= kMaxScripts) shas_.clear();
    return shas_.emplace(script, Sha1Hex(script)).first->second;
  }

  asio::io_context io_;
  RedisConfig config_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::shared_ptr<asio::ssl::context> tls_;
  absl::Status setup_error_;
  std::atomic<size_t> pending_{0};
  std::atomic<bool> connected_{false};

  State state_ = State::kIdle;
  std::shared_ptr<internal::Dial> dial_;
  std::shared_ptr<Connection> conn_;
  std::deque<Entry> waiting_;
  asio::steady_timer wait_timer_{io_};
  bool wait_armed_ = false;
  uint64_t wait_gen_ = 0;
  asio::steady_timer backoff_timer_{io_};
  Clock::duration backoff_ = Clock::duration::zero();
  std::string last_error_;
  std::unordered_set<std::string> loaded_scripts_;     // on the current connection
  std::unordered_map<std::string, std::string> shas_;  // script text -> SHA-1
};

class Client final : public Redis {
 public:
  explicit Client(RedisConfig config) : core_(std::make_shared<ClientCore>(std::move(config))) {
    thread_.Start(core_->io(), core_, "redis-io");
  }
  ~Client() override {
    auto* core = core_.get();
    asio::post(core->io(), [core] { core->Shutdown(); });
    thread_.Join();
  }

  void CommandAsync(std::vector<std::string> args, Callback done) override {
    std::string wire;
    internal::AppendCommand(wire, args);  // may throw (memory): before Admit, so nothing leaks
    if (!core_->Admit(done)) return;
    asio::post(core_->io(), [core = core_.get(), wire = std::move(wire), done = std::move(done)]() mutable {
      core->Submit(std::move(wire), std::move(done));
    });
  }

  void ScriptAsync(const std::string& script, std::vector<std::string> keys, std::vector<std::string> args,
                   Callback done) override {
    if (!core_->Admit(done)) return;
    asio::post(core_->io(),
               [core = core_.get(), script, keys = std::move(keys), args = std::move(args),
                done = std::move(done)]() mutable { core->RunScript(script, keys, args, std::move(done)); });
  }

  bool connected() const override { return core_->connected(); }

 protected:
  bool OnClientThread() const override { return internal::IoThread::IsCurrent(core_->io()); }
  absl::Duration LongestWait() const override {
    return core_->config().connect_timeout + 2 * core_->config().command_timeout + absl::Milliseconds(500);
  }

 private:
  std::shared_ptr<ClientCore> core_;
  internal::IoThread thread_;
};

}  // namespace

std::shared_ptr<Redis> Redis::Create(RedisConfig config) {
  return std::make_shared<Client>(std::move(config));
}

absl::StatusOr<Reply> Redis::Command(const std::vector<std::string>& args) {
  if (OnClientThread())
    return absl::FailedPreconditionError("redis: blocking call on the client's own thread would deadlock");
  struct Slot {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<absl::StatusOr<Reply>> result;
  };
  auto slot = std::make_shared<Slot>();
  CommandAsync(args, [slot](absl::StatusOr<Reply> r) {
    std::lock_guard<std::mutex> lock(slot->mu);
    slot->result = std::move(r);
    slot->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(slot->mu);
  if (!slot->cv.wait_for(lock, ToChrono(LongestWait()), [&] { return slot->result.has_value(); }))
    return absl::UnavailableError("redis: no answer in time");
  return std::move(*slot->result);
}

absl::Status Redis::Ping() { return Command({"PING"}).status(); }

absl::Status Redis::Publish(const std::string& channel, const std::string& message) {
  return Command({"PUBLISH", channel, message}).status();
}

absl::Status Redis::PublishMany(const std::vector<std::pair<std::string, std::string>>& messages) {
  if (messages.empty()) return absl::OkStatus();
  if (OnClientThread())
    return absl::FailedPreconditionError("redis: blocking call on the client's own thread would deadlock");
  struct Slot {
    std::mutex mu;
    std::condition_variable cv;
    size_t answered = 0;
    absl::Status first_error;
  };
  auto slot = std::make_shared<Slot>();
  // Issued back to back from one thread, the commands queue on the connection while
  // the first is written, and go out together (Connection::Flush).
  for (const auto& [channel, message] : messages) {
    CommandAsync({"PUBLISH", channel, message}, [slot](absl::StatusOr<Reply> r) {
      std::lock_guard<std::mutex> lock(slot->mu);
      if (!r.ok() && slot->first_error.ok()) slot->first_error = r.status();
      ++slot->answered;
      slot->cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(slot->mu);
  if (!slot->cv.wait_for(lock, ToChrono(LongestWait()), [&] { return slot->answered == messages.size(); }))
    return absl::UnavailableError("redis: no answer in time");
  return slot->first_error;
}

}  // namespace cloudillo::cache
