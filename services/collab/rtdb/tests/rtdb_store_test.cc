// The engine against real PostgreSQL and Redis (tools/testenv): stored documents,
// queries, transactions under concurrency, live subscriptions across two "replicas"
// sharing the database and Redis, locks, and tenant isolation.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <latch>
#include <thread>

#include "cloudillo/cache/redis.h"
#include "cloudillo/core/random.h"
#include "cloudillo/db/migrate.h"
#include "cloudillo/testing/test_env.h"
#include "session.h"

namespace cloudillo::collab {
const std::vector<db::Migration>& Migrations();  // the service's list (V002: rtdb)
}

namespace cloudillo::collab::rtdb {

namespace {

using namespace std::chrono_literals;

Json J(const std::string& text) { return Json::parse(text); }

// PostgreSQL's jsonb does not keep key order: documents compare as unordered objects.
::testing::AssertionResult Same(const Json& a, const Json& b) {
  if (nlohmann::json::parse(Dump(a)) == nlohmann::json::parse(Dump(b))) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << Dump(a) << " != " << Dump(b);
}

// Runs posted work on one thread (aggregate recomputes).
class Worker {
 public:
  Worker() : thread_([this] { Run(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back(std::move(fn));
    }
    cv_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> l(mu_);
    while (true) {
      cv_.wait(l, [&] { return stop_ || !q_.empty(); });
      if (q_.empty()) return;
      auto fn = std::move(q_.front());
      q_.pop_front();
      l.unlock();
      fn();
      l.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool stop_ = false;
  std::thread thread_;
};

// What one connection's client receives.
class Client {
 public:
  void Push(std::string frame) {
    std::lock_guard<std::mutex> l(mu_);
    frames_.push_back(Json::parse(frame));
    cv_.notify_all();
  }
  // The first frame after `from` satisfying `pred`, waiting up to `timeout`.
  std::optional<Json> WaitFor(const std::function<bool(const Json&)>& pred,
                              std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> l(mu_);
    std::optional<Json> found;
    cv_.wait_for(l, timeout, [&] {
      for (const Json& f : frames_)
        if (pred(f)) {
          found = f;
          return true;
        }
      return false;
    });
    return found;
  }
  std::vector<Json> Changes(const std::string& sub_id) {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<Json> out;
    for (const Json& f : frames_)
      if (f["type"] == "change" && f["subscriptionId"] == sub_id) out.push_back(f["event"]);
    return out;
  }
  std::vector<Json> All() {
    std::lock_guard<std::mutex> l(mu_);
    return frames_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Json> frames_;
};

// One collab process: a hub (fanned out through Redis when `redis` is set) and sessions.
struct Replica {
  Replica(RtdbStore* store, const std::string& redis_addr) : store(store) {
    if (redis_addr.empty()) {
      hub = std::make_unique<RtdbHub>([this](const std::string& ch, std::string m) { hub->Deliver(ch, m); },
                                      Limits{});
      return;
    }
    cache::RedisConfig rc;
    rc.addr = redis_addr;
    redis = cache::Redis::Create(rc);
    hub = std::make_unique<RtdbHub>(
        [r = redis](const std::string& ch, std::string m) {
          r->CommandAsync({"PUBLISH", ch, std::move(m)}, [](absl::StatusOr<cache::Reply>) {});
        },
        Limits{});
    cache::Subscriber::Options opts;
    opts.patterns = {RtdbHub::kPattern};
    sub = std::make_unique<cache::Subscriber>(
        rc, std::vector<std::string>{},
        [this](const std::string& ch, const std::string& m) { hub->Deliver(ch, m); }, [] {}, opts);
    sub->Start();
  }
  ~Replica() {
    if (sub) sub->Stop();
  }
  bool Ready() {
    for (int i = 0; i < 250 && sub && !sub->connected(); ++i) std::this_thread::sleep_for(20ms);
    return !sub || sub->connected();
  }

  std::shared_ptr<RtdbSession> Open(Client& client, int64_t tn, const std::string& file, Access access,
                                    std::optional<std::string> id_tag = "alice.example") {
    SessionConfig c{tn, file, std::move(id_tag), RandomAlnum(24), access, false};
    SessionDeps d{store, hub.get(), [&client](std::string f) { client.Push(std::move(f)); },
                  [](int, std::string) {}, [this](std::function<void()> fn) { worker.Post(std::move(fn)); }};
    auto s = RtdbSession::Create(c, d);
    s->Start();
    return s;
  }

  RtdbStore* store;
  std::shared_ptr<cache::Redis> redis;
  std::unique_ptr<RtdbHub> hub;
  std::unique_ptr<cache::Subscriber> sub;
  Worker worker;
};

class RtdbStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pool = db::Pool::Connect(testing::CreateTestDatabase(), 6, "collab");
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = new std::shared_ptr<db::Pool>(*pool);
    ASSERT_TRUE(db::Migrate(**pool_, "collab", collab::Migrations()).ok());
  }
  void SetUp() override {
    store_ = std::make_unique<RtdbStore>(*pool_, Limits{});
    tn_ = 1000 + int64_t(std::hash<std::string>()(RandomAlnum(8)) % 1000000);
  }

  // Sends `frame` (its id set to a fresh number) and returns the answer.
  Json Call(RtdbSession& s, Client& c, Json frame) {
    const int64_t id = ++next_id_;
    frame["id"] = id;
    s.HandleText(Dump(frame));
    auto answer = c.WaitFor([&](const Json& f) { return f.contains("id") && f["id"] == id; }, 1s);
    EXPECT_TRUE(answer) << Dump(frame);
    return answer.value_or(Json(nullptr));
  }
  Json Tx(RtdbSession& s, Client& c, const std::string& ops) {
    return Call(s, c, Json{{"type", "transaction"}, {"operations", J(ops)}});
  }

  static std::shared_ptr<db::Pool>* pool_;
  std::unique_ptr<RtdbStore> store_;
  int64_t tn_ = 0;
  int64_t next_id_ = 0;
};
std::shared_ptr<db::Pool>* RtdbStoreTest::pool_ = nullptr;

TEST_F(RtdbStoreTest, CreateQueryGetUpdateReplaceDelete) {
  Replica r(store_.get(), "");
  Client c;
  auto s = r.Open(c, tn_, "file1", Access::kWrite);
  Json res = Tx(*s, c, R"([
    {"type":"create","path":"posts","data":{"title":"b","n":2,"tags":["x","y"],"cat":"k"},"ref":"$p"},
    {"type":"create","path":"posts/${$p}/comments","data":{"text":"hi"}},
    {"type":"create","path":"posts","data":{"title":"a","n":5,"tags":["y"],"cat":"k"}},
    {"type":"create","path":"posts","data":{"title":"c","n":1,"cat":"m"}}])");
  ASSERT_EQ(res["type"], "transactionResult") << res;
  ASSERT_EQ(res["results"].size(), 4u);
  EXPECT_EQ(res["results"][0]["ref"], "$p");
  const std::string p1 = res["results"][0]["id"];
  EXPECT_EQ(p1.size(), 24u);
  EXPECT_EQ(res["results"][1]["ref"], nullptr);

  Json q = Call(*s, c, J(R"({"type":"query","path":"posts","sort":[{"field":"n","ascending":false}]})"));
  ASSERT_EQ(q["data"].size(), 3u) << q;
  EXPECT_EQ(q["data"][0]["title"], "a");
  EXPECT_EQ(q["data"][2]["title"], "c");
  EXPECT_TRUE(q["data"][0].contains("id"));
  q = Call(
      *s, c,
      J(R"({"type":"query","path":"posts","filter":{"arrayContains":{"tags":"y"},"greaterThan":{"n":2}}})"));
  ASSERT_EQ(q["data"].size(), 1u) << q;
  EXPECT_EQ(q["data"][0]["title"], "a");
  q = Call(
      *s, c,
      J(R"({"type":"query","path":"posts","filter":{"inArray":{"cat":["m"]}},"select":["title"],"limit":5})"));
  ASSERT_EQ(q["data"].size(), 1u);
  EXPECT_EQ(q["data"][0].size(), 2u);  // id + title
  q = Call(
      *s, c,
      J(R"({"type":"query","path":"posts","sort":[{"field":"n","ascending":true}],"limit":1,"offset":1})"));
  ASSERT_EQ(q["data"].size(), 1u);
  EXPECT_EQ(q["data"][0]["title"], "b");
  q = Call(*s, c, J(R"({"type":"query","path":"posts","filter":{"arrayContainsAll":{"tags":["x","y"]},
    "notInArray":{"cat":["m"]},"lessThanOrEqual":{"n":2}}})"));
  ASSERT_EQ(q["data"].size(), 1u);
  q = Call(
      *s, c,
      J(R"({"type":"query","path":"posts","filter":{"arrayContainsAny":{"tags":["x","q"]},"notEquals":{"n":5}}})"));
  ASSERT_EQ(q["data"].size(), 1u);
  q = Call(
      *s, c,
      J(R"({"type":"query","path":"posts","aggregate":{"groupBy":"cat","ops":[{"op":"sum","field":"n"},{"op":"max","field":"n"}]}})"));
  EXPECT_TRUE(Same(
      q["data"],
      J(R"([{"group":"k","count":2,"sum_n":7.0,"max_n":5.0},{"group":"m","count":1,"sum_n":1.0,"max_n":1.0}])")));
  // Unparseable filter: ignored, not rejected.
  q = Call(*s, c, J(R"({"type":"query","path":"posts","filter":{"equals":[1]}})"));
  EXPECT_EQ(q["data"].size(), 3u);
  q = Call(*s, c, Json{{"type", "query"}, {"path", "posts/" + p1 + "/comments"}});
  ASSERT_EQ(q["data"].size(), 1u);
  EXPECT_EQ(q["data"][0]["text"], "hi");

