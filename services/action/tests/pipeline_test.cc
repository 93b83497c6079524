// The pipeline between tenants of one database: identity is a fake that signs with
// per-tenant keys and keeps relationship rows and settings in memory, the key resolver
// answers those keys, and Pump() plays the outbox, handing every queued delivery for
// a tenant of the test to its Receive(). Covers conversations (§2.11 CONV, SUBS, INVT,
// MSG), the subscription gate (§2.8 step 6), subscriber fan-out and the owner's
// vouching (§2.5 items 4–6, R3) and auto-approve (§2.8).
#include "pipeline.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>
#include <mutex>

#include "cloudillo/crypto/action_token.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/rpc/server.h"
#include "cloudillo/testing/test_env.h"
#include "fake_identity.h"
#include "subscriptions.h"
#include "token_claims.h"

namespace cloudillo::action {
const std::vector<db::Migration>& Migrations();
namespace {

using json = nlohmann::json;

const Tenant kAlice{1, "alice.test"}, kBob{2, "bob.test"}, kCarol{3, "carol.test"}, kDave{4, "dave.test"};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = db::Pool::Connect(testing::CreateTestDatabase(), 4, "action");
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *pool;
    ASSERT_TRUE(db::Migrate(*pool_, "action", Migrations()).ok());
    cache::RedisConfig rc;
    rc.addr = testing::GetTestEnv().redis_addr;
    redis_ = cache::Redis::Create(rc);
    for (const Tenant& t : {kAlice, kBob, kCarol, kDave}) identity_.AddTenant(t.tn_id, t.id_tag);
    server_ = std::make_unique<rpc::RpcServer>(std::make_shared<prometheus::Registry>());
    server_->AddService(&identity_);
    ASSERT_TRUE(server_->Start("", nullptr).ok());
    store_ = std::make_unique<ActionStore>(pool_);
    pipeline_ =
        std::make_unique<Pipeline>(*store_, cloudillo::v1::Identity::NewStub(server_->InProcessChannel()),
                                   std::make_shared<FakeKeys>(identity_), redis_, clock_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
  }

  void Connect(const Tenant& a, const Tenant& b) {
    for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
      auto& r = identity_.Rel(x.tn_id, y.id_tag);
      r.set_connected(true);
      r.set_following(true);
      r.set_follower(true);
    }
  }

