#include "socket_mux.h"

#include "collab_service.h"

namespace cloudillo::collab {

using cloudillo::v1::MuxEvent;
using cloudillo::v1::MuxFrame;

namespace {
constexpr int kCloseViolation = 1008;
// A write carries what queued, up to this much (at least one event).
constexpr size_t kBatchBytes = 1u << 20;
}  // namespace

class SocketMux::Link final : public SocketLink, public std::enable_shared_from_this<SocketMux::Link> {
 public:
  Link(std::weak_ptr<SocketMux> mux, uint64_t id, std::shared_ptr<SocketHandler> handler)
      : mux_(std::move(mux)), id_(id), handler_(std::move(handler)) {}

  void Accept() override {
    auto mux = mux_.lock();
    if (!mux) return;
    std::lock_guard<std::mutex> lock(mux->mu_);
    if (ended_ || accepted_) return;
    AcceptLocked(*mux);
    for (auto& [frame, text] : early_) mux->EmitData(*this, std::move(frame), text);
    early_.clear();
    mux->Pump();
  }

  void Queue(std::shared_ptr<const std::string> frame, bool text) override {
    auto mux = mux_.lock();
    if (!mux) return;
    std::shared_ptr<SocketHandler> gone;
    {
      std::lock_guard<std::mutex> lock(mux->mu_);
      if (ended_) return;
      if (!accepted_) {
        // Frames before the upgrade wait for it (bounded like the rest).
        if (early_.size() < mux->limits_.queue_messages) early_.emplace_back(std::move(frame), text);
        return;
      }
      if (queued_ > 0 && (queued_ + 1 > mux->limits_.queue_messages ||
                          queued_bytes_ + frame->size() > mux->limits_.queue_bytes)) {
        gone = CloseLocked(*mux, mux->too_slow_code_, "client too slow");
      } else {
        mux->EmitData(*this, std::move(frame), text);
      }
      mux->Pump();
    }
    if (gone) gone->OnDone();
  }

  void CloseWith(int code, std::string reason) override {
    auto mux = mux_.lock();
    if (!mux) return;
    std::shared_ptr<SocketHandler> gone;
    {
      std::lock_guard<std::mutex> lock(mux->mu_);
      if (ended_) return;
      gone = CloseLocked(*mux, code, std::move(reason));
      mux->Pump();
    }
    if (gone) gone->OnDone();
  }

  void ReadNext() override {
    auto mux = mux_.lock();
    if (!mux) return;
    std::lock_guard<std::mutex> lock(mux->mu_);
    if (ended_ || awaiting_) return;
    awaiting_ = true;
    MuxEvent ev;
    ev.set_socket(id_);
    ev.mutable_ready();
    mux->Emit(*this, std::move(ev));
    mux->Pump();
  }

  // --- the mux's side, mu_ held ---

  std::shared_ptr<SocketHandler> CloseLocked(SocketMux& mux, int code, std::string reason) {
    if (!accepted_) AcceptLocked(mux);
    early_.clear();
    MuxEvent ev;
    ev.set_socket(id_);
    ev.mutable_close()->set_code(code);
    ev.mutable_close()->set_reason(std::move(reason));
    mux.Emit(*this, std::move(ev));
    return mux.Forget(id_);
  }

  // Takes the client's message if one was asked for.
  bool TakeMessage() {
    if (!awaiting_) return false;
    awaiting_ = false;
    return true;
  }

  std::shared_ptr<SocketHandler> End() {
    ended_ = true;
    early_.clear();
    return std::move(handler_);
  }

  uint64_t id() const { return id_; }
  const std::shared_ptr<SocketHandler>& handler() const { return handler_; }
  void Sent(size_t bytes) {
    --queued_;
    queued_bytes_ -= bytes;
  }
  void Counted(size_t bytes) {
    ++queued_;
    queued_bytes_ += bytes;
  }

 private:
  void AcceptLocked(SocketMux& mux) {
    accepted_ = true;
    MuxEvent ev;
    ev.set_socket(id_);
    ev.mutable_accepted();
    mux.Emit(*this, std::move(ev));
  }

