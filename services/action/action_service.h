// The action service's REST routes (PROTOCOL §8 Actions, §2.8 inbox, §2.10 outbox):
// request parsing, who may call what, and the JSON shapes. The work itself is in
// Pipeline (create, receive) and ActionStore (queries).
#pragma once

#include <memory>

#include "action_store.h"
#include "bus.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/rpc/dispatch.h"
#include "cloudillo/v1/action.grpc.pb.h"
#include "inbox_worker.h"
#include "issuer_limit.h"
#include "outbox_worker.h"
#include "pipeline.h"
#include "pow_gate.h"

namespace cloudillo::action {

using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiRequest;

class ActionService final : public cloudillo::v1::ActionEdge::CallbackService {
 public:
  // `bus` serves /ws/bus; without one the call is UNIMPLEMENTED (tests of the REST routes).
  ActionService(ActionStore& store, Pipeline& pipeline, OutboxWorker& outbox, InboxWorker& inbox,
                std::shared_ptr<cache::Redis> redis, const Clock& clock, rpc::WorkerPool& workers,
                BusHub* bus = nullptr, cache::BucketLimits issuer_limits = DefaultIssuerLimits());

  grpc::ServerUnaryReactor* ListActions(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* CreateAction(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* GetAction(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* DeleteAction(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* AcceptAction(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* RejectAction(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* DismissAction(grpc::CallbackServerContext*, const ApiRequest*,
                                          ApiReply*) override;
  grpc::ServerUnaryReactor* Inbox(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* InboxSync(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerUnaryReactor* Outbox(grpc::CallbackServerContext*, const ApiRequest*, ApiReply*) override;
  grpc::ServerBidiReactor<cloudillo::v1::SocketFrame, cloudillo::v1::SocketFrame>* Bus(
      grpc::CallbackServerContext* ctx) override;

 private:
  absl::StatusOr<ApiReply> DoList(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoCreate(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoGet(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoSetStatus(const ApiRequest& req, const std::string& status);
  absl::StatusOr<ApiReply> DoDecide(const ApiRequest& req, bool accept);
  // E1's checks before the enqueue. The quick part never blocks; a connection request
  // (`needs_pow`) then also needs CheckPow, which asks Redis.
  struct Admitted {
    InboundItem item;
    bool needs_pow = false;
  };
  absl::StatusOr<Admitted> AdmitInboxQuick(const ApiRequest& req);
  absl::Status CheckPow(const ApiRequest& req, const std::string& token);
  // All of E1's checks at once, for a caller that may block: its body, the issuer's
  // limits, a CONN's proof of work (a Redis read).
  absl::StatusOr<InboundItem> AdmitInbox(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoInboxSync(const ApiRequest& req);
  absl::StatusOr<ApiReply> DoOutbox(const ApiRequest& req);
  absl::StatusOr<std::optional<std::string>> OutboxStat(int64_t tn_id, const ActionRow& row);
  absl::StatusOr<Viewer> ViewerOf(const cloudillo::v1::RequestContext& ctx);
  absl::StatusOr<ojson> Views(int64_t tn_id, const std::vector<ActionRow>& rows, bool include_tokens);

  ActionStore& store_;
  Pipeline& pipeline_;
  OutboxWorker& outbox_;
  InboxWorker& inbox_;
  std::shared_ptr<cache::Redis> redis_;
  const Clock& clock_;
  rpc::WorkerPool& workers_;
  BusHub* bus_;
  PowGate pow_;
  IssuerLimit issuer_limit_;
};

// Reads the body of POST /api/actions (PROTOCOL §2.9 CreateAction). InvalidArgument.
absl::StatusOr<CreateInput> ParseCreateBody(const nlohmann::json& body);
// The opaque cursor of GET /api/actions: "<sort time µs>.<a_id>" in base64url.
std::string EncodeCursor(int64_t time_us, int64_t a_id);
std::optional<std::pair<int64_t, int64_t>> DecodeCursor(const std::string& cursor);

}  // namespace cloudillo::action
