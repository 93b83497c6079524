// The blob service against a real PostgreSQL (the ctest `pgredis` fixture) and a
// local store in a temporary folder, through an in-process gRPC server: uploads
// stream in as the gateway sends them, a cancelled upload is no file, tenants stay
// apart, downloads return the bytes, garbage collection removes what no file needs,
// and another node's file is stored only when its bytes match its ids (§4.6).
#include "blob_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "blob_policy.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/rpc/server.h"
#include "cloudillo/rpc/status.h"
#include "cloudillo/testing/test_env.h"
#include "file_row_cache.h"
#include "image_variants.h"
#include "remote_files.h"
#include "test_server.h"

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
    service_ = std::make_unique<BlobService>(pool_, std::move(*store), options_, workers_, metrics_);
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

  BlobOptions options_;
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

// A whole download that CanRead alone allowed (the owner here) is marked reusable for the
// gateway, for no longer than the row cache's TTL; a range, or an answer that came from
// a share entry, never is.
TEST_F(BlobServiceTest, OnlyWholeDownloadsDecidedByTokenAndRowAreReusable) {
  ApiRequest head = Owner(1, "a.test");
  (*head.mutable_path())["preset"] = "file";
  (*head.mutable_path())["fileName"] = "x.bin";
  ApiReply reply;
  ASSERT_TRUE(Upload(head, {"hello world"}, &reply).ok());
  std::string id = json::parse(reply.data_json())["fileId"];
  auto head_of = [&](ApiRequest req) {
    grpc::ClientContext ctx;
    auto reader = stub_->GetFile(&ctx, req);
    ApiDownloadPart part, first;
    for (bool got = false; reader->Read(&part);) {
      if (!got) first = part;
      got = true;
    }
    EXPECT_TRUE(reader->Finish().ok());
    return first.head();
  };
  ApiRequest get = Owner(1, "a.test");
  (*get.mutable_path())["fileId"] = id;
  ApiReply whole = head_of(get);
  EXPECT_EQ(whole.http_status(), 0);
  EXPECT_EQ(whole.cache().max_age_ms(), absl::ToInt64Milliseconds(FileRowCache::kTtl));
  EXPECT_EQ(whole.cache().tag(), "files:1");
  (*get.mutable_headers())["range"] = "bytes=0-4";
  ApiReply part = head_of(get);
  EXPECT_EQ(part.http_status(), 206);
  EXPECT_FALSE(part.has_cache());
}

// Downloads read one chunk ahead of the one being written: with chunks of 997 bytes a
// file is hundreds of them, and every byte must still arrive once and in order, whole
// or in a range, for many readers at once and after readers that gave up midway.
class SmallChunkTest : public BlobServiceTest {
 protected:
  SmallChunkTest() { options_.download_chunk = 997; }
};

