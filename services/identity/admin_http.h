// The admin API as HTTP/JSON, on its own listener (CLOUDILLO_ADMIN_HTTP_ADDR), for
// providers whose tools speak HTTP rather than gRPC. The same calls as admin.proto,
// with the same credential: `Authorization: Bearer <CLOUDILLO_ADMIN_TOKEN>`, compared
// in constant time; without it every route is 401. Every request, refused or not, is
// one `admin_audit` log line (admin_audit.h) with caller "http".
//
//   GET    /admin/v1/tenants?limit=&after=          ListTenants
//   POST   /admin/v1/tenants                        CreateTenant (CreateTenantRequest)
//   POST   /admin/v1/tenants/{idTag}/suspend        SetTenantStatus suspended
//   POST   /admin/v1/tenants/{idTag}/resume         SetTenantStatus active
//   DELETE /admin/v1/tenants/{idTag}?graceDays=N    ScheduleTenantDeletion (without N: DeleteTenant)
//   PUT    /admin/v1/tenants/{idTag}/plan           AssignPlan ({"plan": "…"})
//   POST   /admin/v1/tenants/{idTag}/rotate-key     RotateSigningKey ({"retireOldAfterDays": N})
//   POST   /admin/v1/tenants/{idTag}/rotate-token-secret   RotateTokenSecret
//   GET    /admin/v1/tenants/{idTag}/usage?days=    GetTenantUsage
//   GET    /admin/v1/usage?limit=&after=&days=      ListUsage
//   GET    /admin/v1/plans                          ListPlans
//   PUT    /admin/v1/plans/{name}                   UpsertPlan (Plan)
//   DELETE /admin/v1/plans/{name}                   DeletePlan
//   POST   /admin/v1/purge                          PurgeTenants
//
// Bodies and answers are the proto messages in protobuf's JSON mapping (camelCase
// names, 64-bit numbers as strings), the answer wrapped as {"data": …}; unknown
// fields are refused. Errors use the protocol's envelope
// {"error":{"code":"E-…","message":"…"}} with the HTTP status of the gRPC code.
#pragma once

#include <memory>

#include "admin_service.h"
#include "cloudillo/http/server.h"
#include "cloudillo/rpc/dispatch.h"

namespace cloudillo::identity {

class AdminHttp {
 public:
  AdminHttp(AdminService& admin, rpc::WorkerPool& workers) : admin_(admin), workers_(workers) {}
  // Fills the handler and the error answers of `options`.
  void Configure(http::ServerOptions& options);
  void Handle(std::shared_ptr<http::Exchange> ex);

 private:
  AdminService& admin_;
  rpc::WorkerPool& workers_;
};

// Serves `api` on `address` (host:port); nullptr when `address` is empty.
absl::StatusOr<std::unique_ptr<http::HttpServer>> StartAdminHttp(const std::string& address, AdminHttp& api);

// The envelope of an error answer, for a status from the admin calls.
http::Response AdminErrorResponse(const absl::Status& status);

}  // namespace cloudillo::identity