  struct Delivered {
    std::string to, type;
    absl::Status status;
  };
  // Delivers every queued delivery to tenants of the test until none is left.
  std::vector<Delivered> Pump() {
    std::vector<Delivered> out;
    for (int round = 0; round < 20; ++round) {
      auto r = pool_->Query(
          "UPDATE deliveries d SET state = 'D' FROM actions a WHERE d.state = 'Q' AND a.tn_id = d.tn_id "
          "AND a.a_id = d.a_id RETURNING d.recipient, a.token, coalesce(d.related, '{}'), a.type");
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || r->empty()) break;
      for (const auto& row : r->rows) {
        for (const Tenant& t : {kAlice, kBob, kCarol, kDave}) {
          if (t.id_tag != row.Str(0)) continue;
          auto got = pipeline_->Receive(t, row.Str(1), ParseTextArray(row.Str(2)), false);
          out.push_back({t.id_tag, row.Str(3), got.status()});
        }
      }
    }
    return out;
  }

  std::optional<ActionRow> Held(const Tenant& t, const std::string& id) { return *store_->Find(t.tn_id, id); }
  std::optional<ActionRow> ByKey(const Tenant& t, const std::string& key) {
    return *store_->LatestByKey(t.tn_id, key);
  }
  int64_t Count(const std::string& sql, const std::vector<db::Param>& params = {}) {
    auto r = pool_->Query(sql, params);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->rows[0].Int(0) : -1;
  }

  ActionRow Create(const Tenant& t, CreateInput in) {
    auto row = pipeline_->Create(t, in);
    EXPECT_TRUE(row.ok()) << row.status();
    return row.ok() ? *row : ActionRow{};
  }
  ActionRow Conv(const Tenant& t, const std::string& flags = "") {
    CreateInput in;
    in.type = "CONV";
    in.content = json{{"name", "group"}};
    in.flags = flags;
    return Create(t, in);
  }
  ActionRow Msg(const Tenant& t, const std::string& parent, const std::string& text) {
    CreateInput in;
    in.type = "MSG";
    in.parent_id = parent;
    in.content = text;
    return Create(t, in);
  }
  // A token signed by `t` without going through its Create (what a hostile peer sends).
  std::string Forge(const Tenant& t, const std::string& type, const std::string& p, const std::string& aud,
                    const std::string& sub, const std::string& c_json) {
    cloudillo::v1::ActionClaims c;
    c.set_t(type);
    c.set_p(p);
    c.set_aud(aud);
    c.set_sub(sub);
    c.set_c_json(c_json);
    c.set_iat(absl::ToUnixSeconds(clock_.Now()));
    auto token = pipeline_->Sign(t.tn_id, c, 0);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : "";
  }
  // Invites `who` to `conv`, delivers, and has `who` accept.
  void InviteAndJoin(const ActionRow& conv, const Tenant& who, const std::string& role = "member") {
    CreateInput invt;
    invt.type = "INVT";
    invt.audience = who.id_tag;
    invt.subject = conv.action_id;
    invt.content = json{{"role", role}};
    ActionRow row = Create(kAlice, invt);
    Pump();
    auto theirs = Held(who, row.action_id);
    ASSERT_TRUE(theirs);
    EXPECT_EQ(theirs->status, "C");
    ASSERT_TRUE(pipeline_->Accept(who, row.action_id).ok());
    Pump();
  }

  FakeClock clock_{absl::Now()};
  std::shared_ptr<db::Pool> pool_;
  std::shared_ptr<cache::Redis> redis_;
  FakeIdentity identity_;
  std::unique_ptr<rpc::RpcServer> server_;
  std::unique_ptr<ActionStore> store_;
  std::unique_ptr<Pipeline> pipeline_;
};

TEST(SubscriptionRules, RolesAndTheirRequirements) {
  ActionRow subs;
  EXPECT_EQ(RoleOf(subs), SubsRole::kMember);  // no content
  subs.content = R"({"role":"admin"})";
  EXPECT_EQ(RoleOf(subs), SubsRole::kAdmin);
  subs.content = R"({"role":"observer"})";
  EXPECT_EQ(RoleOf(subs), SubsRole::kObserver);
  for (const char* hostile : {"{", "[]", R"({"role":5})", R"({"role":"root"})", "\"admin\""}) {
    subs.content = hostile;
    EXPECT_EQ(RoleOf(subs), SubsRole::kMember) << hostile;
  }
  EXPECT_EQ(RequiredRole("MSG", ""), SubsRole::kMember);
  EXPECT_EQ(RequiredRole("INVT", ""), SubsRole::kModerator);
  EXPECT_EQ(RequiredRole("SUBS", "UPD"), SubsRole::kAdmin);
  EXPECT_EQ(RequiredRole("SUBS", ""), SubsRole::kObserver);
  EXPECT_EQ(DefaultFlags("CONV"), "rco");
  EXPECT_EQ(DefaultFlags("POST"), "");
  EXPECT_TRUE(IsIdentityRef("@club.test"));
  EXPECT_FALSE(IsIdentityRef("@"));
  EXPECT_FALSE(IsIdentityRef("a1~x"));
}

TEST_F(PipelineTest, ConvMakesItsCreatorAnAdminMember) {
  ActionRow conv = Conv(kAlice);
  EXPECT_EQ(conv.flags, "rco");
  EXPECT_EQ(conv.visibility, "S");
  auto subs = ByKey(kAlice, "SUBS:" + conv.action_id + ":alice.test");
  ASSERT_TRUE(subs);
  EXPECT_EQ(subs->status, "A");
  EXPECT_EQ(RoleOf(*subs), SubsRole::kAdmin);
  EXPECT_EQ(subs->audience, "alice.test");
  // Nothing leaves the node: the CONV has no audience and no member yet.
  EXPECT_EQ(Count("SELECT count(*) FROM deliveries"), 0);
}

