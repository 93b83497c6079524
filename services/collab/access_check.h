// Who may open /ws/crdt/{docId} and /ws/rtdb/{fileId}, and how (PROTOCOL §5.1, §6.1):
// blob owns the file records, so the answer is Blob.CheckFileAccess's, turned into a
// close code or a grant.
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
  // What the connection may do; Comment survives only for RTDB (the session narrows it
  // to `~meta` databases), CRDT treats it as Read.
  cloudillo::v1::FileAccessReply::Access level = cloudillo::v1::FileAccessReply::NONE;
};

// Which socket asks: the URL parameter naming the file and the store type it serves.
struct StoreKind {
  const char* path_param;
  const char* file_tp;
};
inline constexpr StoreKind kCrdtStore{"docId", "CRDT"};
inline constexpr StoreKind kRtdbStore{"fileId", "RTDB"};

// `<fileId>~meta` is an RTDB side database of any file, with that file's access (§6.1).
inline constexpr char kMetaSuffix[] = "~meta";
bool IsMetaDatabase(const std::string& file_id);

// The decision from blob's answer (pure, tested): `access` is the query parameter
// (read, comment, write or empty). `file` describes the file checked: the parent file
// for a `~meta` database, whose type is then not the store's.
Grant Decide(const cloudillo::v1::RequestContext& ctx, const std::string& doc_id, const std::string& access,
             const cloudillo::v1::FileAccessReply& file, const StoreKind& kind = kCrdtStore);

class AccessCheck {
 public:
  // Before the first Check (the all-in-one binary has its channel only once serving).
  void Connect(std::shared_ptr<cloudillo::v1::Blob::StubInterface> blob) { blob_ = std::move(blob); }
  // Blocks on blob (worker threads only).
  Grant Check(const cloudillo::v1::ApiRequest& open, const StoreKind& kind = kCrdtStore);

 private:
  std::shared_ptr<cloudillo::v1::Blob::StubInterface> blob_;
};

}  // namespace cloudillo::collab
