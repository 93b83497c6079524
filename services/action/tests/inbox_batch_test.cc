// The inbox verifier's per-lease batching: one lookup of a lease's action ids
// (ActionStore::FindMany, KnownActions) with the dedupe of E22 unchanged, and the
// lease's bus messages published together (BusBatch) in the order they were made,
// none for a token whose commit failed. Real PostgreSQL and Redis; tenant ids are
// unique per run because Redis (and so the bus channels) is shared between runs.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "cloudillo/db/migrate.h"
#include "cloudillo/rpc/server.h"
#include "cloudillo/testing/test_env.h"
#include "fake_identity.h"
#include "inbox_worker.h"
#include "pipeline.h"
#include "receive_batch.h"
#include "token_claims.h"

namespace cloudillo::action {
const std::vector<db::Migration>& Migrations();
namespace {

using json = nlohmann::json;

int64_t RunBase() { return 1'000'000 + int64_t(getpid() % 100000) * 10; }

bool Eventually(const std::function<bool()>& f, absl::Duration limit = absl::Seconds(20)) {
  absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

// What the bus channels of the test's tenants carried, in arrival order.
class BusTap {
 public:
  BusTap(const std::string& redis_addr, const std::vector<int64_t>& tenants) {
    std::vector<std::string> channels;
    for (int64_t tn : tenants) channels.push_back("bus:" + std::to_string(tn));
    cache::RedisConfig rc;
    rc.addr = redis_addr;
    sub_ = std::make_unique<cache::Subscriber>(
        rc, channels,
        [this](const std::string& channel, const std::string& message) {
          json m = json::parse(message, nullptr, false);
          std::lock_guard<std::mutex> lock(mu_);
          got_.emplace_back(channel, m.is_object() ? m["data"].value("actionId", "") : "");
        },
        [] {});
    sub_->Start();
  }
  bool connected() const { return sub_->connected(); }
  // The action ids published on `bus:<tn>`, in order.
  std::vector<std::string> Ids(int64_t tn) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (auto& [c, id] : got_)
      if (c == "bus:" + std::to_string(tn)) out.push_back(id);
    return out;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_.size();
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> got_;
  std::unique_ptr<cache::Subscriber> sub_;
};

class InboxBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_url_ = testing::CreateTestDatabase();
    auto pool = db::Pool::Connect(db_url_, 8, "action");
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *pool;
    ASSERT_TRUE(db::Migrate(*pool_, "action", Migrations()).ok());
    cache::RedisConfig rc;
    rc.addr = testing::GetTestEnv().redis_addr;
    redis_ = cache::Redis::Create(rc);
    for (const Tenant& t : {alice_, bob_, carol_}) identity_.AddTenant(t.tn_id, t.id_tag);
    // Alice and Carol follow Bob: his posts pass the relationship gate.
    identity_.Rel(alice_.tn_id, bob_.id_tag).set_following(true);
    identity_.Rel(carol_.tn_id, bob_.id_tag).set_following(true);
    server_ = std::make_unique<rpc::RpcServer>(std::make_shared<prometheus::Registry>());
    server_->AddService(&identity_);
    ASSERT_TRUE(server_->Start("", nullptr).ok());
    store_ = std::make_unique<ActionStore>(pool_);
    commits_ = std::make_unique<TxBatcher>(*pool_, 32, 1024, nullptr);
    store_->BatchCommits(commits_.get());
    pipeline_ =
        std::make_unique<Pipeline>(*store_, cloudillo::v1::Identity::NewStub(server_->InProcessChannel()),
                                   std::make_shared<FakeKeys>(identity_), redis_, clock_);
    pow_ = std::make_unique<PowGate>(redis_);
  }
  void TearDown() override {
    if (worker_) worker_->Stop();
    if (commits_) commits_->Stop();
    if (server_) server_->Shutdown(absl::Seconds(1));
  }

  std::string Post(const std::string& text, const std::string& type = "POST",
                   const std::string& parent = "") {
    cloudillo::v1::ActionClaims c;
    c.set_t(type);
    c.set_c_json(json(text).dump());
    c.set_p(parent);
    c.set_iat(absl::ToUnixSeconds(clock_.Now()));
    auto token = pipeline_->Sign(bob_.tn_id, c, 0);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : "";
  }
  InboundItem To(const Tenant& t, const std::string& token) { return {t.tn_id, t.id_tag, token, {}, ""}; }