TEST_F(PipelineTest, MsgNeedsAMembershipOnReceiveAndOnCreate) {
  Connect(kAlice, kBob);
  ActionRow conv = Conv(kAlice);
  // bob never joined: his MSG into alice's CONV is refused, whatever the relationship.
  std::string msg = Forge(kBob, "MSG", conv.action_id, "alice.test", "", "\"hi\"");
  EXPECT_EQ(pipeline_->Receive(kAlice, msg, {}, false).status().code(), absl::StatusCode::kPermissionDenied);
  // A CONV alice does not hold: retried later (it may be on its way).
  std::string elsewhere = Forge(kBob, "MSG", "a1~unknown", "alice.test", "", "\"hi\"");
  EXPECT_EQ(pipeline_->Receive(kAlice, elsewhere, {}, false).status().code(), absl::StatusCode::kNotFound);
  // A direct message has no target and no gate.
  std::string dm = Forge(kBob, "MSG", "", "alice.test", "", "\"hi\"");
  EXPECT_TRUE(pipeline_->Receive(kAlice, dm, {}, false).ok());
  // bob cannot create one either: he does not even hold the CONV.
  CreateInput in;
  in.type = "MSG";
  in.parent_id = conv.action_id;
  in.content = "hi";
  EXPECT_FALSE(pipeline_->Create(kBob, in).ok());
  // The creator passes without a SUBS of its own on the receiving side.
  ActionRow own = Msg(kAlice, conv.action_id, "welcome");
  EXPECT_EQ(own.audience, "alice.test");
  // An observer may read but not write.
  std::string observer = Forge(kBob, "SUBS", "", "alice.test", conv.action_id, R"({"role":"observer"})");
  ASSERT_TRUE(pipeline_->Receive(kAlice, observer, {}, true).ok());  // vouched: stored A
  EXPECT_EQ(ByKey(kAlice, "SUBS:" + conv.action_id + ":bob.test")->status, "A");
  EXPECT_EQ(
      pipeline_->Receive(kAlice, Forge(kBob, "MSG", conv.action_id, "alice.test", "", "\"x\""), {}, false)
          .status()
          .code(),
      absl::StatusCode::kPermissionDenied);
}

