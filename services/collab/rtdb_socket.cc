// One /ws/rtdb connection: a socket of a gateway's multiplexed stream (socket_mux.h)
// around an rtdb::RtdbSession. The session blocks on PostgreSQL, so every call into it runs on the
// worker pool, one at a time per connection (work_mu_), never on gRPC's or Redis's
// thread; the session's send and close only queue here.
#include "cloudillo/core/log.h"
#include "cloudillo/core/random.h"
#include "cloudillo/rpc/api.h"
#include "collab_service.h"
#include "session.h"
#include "socket_mux.h"

namespace cloudillo::collab {

using cloudillo::v1::FileAccessReply;
using cloudillo::v1::MuxFrame;

namespace {
constexpr int kCloseUnsupported = 1003;  // a binary frame: RTDB speaks JSON text only

rtdb::Access ToAccess(FileAccessReply::Access level) {
  switch (level) {
    case FileAccessReply::WRITE:
      return rtdb::Access::kWrite;
    case FileAccessReply::COMMENT:
      return rtdb::Access::kComment;
    default:
      return rtdb::Access::kRead;
  }
}
}  // namespace

class CollabService::RtdbSocket final : public SocketHandler,
                                        public LiveSocket,
                                        public std::enable_shared_from_this<RtdbSocket> {
 public:
  explicit RtdbSocket(CollabService& svc) : svc_(svc) {}

  // The session's `send`: called under its lock, so it only queues.
  void SendText(std::string frame) {
    link_->Queue(std::make_shared<const std::string>(std::move(frame)), true);
  }
  void Close(int code, std::string reason) override { link_->CloseWith(code, std::move(reason)); }

  void Tick() override {
    auto session = current_session();
    if (!session) return;
    auto self = shared_from_this();
    // A busy pool skips one beat; locks live for several (rtdb lock_ttl_seconds).
    svc_.workers().TrySubmit([self, session] {
      std::lock_guard<std::mutex> work(self->work_mu_);
      session->Heartbeat();
    });
  }

  void OnMessage(std::string data, bool binary) override {
    if (binary) return Close(kCloseUnsupported, "text frames only");
    if (data.size() > svc_.limits().rtdb_max_message) return Close(rtdb::kCloseTooBig, "message too big");
    auto session = current_session();
    if (!session) return Close(1000, "");
    auto self = shared_from_this();
    auto text = std::make_shared<std::string>(std::move(data));
    bool queued = svc_.workers().TrySubmit([self, session, text] {
      {
        std::lock_guard<std::mutex> work(self->work_mu_);
        session->HandleText(*text);
      }
      self->link_->ReadNext();
    });
    if (!queued) Close(rtdb::kCloseTryLater, "Try again later");
  }

  void OnDone() override {
    auto keep = shared_from_this();
    svc_.Unregister(this);
    std::shared_ptr<rtdb::RtdbSession> session;
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      done_ = true;
      session = std::move(session_);
    }
    if (!session) return;
    // Close releases locks in PostgreSQL and publishes the presence leave.
    auto finish = [keep, session] {
      std::lock_guard<std::mutex> work(keep->work_mu_);
      session->Close();
    };
    if (!svc_.workers().TrySubmit(finish)) finish();
  }

 private:
  std::shared_ptr<rtdb::RtdbSession> current_session() {
    std::lock_guard<std::mutex> lock(state_mu_);
    return session_;
  }

  void Opened(std::shared_ptr<SocketLink> link, cloudillo::v1::ApiRequest request) override {
    link_ = std::move(link);
    auto self = shared_from_this();
    if (!svc_.Register(self)) return Close(kCloseRestart, "server restarting");
    auto open = std::make_shared<cloudillo::v1::ApiRequest>(std::move(request));
    bool queued = svc_.workers().TrySubmit([self, open] { self->OpenSession(*open); });
    if (!queued) Close(rtdb::kCloseTryLater, "Try again later");
  }

  // On a worker.
  void OpenSession(const cloudillo::v1::ApiRequest& open) {
    if (!svc_.rtdb_store() || !svc_.rtdb_hub()) return Close(kCloseInternal, "Internal error");
    Grant g = svc_.access().Check(open, kRtdbStore);
    link_->Accept();
    if (g.close_code != 0) return Close(g.close_code, g.reason);
    const auto& ctx = open.ctx();
    rtdb::SessionConfig config;
    config.tn_id = ctx.tn_id();
    config.file_id = rpc::PathParam(open, kRtdbStore.path_param);
    // A share-link visitor is anonymous: its locks are its connection's.
    if (ctx.authenticated() && ctx.has_sub()) config.id_tag = ctx.subject();
    config.conn_id = RandomAlnum(24);
    config.access = ToAccess(g.level);
    config.presence = rpc::QueryParam(open, "presence") == "1";
    std::weak_ptr<RtdbSocket> weak = weak_from_this();
    rtdb::SessionDeps deps;
    deps.store = svc_.rtdb_store();
    deps.hub = svc_.rtdb_hub();
    deps.send = [weak](std::string frame) {
      if (auto s = weak.lock()) s->SendText(std::move(frame));
    };
    deps.close = [weak](int code, std::string reason) {
      if (auto s = weak.lock()) s->Close(code, std::move(reason));
    };
    rpc::WorkerPool* workers = &svc_.workers();
    deps.post = [workers](std::function<void()> fn) {
      // Called from the hub's delivery thread, which must not block: a full pool drops
      // one aggregate recompute; the next change schedules another.
      if (!workers->TrySubmit(std::move(fn))) LogWarn("rtdb_recompute_dropped");
    };
    auto session = rtdb::RtdbSession::Create(std::move(config), std::move(deps));
    {
      std::lock_guard<std::mutex> work(work_mu_);
      session->Start();
    }
    {
      std::unique_lock<std::mutex> lock(state_mu_);
      if (done_) {
        // The client left while the session started: OnDone found nothing to close.
        lock.unlock();
        std::lock_guard<std::mutex> work(work_mu_);
        return session->Close();
      }
      session_ = session;
    }
    link_->ReadNext();
  }

  CollabService& svc_;
  std::shared_ptr<SocketLink> link_;  // set first in Opened

  std::mutex work_mu_;  // one session call at a time (the session's contract)
  std::mutex state_mu_;
  std::shared_ptr<rtdb::RtdbSession> session_;
  bool done_ = false;
};

grpc::ServerBidiReactor<MuxFrame, MuxFrame>* CollabService::RtdbSockets(grpc::CallbackServerContext* ctx) {
  // A client too far behind re-subscribes on reconnect and gets a fresh ready.
  return SocketMux::Start(ctx, limits_, rtdb::kCloseTryLater,
                          [this] { return std::make_shared<RtdbSocket>(*this); });
}

}  // namespace cloudillo::collab
