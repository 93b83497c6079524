// Attachments of an inbound action, fetched into the tenant before the action is stored
// (PROTOCOL §2.8 step 11, §4.6; Pipeline::Receive names the source node), each with an access token of that
// node obtained by a PROXY exchange (E6). Blob does the fetching and verifies every byte against the file and
// variant ids (RemoteFiles.FetchRemoteFile); a file this tenant holds already costs one call.
//
// Outcomes for the inbound queue (inbox_worker.h): a file whose bytes do not match its
// id (DataLoss), is too large (ResourceExhausted) or is not a content id
// (InvalidArgument) refuses the action. A file the source does not have or does not let
// us read (404, 403) stays a reference to the source, and the action is stored: the
// reference retries the whole action instead, and would drop a post after its last
// attempt. Anything else (the node or blob is down) is Unavailable: tried again later.
//
// The other way round, the files a tenant attaches to its own new action are opened to
// the action's audience before it is delivered (BlobInternal.RaiseVisibility, the
// reference's upgrade_file_visibility), so that the recipients' nodes can fetch them:
// the owner's blob lets a follower read an F file, a connection a C file.
// Blocking: worker threads only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cloudillo/federation/proxy_exchange.h"
#include "cloudillo/v1/blob.grpc.pb.h"
#include "pipeline.h"

namespace cloudillo::action {

class AttachmentFetcher {
 public:
  AttachmentFetcher(std::shared_ptr<cloudillo::v1::RemoteFiles::StubInterface> blob,
                    std::shared_ptr<cloudillo::v1::BlobInternal::StubInterface> files,
                    std::shared_ptr<federation::Client> client, federation::ProxyExchange::Signer signer);

  // The all-in-one binary has its in-process channel only once every service is added.
  void ConnectBlob(std::shared_ptr<cloudillo::v1::RemoteFiles::StubInterface> blob,
                   std::shared_ptr<cloudillo::v1::BlobInternal::StubInterface> files) {
    blob_ = std::move(blob);
    files_ = std::move(files);
  }

  // `visibility`: the action's `v` as its token carries it (empty: direct), which a
  // newly stored copy keeps, as the reference does.
  absl::Status Fetch(const Tenant& tenant, const std::string& source,
                     const std::vector<std::string>& file_ids, const std::string& visibility = "");
  // The tenant's own new action of `visibility` attaches `file_ids`: each of the
  // tenant's files among them more closed than the action gets its letter (never a
  // more closed one). S and direct actions open nothing and cost no call. Best effort:
  // the caller logs an error and goes on.
  absl::Status RaiseVisibility(const Tenant& tenant, const std::vector<std::string>& file_ids,
                               const std::string& visibility);
  // Makes `pipeline` fetch through this before it stores an inbound action, and open
  // through this the files of an action its tenant creates.
  void AttachTo(Pipeline& pipeline) {
    pipeline.FetchAttachmentsWith(
        [this](const Tenant& t, const std::string& source, const std::vector<std::string>& ids,
               const std::string& visibility) { return Fetch(t, source, ids, visibility); });
    pipeline.RaiseAttachmentsWith(
        [this](const Tenant& t, const std::vector<std::string>& ids, const std::string& visibility) {
          return RaiseVisibility(t, ids, visibility);
        });
  }

 private:
  absl::Status FetchOne(const Tenant& tenant, const std::string& source, const std::string& file_id,
                        const std::string& visibility, bool retry);

  std::shared_ptr<cloudillo::v1::RemoteFiles::StubInterface> blob_;
  std::shared_ptr<cloudillo::v1::BlobInternal::StubInterface> files_;
  federation::ProxyExchange proxy_;
};

}  // namespace cloudillo::action