  const std::string doc = "posts/" + p1;
  Tx(*s, c,
     R"([{"type":"update","path":")" + doc +
         R"(","data":{"title":null,"n":{"$op":"increment","by":10},"meta.seen":true}}])");
  Json g = Call(*s, c, Json{{"type", "get"}, {"path", doc}});
  EXPECT_TRUE(
      Same(g["data"], J(R"({"n":12,"tags":["x","y"],"cat":"k","id":")" + p1 + R"(","meta":{"seen":true}})")));
  Tx(*s, c, R"([{"type":"replace","path":")" + doc + R"(","data":{"only":1}}])");
  g = Call(*s, c, Json{{"type", "get"}, {"path", doc}, {"select", {"only"}}});
  EXPECT_TRUE(Same(g["data"], J(R"({"id":")" + p1 + R"(","only":1})")));
  // update of a missing document creates it, with its id from the path.
  Tx(*s, c, R"([{"type":"update","path":"settings/main","data":{"theme":"dark"}}])");
  g = Call(*s, c, J(R"({"type":"get","path":"settings/main"})"));
  EXPECT_TRUE(Same(g["data"], J(R"({"theme":"dark","id":"main"})")));
  Tx(*s, c, R"([{"type":"delete","path":")" + doc + R"("},{"type":"delete","path":"nothing/here"}])");
  g = Call(*s, c, Json{{"type", "get"}, {"path", doc}});
  EXPECT_EQ(g["data"], nullptr);
  EXPECT_EQ(g["type"], "getResult");
  // $query reads the transaction's own writes.
  Json cnt = Tx(*s, c, R"([{"type":"create","path":"posts","data":{"n":100}},
    {"type":"update","path":"stats/s","data":{"posts":{"$query":"count","path":"posts"},
      "total":{"$query":"sum","path":"posts","field":"n"},"has":{"$query":"exists","path":"settings/main"}}}])");
  ASSERT_EQ(cnt["type"], "transactionResult") << cnt;
  g = Call(*s, c, J(R"({"type":"get","path":"stats/s"})"));
  EXPECT_EQ(g["data"]["posts"], 3);
  EXPECT_EQ(g["data"]["total"], 106.0);
  EXPECT_EQ(g["data"]["has"], true);
}

