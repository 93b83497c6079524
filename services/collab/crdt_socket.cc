// One /ws/crdt connection: the handler of one socket of a gateway's multiplexed stream
// (socket_mux.h). Every call returns at once; blocking work goes to the worker pool.
#include "cloudillo/core/log.h"
#include "collab_service.h"
#include "socket_mux.h"

namespace cloudillo::collab {

using cloudillo::v1::MuxFrame;

namespace {
constexpr int kCloseNormal = 1000;
}  // namespace

class CollabService::Socket final : public SocketHandler,
                                    public DocPeer,
                                    public LiveSocket,
                                    public std::enable_shared_from_this<Socket> {
 public:
  explicit Socket(CollabService& svc) : svc_(svc) {}

  void Send(std::shared_ptr<const std::string> frame) override { link_->Queue(std::move(frame), false); }
  void Close(int code, std::string reason) override { link_->CloseWith(code, std::move(reason)); }

  void OnMessage(std::string data, bool binary) override {
    if (!binary) return link_->ReadNext();  // text frames carry nothing here
    if (data.size() > svc_.limits().max_message) return Close(kCloseTooBig, "message too big");
    auto self = shared_from_this();
    std::shared_ptr<LiveDoc> doc;
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      doc = doc_;
    }
    if (!doc) return Close(kCloseNormal, "");
    // The next message is read once this one is decided: one update per connection waits
    // for the log writer at most (log_writer.h).
    auto decided = [self](DocHub::Outcome out) {
      if (out.close_code != 0) return self->Close(out.close_code, out.reason);
      self->link_->ReadNext();
    };
    // A live edit is decided here: a hop to a worker would cost a thread wake-up per
    // update, more than deciding it.
    if (DocHub::IsQuick(data)) return svc_.hub().Handle(doc, this, who_, data, std::move(decided));
    auto frame = std::make_shared<std::string>(std::move(data));
    bool queued = svc_.workers().TrySubmit([self, doc, frame, decided = std::move(decided)]() mutable {
      self->svc_.hub().Handle(doc, self.get(), self->who_, *frame, std::move(decided));
    });
    if (!queued) Close(kCloseTryLater, "Try again later");
  }

  void OnDone() override {
    svc_.Unregister(this);
    std::shared_ptr<LiveDoc> doc;
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      done_ = true;
      doc = std::move(doc_);
    }
    if (!doc) return;
    // Leave publishes and broadcasts; never on gRPC's thread when a worker is free.
    auto& hub = svc_.hub();
    auto keep = shared_from_this();
    const DocPeer* me = this;
    if (!svc_.workers().TrySubmit([&hub, doc, me, keep] { hub.Leave(doc, me); })) hub.Leave(doc, me);
  }

  void Opened(std::shared_ptr<SocketLink> link, cloudillo::v1::ApiRequest request) override {
    link_ = std::move(link);
    auto self = shared_from_this();
    if (!svc_.Register(self)) return Close(kCloseRestart, "server restarting");
    auto open = std::make_shared<cloudillo::v1::ApiRequest>(std::move(request));
    bool queued = svc_.workers().TrySubmit([self, open] {
      Grant g = self->svc_.access().Check(*open);
      self->link_->Accept();
      if (g.close_code != 0) return self->Close(g.close_code, g.reason);
      self->who_ = g.who;
      auto joined = self->svc_.hub().Join(open->ctx().tn_id(), rpc_doc_id(*open), self);
      if (!joined.ok()) {
        LogWarn("crdt_join_failed", {{"error", joined.status().ToString()}});
        return self->Close(kCloseInternal, "Internal error");
      }
      {
        std::unique_lock<std::mutex> lock(self->state_mu_);
        if (self->done_) {
          // The client left while the document loaded: OnDone found nothing to leave.
          lock.unlock();
          return self->svc_.hub().Leave(joined->doc, self.get());
        }
        self->doc_ = joined->doc;
      }
      self->Send(std::make_shared<const std::string>(std::move(joined->sync_step1)));
      self->link_->ReadNext();
    });
    if (!queued) Close(kCloseTryLater, "Try again later");
  }

 private:
  static std::string rpc_doc_id(const cloudillo::v1::ApiRequest& open) {
    auto it = open.path().find("docId");
    return it == open.path().end() ? std::string() : it->second;
  }

  CollabService& svc_;
  std::shared_ptr<SocketLink> link_;  // set first in Opened
  PeerInfo who_;                      // set before the first read of a client message

  std::mutex state_mu_;
  std::shared_ptr<LiveDoc> doc_;
  bool done_ = false;
};

CollabService::CollabService(DocHub& hub, AccessCheck& access, rpc::WorkerPool& workers, SocketLimits limits,
                             prometheus::Registry* registry)
    : hub_(hub), access_(access), workers_(workers), limits_(limits) {
  if (registry) {
    connections_ = &prometheus::BuildGauge()
                        .Name("cloudillo_collab_connections")
                        .Help("Open /ws/crdt and /ws/rtdb sockets served by this process")
                        .Register(*registry)
                        .Add({});
  }
}

grpc::ServerBidiReactor<MuxFrame, MuxFrame>* CollabService::CrdtSockets(grpc::CallbackServerContext* ctx) {
  return SocketMux::Start(ctx, limits_, kCloseTryLater, [this] { return std::make_shared<Socket>(*this); });
}

CollabService::~CollabService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void CollabService::EnableRtdb(rtdb::RtdbStore& store, rtdb::RtdbHub& hub) {
  rtdb_store_ = &store;
  rtdb_hub_ = &hub;
  heartbeat_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_cv_.wait_for(lock, limits_.rtdb_heartbeat, [this] { return stopping_; })) {
      std::vector<std::shared_ptr<LiveSocket>> all;
      for (auto& [raw, w] : sockets_)
        if (auto p = w.lock()) all.push_back(std::move(p));
      lock.unlock();
      for (auto& s : all) s->Tick();
      all.clear();  // the last reference may go here, never under mu_
      lock.lock();
    }
  });
}

bool CollabService::Register(const std::shared_ptr<LiveSocket>& s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return false;
  sockets_.emplace(s.get(), s);
  if (connections_) connections_->Set(double(sockets_.size()));
  return true;
}

void CollabService::Unregister(const LiveSocket* s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sockets_.erase(s) && connections_) connections_->Set(double(sockets_.size()));
}

void CollabService::CloseAll(int code) {
  std::vector<std::shared_ptr<LiveSocket>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (auto& [raw, w] : sockets_)
      if (auto p = w.lock()) all.push_back(p);
  }
  for (auto& s : all) s->Close(code, "server restarting");
}

}  // namespace cloudillo::collab
