// The /ws/crdt admission rules (PROTOCOL §5.1) from blob's answer: close codes, read
// only for guests, `access=read` and Comment, write only with Write.
#include "access_check.h"

#include <gtest/gtest.h>

namespace cloudillo::collab {
namespace {

using cloudillo::v1::FileAccessReply;

cloudillo::v1::RequestContext User(const std::string& sub, const std::string& scope = "") {
  cloudillo::v1::RequestContext c;
  c.set_tn_id(7);
  c.set_id_tag("owner.test");
  c.set_authenticated(true);
  c.set_subject(sub);
  c.set_has_sub(true);
  c.set_scope(scope);
  return c;
}

FileAccessReply File(FileAccessReply::Access a, const std::string& tp = "CRDT", bool exists = true) {
  FileAccessReply r;
  r.set_exists(exists);
  r.set_file_tp(tp);
  r.set_access(a);
  return r;
}

TEST(Decide, CloseCodes) {
  auto owner = User("owner.test");
  EXPECT_EQ(Decide(owner, "abc", "", File(FileAccessReply::WRITE, "CRDT", false)).close_code, kCloseNotFound);
  EXPECT_EQ(Decide(owner, "s~app", "", File(FileAccessReply::WRITE, "RTDB")).close_code, kCloseStoreType);
  EXPECT_EQ(Decide(owner, "abc", "", File(FileAccessReply::WRITE, "BLOB")).close_code, kCloseNotFound);
  EXPECT_EQ(Decide(User("x.test"), "abc", "", File(FileAccessReply::NONE)).close_code, kCloseForbidden);
  EXPECT_EQ(Decide(User("x.test"), "abc", "write", File(FileAccessReply::READ)).close_code, kCloseForbidden);
  EXPECT_EQ(Decide(User("x.test"), "abc", "write", File(FileAccessReply::COMMENT)).close_code,
            kCloseForbidden);
}

TEST(Decide, ReadOnlyCases) {
  auto g = Decide(User("owner.test"), "abc", "", File(FileAccessReply::WRITE));
  EXPECT_EQ(g.close_code, 0);
  EXPECT_FALSE(g.who.read_only);
  EXPECT_EQ(g.who.awareness_id, "owner.test");
  EXPECT_TRUE(Decide(User("owner.test"), "abc", "read", File(FileAccessReply::WRITE)).who.read_only);
  EXPECT_TRUE(Decide(User("x.test"), "abc", "", File(FileAccessReply::COMMENT)).who.read_only);
  EXPECT_TRUE(Decide(User("x.test"), "abc", "comment", File(FileAccessReply::WRITE)).who.read_only);
  cloudillo::v1::RequestContext guest;
  guest.set_tn_id(7);
  auto gg = Decide(guest, "abc", "", File(FileAccessReply::WRITE));
  EXPECT_EQ(gg.close_code, 0);
  EXPECT_TRUE(gg.who.read_only);
  EXPECT_EQ(gg.who.awareness_id, "");
  EXPECT_EQ(Decide(guest, "abc", "write", File(FileAccessReply::READ)).close_code, kCloseForbidden);
}

TEST(Decide, ShareLinkVisitorWritesWithoutIdentity) {
  auto link = User("", "file:abc:W");
  link.set_has_sub(false);
  auto g = Decide(link, "abc", "write", File(FileAccessReply::WRITE));
  EXPECT_EQ(g.close_code, 0);
  EXPECT_FALSE(g.who.read_only);
  EXPECT_EQ(g.who.awareness_id, "");
}

// /ws/rtdb (PROTOCOL §6.1): RTDB files only, Comment survives as a level, and a
// `~meta` side database takes its parent file's answer whatever that file's type.
TEST(Decide, RtdbStores) {
  auto owner = User("owner.test");
  EXPECT_EQ(Decide(owner, "abc", "", File(FileAccessReply::WRITE, "CRDT"), kRtdbStore).close_code,
            kCloseNotFound);
  EXPECT_EQ(Decide(owner, "s~app", "", File(FileAccessReply::WRITE, "CRDT"), kRtdbStore).close_code,
            kCloseStoreType);
  auto w = Decide(owner, "abc", "", File(FileAccessReply::WRITE, "RTDB"), kRtdbStore);
  EXPECT_EQ(w.close_code, 0);
  EXPECT_EQ(w.level, FileAccessReply::WRITE);
  EXPECT_EQ(Decide(owner, "abc", "read", File(FileAccessReply::WRITE, "RTDB"), kRtdbStore).level,
            FileAccessReply::READ);
  EXPECT_EQ(Decide(owner, "abc", "comment", File(FileAccessReply::WRITE, "RTDB"), kRtdbStore).level,
            FileAccessReply::COMMENT);
  EXPECT_EQ(Decide(User("x.test"), "abc", "", File(FileAccessReply::COMMENT, "RTDB"), kRtdbStore).level,
            FileAccessReply::COMMENT);
  // The side database of a CRDT document: allowed, with the document's access.
  auto meta = Decide(User("x.test"), "abc~meta", "", File(FileAccessReply::COMMENT, "CRDT"), kRtdbStore);
  EXPECT_EQ(meta.close_code, 0);
  EXPECT_EQ(meta.level, FileAccessReply::COMMENT);
  EXPECT_EQ(
      Decide(User("x.test"), "abc~meta", "", File(FileAccessReply::NONE, "CRDT"), kRtdbStore).close_code,
      kCloseForbidden);
  // A guest reads at most.
  cloudillo::v1::RequestContext guest;
  guest.set_tn_id(7);
  EXPECT_EQ(Decide(guest, "abc", "", File(FileAccessReply::WRITE, "RTDB"), kRtdbStore).level,
            FileAccessReply::READ);
  EXPECT_EQ(Decide(guest, "abc", "write", File(FileAccessReply::WRITE, "RTDB"), kRtdbStore).close_code,
            kCloseForbidden);
  // Only the RTDB socket knows side databases: for CRDT `~meta` is just a name.
  EXPECT_EQ(Decide(owner, "abc~meta", "", File(FileAccessReply::WRITE, "BLOB")).close_code, kCloseNotFound);
  EXPECT_TRUE(IsMetaDatabase("abc~meta"));
  EXPECT_FALSE(IsMetaDatabase("~meta"));
  EXPECT_FALSE(IsMetaDatabase("abc~metax"));
}

}  // namespace
}  // namespace cloudillo::collab
