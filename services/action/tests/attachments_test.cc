// AttachmentFetcher::RaiseVisibility against an in-process BlobInternal: the files a
// tenant attaches to its new action go to blob with the action's letter, S and direct
// actions cost no call, and blob's refusal comes back as a status (the pipeline logs it).
#include "attachments.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <mutex>

#include "cloudillo/rpc/server.h"

namespace cloudillo::action {
namespace {

class FakeBlob final : public cloudillo::v1::BlobInternal::CallbackService {
 public:
  grpc::ServerUnaryReactor* RaiseVisibility(grpc::CallbackServerContext* ctx,
                                            const cloudillo::v1::RaiseVisibilityRequest* req,
                                            cloudillo::v1::RaiseVisibilityReply* out) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      last = *req;
    }
    ++calls;
    out->set_raised(req->file_ids_size());
    auto* r = ctx->DefaultReactor();
    r->Finish(refuse ? grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad letter") : grpc::Status::OK);
    return r;
  }
  std::mutex mu;
  cloudillo::v1::RaiseVisibilityRequest last;
  std::atomic<int> calls{0};
  std::atomic<bool> refuse{false};
};

TEST(AttachmentFetcher, RaisesTheAttachmentsOfAnOwnActionToItsVisibility) {
  FakeBlob blob;
  rpc::RpcServer server(std::make_shared<prometheus::Registry>());
  server.AddService(&blob);
  ASSERT_TRUE(server.Start("", nullptr).ok());
  AttachmentFetcher fetcher(nullptr, nullptr, nullptr, nullptr);
  const Tenant alice{7, "alice.test"};
  const std::vector<std::string> ids = {"f1~AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                        "f1~BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"};
  // Not connected yet (the all-in-one binary before its channel): Unavailable, no crash.
  EXPECT_TRUE(absl::IsUnavailable(fetcher.RaiseVisibility(alice, ids, "F")));
  fetcher.ConnectBlob(nullptr, cloudillo::v1::BlobInternal::NewStub(server.InProcessChannel()));
  ASSERT_TRUE(fetcher.RaiseVisibility(alice, ids, "F").ok());
  EXPECT_EQ(blob.calls.load(), 1);
  {
    std::lock_guard<std::mutex> lock(blob.mu);
    EXPECT_EQ(blob.last.tn_id(), 7);
    EXPECT_EQ(blob.last.visibility(), "F");
    ASSERT_EQ(blob.last.file_ids_size(), 2);
    EXPECT_EQ(blob.last.file_ids(1), ids[1]);
  }
  // Nothing to open: no attachments, a subscribers' or a direct action.
  EXPECT_TRUE(fetcher.RaiseVisibility(alice, {}, "P").ok());
  for (const char* v : {"S", "D", ""}) EXPECT_TRUE(fetcher.RaiseVisibility(alice, ids, v).ok()) << v;
  EXPECT_EQ(blob.calls.load(), 1);
  blob.refuse = true;
  EXPECT_TRUE(absl::IsInvalidArgument(fetcher.RaiseVisibility(alice, ids, "C")));
  server.Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace cloudillo::action