  // Queues `items` (in this order: one lease when batch allows) and runs one verifier
  // until the queue holds `left` rows.
  void Verify(const std::vector<InboundItem>& items, int batch, int64_t left = 0) {
    ASSERT_TRUE(store_->EnqueueInboundBatch(items).ok());
    InboxOptions options;
    options.threads = 1;
    options.batch = batch;
    options.idle_poll = absl::Milliseconds(20);
    worker_ = std::make_unique<InboxWorker>(*store_, *pipeline_, *pow_, options, &registry_);
    worker_->Start();
    ASSERT_TRUE(Eventually([&] { return Count("SELECT count(*) FROM inbound") == left; }));
    worker_->Stop();
  }
  int64_t Count(const std::string& sql, const std::vector<db::Param>& params = {}) {
    auto r = pool_->Query(sql, params);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->rows[0].Int(0) : -1;
  }
  int64_t Stored(const Tenant& t, const std::string& token) {
    return Count("SELECT count(*) FROM actions WHERE tn_id = $1 AND action_id = $2",
                 {db::P(t.tn_id), db::P(ActionIdOf(token))});
  }
  std::string Metrics() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }

  const Tenant alice_{RunBase() + 1, "alice.test"}, bob_{RunBase() + 2, "bob.test"},
      carol_{RunBase() + 3, "carol.test"};
  FakeClock clock_{absl::Now()};
  prometheus::Registry registry_;
  std::string db_url_;
  std::shared_ptr<db::Pool> pool_;
  std::shared_ptr<cache::Redis> redis_;
  FakeIdentity identity_;
  std::unique_ptr<rpc::RpcServer> server_;
  std::unique_ptr<ActionStore> store_;
  std::unique_ptr<TxBatcher> commits_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<PowGate> pow_;
  std::unique_ptr<InboxWorker> worker_;
};

TEST_F(InboxBatchTest, FindManyAnswersEachTenantsOwnRowsOnce) {
  std::string token = Post("one"), other = Post("two");
  ASSERT_TRUE(pipeline_->Receive(alice_, token, {}, false).ok());
  std::string id = ActionIdOf(token);
  auto found = store_->FindMany({{alice_.tn_id, id},
                                 {carol_.tn_id, id},  // the same id under another tenant: not held
                                 {alice_.tn_id, id},  // asked twice, answered once
                                 {alice_.tn_id, ActionIdOf(other)},
                                 {alice_.tn_id, "a1~' OR true --"},
                                 {alice_.tn_id, "a1~\"},{\\"},
                                 {alice_.tn_id, ""},
                                 {-1, id}});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].first, alice_.tn_id);
  EXPECT_EQ((*found)[0].second.action_id, id);
  EXPECT_EQ((*found)[0].second.token, token);
  EXPECT_TRUE(store_->FindMany({}).ok());
}

// Insert writes its row first and supersedes by key after, so a duplicate action id
// (AlreadyExists) has written nothing, as CommitAtomic (no savepoint) requires.
TEST_F(InboxBatchTest, ADuplicateInsertSupersedesNothing) {
  auto insert = [&](const std::string& id, const std::string& key) {
    ActionRow row;
    row.action_id = id;
    row.type = "FLLW";
    row.issuer = bob_.id_tag;
    row.status = "A";
    row.key = key;
    row.token = "t";
    row.created_at = absl::ToUnixMicros(clock_.Now());
    return store_->CommitAtomic([&](db::Tx& tx) { return store_->Insert(tx, alice_.tn_id, row).status(); });
  };
  auto status_of = [&](const std::string& id) {
    auto r = store_->Find(alice_.tn_id, id);
    return r.ok() && *r ? (*r)->status : std::string("missing");
  };
  ASSERT_TRUE(insert("a1~old", "FLLW:bob").ok());
  ASSERT_TRUE(insert("a1~other", "FLLW:carol").ok());
  // Same action id as a row of another key: refused, and FLLW:bob stays as it was.
  EXPECT_TRUE(absl::IsAlreadyExists(insert("a1~other", "FLLW:bob")));
  EXPECT_EQ(status_of("a1~old"), "A");
  // A new row of the key supersedes the old one and not itself.
  ASSERT_TRUE(insert("a1~new", "FLLW:bob").ok());
  EXPECT_EQ(status_of("a1~old"), "D");
  EXPECT_EQ(status_of("a1~new"), "A");
  EXPECT_EQ(status_of("a1~other"), "A");
}