TEST_F(SmallChunkTest, ReadAheadKeepsEveryByteInOrder) {
  std::string bytes;
  for (int i = 0; bytes.size() < 300000; ++i) bytes += std::to_string(i) + ",";
  std::vector<std::string> parts;
  for (size_t at = 0; at < bytes.size(); at += 65536) parts.push_back(bytes.substr(at, 65536));
  ApiRequest head = Owner(1, "a.test");
  (*head.mutable_path())["preset"] = "file";
  (*head.mutable_path())["fileName"] = "numbers.txt";
  ApiReply reply;
  ASSERT_TRUE(Upload(head, parts, &reply).ok());
  ApiRequest get = Owner(1, "a.test");
  (*get.mutable_path())["fileId"] = json::parse(reply.data_json())["fileId"].get<std::string>();
  EXPECT_EQ(Download(get), bytes);
  ApiRequest ranged = get;
  (*ranged.mutable_headers())["range"] = "bytes=1000-250000";
  EXPECT_EQ(Download(ranged), bytes.substr(1000, 249001));
  (*ranged.mutable_headers())["range"] = "bytes=-997";  // exactly one chunk, the last
  EXPECT_EQ(Download(ranged), bytes.substr(bytes.size() - 997));
  // Readers that go away after a few chunks leave the service able to serve.
  for (int i = 0; i < 8; ++i) {
    grpc::ClientContext ctx;
    auto reader = stub_->GetFile(&ctx, get);
    ApiDownloadPart part;
    for (int n = 0; n < 3 + i && reader->Read(&part); ++n) {
    }
    ctx.TryCancel();
    reader->Finish();
  }
  std::vector<std::thread> readers;
  std::atomic<int> whole{0};
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] {
      if (Download(get) == bytes) ++whole;
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(whole.load(), 8);
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

// Another node as the outbound client sees it: canned answers by path, every request
// recorded (with its headers) so a test can tell what was asked.
class FakeNode final : public federation::Client {
 public:
  std::map<std::string, federation::Response> answers;
  std::vector<std::pair<std::string, std::string>> asked;  // path, Authorization
  absl::Status failure = absl::OkStatus();

  absl::StatusOr<federation::Response> Get(std::string_view id_tag, std::string_view path,
                                           const std::map<std::string, std::string>& headers) override {
    auto auth = headers.find("Authorization");
    asked.push_back({std::string(path), auth == headers.end() ? "" : auth->second});
    if (id_tag != "remote.test") return absl::UnavailableError("unknown node");
    if (!failure.ok()) return failure;
    auto it = answers.find(std::string(path));
    if (it == answers.end()) return federation::Response{404, R"({"error":{"code":"E-CORE-NOTFOUND"}})", {}};
    return it->second;
  }
  absl::StatusOr<federation::Response> PostJson(std::string_view, std::string_view, std::string,
                                                const std::map<std::string, std::string>&) override {
    return absl::UnimplementedError("not used");
  }

  // Publishes `variants` (name -> bytes) as one file; returns its id.
  std::string Publish(const std::vector<std::pair<std::string, std::string>>& variants) {
    std::vector<Variant> vs;
    for (const auto& [name, bytes] : variants) {
      Sha256Stream h;
      h.Update(bytes);
      Variant v{name, ContentId('b', h.Finish()), "bin", int64_t(bytes.size())};
      answers["/api/files/variant/" + v.blob_id] = {200, bytes, {}};
      vs.push_back(v);
    }
    std::string descriptor = BuildDescriptor(vs);
    Sha256Stream d;
    d.Update(descriptor);
    std::string id = ContentId('f', d.Finish());
    answers["/api/files/" + id + "/descriptor"] = {200, json{{"data", descriptor}}.dump(), {}};
    answers["/api/files/" + id + "/metadata"] = {
        200, json{{"data", {{"fileName", "attachment.bin"}, {"contentType", "application/pdf"}}}}.dump(), {}};
    return id;
  }
};

class RemoteFileTest : public BlobServiceTest {
 protected:
  void SetUp() override {
    BlobServiceTest::SetUp();
    node_ = std::make_shared<FakeNode>();
    remote_ = std::make_unique<RemoteFileService>(*service_, pool_, node_, RemoteFileOptions{1 << 20});
  }
  absl::StatusOr<cloudillo::v1::RemoteFileReply> Fetch(int64_t tn, const std::string& id,
                                                       const std::string& bearer = "") {
    cloudillo::v1::RemoteFileRequest req;
    req.set_tn_id(tn);
    req.set_id_tag("remote.test");
    req.set_file_id(id);
    req.set_bearer(bearer);
    return remote_->Fetch(req);
  }
  int64_t Count(const std::string& sql) {
    auto r = pool_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->rows[0].Int(0) : -1;
  }
  std::shared_ptr<FakeNode> node_;
  std::unique_ptr<RemoteFileService> remote_;
};

TEST_F(RemoteFileTest, MatchingBytesAreStoredAndServedAsTheTenantsOwn) {
  std::string id = node_->Publish({{"orig", "remote original bytes"}, {"vis.tn", "thumb"}});
  auto r = Fetch(1, id, "peer-token");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->existed());
  EXPECT_EQ(r->fetched_bytes(), 26);
  for (const auto& [path, auth] : node_->asked) EXPECT_EQ(auth, "Bearer peer-token") << path;
  ApiRequest get = Owner(1, "a.test");
  (*get.mutable_path())["fileId"] = id;
  EXPECT_EQ(Download(get), "remote original bytes");
  json list = List(Owner(1, "a.test"));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["fileName"], "attachment.bin");
  EXPECT_EQ(list[0]["contentType"], "application/pdf");
  EXPECT_EQ(List(Owner(2, "b.test")).size(), 0u);  // fetched for tenant 1 only
  // Again: the tenant has it, nothing is asked of the other node.
  node_->asked.clear();
  auto again = Fetch(1, id);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->existed());
  EXPECT_TRUE(node_->asked.empty());
}