TEST_F(RtdbStoreTest, AFailingOperationRollsBackTheWholeTransaction) {
  Replica r(store_.get(), "");
  Client c;
  auto s = r.Open(c, tn_, "file1", Access::kWrite);
  Tx(*s, c, R"([{"type":"update","path":"a/x","data":{"v":1,"s":"str"}}])");
  for (
      const char* bad : {
          R"([{"type":"create","path":"a","data":{"k":1}},{"type":"update","path":"a/x","data":{"s.deep":1}}])",
          R"([{"type":"update","path":"a/x","data":{"v":2}},{"type":"frobnicate","path":"a/x"}])",
          R"([{"type":"update","path":"a/x","data":{"v":3}},{"type":"update","path":"a","data":{}}])",
          R"([{"type":"update","path":"a/x","data":{"v":4}},{"type":"create","path":"a","data":{"n":{"$op":"nope"}}}])",
          R"([{"type":"update","path":"a/x","data":{"v":5}},{"type":"update","path":"a/y","data":{"z":"\u0000"}}])",
      }) {
    Json res = Tx(*s, c, bad);
    EXPECT_EQ(res["type"], "error") << bad;
    EXPECT_EQ(res["code"], 400) << res;
  }
  std::string huge =
      R"([{"type":"update","path":"a/x","data":{"v":6}},{"type":"create","path":"a","data":{"big":")" +
      std::string(300 << 10, 'x') + "\"}}]";
  EXPECT_EQ(Tx(*s, c, huge)["code"], 400);
  Json q = Call(*s, c, J(R"({"type":"query","path":"a"})"));
  ASSERT_EQ(q["data"].size(), 1u);
  EXPECT_EQ(q["data"][0]["v"], 1);
}