TEST_F(PipelineTest, ClosedConvJoinsThroughAnInvitationAndRelaysToEveryMember) {
  Connect(kAlice, kBob);
  Connect(kAlice, kCarol);
  ActionRow conv = Conv(kAlice);
  // A SUBS with no invitation into a closed CONV rests at D and grants nothing.
  CreateInput subs;
  subs.type = "SUBS";
  subs.audience = "alice.test";
  subs.subject = conv.action_id;
  ActionRow uninvited = Create(kDave, subs);
  Pump();
  ASSERT_TRUE(Held(kAlice, uninvited.action_id));
  EXPECT_EQ(Held(kAlice, uninvited.action_id)->status, "D");
  EXPECT_EQ(*pipeline_->subscriptions().Subscribers(kAlice.tn_id, conv.action_id),
            std::vector<std::string>{"alice.test"});

  InviteAndJoin(conv, kBob);
  // The INVT carried the CONV; bob's SUBS was accepted at alice's and used the INVT up.
  ASSERT_TRUE(Held(kBob, conv.action_id));
  EXPECT_EQ(Count("SELECT count(*) FROM actions WHERE tn_id = 1 AND type = 'INVT' AND status = 'A'"), 0);
  auto bob_subs = ByKey(kAlice, "SUBS:" + conv.action_id + ":bob.test");
  ASSERT_TRUE(bob_subs);
  EXPECT_EQ(bob_subs->status, "A");
  InviteAndJoin(conv, kCarol);
  EXPECT_EQ(*pipeline_->subscriptions().Subscribers(kAlice.tn_id, conv.action_id),
            (std::vector<std::string>{"alice.test", "bob.test", "carol.test"}));
  // carol learnt the roster from before her: alice's SUBS raw, bob's under alice's APRV.
  EXPECT_EQ(ByKey(kCarol, "SUBS:" + conv.action_id + ":alice.test")->status, "A");
  EXPECT_EQ(ByKey(kCarol, "SUBS:" + conv.action_id + ":bob.test")->status, "A");
  // And bob learnt of carol through alice's vouch.
  EXPECT_EQ(ByKey(kBob, "SUBS:" + conv.action_id + ":carol.test")->status, "A");

  // bob writes: the MSG goes home to alice, who vouches for it to every member, so
  // carol, who has no relationship with bob, holds it too.
  ActionRow msg = Msg(kBob, conv.action_id, "hello all");
  EXPECT_EQ(msg.audience, "alice.test");
  auto got = Pump();
  ASSERT_TRUE(Held(kAlice, msg.action_id));
  EXPECT_EQ(Held(kAlice, msg.action_id)->status, "A");
  ASSERT_TRUE(Held(kCarol, msg.action_id));
  EXPECT_EQ(Held(kCarol, msg.action_id)->status, "A");
  EXPECT_EQ(Count("SELECT count(*) FROM actions WHERE tn_id = 1 AND type = 'APRV' AND subject = $1",
                  {db::P(msg.action_id)}),
            1);
  // alice's own MSG is fanned out raw to both members.
  ActionRow mine = Msg(kAlice, conv.action_id, "hi both");
  Pump();
  EXPECT_TRUE(Held(kBob, mine.action_id));
  EXPECT_TRUE(Held(kCarol, mine.action_id));
  // A comment under bob's MSG belongs to the CONV too: home, then to every member,
  // and so does the home's STAT of the MSG's counters (never to plain followers).
  identity_.Rel(kAlice.tn_id, "dave.test").set_follower(true);
  CreateInput cmnt;
  cmnt.type = "CMNT";
  cmnt.parent_id = msg.action_id;
  cmnt.content = "+1";
  ActionRow comment = Create(kBob, cmnt);
  EXPECT_EQ(comment.audience, "alice.test");
  Pump();
  ASSERT_TRUE(Held(kCarol, comment.action_id));
  EXPECT_EQ(Held(kCarol, comment.action_id)->status, "A");
  EXPECT_EQ(Held(kCarol, msg.action_id)->comments, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM deliveries WHERE tn_id = 1 AND recipient = 'dave.test'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM actions WHERE tn_id = 1 AND type = 'STAT' AND parent_id = $1",
                  {db::P(msg.action_id)}),
            1);
  // A member who leaves can no longer write.
  CreateInput leave;
  leave.type = "SUBS";
  leave.sub_type = "DEL";
  leave.audience = "alice.test";
  leave.subject = conv.action_id;
  Create(kBob, leave);
  Pump();
  EXPECT_EQ(
      pipeline_->Receive(kAlice, Forge(kBob, "MSG", conv.action_id, "alice.test", "", "\"x\""), {}, false)
          .status()
          .code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(*pipeline_->subscriptions().Subscribers(kAlice.tn_id, conv.action_id),
            (std::vector<std::string>{"alice.test", "carol.test"}));
}

