// Who may open /ws/crdt/{docId}, and how (PROTOCOL §5.1): blob owns the file records,
// so the answer is Blob.CheckFileAccess's, turned into a close code or a grant.
#pragma once

#include <memory>
#include <string>

#include "cloudillo/v1/blob.grpc.pb.h"
#include "doc_hub.h"

namespace cloudillo::collab {

// PROTOCOL §5.1 close codes.
inline constexpr int kCloseForbidden = 4403;
inline constexpr int kCloseNotFound = 4404;
inline constexpr int kCloseBadStore = 4400;
inline constexpr int kCloseStoreType = 4409;
inline constexpr int kCloseInternal = 4500;

struct Grant {
  int close_code = 0;  // 0: open the document with `who`
  std::string reason;
  PeerInfo who;
};

// The decision from blob's answer (pure, tested): `access` is the query parameter
// (read, comment, write or empty).
Grant Decide(const cloudillo::v1::RequestContext& ctx, const std::string& doc_id, const std::string& access,
             const cloudillo::v1::FileAccessReply& file);

class AccessCheck {
 public:
  // Before the first Check (the all-in-one binary has its channel only once serving).
  void Connect(std::shared_ptr<cloudillo::v1::Blob::StubInterface> blob) { blob_ = std::move(blob); }
  // Blocks on blob (worker threads only).
  Grant Check(const cloudillo::v1::ApiRequest& open);

 private:
  std::shared_ptr<cloudillo::v1::Blob::StubInterface> blob_;
};

}  // namespace cloudillo::collab