TEST_F(RtdbStoreTest, ConcurrentIncrementsFromTwoSessionsAreExact) {
  Replica r(store_.get(), "");
  Client c1, c2;
  auto s1 = r.Open(c1, tn_, "file1", Access::kWrite);
  auto s2 = r.Open(c2, tn_, "file1", Access::kWrite);
  constexpr int kN = 40;
  std::atomic<int> failures{0};
  auto run = [&](RtdbSession& s, Client& c, int base) {
    for (int i = 0; i < kN; ++i) {
      Json f{{"id", base + i},
             {"type", "transaction"},
             {"operations",
              J(R"([{"type":"update","path":"counters/c","data":{"n":{"$op":"increment","by":1}}}])")}};
      s.HandleText(Dump(f));
      auto a = c.WaitFor([&](const Json& x) { return x["id"] == base + i; }, 2s);
      if (!a || (*a)["type"] != "transactionResult") ++failures;
    }
  };
  std::thread t1(run, std::ref(*s1), std::ref(c1), 100000);
  std::thread t2(run, std::ref(*s2), std::ref(c2), 200000);
  t1.join();
  t2.join();
  EXPECT_EQ(failures.load(), 0);
  auto doc = store_->Get(tn_, "file1", "counters/c");
  ASSERT_TRUE(doc.ok() && *doc);
  EXPECT_EQ((**doc)["n"], 2 * kN);
}

TEST_F(RtdbStoreTest, ConcurrentFirstWritesOfTheSameDocumentAreNotLost) {
  // Both transactions read "no document" before either writes: the loser must fail and
  // run again on the winner's row, never overwrite it with its stale computation.
  std::latch both_read(2);
  auto increment = [&] {
    int attempt = 0;
    return store_->Transact(tn_, "file1", [&](TxStore& tx) -> absl::Status {
      auto cur = tx.GetForUpdate("fresh/d");
      if (!cur.ok()) return cur.status();
      if (attempt++ == 0) both_read.arrive_and_wait();
      int64_t n = *cur ? (**cur)["n"].get<int64_t>() : 0;
      return tx.Put("fresh/d", Json{{"n", n + 1}}, cur->has_value());
    });
  };
  absl::Status s1, s2;
  std::thread t1([&] { s1 = increment(); });
  std::thread t2([&] { s2 = increment(); });
  t1.join();
  t2.join();
  ASSERT_TRUE(s1.ok()) << s1;
  ASSERT_TRUE(s2.ok()) << s2;
  auto doc = store_->Get(tn_, "file1", "fresh/d");
  ASSERT_TRUE(doc.ok() && *doc);
  EXPECT_EQ((**doc)["n"], 2);
}

