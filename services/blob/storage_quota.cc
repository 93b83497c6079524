// Storage quotas from the tenant's plan, and storage usage for the admin API.
//
// The plan lives in identity's schema; blob learns it from Identity.ResolveTenant and
// keeps it for kQuotaCacheTtl, so a plan change reaches uploads within that time and
// an upload costs no extra call while the entry is fresh. Internal callers that know
// the tenant by number only (remote files) learn its id_tag from identity first.
#include "blob_service.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/status.h"

namespace cloudillo::blob {
namespace {
constexpr absl::Duration kQuotaCacheTtl = absl::Seconds(30);
constexpr size_t kQuotaCacheMax = 20000;  // tenants; the cache is emptied when it gets this big
}  // namespace

absl::StatusOr<uint64_t> BlobService::QuotaOf(const cloudillo::v1::RequestContext& ctx) {
  if (!identity_) return options_.quota_bytes;
  absl::Time now = absl::Now();
  {
    std::lock_guard<std::mutex> lock(quota_mu_);
    auto it = quotas_.find(ctx.id_tag());
    if (it != quotas_.end() && it->second.until > now) return it->second.bytes;
  }
  cloudillo::v1::ResolveTenantRequest req;
  req.set_id_tag(ctx.id_tag());
  cloudillo::v1::Tenant t;
  auto call = rpc::ContextWithDeadline(absl::Seconds(5));
  absl::Status st = rpc::FromGrpcStatus(identity_->ResolveTenant(call.get(), req, &t));
  // A store that cannot learn the plan keeps its own default rather than refusing
  // every upload while identity is away.
  if (!st.ok() || t.tn_id() != ctx.tn_id()) return options_.quota_bytes;
  uint64_t bytes = t.storage_quota_bytes() > 0 ? uint64_t(t.storage_quota_bytes()) : options_.quota_bytes;
  std::lock_guard<std::mutex> lock(quota_mu_);
  if (quotas_.size() >= kQuotaCacheMax) quotas_.clear();
  quotas_[ctx.id_tag()] = {bytes, now + kQuotaCacheTtl};
  return bytes;
}

absl::StatusOr<uint64_t> BlobService::QuotaOfTenant(int64_t tn_id) {
  if (!identity_) return options_.quota_bytes;
  cloudillo::v1::TenantRef ref;
  ref.set_tn_id(tn_id);
  cloudillo::v1::LoginProfile p;
  auto call = rpc::ContextWithDeadline(absl::Seconds(5));
  absl::Status st = rpc::FromGrpcStatus(identity_->GetLoginProfile(call.get(), ref, &p));
  // As QuotaOf: identity away, the store's own default rather than no fetch at all.
  if (!st.ok() || p.tn_id() != tn_id || p.id_tag().empty()) return options_.quota_bytes;
  cloudillo::v1::RequestContext ctx;
  ctx.set_tn_id(tn_id);
  ctx.set_id_tag(p.id_tag());
  return QuotaOf(ctx);
}

absl::StatusOr<uint64_t> BlobService::StoredBytes(int64_t tn_id) {
  CL_ASSIGN_OR_RETURN(
      auto used,
      pool_->Query("SELECT coalesce(sum(size), 0)::bigint FROM blobs WHERE tn_id = $1", {db::P(tn_id)}));
  return uint64_t(used.rows[0].Int(0));
}

grpc::ServerUnaryReactor* BlobInternalService::GetStorageUsage(grpc::CallbackServerContext* ctx,
                                                               const cloudillo::v1::TenantRef* req,
                                                               cloudillo::v1::StorageUsage* out) {
  return rpc::Serve(ctx, out, workers_, [=, this]() -> absl::StatusOr<cloudillo::v1::StorageUsage> {
    if (req->tn_id() <= 0) return absl::InvalidArgumentError("tn_id required");
    CL_ASSIGN_OR_RETURN(uint64_t bytes, blob_.StoredBytes(req->tn_id()));
    CL_ASSIGN_OR_RETURN(auto files,
                        pool_->Query("SELECT count(*) FROM files WHERE tn_id = $1", {db::P(req->tn_id())}));
    cloudillo::v1::StorageUsage u;
    u.set_stored_bytes(int64_t(bytes));
    u.set_files(files.rows[0].Int(0));
    return u;
  });
}

}  // namespace cloudillo::blob