TEST_F(PipelineTest, OpenConvAcceptsAStrangerAndItsVouchPassesUnderR3) {
  ActionRow conv = Conv(kAlice, "O");
  EXPECT_EQ(conv.visibility, "S");  // O never promotes S
  // dave has no relationship with alice; he got the CONV some other way.
  ASSERT_TRUE(pipeline_->Receive(kDave, conv.token, {}, true).ok());
  CreateInput subs;
  subs.type = "SUBS";
  subs.audience = "alice.test";
  subs.subject = conv.action_id;
  ActionRow joined = Create(kDave, subs);
  auto got = Pump();
  EXPECT_EQ(Held(kAlice, joined.action_id)->status, "A");
  // alice's vouching APRV reached dave although he neither follows nor connects (R3).
  bool aprv_ok = false;
  for (const auto& r : got)
    if (r.to == "dave.test" && r.type == "APRV") aprv_ok = r.status.ok();
  EXPECT_TRUE(aprv_ok);
  // An APRV from someone who does not own the CONV gets no such pass.
  std::string fake = Forge(kBob, "APRV", conv.action_id, "", joined.action_id, "");
  EXPECT_EQ(pipeline_->Receive(kDave, fake, {}, false).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(PipelineTest, InvitationsNeedAModeratorAndReachTheSubjectOwner) {
  Connect(kAlice, kBob);
  Connect(kBob, kCarol);
  ActionRow conv = Conv(kAlice);
  InviteAndJoin(conv, kBob);
  // bob is a member, not a moderator: he may not invite.
  CreateInput invt;
  invt.type = "INVT";
  invt.audience = "carol.test";
  invt.subject = conv.action_id;
  EXPECT_EQ(pipeline_->Create(kBob, invt).status().code(), absl::StatusCode::kPermissionDenied);
  // A moderator may, and the INVT goes to the invitee and to the CONV's home (alice),
  // which keeps it at A for the SUBS that follows; the invitee's copy rests at C.
  // An invitation names the role: alice invites bob again, as a moderator.
  InviteAndJoin(conv, kBob, "moderator");
  ASSERT_EQ(RoleOf(*ByKey(kAlice, "SUBS:" + conv.action_id + ":bob.test")), SubsRole::kModerator);
  ActionRow sent = Create(kBob, invt);
  Pump();
  ASSERT_TRUE(Held(kAlice, sent.action_id));
  EXPECT_EQ(Held(kAlice, sent.action_id)->status, "A");
  ASSERT_TRUE(Held(kCarol, sent.action_id));
  EXPECT_EQ(Held(kCarol, sent.action_id)->status, "C");
}

TEST_F(PipelineTest, NoMemberRaisesItsOwnRole) {
  Connect(kAlice, kBob);
  Connect(kAlice, kCarol);
  ActionRow conv = Conv(kAlice);
  InviteAndJoin(conv, kBob);
  const std::string key = "SUBS:" + conv.action_id + ":bob.test";
  // bob's node refuses an update that names a role above his.
  CreateInput upd;
  upd.type = "SUBS";
  upd.sub_type = "UPD";
  upd.audience = "alice.test";
  upd.subject = conv.action_id;
  upd.content = json{{"role", "admin"}};
  EXPECT_EQ(pipeline_->Create(kBob, upd).status().code(), absl::StatusCode::kPermissionDenied);
  // Signed by hand and sent home, it is turned down and his membership stays a member's.
  std::string forged = Forge(kBob, "SUBS:UPD", "", "alice.test", conv.action_id, R"({"role":"admin"})");
  ASSERT_TRUE(pipeline_->Receive(kAlice, forged, {}, false).ok());
  EXPECT_EQ(Held(kAlice, crypto::ActionId(forged))->status, "D");
  EXPECT_EQ(RoleOf(*ByKey(kAlice, key)), SubsRole::kMember);
  // Stepping down is his own business.
  upd.content = json{{"role", "observer"}};
  ActionRow down = Create(kBob, upd);
  Pump();
  EXPECT_EQ(Held(kAlice, down.action_id)->status, "A");
  EXPECT_EQ(RoleOf(*ByKey(kAlice, key)), SubsRole::kObserver);
  // A stranger joining an open group as its admin is turned down; as a member, let in.
  ActionRow open = Conv(kAlice, "O");
  ASSERT_TRUE(pipeline_->Receive(kCarol, open.token, {}, true).ok());
  std::string grab = Forge(kCarol, "SUBS", "", "alice.test", open.action_id, R"({"role":"admin"})");
  ASSERT_TRUE(pipeline_->Receive(kAlice, grab, {}, false).ok());
  EXPECT_EQ(Held(kAlice, crypto::ActionId(grab))->status, "D");
  CreateInput join;
  join.type = "SUBS";
  join.audience = "alice.test";
  join.subject = open.action_id;
  ActionRow joined = Create(kCarol, join);
  Pump();
  EXPECT_EQ(Held(kAlice, joined.action_id)->status, "A");
  // A moderator's invitation naming an admin is void at the home.
  InviteAndJoin(conv, kCarol, "moderator");
  std::string invt = Forge(kCarol, "INVT", "", "dave.test", conv.action_id, R"({"role":"admin"})");
  ASSERT_TRUE(pipeline_->Receive(kAlice, invt, {}, false).ok());
  EXPECT_EQ(Held(kAlice, crypto::ActionId(invt))->status, "D");
}

TEST_F(PipelineTest, TheHomeIgnoresAnInvitationFromAPlainMember) {
  Connect(kAlice, kBob);
  Connect(kAlice, kCarol);
  ActionRow conv = Conv(kAlice);
  InviteAndJoin(conv, kBob);
  // bob's node would refuse it, so he signs the INVT himself and sends it straight home.
  std::string invt = Forge(kBob, "INVT", "", "carol.test", conv.action_id, R"({"role":"member"})");
  ASSERT_TRUE(pipeline_->Receive(kAlice, invt, {}, false).ok());
  EXPECT_EQ(Held(kAlice, crypto::ActionId(invt))->status, "D");
  // carol's SUBS on the strength of it is turned down.
  CreateInput subs;
  subs.type = "SUBS";
  subs.audience = "alice.test";
  subs.subject = conv.action_id;
  ActionRow joined = Create(kCarol, subs);
  Pump();
  EXPECT_EQ(Held(kAlice, joined.action_id)->status, "D");
}

TEST_F(PipelineTest, ARepostReachesTheOriginalsOwnerWithTheOriginal) {
  Connect(kAlice, kBob);
  CreateInput post;
  post.type = "POST";
  post.content = "public";
  post.visibility = "P";
  ActionRow original = Create(kAlice, post);
  Pump();
  ASSERT_TRUE(Held(kBob, original.action_id));
  CreateInput repost;
  repost.type = "REPOST";
  repost.audience = "bob.test";
  repost.subject = original.action_id;
  ActionRow boost = Create(kBob, repost);
  auto d = pool_->Query("SELECT recipient, related FROM deliveries WHERE tn_id = 2 AND a_id = $1",
                        {db::P(boost.a_id)});
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->rows.size(), 1u);
  EXPECT_EQ(d->rows[0].Str(0), "alice.test");
  EXPECT_EQ(ParseTextArray(d->rows[0].Str(1)), std::vector<std::string>{original.token});
}

TEST_F(PipelineTest, AnInvitationIntoACommunityTurnsTheInviteesConnIntoAMembership) {
  // carol plays the community, bob one of its moderators.
  Connect(kBob, kCarol);
  Connect(kBob, kDave);
  CreateInput invt;
  invt.type = "INVT";
  invt.audience = "dave.test";
  invt.subject = "@carol.test";
  ActionRow sent = Create(kBob, invt);
  Pump();
  ASSERT_TRUE(Held(kCarol, sent.action_id));
  EXPECT_EQ(Held(kCarol, sent.action_id)->status, "A");  // the community keeps it
  ASSERT_TRUE(Held(kDave, sent.action_id));
  EXPECT_EQ(Held(kDave, sent.action_id)->status, "C");
  // An uninvited request waits for the community (connection_mode default).
  CreateInput conn;
  conn.type = "CONN";
  conn.audience = "carol.test";
  ActionRow uninvited = Create(kAlice, conn);
  Pump();
  EXPECT_EQ(Held(kCarol, uninvited.action_id)->status, "C");
  // dave accepts: his CONN is answered at once and he becomes a contributor.
  ASSERT_TRUE(pipeline_->Accept(kDave, sent.action_id).ok());
  Pump();
  auto acc = ByKey(kDave, "CONN:carol.test:dave.test");
  ASSERT_TRUE(acc);
  EXPECT_EQ(acc->full_type(), "CONN:ACC");
  EXPECT_EQ(acc->status, "A");
  EXPECT_EQ(identity_.Rel(kCarol.tn_id, "dave.test").roles(), "contributor");
  EXPECT_TRUE(identity_.Rel(kCarol.tn_id, "dave.test").connected());
  EXPECT_EQ(Held(kCarol, sent.action_id)->status, "D");  // used up
}

TEST_F(PipelineTest, AutoApproveVouchesForAConnectedWallPostWhenTheSettingSaysSo) {
  Connect(kAlice, kBob);
  identity_.Rel(kAlice.tn_id, "carol.test").set_follower(true);
  CreateInput post;
  post.type = "POST";
  post.audience = "alice.test";
  post.content = "on your wall";
  // Setting off (the default): no APRV.
  ActionRow first = Create(kBob, post);
  Pump();
  EXPECT_TRUE(Held(kAlice, first.action_id));
  EXPECT_EQ(Count("SELECT count(*) FROM actions WHERE tn_id = 1 AND type = 'APRV'"), 0);
  identity_.settings[{kAlice.tn_id, "profile.auto_approve_actions"}] = "true";
  ActionRow second = Create(kBob, post);
  Pump();
  auto aprv = pool_->Query(
      "SELECT a.audience, a.subject, a.visibility, d.recipient, d.related FROM actions a JOIN deliveries d "
      "ON d.tn_id = a.tn_id AND d.a_id = a.a_id WHERE a.tn_id = 1 AND a.type = 'APRV' ORDER BY d.recipient");
  ASSERT_TRUE(aprv.ok()) << aprv.status();
  ASSERT_EQ(aprv->rows.size(), 2u);
  EXPECT_EQ(aprv->rows[0].Str(0), "bob.test");
  EXPECT_EQ(aprv->rows[0].Str(1), second.action_id);
  EXPECT_EQ(aprv->rows[0].Str(2), "F");
  // The POST is broadcast, so its APRV goes to alice's followers carrying the POST.
  EXPECT_EQ(aprv->rows[0].Str(3), "bob.test");
  EXPECT_EQ(aprv->rows[1].Str(3), "carol.test");
  EXPECT_EQ(ParseTextArray(aprv->rows[1].Str(4)), std::vector<std::string>{second.token});
  // Not connected: nothing, whatever the setting.
  identity_.Rel(kAlice.tn_id, "dave.test").set_following(true);
  identity_.Rel(kDave.tn_id, "alice.test").set_following(true);
  ActionRow stranger = Create(kDave, post);
  Pump();
  EXPECT_TRUE(Held(kAlice, stranger.action_id));
  EXPECT_EQ(Count("SELECT count(*) FROM actions WHERE tn_id = 1 AND type = 'APRV'"), 1);
}

// The files a new action attaches are opened to its visibility before any delivery
// exists; a failure to open them does not stop the action.
TEST_F(PipelineTest, ANewActionOpensItsAttachmentsFirst) {
  Connect(kAlice, kBob);
  const std::string file = "f1~Qo2E3G8TJZ2HTGhVlrtTDBpvBGOp6gfGhq4QmD6Z46w";
  std::vector<std::string> seen;
  int64_t deliveries_then = -1;
  pipeline_->RaiseAttachmentsWith(
      [&](const Tenant& t, const std::vector<std::string>& ids, const std::string& visibility) {
        EXPECT_EQ(t.tn_id, kAlice.tn_id);
        seen = ids;
        seen.push_back(visibility);
        auto r = pool_->Query("SELECT count(*) FROM deliveries WHERE tn_id = $1", {db::P(kAlice.tn_id)});
        deliveries_then = r.ok() ? r->rows[0].Int(0) : -2;
        return absl::UnavailableError("blob is down");
      });
  CreateInput post;
  post.type = "POST";
  post.content = "with a file";
  post.attachments = {file};
  post.visibility = "F";
  ActionRow row = Create(kAlice, post);
  EXPECT_EQ(seen, (std::vector<std::string>{file, "F"}));
  EXPECT_EQ(deliveries_then, 0);
  EXPECT_FALSE(row.action_id.empty());
}

// §2.8 step 11: attachments are fetched before the row is stored, from the audience
// when that is another node, else from the issuer; a refusal or an outage stores nothing.
TEST_F(PipelineTest, AttachmentsAreFetchedFromTheirSourceBeforeTheRowIsStored) {
  Connect(kAlice, kBob);
  std::vector<std::pair<std::string, std::vector<std::string>>> calls;
  absl::Status answer = absl::DataLossError("the remote bytes do not match");
  pipeline_->FetchAttachmentsWith([&](const Tenant& t, const std::string& source,
                                      const std::vector<std::string>& ids, const std::string& visibility) {
    EXPECT_EQ(t.tn_id, kAlice.tn_id);
    EXPECT_EQ(visibility, "");  // the token's own v: none here, so the copies stay direct
    calls.emplace_back(source, ids);
    return answer;
  });
  const std::string file = "f1~Qo2E3G8TJZ2HTGhVlrtTDBpvBGOp6gfGhq4QmD6Z46w";
  auto post = [&](const std::string& aud) {
    cloudillo::v1::ActionClaims c;
    c.set_t("POST");
    c.set_aud(aud);
    c.set_c_json("\"with a file\"");
    c.add_a(file);
    c.set_iat(absl::ToUnixSeconds(clock_.Now()));
    auto token = pipeline_->Sign(kBob.tn_id, c, 0);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : "";
  };
  std::string token = post("");
  EXPECT_EQ(pipeline_->Receive(kAlice, token, {}, false).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(Held(kAlice, ActionIdOf(token)));
  answer = absl::UnavailableError("bob's node is down");
  EXPECT_EQ(pipeline_->Receive(kAlice, token, {}, false).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(Held(kAlice, ActionIdOf(token)));
  answer = absl::OkStatus();
  ASSERT_TRUE(pipeline_->Receive(kAlice, token, {}, false).ok());
  EXPECT_TRUE(Held(kAlice, ActionIdOf(token)));
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[2].first, "bob.test");
  EXPECT_EQ(calls[2].second, std::vector<std::string>{file});
  // A post to a community on another node: its files come from there; addressed to us:
  // from the issuer.
  ASSERT_TRUE(pipeline_->Receive(kAlice, post("carol.test"), {}, false).ok());
  EXPECT_EQ(calls.back().first, "carol.test");
  ASSERT_TRUE(pipeline_->Receive(kAlice, post("alice.test"), {}, false).ok());
  EXPECT_EQ(calls.back().first, "bob.test");
  // A duplicate is not fetched again.
  size_t before = calls.size();
  ASSERT_TRUE(pipeline_->Receive(kAlice, token, {}, false).ok());
  EXPECT_EQ(calls.size(), before);
}

TEST_F(PipelineTest, TenantsSeeOnlyTheirOwnRoster) {
  Connect(kAlice, kBob);
  ActionRow conv = Conv(kAlice);
  InviteAndJoin(conv, kBob);
  // The same CONV id asked of another tenant's rows finds nobody there.
  EXPECT_TRUE(pipeline_->subscriptions().Subscribers(kCarol.tn_id, conv.action_id)->empty());
  EXPECT_EQ(pipeline_->subscriptions().CheckGate(kCarol.tn_id, "bob.test", "MSG", "", conv.action_id).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cloudillo::action