TEST_F(RtdbStoreTest, SubscriptionsGetReadyThenLiveEvents) {
  Replica r(store_.get(), "");
  Client writer, watcher;
  auto w = r.Open(writer, tn_, "file1", Access::kWrite);
  auto v = r.Open(watcher, tn_, "file1", Access::kRead);
  Tx(*w, writer, R"([{"type":"update","path":"todos/t1","data":{"done":false,"n":1}},
                     {"type":"update","path":"todos/t2","data":{"done":true,"n":2}}])");
  Json sub =
      Call(*v, watcher,
           J(R"({"type":"subscribe","path":"todos","scope":"children","filter":{"equals":{"done":false}}})"));
  ASSERT_EQ(sub["type"], "subscribeResult");
  const std::string id = sub["subscriptionId"];
  EXPECT_EQ(id.rfind("sub-", 0), 0u);
  Json all = Call(*v, watcher, J(R"({"type":"subscribe","path":"todos/t1","scope":"document"})"));
  const std::string doc_id = all["subscriptionId"];

  Tx(*w, writer, R"([{"type":"update","path":"todos/t3","data":{"done":false}}])");  // create, matches
  Tx(*w, writer, R"([{"type":"update","path":"todos/t1","data":{"n":5}}])");         // update, matches
  Tx(*w, writer, R"([{"type":"update","path":"todos/t2","data":{"n":3}}])");         // never matched: nothing
  Tx(*w, writer,
     R"([{"type":"update","path":"todos/t1","data":{"done":true}}])");  // leaves the filter: delete
  Tx(*w, writer, R"([{"type":"delete","path":"todos/t3"}])");           // delete
  Tx(*w, writer, R"([{"type":"update","path":"todos/t3/sub/x","data":{"done":false}}])");  // not a child
  ASSERT_TRUE(watcher.WaitFor([&](const Json& f) {
    return f["type"] == "change" && f["subscriptionId"] == id && f["event"]["action"] == "delete" &&
           f["event"]["path"] == "todos/t3";
  }));
  auto ev = watcher.Changes(id);
  ASSERT_EQ(ev.size(), 5u) << Dump(Json(ev));
  EXPECT_EQ(ev[0]["action"], "ready");
  ASSERT_EQ(ev[0]["data"].size(), 1u);
  EXPECT_EQ(ev[0]["data"][0]["id"], "t1");
  EXPECT_EQ(ev[1]["action"], "create");
  EXPECT_EQ(ev[1]["path"], "todos/t3");
  EXPECT_EQ(ev[2]["action"], "update");
  EXPECT_TRUE(Same(ev[2]["data"], J(R"({"done":false,"n":5,"id":"t1"})")));
  EXPECT_EQ(ev[3], J(R"({"action":"delete","path":"todos/t1"})"));
  EXPECT_EQ(ev[4], J(R"({"action":"delete","path":"todos/t3"})"));
  auto dev = watcher.Changes(doc_id);
  ASSERT_EQ(dev.size(), 3u);  // ready + two updates of t1
  EXPECT_EQ(dev[0]["data"].size(), 1u);
  // Change frames carry a random string id.
  auto frames = watcher.All();
  for (const Json& f : frames)
    if (f["type"] == "change") EXPECT_TRUE(f["id"].is_string());
  // A subtree subscription starts with the collection's documents, then hears every depth.
  Json tree = Call(*v, watcher, J(R"({"type":"subscribe","path":"todos"})"));
  auto tree_ev = watcher.Changes(tree["subscriptionId"]);
  ASSERT_EQ(tree_ev.size(), 1u);
  for (Json d : tree_ev[0]["data"]) EXPECT_NE(d["id"], "x");
  EXPECT_EQ(tree_ev[0]["data"].size(), 2u);  // t1, t2
  Tx(*w, writer, R"([{"type":"update","path":"todos/t3/sub/y","data":{"deep":true}}])");
  ASSERT_TRUE(watcher.WaitFor([&](const Json& f) {
    return f["type"] == "change" && f["subscriptionId"] == tree["subscriptionId"] &&
           f["event"]["path"] == "todos/t3/sub/y";
  }));
  Call(*v, watcher, Json{{"type", "unsubscribe"}, {"subscriptionId", id}});
  Tx(*w, writer, R"([{"type":"update","path":"todos/t9","data":{"done":false}}])");
  // Delivered (the subtree subscription has it), but not to the unsubscribed one.
  ASSERT_TRUE(watcher.WaitFor([&](const Json& f) {
    return f["type"] == "change" && f["subscriptionId"] == tree["subscriptionId"] &&
           f["event"]["path"] == "todos/t9";
  }));
  EXPECT_EQ(watcher.Changes(id).size(), 5u);
}

TEST_F(RtdbStoreTest, AggregateSubscriptionsUpdateAndReplace) {
  Replica r(store_.get(), "");
  Client writer, watcher;
  auto w = r.Open(writer, tn_, "file1", Access::kWrite);
  auto v = r.Open(watcher, tn_, "file1", Access::kRead);
  Tx(*w, writer, R"([{"type":"update","path":"votes/a","data":{"opt":"x","w":1}}])");
  Json s1 = Call(
      *v, watcher,
      J(R"({"type":"subscribe","path":"votes","aggregate":{"groupBy":"opt","ops":[{"op":"sum","field":"w"}]}})"));
  Json s2 = Call(
      *v, watcher,
      J(R"({"type":"subscribe","path":"votes","aggregate":{"groupBy":"opt","ops":[{"op":"max","field":"w"}]}})"));
  const std::string sum_id = s1["subscriptionId"], max_id = s2["subscriptionId"];
  Tx(*w, writer, R"([{"type":"update","path":"votes/b","data":{"opt":"y","w":4}}])");
  ASSERT_TRUE(watcher.WaitFor([&](const Json& f) {
    return f["type"] == "change" && f["subscriptionId"] == sum_id && f["event"]["action"] == "update";
  }));
  ASSERT_TRUE(watcher.WaitFor([&](const Json& f) {
    return f["type"] == "change" && f["subscriptionId"] == max_id && f["event"]["action"] == "replace";
  }));
  auto sums = watcher.Changes(sum_id);
  EXPECT_EQ(sums[0]["data"], J(R"([{"group":"x","count":1,"sum_w":1.0}])"));
  EXPECT_EQ(sums[1]["data"], J(R"([{"group":"y","count":1,"sum_w":4.0}])"));
  auto maxes = watcher.Changes(max_id);
  EXPECT_EQ(maxes[1]["data"].size(), 2u);
  // A group that empties is sent with count 0.
  Tx(*w, writer, R"([{"type":"delete","path":"votes/a"}])");
  ASSERT_TRUE(watcher.WaitFor([&](const Json& f) {
    return f["type"] == "change" && f["subscriptionId"] == sum_id && f["event"]["data"][0]["count"] == 0;
  }));
}