// What this process committed is verified from memory, without the claim query: with
// polling an hour apart, a row written by someone else stays queued meanwhile. On
// Stop, what memory still holds is handed back, due at once.
TEST_F(InboxBatchTest, RowsCommittedHereAreVerifiedFromMemoryAndHandedBackOnStop) {
  InboxOptions options;
  options.threads = 2;
  options.idle_poll = absl::Hours(1);
  worker_ = std::make_unique<InboxWorker>(*store_, *pipeline_, *pow_, options, &registry_);
  worker_->Start();
  // The first poll, at start, finds nothing; the next is an hour away.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string foreign = Post("written by another replica");
  ASSERT_TRUE(store_->EnqueueInboundBatch({To(alice_, foreign)}).ok());
  std::string mine = Post("posted here");
  ASSERT_TRUE(worker_->Enqueue(To(alice_, mine)).ok());
  ASSERT_TRUE(Eventually([&] { return Stored(alice_, mine) == 1; }));
  ASSERT_TRUE(Eventually([&] { return Count("SELECT count(*) FROM inbound") == 1; }));
  EXPECT_EQ(Stored(alice_, foreign), 0);
  worker_->Stop();

  // No verifier: the row waits in memory, leased; Stop makes it due.
  options.threads = 0;
  worker_ = std::make_unique<InboxWorker>(*store_, *pipeline_, *pow_, options, &registry_);
  worker_->Start();
  std::string held = Post("held");
  ASSERT_TRUE(worker_->Enqueue(To(alice_, held)).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM inbound WHERE next_at > now() + interval '1 minute'"), 1);
  worker_->Stop();
  EXPECT_EQ(Count("SELECT count(*) FROM inbound WHERE next_at <= now()"), 2);
}

// The queue's statements find their rows by key even when its statistics were taken
// while it was empty and a burst has filled it since: no statement reads it whole.
TEST_F(InboxBatchTest, AFullQueueAnalyzedEmptyIsNeverReadWhole) {
  auto one = db::Pool::Connect(db_url_, 1, "action");
  ASSERT_TRUE(one.ok()) << one.status();
  db::Pool& pool = **one;
  ActionStore store(*one);
  ASSERT_TRUE(pool.Query("INSERT INTO inbound (tn_id, tenant, token) SELECT 1, 'alice.test', 'x' "
                         "FROM generate_series(1, 60); DELETE FROM inbound; ANALYZE inbound")
                  .ok());
  for (int round = 0; round < 8; ++round) {  // past the point where a cached plan would be kept
    auto ids = store.EnqueueInboundBatch({To(alice_, "t1"), To(alice_, "t2")});
    ASSERT_TRUE(ids.ok()) << ids.status();
    ASSERT_TRUE(store.DeleteInbound({{alice_.tn_id, (*ids)[0]}}).ok());
    ASSERT_TRUE(store.ReleaseInbound({{alice_.tn_id, (*ids)[1]}}).ok());
  }
  ASSERT_TRUE(pool.Query("INSERT INTO inbound (tn_id, tenant, token, next_at) SELECT $1, 'alice.test', "
                         "repeat('t', 600), now() + interval '1 hour' FROM generate_series(1, 20000)",
                         {db::P(alice_.tn_id)})
                  .ok());
  auto ids = store.EnqueueInboundBatch({To(alice_, "a"), To(alice_, "b"), To(alice_, "c")});
  ASSERT_TRUE(ids.ok()) << ids.status();
  auto seq_rows_read = [&]() -> int64_t {
    if (!pool.Query("SELECT pg_stat_force_next_flush()").ok()) return -1;
    auto r = pool.Query(
        "SELECT pg_stat_clear_snapshot(), (SELECT seq_tup_read FROM pg_stat_user_tables "
        "WHERE relname = 'inbound' AND schemaname = 'action')");
    return r.ok() ? r->rows[0].Int(1) : -1;
  };
  int64_t before = seq_rows_read();
  ASSERT_TRUE(store.ReleaseInbound({{alice_.tn_id, (*ids)[2]}}).ok());
  ASSERT_TRUE(store.DeleteInbound({{alice_.tn_id, (*ids)[0]}, {alice_.tn_id, (*ids)[1]}}).ok());
  int64_t after = seq_rows_read();
  ASSERT_GE(before, 0);
  EXPECT_EQ(after - before, 0);
  EXPECT_EQ(
      Count("SELECT count(*) FROM inbound WHERE tn_id = $1 AND in_id = ANY($2::bigint[])",
            {db::P(alice_.tn_id), db::P(absl::StrCat("{", (*ids)[0], ",", (*ids)[1], ",", (*ids)[2], "}"))}),
      1);
}

TEST(KnownActions, EachEntryAnswersOnce) {
  KnownActions known;
  ActionRow row;
  row.action_id = "a1~x";
  known.Present(1, row);
  known.Absent(1, "a1~x");  // the row found wins over the default
  known.Absent(2, "a1~x");
  auto first = known.Take(1, "a1~x");
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->action_id, "a1~x");
  EXPECT_FALSE(known.Take(1, "a1~x"));  // a second copy asks the store
  auto other = known.Take(2, "a1~x");
  ASSERT_TRUE(other);
  EXPECT_FALSE(*other);  // looked up and not stored
  EXPECT_FALSE(known.Take(3, "a1~x"));
}

