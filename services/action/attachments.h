// Attachments of an inbound action, fetched into the tenant before the action is stored
// (PROTOCOL §2.8 step 11, §4.6; Pipeline::Receive names the source node), each with an access token of that
// node obtained by a PROXY exchange (E6). Blob does the fetching and verifies every byte against the file and
// variant ids (RemoteFiles.FetchRemoteFile); a file this tenant holds already costs one call.
//
// Outcomes for the inbound queue (inbox_worker.h): a file whose bytes do not match its
// id (DataLoss), is too large (ResourceExhausted) or is not a content id
// (InvalidArgument) refuses the action. A file the source does not have or does not let
// us read (404, 403: blob does not yet grant follower- or connection-visible files to
// other nodes) stays a reference to the source, and the action is stored: the
// reference retries the whole action instead, and would drop a post after its last
// attempt. Anything else (the node or blob is down) is Unavailable: tried again later.
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
                    std::shared_ptr<federation::Client> client, federation::ProxyExchange::Signer signer);

  // The all-in-one binary has its in-process channel only once every service is added.
  void ConnectBlob(std::shared_ptr<cloudillo::v1::RemoteFiles::StubInterface> blob) {
    blob_ = std::move(blob);
  }

  absl::Status Fetch(const Tenant& tenant, const std::string& source,
                     const std::vector<std::string>& file_ids);
  // Makes `pipeline` fetch through this before it stores an inbound action.
  void AttachTo(Pipeline& pipeline) {
    pipeline.FetchAttachmentsWith(
        [this](const Tenant& t, const std::string& source, const std::vector<std::string>& ids) {
          return Fetch(t, source, ids);
        });
  }

 private:
  absl::Status FetchOne(const Tenant& tenant, const std::string& source, const std::string& file_id,
                        bool retry);

  std::shared_ptr<cloudillo::v1::RemoteFiles::StubInterface> blob_;
  federation::ProxyExchange proxy_;
};

}  // namespace cloudillo::action