// A copy keeps the visibility of the action that carried it (P, V, 2, F, C), as the
// reference does; an avatar, an S or a direct action leaves it the owner's (NULL).
TEST_F(RemoteFileTest, ACopyKeepsTheVisibilityOfItsAction) {
  auto fetch = [&](const std::string& bytes, const std::string& visibility) {
    std::string id = node_->Publish({{"orig", bytes}});
    cloudillo::v1::RemoteFileRequest req;
    req.set_tn_id(1);
    req.set_id_tag("remote.test");
    req.set_file_id(id);
    req.set_visibility(visibility);
    EXPECT_TRUE(remote_->Fetch(req).ok());
    auto r = pool_->Query(
        "SELECT coalesce(visibility::text, 'NULL') FROM files WHERE tn_id = 1 AND file_id = $1", {db::P(id)});
    EXPECT_TRUE(r.ok() && !r->empty());
    return r.ok() && !r->empty() ? r->rows[0].Str(0) : "";
  };
  EXPECT_EQ(fetch("for followers", "F"), "F");
  EXPECT_EQ(fetch("for everyone", "P"), "P");
  EXPECT_EQ(fetch("for connections", "C"), "C");
  EXPECT_EQ(fetch("an avatar", ""), "NULL");
  EXPECT_EQ(fetch("for subscribers", "S"), "NULL");
  EXPECT_EQ(fetch("anything else", "Z"), "NULL");
}

TEST_F(RemoteFileTest, BytesThatDoNotMatchTheirIdAreRefusedAndNothingIsStored) {
  std::string id = node_->Publish({{"orig", "the real bytes"}});
  Sha256Stream h;
  h.Update("the real bytes");
  const std::string path = "/api/files/variant/" + ContentId('b', h.Finish());
  for (std::string forged : {"the fake bytes", "the real byte", "the real bytes!", ""}) {
    node_->answers[path] = {200, forged, {}};
    auto r = Fetch(1, id);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << forged;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM files WHERE tn_id = 1"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM blobs WHERE tn_id = 1"), 0);
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/tmp"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/1"));
}