// Duplicates inside one lease (batch 32) and across leases (batch 1) end the same way:
// stored once per tenant, acknowledged (duplicate) otherwise, and the same action id
// under two tenants is two actions.
class InboxDedupeTest : public InboxBatchTest, public ::testing::WithParamInterface<int> {};

TEST_P(InboxDedupeTest, StoredOncePerTenant) {
  std::string twice = Post("sent twice"), earlier = Post("stored before"), once = Post("once");
  ASSERT_TRUE(pipeline_->Receive(alice_, earlier, {}, false).ok());
  // Carol's copy of `earlier` is hers to store: Alice's row must not answer for it.
  Verify({To(alice_, twice), To(carol_, twice), To(alice_, earlier), To(carol_, earlier), To(alice_, twice),
          To(alice_, once)},
         GetParam());
  EXPECT_EQ(Stored(alice_, twice), 1);
  EXPECT_EQ(Stored(carol_, twice), 1);
  EXPECT_EQ(Stored(alice_, earlier), 1);
  EXPECT_EQ(Stored(carol_, earlier), 1);
  EXPECT_EQ(Stored(alice_, once), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM actions"), 5);
  std::string m = Metrics();
  EXPECT_NE(m.find("cloudillo_inbox_received_total{result=\"accepted\"} 4"), std::string::npos) << m;
  EXPECT_NE(m.find("cloudillo_inbox_received_total{result=\"duplicate\"} 2"), std::string::npos) << m;
}

INSTANTIATE_TEST_SUITE_P(LeaseSizes, InboxDedupeTest, ::testing::Values(1, 32));

TEST_F(InboxBatchTest, BusBatchPublishesOnFlushInOrderPerTenant) {
  BusTap tap(testing::GetTestEnv().redis_addr, {alice_.tn_id, carol_.tn_id});
  ASSERT_TRUE(Eventually([&] { return tap.connected(); }));
  std::vector<std::string> a = {Post("a1"), Post("a2"), Post("a3")}, c = {Post("c1"), Post("c2")};
  {
    BusBatch bus(*pipeline_);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(pipeline_->Receive(alice_, a[size_t(i)], {}, false).ok());
      if (i < 2) ASSERT_TRUE(pipeline_->Receive(carol_, c[size_t(i)], {}, false).ok());
    }
    EXPECT_EQ(bus.pending(), 5u);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(tap.size(), 0u) << "published before the batch was flushed";
  }
  ASSERT_TRUE(Eventually([&] { return tap.size() == 5; }));
  EXPECT_EQ(tap.Ids(alice_.tn_id),
            (std::vector<std::string>{ActionIdOf(a[0]), ActionIdOf(a[1]), ActionIdOf(a[2])}));
  EXPECT_EQ(tap.Ids(carol_.tn_id), (std::vector<std::string>{ActionIdOf(c[0]), ActionIdOf(c[1])}));
  // Without a batch, a message goes out at once.
  std::string now = Post("unbatched");
  ASSERT_TRUE(pipeline_->Receive(alice_, now, {}, false).ok());
  ASSERT_TRUE(Eventually([&] { return tap.size() == 6; }));
  EXPECT_EQ(tap.Ids(alice_.tn_id).back(), ActionIdOf(now));
}

