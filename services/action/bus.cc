#include "bus.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/random.h"

namespace cloudillo::action {
namespace {

using cloudillo::v1::SocketFrame;
using ojson = nlohmann::ordered_json;

// One `/ws/bus` socket: a bidirectional gRPC stream from the gateway (common.proto
// SocketFrame). Reads one client frame at a time; writes one frame at a time from its
// bounded queue. Every callback returns at once: nothing here waits for a client.
class BusSocket final : public grpc::ServerBidiReactor<SocketFrame, SocketFrame>,
                        public BusPeer,
                        public std::enable_shared_from_this<BusSocket> {
 public:
  explicit BusSocket(BusHub& hub)
      : hub_(hub), queue_(hub.limits().queue_messages, hub.limits().queue_bytes) {}

  // The reactor owns itself until gRPC reports it done (OnDone).
  static BusSocket* Start(BusHub& hub) {
    auto s = std::make_shared<BusSocket>(hub);
    s->self_ = s;
    s->StartRead(&s->in_);
    return s.get();
  }

  void Push(std::shared_ptr<const std::string> frame) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (closing_) return;
    if (!queue_.Push(std::move(frame))) {
      // Too far behind: what it missed cannot be told, so it reconnects and reloads.
      queue_.Clear();
      QueueClose(kBusCloseTryLater, "client too slow");
    }
    Pump(lock);
  }

  void Close(int code, std::string reason) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (closing_) return;
    queue_.Clear();
    QueueClose(code, std::move(reason));
    Pump(lock);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return End();  // the gateway ended the call (client gone or cancelled)
    if (!opened_) {
      opened_ = true;
      if (!in_.has_open())
        return End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "open frame expected"));
      return Opened(in_.open().ctx());
    }
    if (in_.has_close()) return End();  // the client closed its side
    if (in_.has_text()) {
      if (in_.text().size() > hub_.limits().max_client_message)
        return Close(kBusCloseTooBig, "message too big");
      if (auto answer = AnswerClientFrame(in_.text())) {
        std::unique_lock<std::mutex> lock(mu_);
        if (!closing_ && !queue_.Push(std::make_shared<const std::string>(std::move(*answer)))) {
          // A client that sends commands but reads no answers.
          queue_.Clear();
          QueueClose(kBusCloseTryLater, "client too slow");
        }
        Pump(lock);
      }
    }
    // Binary frames are ignored, as the reference does: the protocol has none.
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok || out_.has_close()) {
      lock.unlock();
      return End();
    }
    Pump(lock);
  }

  void OnCancel() override { End(); }

  void OnDone() override {
    auto keep = std::move(self_);  // may be the last reference: nothing after this block
    if (joined_tn_) hub_.Leave(*joined_tn_, this);
  }

 private:
  // The open frame: who is calling decides between accepted and a close code.
  void Opened(const cloudillo::v1::RequestContext& ctx) {
    {
      // Accepted first in every case (the client sees a close code only on an open
      // socket), and queued before joining: a push may arrive as soon as we joined, and
      // control frames go out before pushes.
      std::lock_guard<std::mutex> lock(mu_);
      pending_control_.emplace_back();
      pending_control_.back().mutable_accepted();
    }
    int refusal = 0;
    if (!ctx.authenticated()) {
      refusal = kBusCloseUnauthenticated;
    } else if (!ctx.scope().empty() || ctx.subject() != ctx.id_tag() || ctx.tn_id() <= 0) {
      refusal = kBusCloseForbidden;
    } else if ((refusal = hub_.Join(ctx.tn_id(), shared_from_this())) == 0) {
      joined_tn_ = ctx.tn_id();
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (refusal != 0) {
      QueueClose(refusal, refusal == kBusCloseUnauthenticated ? "Unauthorized - authentication required"
                          : refusal == kBusCloseForbidden     ? "Access denied"
                                                              : "Try again later");
    }
    Pump(lock);
    lock.unlock();
    if (refusal == 0) StartRead(&in_);
  }

  // mu_ held. The close frame goes after what is being written; nothing after it.
  void QueueClose(int code, std::string reason) {
    closing_ = true;
    SocketFrame f;
    f.mutable_close()->set_code(code);
    f.mutable_close()->set_reason(std::move(reason));
    pending_control_.push_back(std::move(f));
  }

  // Starts the next write if none is outstanding. Called with mu_ held through `lock`;
  // StartWrite runs unlocked since gRPC may run reactions on this thread.
  void Pump(std::unique_lock<std::mutex>& lock) {
    if (writing_ || finished_) return;
    if (!pending_control_.empty()) {
      out_ = std::move(pending_control_.front());
      pending_control_.pop_front();
    } else if (auto frame = queue_.Pop()) {
      out_.Clear();
      out_.set_text(*frame);
    } else {
      return;
    }
    writing_ = true;
    lock.unlock();
    StartWrite(&out_);
    lock.lock();
  }

  void End(grpc::Status status = grpc::Status::OK) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
      closing_ = true;
      queue_.Clear();
    }
    Finish(status);
  }

  BusHub& hub_;
  std::shared_ptr<BusSocket> self_;
  SocketFrame in_;  // reads: one at a time, touched only by read callbacks
  bool opened_ = false;
  std::optional<int64_t> joined_tn_;  // set before the first write; read in OnDone

  std::mutex mu_;
  SendQueue queue_;
  std::deque<SocketFrame> pending_control_;  // accepted and close: at most two
  SocketFrame out_;                          // the frame being written
  bool writing_ = false, closing_ = false, finished_ = false;
};

}  // namespace