TEST_F(RtdbStoreTest, TwoReplicasShareChangesAndLocksThroughRedis) {
  const std::string redis = testing::GetTestEnv().redis_addr;
  Replica r1(store_.get(), redis), r2(store_.get(), redis);
  ASSERT_TRUE(r1.Ready() && r2.Ready());
  Client a, b;
  auto sa = r1.Open(a, tn_, "shared", Access::kWrite, "alice.example");
  auto sb = r2.Open(b, tn_, "shared", Access::kWrite, "bob.example");
  Json sub = Call(*sb, b, J(R"({"type":"subscribe","path":"docs"})"));
  const std::string id = sub["subscriptionId"];
  ASSERT_TRUE(
      b.WaitFor([&](const Json& f) { return f["type"] == "change" && f["event"]["action"] == "ready"; }));
  Tx(*sa, a, R"([{"type":"update","path":"docs/d1","data":{"text":"from r1"}}])");
  auto ev =
      b.WaitFor([&](const Json& f) { return f["type"] == "change" && f["event"]["action"] == "create"; });
  ASSERT_TRUE(ev);
  EXPECT_EQ((*ev)["event"]["data"]["text"], "from r1");

  // A hard lock taken on r1 blocks bob's writes on r2 and is announced to him only.
  Json sa_sub = Call(*sa, a, J(R"({"type":"subscribe","path":"docs"})"));
  Json lk = Call(*sa, a, J(R"({"type":"lock","path":"docs/d1","mode":"hard"})"));
  EXPECT_EQ(lk["locked"], true);
  auto lock_ev =
      b.WaitFor([&](const Json& f) { return f["type"] == "change" && f["event"]["action"] == "lock"; });
  ASSERT_TRUE(lock_ev);
  EXPECT_EQ((*lock_ev)["event"]["data"]["userId"], "alice.example");
  EXPECT_EQ((*lock_ev)["event"]["data"]["mode"], "hard");
  EXPECT_EQ((*lock_ev)["event"]["data"]["connId"], sa->conn_id());
  Json denied = Tx(*sb, b, R"([{"type":"update","path":"docs/d1","data":{"text":"bob"}}])");
  EXPECT_EQ(denied, J(R"({"id":)" + std::to_string(next_id_) +
                      R"(,"type":"error","code":423,"message":"Document locked by alice.example"})"));
  Json blk = Call(*sb, b, J(R"({"type":"lock","path":"docs/d1","mode":"soft"})"));
  EXPECT_EQ(blk, J(R"({"id":)" + std::to_string(next_id_) +
                   R"(,"type":"lockResult","locked":false,"holder":"alice.example","mode":"hard"})"));
  EXPECT_EQ(Tx(*sa, a, R"([{"type":"update","path":"docs/d1","data":{"text":"alice"}}])")["type"],
            "transactionResult");
  // A soft lock is advisory.
  Call(*sb, b, J(R"({"type":"lock","path":"docs/d2","mode":"soft"})"));
  EXPECT_EQ(Tx(*sa, a, R"([{"type":"update","path":"docs/d2","data":{"x":1}}])")["type"],
            "transactionResult");
  ASSERT_TRUE(a.WaitFor([&](Json f) { return f["type"] == "change" && f["event"]["action"] == "lock"; }));
  // Closing alice's connection releases her lock; bob hears the unlock.
  sa->Close();
  ASSERT_TRUE(
      b.WaitFor([&](const Json& f) { return f["type"] == "change" && f["event"]["action"] == "unlock"; }));
  EXPECT_EQ(Tx(*sb, b, R"([{"type":"update","path":"docs/d1","data":{"text":"bob"}}])")["type"],
            "transactionResult");
  // Alice got bob's lock event but never her own.
  int bobs = 0;
  for (Json f : a.All()) {
    if (f["type"] != "change" || f["event"]["action"] != "lock") continue;
    EXPECT_NE(f["event"]["data"]["connId"], sa->conn_id());
    bobs += f["event"]["data"]["userId"] == "bob.example";
  }
  EXPECT_EQ(bobs, 1);
  sb->Close();
}