// One lease whose middle token's commit fails (a trigger refuses its row): its
// neighbours are stored and announced in lease order, it is neither stored nor
// announced, and its queue row stays for a retry.
TEST_F(InboxBatchTest, NothingPublishedForATokenWhoseCommitFailed) {
  ASSERT_TRUE(pool_
                  ->Query("CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS "
                          "$$ BEGIN RAISE EXCEPTION 'poisoned row'; END $$")
                  .ok());
  ASSERT_TRUE(pool_
                  ->Query("CREATE TRIGGER refuse_poison BEFORE INSERT ON actions FOR EACH ROW "
                          "WHEN (NEW.content LIKE '%poison%') EXECUTE FUNCTION refuse_poison()")
                  .ok());
  BusTap tap(testing::GetTestEnv().redis_addr, {alice_.tn_id});
  ASSERT_TRUE(Eventually([&] { return tap.connected(); }));
  std::string first = Post("first"), poison = Post("poison"), last = Post("last");
  Verify({To(alice_, first), To(alice_, poison), To(alice_, last)}, 32, 1);
  EXPECT_EQ(Stored(alice_, first), 1);
  EXPECT_EQ(Stored(alice_, poison), 0);
  EXPECT_EQ(Stored(alice_, last), 1);
  EXPECT_EQ(Count("SELECT attempts FROM inbound"), 1);
  ASSERT_TRUE(Eventually([&] { return tap.size() >= 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // One verifier stores in the order it works the lease: the a_ids give that order.
  auto stored =
      pool_->Query("SELECT action_id FROM actions WHERE tn_id = $1 ORDER BY a_id", {db::P(alice_.tn_id)});
  ASSERT_TRUE(stored.ok() && stored->rows.size() == 2);
  EXPECT_EQ(tap.Ids(alice_.tn_id),
            (std::vector<std::string>{stored->rows[0].Str(0), stored->rows[1].Str(0)}));
}

// Effect-free rows wait and are stored together at Flush(); a token that reads a waiting
// row (its parent, a second copy) or has effects of its own stores what waits first, so
// it sees the rows before it and is stored after them.
TEST_F(InboxBatchTest, ReceiveBatchStoresPlainRowsTogetherAndInOrder) {
  std::string p1 = Post("p1"), p2 = Post("p2"), p3 = Post("p3");
  std::string comment = Post("on p3", "CMNT", ActionIdOf(p3));
  std::string custom = Post("app data", "NOTE");
  std::vector<std::pair<std::string, absl::StatusOr<Received>>> outcomes;
  auto done = [&](const std::string& name) {
    return [&outcomes, name](const absl::StatusOr<Received>& r) { outcomes.emplace_back(name, r); };
  };
  {
    ReceiveBatch batch(*pipeline_, Durability::kReplayable);
    batch.Add(alice_, p1, {}, nullptr, done("p1"));
    batch.Add(alice_, p2, {}, nullptr, done("p2"));
    EXPECT_EQ(batch.waiting(), 2u);
    EXPECT_EQ(Stored(alice_, p1), 0) << "stored before the batch was flushed";
    // A second copy of a waiting token: the waiting rows go first, then it is a duplicate.
    batch.Add(alice_, p1, {}, nullptr, done("p1 again"));
    EXPECT_EQ(batch.waiting(), 0u);
    EXPECT_EQ(Stored(alice_, p1), 1);
    batch.Add(alice_, p3, {}, nullptr, done("p3"));
    batch.Add(carol_, p3, {}, nullptr, done("p3 for carol"));
    EXPECT_EQ(batch.waiting(), 2u);
    batch.Add(alice_, custom, {}, nullptr, done("custom"));
    EXPECT_EQ(batch.waiting(), 3u);
    // A comment on a waiting post: the post is stored before the comment is decided.
    batch.Add(alice_, comment, {}, nullptr, done("comment"));
    EXPECT_EQ(batch.waiting(), 0u);
    EXPECT_EQ(Stored(alice_, custom), 1);
  }
  std::vector<std::string> order;
  for (auto& [name, r] : outcomes) {
    ASSERT_TRUE(r.ok()) << name << ": " << r.status();
    EXPECT_EQ(*r, name == "p1 again" ? Received::kDuplicate : Received::kStored) << name;
    order.push_back(name);
  }
  EXPECT_EQ(order,
            (std::vector<std::string>{"p1", "p2", "p1 again", "p3", "p3 for carol", "custom", "comment"}));
  auto rows =
      pool_->Query("SELECT action_id, coalesce(root_id, '') FROM actions WHERE tn_id = $1 ORDER BY a_id",
                   {db::P(alice_.tn_id)});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->rows.size(), 5u);
  EXPECT_EQ(rows->rows[0].Str(0), ActionIdOf(p1));
  EXPECT_EQ(rows->rows[1].Str(0), ActionIdOf(p2));
  EXPECT_EQ(rows->rows[2].Str(0), ActionIdOf(p3));
  EXPECT_EQ(rows->rows[3].Str(0), ActionIdOf(custom));
  EXPECT_EQ(rows->rows[4].Str(0), ActionIdOf(comment));
  EXPECT_EQ(rows->rows[4].Str(1), ActionIdOf(p3)) << "the comment did not see its waiting parent";
  EXPECT_EQ(Stored(carol_, p3), 1);
}

// The batch's statement: rows of several tenants, an id stored before and an id twice
// answer 0 for what was not inserted; a row with a key is refused before any SQL.
TEST_F(InboxBatchTest, InsertManyAnswersEachRowsId) {
  auto row = [&](const std::string& id, const std::string& key = "") {
    ActionRow r;
    r.action_id = id;
    r.type = "POST";
    r.issuer = bob_.id_tag;
    r.status = "A";
    r.visibility = "F";
    r.key = key;
    r.token = "t";
    r.attachments = {"f1~a", "f1~\"b,\"}"};
    r.created_at = absl::ToUnixMicros(clock_.Now());
    return r;
  };
  ActionRow before = row("a1~before"), x = row("a1~x"), y = row("a1~y"), keyed = row("a1~k", "POST:k");
  ASSERT_TRUE(
      store_->CommitAtomic([&](db::Tx& tx) { return store_->Insert(tx, alice_.tn_id, before).status(); })
          .ok());
  std::vector<int64_t> ids;
  ASSERT_TRUE(store_
                  ->CommitAtomic([&](db::Tx& tx) -> absl::Status {
                    auto r = store_->InsertMany(tx, {{alice_.tn_id, &x},
                                                     {alice_.tn_id, &before},
                                                     {carol_.tn_id, &x},
                                                     {alice_.tn_id, &x},
                                                     {alice_.tn_id, &y}});
                    if (r.ok()) ids = *r;
                    return r.status();
                  })
                  .ok());
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_GT(ids[0], 0);
  EXPECT_EQ(ids[1], 0);
  EXPECT_GT(ids[2], 0);
  EXPECT_EQ(ids[3], 0);
  EXPECT_GT(ids[4], ids[0]);
  auto found = store_->Find(alice_.tn_id, "a1~x");
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_EQ((*found)->a_id, ids[0]);
  EXPECT_EQ((*found)->attachments, x.attachments);
  absl::Status refused = store_->CommitAtomic([&](db::Tx& tx) {
    return store_->InsertMany(tx, {{alice_.tn_id, &y}, {alice_.tn_id, &keyed}}).status();
  });
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_EQ(Count("SELECT count(*) FROM actions WHERE action_id = 'a1~k'"), 0);
}

}  // namespace
}  // namespace cloudillo::action
