// Files of visibility F and C read by the tenant's peers on other nodes (PROTOCOL §2.6,
// §4.5, §13 item 17), against a real PostgreSQL and an in-process identity that knows
// who follows whom: a follower or a connection reads an F file, only a connection a
// C file, a suspended, blocked or banned peer nothing, tenants stay apart, and no such
// answer is reusable by the gateway. And BlobInternal.RaiseVisibility: the files of an
// action are opened to its audience, never closed.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "blob_policy.h"
#include "blob_service.h"
#include "cloudillo/cache/invalidation.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/rpc/server.h"
#include "cloudillo/testing/test_env.h"
#include "file_access.h"
#include "image_variants.h"
#include "relationship_gate.h"

namespace cloudillo::blob {
const std::vector<db::Migration>& Migrations();

namespace {

using cloudillo::v1::ApiDownloadPart;
using cloudillo::v1::ApiUploadPart;
using cloudillo::v1::Relationship;
using json = nlohmann::json;

// identity's profiles as blob asks them: relationships by (tenant, peer), every call counted.
class FakeIdentity final : public cloudillo::v1::Identity::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetRelationships(grpc::CallbackServerContext* ctx,
                                             const cloudillo::v1::RelationshipsRequest* req,
                                             cloudillo::v1::Relationships* out) override {
    ++calls;
    if (down) {
      auto* r = ctx->DefaultReactor();
      r->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "identity is down"));
      return r;
    }
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& tag : req->id_tags()) {
      auto it = rels.find({req->tn_id(), tag});
      if (it != rels.end()) {
        *out->add_items() = it->second;
      } else {
        out->add_items()->set_id_tag(tag);
      }
    }
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  // A profile row of `tag` on tenant `tn`.
  void Set(int64_t tn, const std::string& tag, bool follower, bool connected,
           const std::string& status = "") {
    std::lock_guard<std::mutex> lock(mu);
    Relationship& r = rels[{tn, tag}];
    r.set_id_tag(tag);
    r.set_known(true);
    r.set_follower(follower);
    r.set_connected(connected);
    r.set_status(status);
  }
  std::mutex mu;
  std::map<std::pair<int64_t, std::string>, Relationship> rels;
  std::atomic<int> calls{0};
  std::atomic<bool> down{false};  // every call fails as an unreachable identity's would
};

class FileVisibilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitImaging());
    auto pool = db::Pool::Connect(testing::CreateTestDatabase(), 4, "blob");
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *pool;
    ASSERT_TRUE(db::Migrate(*pool_, "blob", Migrations()).ok());
    char tmpl[] = "/tmp/blob-visibility-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto store = OpenLocalStore(dir_);
    ASSERT_TRUE(store.ok());
    identity_server_ = std::make_unique<rpc::RpcServer>(std::make_shared<prometheus::Registry>());
    identity_server_->AddService(&identity_);
    ASSERT_TRUE(identity_server_->Start("", nullptr).ok());
    service_ = std::make_unique<BlobService>(pool_, std::move(*store), BlobOptions{}, workers_, metrics_);
    service_->ConnectIdentity(identity_server_->InProcessChannel());
    internal_ = std::make_unique<BlobInternalService>(*service_, pool_, workers_);
    server_ = std::make_unique<rpc::RpcServer>(std::make_shared<prometheus::Registry>());
    server_->AddService(service_.get());
    server_->AddService(internal_.get());
    ASSERT_TRUE(server_->Start("", nullptr).ok());
    edge_ = cloudillo::v1::BlobEdge::NewStub(server_->InProcessChannel());
    internal_stub_ = cloudillo::v1::BlobInternal::NewStub(server_->InProcessChannel());
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
    if (identity_server_) identity_server_->Shutdown(absl::Seconds(1));
    std::filesystem::remove_all(dir_);
  }

  // The gateway's context for `subject` on the API host of tenant `tn`; `subject` empty:
  // a guest.
  static ApiRequest As(int64_t tn, const std::string& host, const std::string& subject,
                       const std::string& scope = "") {
    ApiRequest r;
    auto& c = *r.mutable_ctx();
    c.set_tn_id(tn);
    c.set_id_tag(host);
    c.set_authenticated(!subject.empty() || !scope.empty());
    c.set_subject(subject);
    c.set_has_sub(!subject.empty());
    c.set_scope(scope);
    return r;
  }

  // The owner uploads `bytes` with `visibility` ("": direct); returns the file id.
  std::string Upload(int64_t tn, const std::string& owner, const std::string& bytes,
                     const std::string& visibility) {
    ApiRequest head = As(tn, owner, owner);
    (*head.mutable_path())["preset"] = "file";
    (*head.mutable_path())["fileName"] = "photo.bin";
    if (!visibility.empty()) (*head.mutable_query())["visibility"] = visibility;
    grpc::ClientContext ctx;
    ApiReply reply;
    auto writer = edge_->Upload(&ctx, &reply);
    ApiUploadPart part;
    *part.mutable_head() = head;
    writer->Write(part);
    part.set_chunk(bytes);
    writer->Write(part);
    writer->WritesDone();
    grpc::Status st = writer->Finish();
    EXPECT_TRUE(st.ok()) << st.error_message();
    return st.ok() ? json::parse(reply.data_json())["fileId"].get<std::string>() : "";
  }

  // What a node fetching the file asks (PROTOCOL §4.6): the descriptor, the metadata and
  // each variant; plus the best variant by file id. The status codes of the four.
  struct Reads {
    grpc::StatusCode descriptor, metadata, variant, file;
    bool reusable = false;  // the whole download was marked reusable for the gateway
    std::string bytes;
  };
  Reads Read(ApiRequest req, const std::string& file_id) {
    Reads out;
    (*req.mutable_path())["fileId"] = file_id;
    ApiReply reply;
    {
      grpc::ClientContext ctx;
      out.descriptor = edge_->GetDescriptor(&ctx, req, &reply).error_code();
    }
    std::string descriptor =
        out.descriptor == grpc::StatusCode::OK ? json::parse(reply.data_json()).get<std::string>() : "";
    {
      grpc::ClientContext ctx;
      out.metadata = edge_->GetMetadata(&ctx, req, &reply).error_code();
    }
    auto download = [&](bool by_variant, ApiRequest r) {
      grpc::ClientContext ctx;
      auto reader = by_variant ? edge_->GetVariant(&ctx, r) : edge_->GetFile(&ctx, r);
      ApiDownloadPart part;
      std::string body;
      while (reader->Read(&part)) {
        if (part.has_head() && part.head().has_cache()) out.reusable = true;
        if (part.has_chunk()) body += part.chunk();
      }
      if (!by_variant) out.bytes = body;
      return reader->Finish().error_code();
    };
    out.file = download(false, req);
    // The variant id from the owner's descriptor, so a refused descriptor still tries it.
    ApiRequest owner = As(req.ctx().tn_id(), req.ctx().id_tag(), req.ctx().id_tag());
    (*owner.mutable_path())["fileId"] = file_id;
    ApiReply own;
    grpc::ClientContext ctx;
    if (edge_->GetDescriptor(&ctx, owner, &own).ok())
      descriptor = json::parse(own.data_json()).get<std::string>();
    auto variants = ParseDescriptor(descriptor);
    ApiRequest by_variant = req;
    if (variants && !variants->empty()) (*by_variant.mutable_path())["variantId"] = variants->front().blob_id;
    out.variant = download(true, by_variant);
    return out;
  }
  static void ExpectAllowed(const Reads& r, const std::string& bytes) {
    EXPECT_EQ(r.descriptor, grpc::StatusCode::OK);
    EXPECT_EQ(r.metadata, grpc::StatusCode::OK);
    EXPECT_EQ(r.file, grpc::StatusCode::OK);
    EXPECT_EQ(r.variant, grpc::StatusCode::OK);
    EXPECT_EQ(r.bytes, bytes);
  }
  static void ExpectRefused(const Reads& r) {
    EXPECT_EQ(r.descriptor, grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(r.metadata, grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(r.file, grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(r.variant, grpc::StatusCode::PERMISSION_DENIED);
  }

  std::string VisibilityOf(int64_t tn, const std::string& file_id) {
    auto r =
        pool_->Query("SELECT coalesce(visibility::text, 'NULL') FROM files WHERE tn_id = $1 AND file_id = $2",
                     {db::P(tn), db::P(file_id)});
    EXPECT_TRUE(r.ok() && !r->empty());
    return r.ok() && !r->empty() ? r->rows[0].Str(0) : "";
  }
  grpc::Status Raise(int64_t tn, const std::vector<std::string>& ids, const std::string& visibility,
                     int* raised = nullptr) {
    cloudillo::v1::RaiseVisibilityRequest req;
    req.set_tn_id(tn);
    for (const auto& id : ids) req.add_file_ids(id);
    req.set_visibility(visibility);
    cloudillo::v1::RaiseVisibilityReply reply;
    grpc::ClientContext ctx;
    grpc::Status st = internal_stub_->RaiseVisibility(&ctx, req, &reply);
    if (raised) *raised = reply.raised();
    return st;
  }

  FakeIdentity identity_;
  rpc::WorkerPool workers_{{"blob-visibility-test", 4, 100, 0, nullptr}};
  prometheus::Registry registry_;
  BlobMetrics metrics_{registry_};
  std::shared_ptr<db::Pool> pool_;
  std::string dir_;
  std::unique_ptr<rpc::RpcServer> identity_server_;
  std::unique_ptr<BlobService> service_;
  std::unique_ptr<BlobInternalService> internal_;
  std::unique_ptr<rpc::RpcServer> server_;
  std::unique_ptr<cloudillo::v1::BlobEdge::Stub> edge_;
  std::unique_ptr<cloudillo::v1::BlobInternal::Stub> internal_stub_;
};

// bob's node reads alice's F file with the access token alice's node minted for it
// (`sub` = bob.remote, no scope, PROTOCOL §3.4) because bob follows alice.
TEST_F(FileVisibilityTest, AFollowerReadsAnFFileAndNoOneElseDoes) {
  const std::string id = Upload(1, "alice.test", "alice's photo", "F");
  identity_.Set(1, "bob.remote", /*follower=*/true, /*connected=*/false);
  Reads bob = Read(As(1, "alice.test", "bob.remote"), id);
  ExpectAllowed(bob, "alice's photo");
  // The answer depends on who asks: the gateway must not hand it to the next caller.
  EXPECT_FALSE(bob.reusable);
  ExpectRefused(Read(As(1, "alice.test", "eve.remote"), id));  // no profile at alice's
  ExpectRefused(Read(As(1, "alice.test", ""), id));            // a guest
  // A scoped token speaks for its scope only, whoever its subject.
  ExpectRefused(
      Read(As(1, "alice.test", "bob.remote", "file:f1~AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:R"), id));
  identity_.Set(1, "bob.remote", false, false);  // an unfollow, announced by identity
  service_->relations().OnInvalidation(cache::RelationsInvalidation(1));
  ExpectRefused(Read(As(1, "alice.test", "bob.remote"), id));
  // The owner's own download stays reusable, as before.
  EXPECT_TRUE(Read(As(1, "alice.test", "alice.test"), id).reusable);
}

// §13 item 17: C needs the connection itself; a follower is not enough. A connection
// reads F files too.
TEST_F(FileVisibilityTest, ConnectedMeansConnected) {
  const std::string c = Upload(1, "alice.test", "for connections", "C");
  const std::string f = Upload(1, "alice.test", "for followers", "F");
  identity_.Set(1, "bob.remote", /*follower=*/true, /*connected=*/false);
  identity_.Set(1, "carol.remote", /*follower=*/false, /*connected=*/true);
  ExpectRefused(Read(As(1, "alice.test", "bob.remote"), c));
  Reads carol = Read(As(1, "alice.test", "carol.remote"), c);
  ExpectAllowed(carol, "for connections");
  EXPECT_FALSE(carol.reusable);
  ExpectAllowed(Read(As(1, "alice.test", "carol.remote"), f), "for followers");
  // Direct files stay the owner's: no relationship opens them.
  const std::string d = Upload(1, "alice.test", "mine", "");
  ExpectRefused(Read(As(1, "alice.test", "carol.remote"), d));
}

// A listing shows a peer what its relationship lets it read, and nothing more; with
// identity unreachable it shows the open files only rather than failing.
TEST_F(FileVisibilityTest, ListingsShowWhatTheRelationshipOpens) {
  const std::string p = Upload(1, "alice.test", "public", "P");
  const std::string f = Upload(1, "alice.test", "for followers", "F");
  const std::string c = Upload(1, "alice.test", "for connections", "C");
  Upload(1, "alice.test", "mine", "");
  identity_.Set(1, "bob.remote", /*follower=*/true, /*connected=*/false);
  identity_.Set(1, "carol.remote", /*follower=*/false, /*connected=*/true);
  identity_.Set(1, "dave.remote", true, true, "B");
  auto listed = [&](const std::string& subject) {
    ApiRequest req = As(1, "alice.test", subject);
    grpc::ClientContext ctx;
    ApiReply reply;
    grpc::Status st = edge_->ListFiles(&ctx, req, &reply);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::set<std::string> ids;
    if (st.ok())
      for (const auto& item : json::parse(reply.data_json())) ids.insert(item["fileId"].get<std::string>());
    return ids;
  };
  auto tags_seen = [&](const std::string& subject) {
    ApiRequest req = As(1, "alice.test", subject);
    grpc::ClientContext ctx;
    ApiReply reply;
    EXPECT_TRUE(edge_->ListTags(&ctx, req, &reply).ok());
    return json::parse(reply.data_json())["tags"].size();
  };
  EXPECT_EQ(listed("bob.remote"), (std::set<std::string>{p, f}));
  EXPECT_EQ(listed("carol.remote"), (std::set<std::string>{p, f, c}));
  EXPECT_EQ(listed("dave.remote"), (std::set<std::string>{p}));  // blocked
  EXPECT_EQ(listed("eve.remote"), (std::set<std::string>{p}));   // a stranger
  EXPECT_EQ(listed(""), (std::set<std::string>{p}));             // a guest
  EXPECT_EQ(listed("alice.test").size(), 4u);                    // the owner

  // Tags count the same files.
  const std::vector<std::pair<std::string, std::string>> tagged = {
      {p, "open"}, {f, "followed"}, {c, "close"}};
  for (const auto& [id, name] : tagged) {
    ApiRequest tag = As(1, "alice.test", "alice.test");
    (*tag.mutable_path())["fileId"] = id;
    (*tag.mutable_path())["tag"] = name;
    grpc::ClientContext ctx;
    ApiReply reply;
    grpc::Status st = edge_->PutTag(&ctx, tag, &reply);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(tags_seen("bob.remote"), 2u);
  EXPECT_EQ(tags_seen("carol.remote"), 3u);
  EXPECT_EQ(tags_seen("eve.remote"), 1u);

  // Identity down: the open files still list.
  identity_.down = true;
  service_->relations().Clear();
  EXPECT_EQ(listed("carol.remote"), (std::set<std::string>{p}));
}

TEST_F(FileVisibilityTest, ASuspendedBlockedOrBannedPeerReadsNothing) {
  const std::string f = Upload(1, "alice.test", "for followers", "F");
  const std::string c = Upload(1, "alice.test", "for connections", "C");
  for (const char* status : {"S", "B", "X"}) {
    identity_.Set(1, "dave.remote", true, true, status);
    service_->relations().Clear();
    ExpectRefused(Read(As(1, "alice.test", "dave.remote"), f));
    ExpectRefused(Read(As(1, "alice.test", "dave.remote"), c));
  }
}

// bob follows alice (tenant 1), not other (tenant 2): other's F file stays closed to
// him, and alice's file is not reachable through other's host.
TEST_F(FileVisibilityTest, AFollowerOfOneTenantReadsNoneOfAnothers) {
  const std::string alices = Upload(1, "alice.test", "alice's", "F");
  const std::string others = Upload(2, "other.test", "other's", "F");
  identity_.Set(1, "bob.remote", true, true);
  ExpectAllowed(Read(As(1, "alice.test", "bob.remote"), alices), "alice's");
  ExpectRefused(Read(As(2, "other.test", "bob.remote"), others));
  ApiRequest cross = As(2, "other.test", "bob.remote");
  (*cross.mutable_path())["fileId"] = alices;
  grpc::ClientContext ctx;
  ApiReply reply;
  EXPECT_EQ(edge_->GetMetadata(&ctx, cross, &reply).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Collab's CheckFileAccess decides as the REST routes do: a follower reads an F
// document, nobody else does.
TEST_F(FileVisibilityTest, LiveDocumentsFollowTheSameRule) {
  ASSERT_TRUE(pool_
                  ->Query("INSERT INTO files (tn_id, file_id, file_tp, file_name, visibility) VALUES "
                          "(1, 'DDDDDDDDDDDDDDDDDDDDDDDD', 'CRDT', 'doc', 'F')")
                  .ok());
  identity_.Set(1, "bob.remote", true, false);
  FileAccessService access(pool_, workers_, &service_->relations());
  auto check = [&](const std::string& subject) {
    cloudillo::v1::FileAccessRequest req;
    *req.mutable_ctx() = As(1, "alice.test", subject).ctx();
    req.set_file_id("DDDDDDDDDDDDDDDDDDDDDDDD");
    auto out = access.Check(req);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->access() : cloudillo::v1::FileAccessReply::NONE;
  };
  EXPECT_EQ(check("bob.remote"), cloudillo::v1::FileAccessReply::READ);
  EXPECT_EQ(check("eve.remote"), cloudillo::v1::FileAccessReply::NONE);
  // Without the gate (as before it existed) nobody but the owner opens it.
  FileAccessService closed(pool_, workers_);
  cloudillo::v1::FileAccessRequest req;
  *req.mutable_ctx() = As(1, "alice.test", "bob.remote").ctx();
  req.set_file_id("DDDDDDDDDDDDDDDDDDDDDDDD");
  EXPECT_EQ(closed.Check(req)->access(), cloudillo::v1::FileAccessReply::NONE);
}

// One question to identity per (tenant, peer) while the answer is fresh; identity's
// word on another tenant keeps it, on this tenant drops it.
TEST_F(FileVisibilityTest, RelationshipsAreKeptBrieflyAndDroppedOnIdentitysWord) {
  const std::string id = Upload(1, "alice.test", "photo", "F");
  identity_.Set(1, "bob.remote", true, false);
  ApiRequest bob = As(1, "alice.test", "bob.remote");
  (*bob.mutable_path())["fileId"] = id;
  auto metadata = [&] {
    grpc::ClientContext ctx;
    ApiReply reply;
    return edge_->GetMetadata(&ctx, bob, &reply).error_code();
  };
  EXPECT_EQ(metadata(), grpc::StatusCode::OK);
  EXPECT_EQ(metadata(), grpc::StatusCode::OK);
  EXPECT_EQ(identity_.calls.load(), 1);
  service_->relations().OnInvalidation(cache::RelationsInvalidation(2));
  service_->relations().OnInvalidation(cache::SettingsInvalidation(1));
  EXPECT_EQ(metadata(), grpc::StatusCode::OK);
  EXPECT_EQ(identity_.calls.load(), 1);
  identity_.Set(1, "bob.remote", true, false, "B");  // alice blocks bob
  service_->relations().OnInvalidation(cache::RelationsInvalidation(1));
  EXPECT_EQ(metadata(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(identity_.calls.load(), 2);
}

TEST(RelationshipGate, EntriesExpireAndAreBounded) {
  FakeIdentity identity;
  identity.Set(1, "bob.remote", true, false);
  rpc::RpcServer server(std::make_shared<prometheus::Registry>());
  server.AddService(&identity);
  ASSERT_TRUE(server.Start("", nullptr).ok());
  FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  RelationshipGate gate(clock, {absl::Seconds(5), 3});
  FileRow f;
  f.status = "A";
  f.visibility = "F";
  cloudillo::v1::RequestContext ctx;
  ctx.set_tn_id(1);
  ctx.set_id_tag("alice.test");
  ctx.set_authenticated(true);
  ctx.set_subject("bob.remote");
  EXPECT_FALSE(*gate.Permits(ctx, f));  // not connected yet: no identity, no reads
  EXPECT_EQ(identity.calls.load(), 0);
  gate.Connect(cloudillo::v1::Identity::NewStub(server.InProcessChannel()));
  EXPECT_TRUE(*gate.Permits(ctx, f));
  clock.Advance(absl::Seconds(4));
  EXPECT_TRUE(*gate.Permits(ctx, f));
  EXPECT_EQ(identity.calls.load(), 1);
  clock.Advance(absl::Seconds(2));
  EXPECT_TRUE(*gate.Permits(ctx, f));
  EXPECT_EQ(identity.calls.load(), 2);
  // Visibilities no relationship decides never ask.
  for (const char* v : {"", "P", "V", "S", "D"}) {
    f.visibility = v;
    EXPECT_FALSE(*gate.Permits(ctx, f)) << v;
  }
  EXPECT_EQ(identity.calls.load(), 2);
  // A flood of distinct peers keeps at most max_entries.
  f.visibility = "F";
  for (int i = 0; i < 10; ++i) {
    ctx.set_subject("peer" + std::to_string(i) + ".remote");
    EXPECT_FALSE(*gate.Permits(ctx, f));
  }
  EXPECT_LE(gate.size(), 3u);
  server.Shutdown(absl::Seconds(1));
}

TEST(RelationshipGate, WhoReadsWhat) {
  auto rel = [](bool follower, bool connected, const std::string& status = "") {
    Relationship r;
    r.set_known(true);
    r.set_follower(follower);
    r.set_connected(connected);
    r.set_status(status);
    return r;
  };
  EXPECT_TRUE(RelationshipReads("F", rel(true, false)));
  EXPECT_TRUE(RelationshipReads("F", rel(false, true)));
  EXPECT_TRUE(RelationshipReads("2", rel(true, false)));  // second degree: a follower meets it
  EXPECT_FALSE(RelationshipReads("F", rel(false, false)));
  EXPECT_FALSE(RelationshipReads("C", rel(true, false)));
  EXPECT_TRUE(RelationshipReads("C", rel(false, true)));
  EXPECT_FALSE(RelationshipReads("F", Relationship()));  // no profile
  for (const char* s : {"S", "B", "X"}) EXPECT_FALSE(RelationshipReads("F", rel(true, true, s))) << s;
  EXPECT_TRUE(RelationshipReads("F", rel(true, true, "A")));
  for (const char* v : {"", "P", "V", "S", "D", "FF"})
    EXPECT_FALSE(RelationshipReads(v, rel(true, true))) << v;
}

// PROTOCOL §2.6 order, most open first: P, V, 2, F, C, then direct. A file only ever
// opens, and only the tenant's own files change.
TEST_F(FileVisibilityTest, RaiseVisibilityOpensAndNeverCloses) {
  const std::string d = Upload(1, "alice.test", "direct", "");
  const std::string f = Upload(1, "alice.test", "followers", "F");
  const std::string p = Upload(1, "alice.test", "public", "P");
  const std::string c = Upload(1, "alice.test", "connections", "C");
  const std::string others = Upload(2, "other.test", "direct", "");  // same bytes: same id
  ASSERT_EQ(others, d);
  int raised = -1;
  ASSERT_TRUE(Raise(1, {d, f, p}, "F", &raised).ok());
  EXPECT_EQ(raised, 1);
  EXPECT_EQ(VisibilityOf(1, d), "F");
  EXPECT_EQ(VisibilityOf(1, f), "F");
  EXPECT_EQ(VisibilityOf(1, p), "P");  // never lowered
  EXPECT_EQ(VisibilityOf(2, others), "NULL");
  ASSERT_TRUE(Raise(1, {f}, "P", &raised).ok());
  EXPECT_EQ(raised, 1);
  EXPECT_EQ(VisibilityOf(1, f), "P");
  ASSERT_TRUE(Raise(1, {c}, "V", &raised).ok());
  EXPECT_EQ(VisibilityOf(1, c), "V");
  ASSERT_TRUE(Raise(1, {c}, "C", &raised).ok());
  EXPECT_EQ(raised, 0);
  EXPECT_EQ(VisibilityOf(1, c), "V");
  // A letter a file cannot have (a hand-written row) ranks as direct.
  ASSERT_TRUE(
      pool_->Query("UPDATE files SET visibility = 'S' WHERE tn_id = 1 AND file_id = $1", {db::P(c)}).ok());
  ASSERT_TRUE(Raise(1, {c}, "2", &raised).ok());
  EXPECT_EQ(VisibilityOf(1, c), "2");
  // Ids that name no file, or no file of this tenant, change nothing.
  ASSERT_TRUE(Raise(3, {d}, "P", &raised).ok());
  EXPECT_EQ(raised, 0);
  ASSERT_TRUE(Raise(1, {"not an id", "f1~AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "P", &raised).ok());
  EXPECT_EQ(raised, 0);
  EXPECT_EQ(VisibilityOf(2, others), "NULL");
}

TEST_F(FileVisibilityTest, RaiseVisibilityRefusesWhatIsNotAnOpeningLetter) {
  const std::string d = Upload(1, "alice.test", "direct", "");
  for (const char* bad : {"", "D", "S", "X", "p", "FF", "P "})
    EXPECT_EQ(Raise(1, {d}, bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  EXPECT_EQ(Raise(0, {d}, "P").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Raise(1, std::vector<std::string>(257, d), "P").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(VisibilityOf(1, d), "NULL");
}

// A download refused a moment ago (its row now in blob's row cache) succeeds as soon as
// the action that attaches the file opened it.
TEST_F(FileVisibilityTest, ARaiseReachesDownloadsAtOnce) {
  const std::string d = Upload(1, "alice.test", "attached", "");
  identity_.Set(1, "bob.remote", true, false);
  Reads before = Read(As(1, "alice.test", "bob.remote"), d);
  EXPECT_EQ(before.file, grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Raise(1, {d}, "F").ok());
  ExpectAllowed(Read(As(1, "alice.test", "bob.remote"), d), "attached");
}

TEST(BlobPolicy, RaiseVisibilityIsActionsAlone) {
  rpc::AccessPolicy p = ListenerPolicy();
  EXPECT_TRUE(p.Permits("/cloudillo.v1.BlobInternal/RaiseVisibility", "action"));
  for (const char* who : {"gateway", "identity", "access", "collab", "admin", "blob", ""})
    EXPECT_FALSE(p.Permits("/cloudillo.v1.BlobInternal/RaiseVisibility", who)) << who;
  EXPECT_TRUE(p.Permits("/cloudillo.v1.BlobInternal/GetStorageUsage", "identity"));
  EXPECT_FALSE(p.Permits("/cloudillo.v1.BlobInternal/GetStorageUsage", "action"));
}

}  // namespace
}  // namespace cloudillo::blob