TEST_F(RtdbStoreTest, LocksOfAVanishedConnectionExpireUnlessKeptAlive) {
  Limits quick;
  quick.lock_ttl_seconds = 2;
  RtdbStore store(*pool_, quick);
  Replica r(&store, "");
  Client a, b;
  auto sa = r.Open(a, tn_, "file1", Access::kWrite, "alice.example");
  auto sb = r.Open(b, tn_, "file1", Access::kWrite, "bob.example");
  EXPECT_EQ(Call(*sa, a, J(R"({"type":"lock","path":"d/kept","mode":"hard"})"))["locked"], true);
  EXPECT_EQ(Call(*sa, a, J(R"({"type":"lock","path":"d/lost","mode":"hard"})"))["locked"], true);
  std::this_thread::sleep_for(1s);
  sa->Heartbeat();  // both now run to t=3 s
  std::this_thread::sleep_for(1s);
  // From here on alice's connection is gone without a Close (a dead replica), except
  // that d/kept is taken again by alice.example from a second tab (to t=4 s).
  Client a2;
  auto sa2 = r.Open(a2, tn_, "file1", Access::kWrite, "alice.example");
  EXPECT_EQ(Call(*sa2, a2, J(R"({"type":"lock","path":"d/kept","mode":"hard"})"))["locked"], true);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(Tx(*sb, b, R"([{"type":"update","path":"d/lost","data":{"x":1}}])")["type"], "transactionResult");
  EXPECT_EQ(Tx(*sb, b, R"([{"type":"update","path":"d/kept","data":{"x":1}}])")["code"], 423);
  EXPECT_EQ(Call(*sb, b, J(R"({"type":"lock","path":"d/lost","mode":"soft"})"))["locked"], true);
  // Bob cannot unlock alice's lock.
  Call(*sb, b, J(R"({"type":"unlock","path":"d/kept"})"));
  EXPECT_EQ(Tx(*sb, b, R"([{"type":"update","path":"d/kept","data":{"x":2}}])")["code"], 423);
}

TEST_F(RtdbStoreTest, TenantsAndFilesAreIsolated) {
  Replica r(store_.get(), "");
  Client c1, c2, c3;
  auto t1 = r.Open(c1, tn_, "same", Access::kWrite);
  auto t2 = r.Open(c2, tn_ + 1, "same", Access::kWrite);
  auto other_file = r.Open(c3, tn_, "other", Access::kWrite);
  Json sub2 = Call(*t2, c2, J(R"({"type":"subscribe","path":"p"})"));
  Json sub3 = Call(*other_file, c3, J(R"({"type":"subscribe","path":"p"})"));
  Tx(*t1, c1, R"([{"type":"update","path":"p/secret","data":{"v":"tenant A"}}])");
  Call(*t1, c1, J(R"({"type":"lock","path":"p/secret","mode":"hard"})"));
  EXPECT_EQ(Call(*t2, c2, J(R"({"type":"get","path":"p/secret"})"))["data"], nullptr);
  EXPECT_EQ(Call(*t2, c2, J(R"({"type":"query","path":"p"})"))["data"].size(), 0u);
  EXPECT_EQ(Call(*other_file, c3, J(R"({"type":"query","path":"p"})"))["data"].size(), 0u);
  // The other tenant's lock does not bind here.
  EXPECT_EQ(Tx(*t2, c2, R"([{"type":"update","path":"p/secret","data":{"v":"tenant B"}}])")["type"],
            "transactionResult");
  EXPECT_EQ(Call(*t1, c1, J(R"({"type":"get","path":"p/secret"})"))["data"]["v"], "tenant A");
  std::this_thread::sleep_for(100ms);
  for (const Json& e : c2.Changes(sub2["subscriptionId"]))
    if (e["action"] != "ready") EXPECT_EQ(e["data"]["v"], "tenant B") << e;
  EXPECT_EQ(c3.Changes(sub3["subscriptionId"]).size(), 1u);  // ready only
}