TEST_F(RemoteFileTest, ADescriptorThatDoesNotHashToTheIdIsRefused) {
  std::string id = node_->Publish({{"orig", "bytes"}});
  std::string other = node_->Publish({{"orig", "other bytes"}});
  // The node answers the other file's (valid) descriptor for this id.
  node_->answers["/api/files/" + id + "/descriptor"] = node_->answers["/api/files/" + other + "/descriptor"];
  EXPECT_EQ(Fetch(1, id).status().code(), absl::StatusCode::kDataLoss);
  for (std::string body : {"{}", "[]", "not json", R"({"data":7})", R"({"data":"d2,"})"}) {
    node_->answers["/api/files/" + id + "/descriptor"] = {200, body, {}};
    EXPECT_EQ(Fetch(1, id).status().code(), absl::StatusCode::kDataLoss) << body;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM files"), 0);
}

TEST_F(RemoteFileTest, SizeIdsAndPeerFailuresAreBounded) {
  // Larger than this service fetches (1 MiB in this test): refused before any variant.
  std::string big = node_->Publish({{"orig", std::string((1 << 20) + 1, 'x')}});
  node_->asked.clear();
  EXPECT_EQ(Fetch(1, big).status().code(), absl::StatusCode::kResourceExhausted);
  for (const auto& [path, auth] : node_->asked) EXPECT_EQ(path.find("/variant/"), std::string::npos);
  // Hostile ids never reach the other node.
  node_->asked.clear();
  for (std::string bad : {"", "f1~short", "b1~AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                          "../../etc/passwd", "f1~AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/"}) {
    EXPECT_EQ(Fetch(1, bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(node_->asked.empty());
  // The other node's refusals and failures pass through as statuses, nothing stored.
  std::string id = node_->Publish({{"orig", "x"}});
  node_->answers["/api/files/" + id + "/descriptor"].status = 403;
  EXPECT_EQ(Fetch(1, id).status().code(), absl::StatusCode::kPermissionDenied);
  node_->answers.erase("/api/files/" + id + "/descriptor");
  EXPECT_EQ(Fetch(1, id).status().code(), absl::StatusCode::kNotFound);
  node_->failure = absl::DeadlineExceededError("slow node");
  EXPECT_EQ(Fetch(1, id).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Count("SELECT count(*) FROM files"), 0);
}

// The same through libs/federation's real client: HTTP to a loopback node named by
// CLOUDILLO_FEDERATION_MAP, its deadline, its body bound and its SSRF guard.
class RemoteFileNetworkTest : public RemoteFileTest {
 protected:
  void SetUp() override {
    RemoteFileTest::SetUp();
    server_ = std::make_unique<federation::testing::TestServer>(
        [this](const federation::testing::HttpRequest& req) {
          if (delay_ > absl::ZeroDuration()) absl::SleepFor(delay_);
          auto it = node_->answers.find(std::string(req.target()));
          if (it == node_->answers.end()) return federation::testing::Reply(404, "{}");
          return federation::testing::Reply(it->second.status, it->second.body, "application/octet-stream");
        });
    federation::ClientConfig c;
    c.federation_map = "cl-o.remote.test=http://127.0.0.1:" + std::to_string(server_->port());
    c.timeout = absl::Seconds(1);
    c.max_body = 64 << 10;
    // Test-only DNS answers: still checked by the SSRF guard, which must refuse them.
    c.static_hosts = {{"cl-o.inside.test", "127.0.0.1"}, {"cl-o.metadata.test", "169.254.169.254"}};
    auto client = federation::Client::Create(c);
    ASSERT_TRUE(client.ok()) << client.status();
    remote_ = std::make_unique<RemoteFileService>(*service_, pool_, *client, RemoteFileOptions{1 << 20});
  }
  absl::StatusOr<cloudillo::v1::RemoteFileReply> FetchFrom(const std::string& id_tag, const std::string& id) {
    cloudillo::v1::RemoteFileRequest req;
    req.set_tn_id(1);
    req.set_id_tag(id_tag);
    req.set_file_id(id);
    return remote_->Fetch(req);
  }
  std::unique_ptr<federation::testing::TestServer> server_;
  absl::Duration delay_ = absl::ZeroDuration();
};

TEST_F(RemoteFileNetworkTest, AMatchingFileIsFetchedOverHttpAndAForgedOneIsRefused) {
  std::string good = node_->Publish({{"orig", "over the wire"}});
  auto r = FetchFrom("remote.test", good);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->fetched_bytes(), 13);
  ApiRequest get = Owner(1, "a.test");
  (*get.mutable_path())["fileId"] = good;
  EXPECT_EQ(Download(get), "over the wire");

  std::string forged = node_->Publish({{"orig", "promised bytes"}});
  Sha256Stream h;
  h.Update("promised bytes");
  node_->answers["/api/files/variant/" + ContentId('b', h.Finish())].body = "delivered byte";
  EXPECT_EQ(FetchFrom("remote.test", forged).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Count("SELECT count(*) FROM files WHERE tn_id = 1"), 1);
}

TEST_F(RemoteFileNetworkTest, TimeBodySizeAndAddressesAreBounded) {
  std::string id = node_->Publish({{"orig", "slow"}});
  delay_ = absl::Milliseconds(1500);
  EXPECT_EQ(FetchFrom("remote.test", id).status().code(), absl::StatusCode::kDeadlineExceeded);
  delay_ = absl::ZeroDuration();
  // A node that sends more than the client takes for one body (64 KiB here), whatever
  // its descriptor claimed.
  std::string big = node_->Publish({{"orig", "small"}});
  Sha256Stream h;
  h.Update("small");
  node_->answers["/api/files/variant/" + ContentId('b', h.Finish())].body = std::string(100 << 10, 'x');
  EXPECT_EQ(FetchFrom("remote.test", big).status().code(), absl::StatusCode::kResourceExhausted);
  // Names that resolve inside (loopback, link-local metadata) are refused before any request.
  const int before = server_->requests();
  EXPECT_EQ(FetchFrom("inside.test", id).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(FetchFrom("metadata.test", id).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(server_->requests(), before);
  EXPECT_EQ(Count("SELECT count(*) FROM files"), 0);
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
  // The tenant behind a number, as blob asks it for a remote file's tenant.
  grpc::ServerUnaryReactor* GetLoginProfile(grpc::CallbackServerContext* ctx,
                                            const cloudillo::v1::TenantRef* req,
                                            cloudillo::v1::LoginProfile* out) override {
    ++profile_calls;
    auto* r = ctx->DefaultReactor();
    if (req->tn_id() == 1 || req->tn_id() == 2) {
      out->set_tn_id(req->tn_id());
      out->set_id_tag(req->tn_id() == 1 ? "plan.test" : "free.test");
      r->Finish(grpc::Status::OK);
    } else {
      r->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such tenant"));
    }
    return r;
  }
  std::atomic<int> calls{0}, profile_calls{0};
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

// A remote file counts against the tenant's plan quota as its uploads do, not the
// store's CLOUDILLO_BLOB_QUOTA_MB default (here 1 MiB, which the file fits in).
TEST_F(RemoteFileTest, ARemoteFileIsHeldToTheTenantsPlanQuota) {
  BlobOptions opts;
  opts.quota_bytes = 1 << 20;
  auto store = OpenLocalStore(dir_);
  ASSERT_TRUE(store.ok());
  BlobService blob(pool_, std::move(*store), opts, workers_, metrics_);
  FakeIdentity identity;
  rpc::RpcServer identity_server(std::make_shared<prometheus::Registry>());
  identity_server.AddService(&identity);
  ASSERT_TRUE(identity_server.Start("", nullptr).ok());
  blob.ConnectIdentity(identity_server.InProcessChannel());
  RemoteFileService remote(blob, pool_, node_, RemoteFileOptions{1 << 20});
  auto fetch = [&](int64_t tn, const std::string& id) {
    cloudillo::v1::RemoteFileRequest req;
    req.set_tn_id(tn);
    req.set_id_tag("remote.test");
    req.set_file_id(id);
    return remote.Fetch(req);
  };
  // 12 bytes fit the plan's 20; the next 16 do not, and are not even fetched.
  std::string small = node_->Publish({{"orig", "twelve bytes"}});
  ASSERT_TRUE(fetch(1, small).ok());
  std::string big = node_->Publish({{"orig", "sixteen bytes!!!"}});
  node_->asked.clear();
  auto over = fetch(1, big);
  ASSERT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
  EXPECT_EQ(rpc::ToGrpcStatus(over.status()).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(json::parse(rpc::ErrorInfoOf(rpc::ToGrpcStatus(over.status())).details_json())["quota"], 20);
  EXPECT_EQ(node_->asked.size(), 1u);  // the descriptor only
  EXPECT_EQ(Count("SELECT count(*) FROM files WHERE tn_id = 1"), 1);
  // Another tenant's plan has no quota: the store's default (1 MiB) holds it, and it fits.
  EXPECT_TRUE(fetch(2, big).ok());
  // A tenant identity does not know keeps the store's default rather than no quota.
  EXPECT_TRUE(fetch(3, big).ok());
  std::string huge = node_->Publish({{"orig", std::string((1 << 20) - 10, 'h')}});
  EXPECT_EQ(fetch(3, huge).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Count("SELECT count(*) FROM files WHERE tn_id = 3"), 1);
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
