// Blob.CheckFileAccess against a real PostgreSQL: who may open a file as a live
// document (PROTOCOL §5.1). The owner writes; a file-scoped token gets its letter;
// a share entry its permission; visibility P/V reads; `s~` stores appear for
// authenticated callers only; tenants never see each other's files.
#include "file_access.h"

#include <gtest/gtest.h>

#include "cloudillo/db/migrate.h"
#include "cloudillo/testing/test_env.h"

namespace cloudillo::blob {
const std::vector<db::Migration>& Migrations();

namespace {

using cloudillo::v1::FileAccessReply;
using cloudillo::v1::FileAccessRequest;

class FileAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = db::Pool::Connect(testing::CreateTestDatabase(), 2, "blob");
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *pool;
    ASSERT_TRUE(db::Migrate(*pool_, "blob", Migrations()).ok());
    svc_ = std::make_unique<FileAccessService>(pool_, workers_);
    Exec(
        "INSERT INTO files (tn_id, file_id, file_tp, file_name, visibility) VALUES (1, $1, 'CRDT', 'd', "
        "NULL)",
        kDoc);
    Exec(
        "INSERT INTO files (tn_id, file_id, file_tp, file_name, visibility) VALUES (1, $1, 'CRDT', 'p', 'P')",
        kPublic);
    Exec(
        "INSERT INTO file_shares (tn_id, file_id, subject_id, permission, created_by) VALUES (1, $1, "
        "'bob.test', 'W', 'alice.test')",
        kDoc);
  }
  void Exec(const std::string& sql, const std::string& p) { ASSERT_TRUE(pool_->Query(sql, {db::P(p)}).ok()); }

  static cloudillo::v1::RequestContext Ctx(int64_t tn, const std::string& host, const std::string& sub,
                                           const std::string& scope = "") {
    cloudillo::v1::RequestContext c;
    c.set_tn_id(tn);
    c.set_id_tag(host);
    c.set_authenticated(!sub.empty() || !scope.empty());
    c.set_subject(sub);
    c.set_has_sub(!sub.empty());
    c.set_scope(scope);
    return c;
  }
  FileAccessReply Check(const cloudillo::v1::RequestContext& ctx, const std::string& id,
                        const std::string& ensure = "") {
    FileAccessRequest r;
    *r.mutable_ctx() = ctx;
    r.set_file_id(id);
    r.set_ensure_store_tp(ensure);
    auto out = svc_->Check(r);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : FileAccessReply();
  }

  static constexpr const char* kDoc = "AAAAAAAAAAAAAAAAAAAAAAAA";
  static constexpr const char* kPublic = "BBBBBBBBBBBBBBBBBBBBBBBB";
  rpc::WorkerPool workers_{{"test", 1, 8, 0, nullptr}};
  std::shared_ptr<db::Pool> pool_;
  std::unique_ptr<FileAccessService> svc_;
};

TEST_F(FileAccessTest, OwnerScopeShareVisibility) {
  auto r = Check(Ctx(1, "alice.test", "alice.test"), kDoc);
  EXPECT_TRUE(r.exists());
  EXPECT_EQ(r.file_tp(), "CRDT");
  EXPECT_EQ(r.access(), FileAccessReply::WRITE);
  EXPECT_EQ(Check(Ctx(1, "alice.test", "bob.test"), kDoc).access(), FileAccessReply::WRITE);  // share W
  EXPECT_EQ(Check(Ctx(1, "alice.test", "eve.test"), kDoc).access(), FileAccessReply::NONE);
  EXPECT_EQ(Check(Ctx(1, "alice.test", ""), kDoc).access(), FileAccessReply::NONE);  // guest
  EXPECT_EQ(Check(Ctx(1, "alice.test", ""), kPublic).access(), FileAccessReply::READ);
  // A share link's (or a `via` token's) scope: its letter on its file, nothing else.
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", std::string("file:") + kDoc + ":C"), kDoc).access(),
            FileAccessReply::COMMENT);
  EXPECT_EQ(Check(Ctx(1, "alice.test", "alice.test", std::string("file:") + kPublic + ":W"), kDoc).access(),
            FileAccessReply::NONE);
}

TEST_F(FileAccessTest, TenantsApart) {
  auto r = Check(Ctx(2, "bob.test", "bob.test"), kDoc);
  EXPECT_FALSE(r.exists());
  EXPECT_EQ(r.access(), FileAccessReply::NONE);
}

TEST_F(FileAccessTest, StoresAppearForAuthenticatedCallersOnly) {
  EXPECT_FALSE(Check(Ctx(1, "alice.test", ""), "s~notes", "CRDT").exists());
  auto r = Check(Ctx(1, "alice.test", "alice.test"), "s~notes", "CRDT");
  EXPECT_TRUE(r.exists());
  EXPECT_EQ(r.file_tp(), "CRDT");
  EXPECT_EQ(r.access(), FileAccessReply::WRITE);
  // Created once: an RTDB request for the same store finds the CRDT one.
  EXPECT_EQ(Check(Ctx(1, "alice.test", "alice.test"), "s~notes", "RTDB").file_tp(), "CRDT");
  EXPECT_FALSE(Check(Ctx(2, "bob.test", "bob.test"), "s~notes").exists());
  FileAccessRequest bad;
  *bad.mutable_ctx() = Ctx(1, "alice.test", "alice.test");
  for (const char* id : {"s~", "s~Bad", "s~a b", "s~@x", "../etc", ""}) {
    bad.set_file_id(id);
    EXPECT_FALSE(svc_->Check(bad).ok()) << id;
  }
}

TEST(StoreIds, AppIdRules) {
  for (const char* ok : {"s~notes", "s~_x", "s~a-b_c9", "s~app@example.com"})
    EXPECT_TRUE(IsStoreId(ok)) << ok;
  for (const char* bad : {"s~", "s~Notes", "s~9a", "s~a@", "s~@b", "s~a@B.com", "x~notes", "s~a!"})
    EXPECT_FALSE(IsStoreId(bad)) << bad;
  EXPECT_TRUE(IsStoreId("s~" + std::string(64, 'a')));
  EXPECT_FALSE(IsStoreId("s~" + std::string(65, 'a')));
}

}  // namespace
}  // namespace cloudillo::blob