  const std::weak_ptr<SocketMux> mux_;
  const uint64_t id_;
  // Guarded by the mux's mu_.
  std::shared_ptr<SocketHandler> handler_;
  std::vector<std::pair<std::shared_ptr<const std::string>, bool>> early_;
  size_t queued_ = 0, queued_bytes_ = 0;
  bool accepted_ = false, ended_ = false, awaiting_ = false;
};

SocketMux* SocketMux::Start(grpc::CallbackServerContext* ctx, const SocketLimits& limits, int too_slow_code,
                            HandlerFactory make) {
  const auto& md = ctx->client_metadata();
  auto also = md.find("cloudillo-mux-also");
  const bool fan_out = also != md.end() && also->second == "1";
  auto mux = std::make_shared<SocketMux>(limits, too_slow_code, fan_out, std::move(make));
  mux->self_ = mux;
  mux->StartRead(&mux->in_);
  return mux.get();
}

void SocketMux::Emit(Link& link, MuxEvent ev) {
  if (finished_) return;
  queue_.Push(link.id(), std::move(ev), 0);
  link.Counted(0);
}

void SocketMux::EmitData(Link& link, std::shared_ptr<const std::string> frame, bool text) {
  if (finished_) return;
  link.Counted(frame->size());
  queue_.PushData(link.id(), std::move(frame), text);
}

void SocketMux::Pump() {
  if (writing_ || finished_ || queue_.empty()) return;
  // A gateway that reads nothing for this long has stopped: its sockets reconnect elsewhere.
  if (queue_.bytes() > limits_.queue_bytes) {
    finished_ = true;
    return Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "gateway too slow"));
  }
  in_flight_bytes_ = queue_.Take(kBatchBytes, &out_, &in_flight_);
  writing_ = true;
  StartWrite(&out_);
}

std::shared_ptr<SocketHandler> SocketMux::Forget(uint64_t id) {
  auto it = links_.find(id);
  if (it == links_.end()) return nullptr;
  auto handler = it->second->End();
  links_.erase(it);
  return handler;
}

void SocketMux::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  // A socket forgotten meanwhile owes nothing any more (a gateway never reuses a number).
  for (auto [id, bytes] : in_flight_)
    if (auto it = links_.find(id); it != links_.end()) it->second->Sent(bytes);
  in_flight_.clear();
  queue_.Written(in_flight_bytes_);
  in_flight_bytes_ = 0;
  if (ok) Pump();  // else the read fails too and ends everything
}

void SocketMux::OnReadDone(bool ok) {
  if (!ok) return EndAll(grpc::Status::OK);
  for (MuxEvent& ev : *in_.mutable_events()) {
    const uint64_t id = ev.socket();
    std::shared_ptr<SocketHandler> call;
    std::shared_ptr<Link> link;
    bool done = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) break;
      auto it = links_.find(id);
      if (ev.has_open()) {
        if (it != links_.end()) continue;  // a gateway never reuses a number
        call = make_();
        link = std::make_shared<Link>(weak_from_this(), id, call);
        links_.emplace(id, link);
      } else if (it == links_.end()) {
        continue;  // a socket that ended on this side
      } else if (ev.has_close()) {
        call = Forget(id);
        done = true;
      } else if (ev.has_binary() || ev.has_text()) {
        if (!it->second->TakeMessage()) {
          // Only a gateway that ignores `ready` sends this.
          call = it->second->CloseLocked(*this, kCloseViolation, "unexpected message");
          done = true;
          Pump();
        } else {
          call = it->second->handler();
        }
      }
    }
    if (!call) continue;
    if (done) {
      call->OnDone();
    } else if (link) {
      call->Opened(std::move(link), std::move(*ev.mutable_open()));
    } else if (ev.has_binary()) {
      call->OnMessage(std::move(*ev.mutable_binary()), true);
    } else {
      call->OnMessage(std::move(*ev.mutable_text()), false);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  in_.Clear();
  StartRead(&in_);
}

void SocketMux::EndAll(grpc::Status status, bool finish) {
  std::vector<std::shared_ptr<SocketHandler>> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, link] : links_)
      if (auto h = link->End()) gone.push_back(std::move(h));
    links_.clear();
    queue_.Clear();
    if (finished_) finish = false;  // Finish was called already
    finished_ = true;
    if (finish) Finish(status);
  }
  for (auto& h : gone) h->OnDone();
}

void SocketMux::OnDone() {
  EndAll(grpc::Status::OK, false);  // sockets still open when the call ends (cancelled)
  auto keep = std::move(self_);     // may be the last reference
}

}  // namespace cloudillo::collab
