// Blob.CheckFileAccess against a real PostgreSQL: who may open a file as a live
// document (PROTOCOL §5.1). The owner writes; a file-scoped token gets its letter;
// a share entry its permission; visibility P/V reads; `s~` stores appear for
// authenticated callers only; tenants never see each other's files.
#include "file_access.h"

#include <gtest/gtest.h>

#include "cloudillo/db/migrate.h"
#include "cloudillo/testing/test_env.h"
#include "file_row_cache.h"

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

// A link to a folder (PROTOCOL §8 "Refs"): its letter on every live file below the
// folder, at any depth, and on nothing beside it, in another tenant or in the trash.
TEST_F(FileAccessTest, AFolderScopeReachesTheFilesBelowIt) {
  const std::string folder = "FFFFFFFFFFFFFFFFFFFFFFFF", sub = "GGGGGGGGGGGGGGGGGGGGGGGG",
                    inner = "HHHHHHHHHHHHHHHHHHHHHHHH", deep = "IIIIIIIIIIIIIIIIIIIIIIII",
                    not_folder = "JJJJJJJJJJJJJJJJJJJJJJJJ", below_doc = "KKKKKKKKKKKKKKKKKKKKKKKK";
  auto add = [&](int64_t tn, const std::string& id, const char* tp, const std::string& parent,
                 const char* status = "A") {
    ASSERT_TRUE(
        pool_
            ->Query(
                "INSERT INTO files (tn_id, file_id, parent_id, file_tp, file_name, status) VALUES "
                "($1, $2, $3, $4, 'x', $5)",
                {db::P(tn), db::P(id), parent.empty() ? db::Null() : db::P(parent), db::P(tp), db::P(status)})
            .ok());
  };
  add(1, folder, "FLDR", "");
  add(1, sub, "FLDR", folder);
  add(1, inner, "CRDT", folder);
  add(1, deep, "CRDT", sub);
  // A CRDT document with a child row: a scope on it is no folder link.
  add(1, not_folder, "CRDT", "");
  add(1, below_doc, "CRDT", not_folder);
  add(2, inner, "CRDT", folder);  // the same ids in another tenant, no folder above
  const std::string scope = "file:" + folder + ":C";
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", scope), inner).access(), FileAccessReply::COMMENT);
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", scope), deep).access(), FileAccessReply::COMMENT);
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", scope), sub).access(), FileAccessReply::COMMENT);
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", scope), kDoc).access(), FileAccessReply::NONE);
  EXPECT_EQ(Check(Ctx(2, "bob.test", "", scope), inner).access(), FileAccessReply::NONE);
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", "file:" + not_folder + ":W"), below_doc).access(),
            FileAccessReply::NONE);
  // The strongest letter of the folders above wins; a sub-folder link does not reach up.
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", scope + ",file:" + sub + ":W"), deep).access(),
            FileAccessReply::WRITE);
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", "file:" + sub + ":R"), inner).access(), FileAccessReply::NONE);
  // Trashed below the folder, or the folder itself trashed: nothing.
  ASSERT_TRUE(
      pool_->Query("UPDATE files SET status = 'D' WHERE tn_id = 1 AND file_id = $1", {db::P(deep)}).ok());
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", scope), deep).access(), FileAccessReply::NONE);
  ASSERT_TRUE(
      pool_->Query("UPDATE files SET status = 'D' WHERE tn_id = 1 AND file_id = $1", {db::P(folder)}).ok());
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", scope), inner).access(), FileAccessReply::NONE);
  // A cycle in the stored tree (never written by the API) ends at the depth bound.
  ASSERT_TRUE(
      pool_->Query("UPDATE files SET status = 'A' WHERE tn_id = 1 AND file_id = $1", {db::P(deep)}).ok());
  ASSERT_TRUE(pool_
                  ->Query("UPDATE files SET parent_id = $1 WHERE tn_id = 1 AND file_id = $2",
                          {db::P(deep), db::P(sub)})
                  .ok());
  EXPECT_EQ(Check(Ctx(1, "alice.test", "", std::string("file:") + kPublic + ":R"), deep).access(),
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

// The downloads' row cache: rows live kTtl, tenants apart, a tenant's change drops
// its rows only, and the cache never grows past kMax.
TEST(FileRowCache, RowsExpireStayPerTenantAndAreBounded) {
  FileRowCache cache;
  const absl::Time t0 = absl::FromUnixSeconds(1767225600);
  FileRow row;
  row.file_id = "AAAAAAAAAAAAAAAAAAAAAAAA";
  row.status = "A";
  cache.Put(1, row.file_id, row, t0);
  ASSERT_TRUE(cache.Get(1, row.file_id, t0 + absl::Seconds(1)).has_value());
  EXPECT_EQ(cache.Get(1, row.file_id, t0)->status, "A");
  EXPECT_FALSE(cache.Get(2, row.file_id, t0).has_value());
  // "1/…" and "11/…" are different tenants: forgetting one keeps the other.
  cache.Put(11, row.file_id, row, t0);
  cache.ForgetTenant(1);
  EXPECT_FALSE(cache.Get(1, row.file_id, t0).has_value());
  EXPECT_TRUE(cache.Get(11, row.file_id, t0).has_value());
  EXPECT_FALSE(cache.Get(11, row.file_id, t0 + FileRowCache::kTtl).has_value());
  for (size_t i = 0; i < FileRowCache::kMax + 10; ++i) cache.Put(3, std::to_string(i), row, t0);
  EXPECT_LE(cache.size(), FileRowCache::kMax);
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
