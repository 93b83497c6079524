// The blob service against a real PostgreSQL (the ctest `pgredis` fixture) and a
// local store in a temporary folder, through an in-process gRPC server: uploads
// stream in as the gateway sends them, a cancelled upload is no file, tenants stay
// apart, downloads return the bytes, garbage collection removes what no file needs.
#include "blob_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "blob_policy.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/rpc/server.h"
#include "cloudillo/rpc/status.h"
#include "cloudillo/testing/test_env.h"
#include "image_variants.h"

namespace cloudillo::blob {
const std::vector<db::Migration>& Migrations();

namespace {

using cloudillo::v1::ApiDownloadPart;
using cloudillo::v1::ApiUploadPart;
using json = nlohmann::json;

class BlobServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitImaging());
    auto pool = db::Pool::Connect(testing::CreateTestDatabase(), 4, "blob");
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *pool;
    ASSERT_TRUE(db::Migrate(*pool_, "blob", Migrations()).ok());
    char tmpl[] = "/tmp/blob-service-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto store = OpenLocalStore(dir_);
    ASSERT_TRUE(store.ok());
    service_ = std::make_unique<BlobService>(pool_, std::move(*store), BlobOptions{}, workers_, metrics_);
    server_ = std::make_unique<rpc::RpcServer>(std::make_shared<prometheus::Registry>());
    server_->AddService(service_.get());
    ASSERT_TRUE(server_->Start("", nullptr).ok());
    stub_ = cloudillo::v1::BlobEdge::NewStub(server_->InProcessChannel());
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
    std::filesystem::remove_all(dir_);
  }

  static ApiRequest Owner(int64_t tn, const std::string& tag) {
    ApiRequest r;
    r.mutable_ctx()->set_tn_id(tn);
    r.mutable_ctx()->set_id_tag(tag);
    r.mutable_ctx()->set_authenticated(true);
    r.mutable_ctx()->set_subject(tag);
    return r;
  }

  // Sends `chunks` as the gateway does; `cancel` stops before the end.
  grpc::Status Upload(ApiRequest head, const std::vector<std::string>& chunks, ApiReply* reply,
                      bool cancel = false) {
    grpc::ClientContext ctx;
    auto writer = stub_->Upload(&ctx, reply);
    ApiUploadPart part;
    *part.mutable_head() = std::move(head);
    writer->Write(part);
    for (const auto& c : chunks) {
      part.set_chunk(c);
      writer->Write(part);
    }
    if (cancel) {
      ctx.TryCancel();
    } else {
      writer->WritesDone();
    }
    return writer->Finish();
  }

  std::string Download(ApiRequest req, std::string* head_json = nullptr) {
    grpc::ClientContext ctx;
    auto reader = stub_->GetFile(&ctx, req);
    ApiDownloadPart part;
    std::string body;
    while (reader->Read(&part)) {
      if (part.has_chunk()) body += part.chunk();
      if (part.has_head() && head_json) *head_json = part.head().headers().at("ETag");
    }
    EXPECT_TRUE(reader->Finish().ok());
    return body;
  }

  json List(ApiRequest req) {
    grpc::ClientContext ctx;
    ApiReply reply;
    EXPECT_TRUE(stub_->ListFiles(&ctx, req, &reply).ok());
    return json::parse(reply.data_json());
  }

  rpc::WorkerPool workers_{{"blob-test", 4, 100, 0, nullptr}};
  prometheus::Registry registry_;
  BlobMetrics metrics_{registry_};
  std::shared_ptr<db::Pool> pool_;
  std::string dir_;
  std::unique_ptr<BlobService> service_;
  std::unique_ptr<rpc::RpcServer> server_;
  std::unique_ptr<cloudillo::v1::BlobEdge::Stub> stub_;
};

TEST_F(BlobServiceTest, StreamedUploadIsHashedStoredListedAndDownloaded) {
  ApiRequest head = Owner(1, "a.test");
  (*head.mutable_path())["preset"] = "file";
  (*head.mutable_path())["fileName"] = "x.bin";
  ApiReply reply;
  ASSERT_TRUE(Upload(head, {"hello ", "wor", "ld"}, &reply).ok());
  EXPECT_EQ(reply.http_status(), 201);
  std::string id = json::parse(reply.data_json())["fileId"];
  Sha256Stream h;
  h.Update("hello world");
  std::string blob = ContentId('b', h.Finish());
  std::string descriptor = "d2,orig:" + blob + ":f=bin:s=11:r=0x0";
  Sha256Stream d;
  d.Update(descriptor);
  EXPECT_EQ(id, ContentId('f', d.Finish()));

  ApiRequest get = Owner(1, "a.test");
  (*get.mutable_path())["fileId"] = id;
  std::string etag;
  EXPECT_EQ(Download(get, &etag), "hello world");
  EXPECT_EQ(etag, "\"" + blob + "\"");
  EXPECT_EQ(List(Owner(1, "a.test")).size(), 1u);
  EXPECT_EQ(List(Owner(2, "b.test")).size(), 0u);  // another tenant sees nothing
}

