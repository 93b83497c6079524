// One request to a tenant's API host (`cl-o.<idTag>`), from route match to answer.
//
// The steps run on the request's strand; a step that must wait (a directory miss, a
// ban lookup, the backend call, a failed login's delay) hands a continuation to
// whatever it waits on and returns, so no thread waits with it:
//
//   route → address limits → tenant → bearer → tenant budget → backend → answer
//
// Each step answers in the §0.2 envelope when the request must stop there.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "auth_filter.h"
#include "cloudillo/cache/local_limiter.h"
#include "cloudillo/http/server.h"
#include "cloudillo/v1/common.pb.h"
#include "directory.h"
#include "route_table.h"

namespace grpc {
class Status;
class ByteBuffer;
}  // namespace grpc

namespace cloudillo::gateway {

class Gateway;

class ApiFlow : public std::enable_shared_from_this<ApiFlow> {
 public:
  ApiFlow(Gateway& gw, std::shared_ptr<http::Exchange> ex, std::string id_tag, std::string req_id,
          absl::Time start);
  void Start();

 private:
  void CheckAddress();
  void ResolveTenant();
  void OnTenant(absl::StatusOr<std::optional<TenantInfo>> tenant);
  void Authenticate();
  void OnSecrets(absl::StatusOr<Secrets> secrets, bool refreshed);
  void OnApiKey(absl::StatusOr<std::optional<ApiKeyInfo>> key);
  void Authenticated(AuthResult auth);
  void CallBackend();
  void OnUnaryReply(const grpc::Status& st, const grpc::ByteBuffer& reply);
  bool Hold(const cloudillo::v1::WaitPolicy& wait);
  // Another request is fetching the same reusable download: wait for it (bounded),
  // then look again. False: go to the service now.
  bool AwaitFill();
  std::optional<http::Response> BuildApiRequest(cloudillo::v1::ApiRequest* api);
  std::string CacheKey() const;

  // Runs `fn` on the request's strand, keeping this flow alive until then.
  void Resume(std::function<void()> fn);
  // Decorates an API answer (request id, CORS, security headers) and completes.
  void Answer(http::Response res);

  Gateway& gw_;
  std::shared_ptr<http::Exchange> ex_;
  std::string id_tag_, req_id_;
  absl::Time start_;
  RouteMatch match_;
  std::string ip_;
  std::optional<cache::ClientAddress> addr_;
  TenantInfo tenant_;
  Bearer bearer_;
  Caller caller_;
  bool answered_ = false;
  bool waited_ = false;       // a long-poll is held at most once
  bool fill_waited_ = false;  // a download waits for another's fetch at most once
  bool counted_ = false;      // usage counted (a held request calls the backend twice)
  std::string cache_key_;     // set for GETs, which may be answered from the reply cache
  uint64_t cache_generation_ = 0;
};

// The HTTP answer for a failed backend call: the service's wire code and status when
// it attached them, else the default for the gRPC code; 5xx messages are generic.
http::Response FromGrpcError(const grpc::Status& st);
// The HTTP answer for a successful ApiReply (envelope unless raw).
http::Response FromApiReply(const cloudillo::v1::ApiReply& reply, const std::string& req_id);
// A download kept whole (StreamTarget::keep): the service's head, the bytes as the body.
http::Response FromKeptDownload(std::shared_ptr<const cloudillo::v1::ApiReply> kept);

}  // namespace cloudillo::gateway