bool SendQueue::Push(std::shared_ptr<const std::string> frame) {
  if (frames_.size() + 1 > max_messages_ || bytes_ + frame->size() > max_bytes_) return false;
  bytes_ += frame->size();
  frames_.push_back(std::move(frame));
  return true;
}

std::shared_ptr<const std::string> SendQueue::Pop() {
  if (frames_.empty()) return nullptr;
  auto f = std::move(frames_.front());
  frames_.pop_front();
  bytes_ -= f->size();
  return f;
}

void SendQueue::Clear() {
  frames_.clear();
  bytes_ = 0;
}

std::optional<std::string> AnswerClientFrame(std::string_view text) {
  ojson in = ojson::parse(text, nullptr, false);
  if (in.is_discarded() || !in.is_object()) return std::nullopt;
  auto id = in.find("id");
  auto cmd = in.find("cmd");
  if (id == in.end() || !id->is_string() || cmd == in.end() || !cmd->is_string()) return std::nullopt;
  ojson out;
  out["id"] = *id;
  out["cmd"] = "ack";
  out["data"] = {{"status", cmd->get<std::string>() == "ping" ? "pong" : "ok"}};
  return out.dump();
}

std::optional<std::string> PushFrame(std::string_view published, std::string_view id) {
  ojson in = ojson::parse(published, nullptr, false);
  if (in.is_discarded() || !in.is_object()) return std::nullopt;
  auto cmd = in.find("cmd");
  if (cmd == in.end() || !cmd->is_string()) return std::nullopt;
  ojson out;
  out["id"] = std::string(id);
  out["cmd"] = *cmd;
  auto data = in.find("data");
  out["data"] = data == in.end() ? ojson() : *data;
  return out.dump();
}

std::optional<int64_t> TenantOfBusChannel(std::string_view channel) {
  constexpr std::string_view kPrefix = "bus:";
  if (channel.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view digits = channel.substr(kPrefix.size());
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int64_t tn = 0;
  if (!absl::SimpleAtoi(AV(digits), &tn) || tn <= 0) return std::nullopt;
  return tn;
}

BusHub::BusHub(BusLimits limits, prometheus::Registry* registry) : limits_(limits) {
  if (registry) {
    gauge_ = &prometheus::BuildGauge()
                  .Name("cloudillo_bus_connections")
                  .Help("Open /ws/bus sockets served by this process")
                  .Register(*registry)
                  .Add({});
  }
}

grpc::ServerBidiReactor<SocketFrame, SocketFrame>* BusHub::Open() { return BusSocket::Start(*this); }

int BusHub::Join(int64_t tn_id, std::shared_ptr<BusPeer> peer) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_ || total_ >= limits_.max_connections) return kBusCloseTryLater;
  auto& peers = tenants_[tn_id];
  if (peers.size() >= limits_.max_per_tenant) {
    if (peers.empty()) tenants_.erase(tn_id);
    return kBusCloseTryLater;
  }
  peers.push_back(std::move(peer));
  ++total_;
  if (gauge_) gauge_->Set(double(total_));
  return 0;
}

void BusHub::Leave(int64_t tn_id, const BusPeer* peer) {
  std::shared_ptr<BusPeer> gone;  // released after the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tenants_.find(tn_id);
  if (it == tenants_.end()) return;
  auto& peers = it->second;
  auto p = std::find_if(peers.begin(), peers.end(), [&](const auto& x) { return x.get() == peer; });
  if (p == peers.end()) return;
  gone = std::move(*p);
  peers.erase(p);
  if (peers.empty()) tenants_.erase(it);
  --total_;
  if (gauge_) gauge_->Set(double(total_));
}

size_t BusHub::Deliver(const std::string& channel, const std::string& message) {
  auto tn = TenantOfBusChannel(channel);
  if (!tn) return 0;
  {
    // Most messages are for tenants nobody here watches: skip the parse for them.
    std::lock_guard<std::mutex> lock(mu_);
    if (tenants_.find(*tn) == tenants_.end()) return 0;
  }
  auto frame = PushFrame(message, RandomAlnum(24));
  if (!frame) {
    LogWarn("bus_message_malformed", {{"channel", channel}});
    return 0;
  }
  auto shared = std::make_shared<const std::string>(std::move(*frame));
  std::vector<std::shared_ptr<BusPeer>> peers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tenants_.find(*tn);
    if (it == tenants_.end()) return 0;
    peers = it->second;
  }
  // Outside the lock: a push may start a gRPC write.
  for (const auto& p : peers) p->Push(shared);
  return peers.size();
}

void BusHub::CloseAll(int code) {
  std::vector<std::shared_ptr<BusPeer>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (auto& [tn, peers] : tenants_) all.insert(all.end(), peers.begin(), peers.end());
  }
  for (const auto& p : all) p->Close(code, "server restarting");
}

size_t BusHub::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

}  // namespace cloudillo::action