TEST_F(RtdbStoreTest, FieldNamesAndValuesNeverBecomeSql) {
  Replica r(store_.get(), "");
  Client c;
  auto s = r.Open(c, tn_, "file1", Access::kWrite);
  Tx(*s, c, R"([{"type":"update","path":"p/1","data":{"a":1,"x') OR true --":2}}])");
  Json q = Call(*s, c, J(R"({"type":"query","path":"p","filter":{"equals":{"a') OR ('1'='1":1}},
    "sort":[{"field":"a\"; DROP TABLE rtdb_docs; --","ascending":true}]})"));
  EXPECT_EQ(q["type"], "queryResult");
  EXPECT_EQ(q["data"].size(), 0u);
  q = Call(*s, c, J(R"({"type":"query","path":"p","filter":{"equals":{"x') OR true --":2}}})"));
  EXPECT_EQ(q["data"].size(), 1u);
  q = Call(*s, c, J(R"({"type":"query","path":"p","filter":{"equals":{"a":"1' OR '1'='1"}}})"));
  EXPECT_EQ(q["data"].size(), 0u);
  EXPECT_EQ(
      Call(*s, c, J(R"({"type":"createIndex","path":"p","field":"a'); DROP TABLE rtdb_docs; --"})"))["code"],
      400);
  EXPECT_EQ(Call(*s, c, J(R"({"type":"createIndex","path":"p","field":"a"})"))["type"], "createIndexResult");
  auto idx = (*pool_)->Query("SELECT count(*) FROM pg_indexes WHERE indexname = 'rtdb_docs_f_a'");
  ASSERT_TRUE(idx.ok());
  EXPECT_EQ(idx->rows[0].Int(0), 1);
  q = Call(*s, c, J(R"({"type":"query","path":"p","filter":{"equals":{"a":1}}})"));
  EXPECT_EQ(q["data"].size(), 1u);
}

TEST_F(RtdbStoreTest, CommentersWriteCommentsOnMetaAndSubscriptionsAreBounded) {
  Replica r(store_.get(), "");
  Client c;
  auto meta = r.Open(c, tn_, "doc1~meta", Access::kComment);
  EXPECT_EQ(Tx(*meta, c, R"([{"type":"create","path":"c","data":{"text":"nice"}}])")["type"],
            "transactionResult");
  EXPECT_EQ(Tx(*meta, c, R"([{"type":"create","path":"t","data":{"title":"thread"}}])")["type"],
            "transactionResult");
  EXPECT_EQ(Tx(*meta, c, R"([{"type":"update","path":"settings/x","data":{"a":1}}])")["code"], 403);
  // A reference cannot smuggle a write outside t/ and c/.
  EXPECT_EQ(Tx(*meta, c, R"([{"type":"create","path":"c","data":{},"ref":"$x"},
                             {"type":"update","path":"c/${$x}","data":{"a":1}}])")["type"],
            "transactionResult");
  Limits small;
  small.max_subscriptions = 3;
  RtdbStore bounded(*pool_, small);
  Replica rb(&bounded, "");
  Client cb;
  auto s = rb.Open(cb, tn_, "file1", Access::kRead);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(Call(*s, cb, J(R"({"type":"subscribe","path":"x"})"))["type"], "subscribeResult");
  Json refused = Call(*s, cb, J(R"({"type":"subscribe","path":"x"})"));
  EXPECT_EQ(refused["type"], "error");
  EXPECT_EQ(refused["code"], 400);
  // A big collection's ready is cut at max_ready_docs.
  Limits few;
  few.max_ready_docs = 5;
  RtdbStore capped(*pool_, few);
  std::string ops = "[";
  for (int i = 0; i < 12; ++i)
    ops += std::string(i ? "," : "") + R"({"type":"create","path":"many","data":{"i":1}})";
  Client cw;
  auto w = r.Open(cw, tn_, "file1", Access::kWrite);
  ASSERT_EQ(Tx(*w, cw, ops + "]")["type"], "transactionResult");
  Replica rc(&capped, "");
  Client cc;
  auto sc = rc.Open(cc, tn_, "file1", Access::kRead);
  Json sub = Call(*sc, cc, J(R"({"type":"subscribe","path":"many"})"));
  auto ready = cc.Changes(sub["subscriptionId"]);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0]["data"].size(), 5u);
}

}  // namespace
}  // namespace cloudillo::collab::rtdb