TEST_F(BlobServiceTest, CancelledUploadIsNoFileAndLeavesNoSpool) {
  ApiRequest head = Owner(1, "a.test");
  (*head.mutable_path())["preset"] = "file";
  (*head.mutable_path())["fileName"] = "cut.bin";
  ApiReply reply;
  EXPECT_FALSE(Upload(head, {std::string(100000, 'x')}, &reply, true).ok());
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(List(Owner(1, "a.test")).size(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/tmp"));
  // A body shorter than its Content-Length is refused the same way.
  (*head.mutable_headers())["content-length"] = "100";
  grpc::Status st = Upload(head, {"short"}, &reply);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(List(Owner(1, "a.test")).size(), 0u);
}

TEST_F(BlobServiceTest, PermanentDeleteCollectsTheBlob) {
  ApiRequest head = Owner(1, "a.test");
  (*head.mutable_path())["preset"] = "file";
  (*head.mutable_path())["fileName"] = "gc.bin";
  ApiReply reply;
  ASSERT_TRUE(Upload(head, {"garbage"}, &reply).ok());
  std::string id = json::parse(reply.data_json())["fileId"];
  ApiRequest del = Owner(1, "a.test");
  (*del.mutable_path())["fileId"] = id;
  (*del.mutable_query())["permanent"] = "true";
  grpc::ClientContext ctx;
  ApiReply out;
  ASSERT_TRUE(stub_->DeleteFile(&ctx, del, &out).ok());
  auto rows = pool_->Query("SELECT count(*) FROM blobs WHERE tn_id = 1");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->rows[0].Int(0), 0);
  EXPECT_EQ(std::filesystem::recursive_directory_iterator(dir_ + "/1") ==
                    std::filesystem::recursive_directory_iterator()
                ? 0
                : std::count_if(std::filesystem::recursive_directory_iterator(dir_ + "/1"), {},
                                [](const auto& e) { return e.is_regular_file(); }),
            0);
}

// identity's ResolveTenant as blob asks it: "plan.test" is on a plan of 20 bytes.
class FakeIdentity final : public cloudillo::v1::Identity::CallbackService {
 public:
  grpc::ServerUnaryReactor* ResolveTenant(grpc::CallbackServerContext* ctx,
                                          const cloudillo::v1::ResolveTenantRequest* req,
                                          cloudillo::v1::Tenant* out) override {
    ++calls;
    out->set_id_tag(req->id_tag());
    out->set_tn_id(req->id_tag() == "plan.test" ? 1 : 2);
    if (req->id_tag() == "plan.test") out->set_storage_quota_bytes(20);
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  std::atomic<int> calls{0};
};

TEST_F(BlobServiceTest, StorageQuotaComesFromTheTenantsPlanAndUsageIsPerTenant) {
  FakeIdentity identity;
  rpc::RpcServer identity_server(std::make_shared<prometheus::Registry>());
  identity_server.AddService(&identity);
  ASSERT_TRUE(identity_server.Start("", nullptr).ok());
  service_->ConnectIdentity(identity_server.InProcessChannel());
  auto upload = [&](int64_t tn, const std::string& tag, const std::string& name, const std::string& bytes) {
    ApiRequest head = Owner(tn, tag);
    (*head.mutable_path())["preset"] = "file";
    (*head.mutable_path())["fileName"] = name;
    ApiReply reply;
    return Upload(head, {bytes}, &reply);
  };
  EXPECT_TRUE(upload(1, "plan.test", "a.bin", "0123456789").ok());
  grpc::Status over = upload(1, "plan.test", "b.bin", "abcdefghijklmnop");
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << over.error_message();
  EXPECT_EQ(rpc::ErrorInfoOf(over).http_status(), 507);
  EXPECT_EQ(json::parse(rpc::ErrorInfoOf(over).details_json())["quota"], 20);
  // The plan is cached: the second upload asked identity no more.
  EXPECT_EQ(identity.calls.load(), 1);
  // Another tenant without a plan has no quota.
  EXPECT_TRUE(upload(2, "free.test", "c.bin", std::string(1000, 'x')).ok());

  BlobInternalService internal(*service_, pool_, workers_);
  rpc::RpcServer internal_server(std::make_shared<prometheus::Registry>());
  internal_server.AddService(&internal);
  ASSERT_TRUE(internal_server.Start("", nullptr).ok());
  auto stub = cloudillo::v1::BlobInternal::NewStub(internal_server.InProcessChannel());
  auto usage = [&](int64_t tn) {
    cloudillo::v1::TenantRef ref;
    ref.set_tn_id(tn);
    cloudillo::v1::StorageUsage u;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub->GetStorageUsage(&ctx, ref, &u).ok());
    return u;
  };
  EXPECT_EQ(usage(1).stored_bytes(), 10);
  EXPECT_EQ(usage(1).files(), 1);
  EXPECT_EQ(usage(2).stored_bytes(), 1000);
  EXPECT_EQ(usage(3).stored_bytes(), 0);
  cloudillo::v1::TenantRef none;
  cloudillo::v1::StorageUsage u;
  grpc::ClientContext ctx;
  EXPECT_EQ(stub->GetStorageUsage(&ctx, none, &u).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  internal_server.Shutdown(absl::Seconds(1));
  identity_server.Shutdown(absl::Seconds(1));
}

TEST(BlobPolicy, StorageUsageIsIdentitysAloneAndRoutesTheGatewaysAlone) {
  rpc::AccessPolicy p = ListenerPolicy();
  EXPECT_TRUE(p.Permits("/cloudillo.v1.BlobInternal/GetStorageUsage", "identity"));
  for (const char* who : {"gateway", "access", "action", "admin", "blob", ""})
    EXPECT_FALSE(p.Permits("/cloudillo.v1.BlobInternal/GetStorageUsage", who)) << who;
  EXPECT_TRUE(p.Permits("/cloudillo.v1.BlobEdge/Upload", "gateway"));
  EXPECT_FALSE(p.Permits("/cloudillo.v1.BlobEdge/Upload", "identity"));
}

}  // namespace
}  // namespace cloudillo::blob
