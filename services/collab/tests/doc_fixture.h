// What the update-log and hub tests share: a migrated collab schema in a fresh test
// database, and a one-character Yjs edit to build logs from.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "cloudillo/db/migrate.h"
#include "cloudillo/testing/test_env.h"
#include "cloudillo/yjs/update.h"
#include "doc_store.h"

namespace cloudillo::collab {
const std::vector<db::Migration>& Migrations();

// One character typed at the end of root text "t" by `client`, at `clock`.
inline std::string Typed(uint64_t client, uint64_t clock) {
  yjs::Update u;
  yjs::Struct s;
  s.kind = yjs::StructKind::kItem;
  s.id = {client, clock};
  s.length = 1;
  if (clock > 0) {
    s.origin = yjs::Id{client, clock - 1};
  } else {
    s.parent.kind = yjs::Parent::Kind::kKey;
    s.parent.key = "t";
  }
  s.content.kind = yjs::ContentKind::kString;
  s.content.text = "a";
  s.content.utf16_len = 1;
  u.structs.push_back(s);
  return yjs::EncodeUpdate(u);
}

class DocStoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = db::Pool::Connect(testing::CreateTestDatabase(), 6, "collab");
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *pool;
    ASSERT_TRUE(db::Migrate(*pool_, "collab", Migrations()).ok());
    store_ = std::make_unique<DocStore>(pool_);
  }
  std::shared_ptr<db::Pool> pool_;
  std::unique_ptr<DocStore> store_;
};

}  // namespace cloudillo::collab
