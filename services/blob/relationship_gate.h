// Files of visibility F, 2 and C for callers other than the owner (PROTOCOL §2.6, §4.5):
// a follower's or a connection's node reads the tenant's files with an access token
// whose `sub` is that peer (§3.4), so the peer's relationship with the tenant decides.
// It lives in identity's profiles; blob asks Identity.GetRelationships and keeps the
// answer for a moment. Such an answer depends on the caller: a download it allowed is
// never reusable by the gateway (download.cc).
//
// Entries live `ttl` at most, `max_entries` of them (least recently used out). A
// tenant's are dropped at once on identity's "relations:<tn_id>" message (a follow,
// a connection or a block changed), all of them when that subscription restarts
// (messages may have been lost), and an answer that was in flight meanwhile is not
// kept: an unfollow or a block reaches downloads within `ttl` even if a message is lost.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloudillo/cache/lru_map.h"
#include "cloudillo/core/clock.h"
#include "cloudillo/v1/common.pb.h"
#include "cloudillo/v1/identity.grpc.pb.h"
#include "file_row.h"

namespace cloudillo::blob {

// Whether `rel` lets its peer read a file of `visibility`: F and 2 (second degree,
// which a follower meets) a follower or a connection, C a connection only (§13 item
// 17); a suspended, blocked or banned peer (S, B, X) nothing. Other visibilities are
// never decided by a relationship.
bool RelationshipReads(const std::string& visibility, const cloudillo::v1::Relationship& rel);

struct RelationshipGateOptions {
  absl::Duration ttl = absl::Seconds(5);  // zero: every check asks identity
  size_t max_entries = 4096;
};

class RelationshipGate {
 public:
  RelationshipGate(const Clock& clock, RelationshipGateOptions options);

  // Without identity every check answers false (tests, a process not yet wired).
  void Connect(std::shared_ptr<cloudillo::v1::Identity::StubInterface> identity);

  // May the caller of `ctx` read `f` of the tenant of `ctx` by its relationship with
  // that tenant? False without asking identity when it is not an authenticated,
  // unscoped caller other than the owner, or when `f` is not a live file of
  // visibility F, 2 or C. Blocking (identity): worker threads only.
  absl::StatusOr<bool> Permits(const cloudillo::v1::RequestContext& ctx, const FileRow& f);
  // The visibilities besides P and V that the caller of `ctx` reads by its relationship
  // (letters of "F2C", by RelationshipReads): what a listing shows it. Empty, without
  // asking identity, for a caller Permits() would not ask about. Blocking.
  absl::StatusOr<std::string> ReadableVisibilities(const cloudillo::v1::RequestContext& ctx);

  // A message of the invalidation channel; others' messages are ignored.
  void OnInvalidation(const std::string& message);
  void Clear();
  size_t size();

 private:
  struct Entry {
    cloudillo::v1::Relationship rel;
    absl::Time expires;
  };
  absl::StatusOr<cloudillo::v1::Relationship> Lookup(int64_t tn_id, const std::string& id_tag);
  void Forget(int64_t tn_id);

  const Clock& clock_;
  RelationshipGateOptions options_;
  std::shared_ptr<cloudillo::v1::Identity::StubInterface> identity_;
  std::mutex mu_;
  cache::LruMap<std::string, Entry> entries_;  // by "<tn_id>/<id_tag>"
  uint64_t generation_ = 0;                    // counts drops
};

}  // namespace cloudillo::blob
