// The engine without a database: frame parsing under hostile input, paths, the
// merge, computed values, filters, aggregates and subscription scopes; plus the
// commands a session answers before touching the store.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "path.h"
#include "query_spec.h"
#include "session.h"
#include "write_ops.h"

namespace cloudillo::collab::rtdb {
namespace {

const Limits kLimits;

Json J(const char* text) { return Json::parse(text); }

TEST(RtdbJson, HostileTextIsRejectedBeforeParsing) {
  EXPECT_FALSE(ParseJson("", 64));
  EXPECT_FALSE(ParseJson("{", 64));
  EXPECT_FALSE(ParseJson("{\"a\":1}}", 64));
  EXPECT_FALSE(ParseJson(std::string(100000, '['), 64));
  EXPECT_FALSE(ParseJson(std::string(65, '[') + std::string(65, ']'), 64));
  EXPECT_TRUE(ParseJson(std::string(64, '[') + std::string(64, ']'), 64));
  // Brackets inside strings do not count as nesting, escaped quotes do not end them.
  EXPECT_TRUE(ParseJson("{\"a\":\"[[[[[[\\\"[[[[[[[[[\"}", 3));
  // Out of range numbers: refused outright, or held as a double; never a crash.
  EXPECT_FALSE(ParseJson("{\"n\":1e999999}", 64));
  auto huge = ParseJson("{\"m\":123456789012345678901234567890}", 64);
  ASSERT_TRUE(huge);
  EXPECT_TRUE((*huge)["m"].is_number_float());
  // Invalid UTF-8 in a string survives serialisation.
  Json bad = std::string("\xff\xfe");
  EXPECT_NO_THROW(Dump(bad));
}

TEST(RtdbPath, ValidatesAndNormalises) {
  EXPECT_EQ(*NormalizePath("/posts/a1/", kLimits), "posts/a1");
  for (const char* bad : {"", "/", "posts//x", "posts/../x", "./a", "a/\x01", "a/\x7f"})
    EXPECT_FALSE(NormalizePath(bad, kLimits).ok()) << bad;
  EXPECT_FALSE(NormalizePath(std::string(2000, 'a'), kLimits).ok());
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "a/";
  EXPECT_FALSE(NormalizePath(deep, kLimits).ok());
  // SQL-looking text is a legal, inert document id.
  EXPECT_TRUE(NormalizePath("posts/'; DROP TABLE rtdb_docs; --", kLimits).ok());
  EXPECT_TRUE(IsDocumentPath("posts/a"));
  EXPECT_FALSE(IsDocumentPath("posts"));
  EXPECT_FALSE(IsDocumentPath("posts/a/comments"));
  EXPECT_EQ(ParentPath("posts/a/comments/b"), "posts/a/comments");
  EXPECT_EQ(ParentPath("posts"), "");
  EXPECT_EQ(LastSegment("posts/a"), "a");
  std::map<std::string, std::string> refs{{"post", "ID1"}};
  EXPECT_EQ(SubstituteRefs("posts/${$post}/comments/${$post}", refs), "posts/ID1/comments/ID1");
  EXPECT_EQ(SubstituteRefs("posts/${$other}", refs), "posts/${$other}");
}

TEST(RtdbMerge, Semantics) {
  Json doc = J(R"({"a":1,"nested":{"x":1,"y":2},"keep":true,"gone":5,"profile":{"age":30,"name":"n"}})");
  ASSERT_TRUE(ShallowMerge(
                  doc,
                  J(R"({"a":2,"nested":{"x":9},"gone":null,"p.q.r":3,"profile.age":31,"profile.name":null})"),
                  kLimits)
                  .ok());
  EXPECT_EQ(doc, J(R"({"a":2,"nested":{"x":9},"keep":true,"profile":{"age":31},"p":{"q":{"r":3}}})"));
  // A dot key through a non-object fails and names the field.
  Json d2 = J(R"({"a":1})");
  auto st = ShallowMerge(d2, J(R"({"a.b":1})"), kLimits);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("'a'"), std::string::npos);
  EXPECT_FALSE(ShallowMerge(d2, J(R"({"x..y":1})"), kLimits).ok());
  std::string deep = "k";
  for (int i = 0; i < 40; ++i) deep += ".k";
  EXPECT_FALSE(ShallowMerge(d2, Json{{deep, 1}}, kLimits).ok());
  // A non-object patch replaces.
  Json d3 = J(R"({"a":1})");
  ASSERT_TRUE(ShallowMerge(d3, J("[1]"), kLimits).ok());
  EXPECT_EQ(d3, J("[1]"));
}

absl::StatusOr<Json> NoQuery(const std::string&, const std::string&, const std::string&, const Json&) {
  return Json(42);
}

TEST(RtdbComputed, FieldOperations) {
  Json cur = J(R"({"n":5,"arr":[1,2,3],"s":"ab","m":7})");
  Json data = J(R"({"n":{"$op":"increment","by":3},"d":{"$op":"decrement"},"x":{"$op":"multiply","by":4},
    "arr":{"$op":"remove","values":[2]},"app":{"$op":"append","values":[1,"z"]},"s":{"$op":"concat","value":"c"},
    "m":{"$op":"min","value":3},"mx":{"$op":"max","value":-2},"set":{"$op":"setIfNotExists","value":"v"},
    "plain":{"k":1}})");
  Json cur2 = cur;
  cur2["set"] = "already";
  ASSERT_TRUE(EvaluateComputed(data, cur, ComputedQuery{NoQuery}).ok());
  EXPECT_EQ(data, J(R"({"n":8,"d":-1,"x":0,"arr":[1,3],"app":[1,"z"],"s":"abc","m":3,"mx":-2,"set":"v",
    "plain":{"k":1}})"));
  Json again = J(R"({"set":{"$op":"setIfNotExists","value":"v"}})");
  ASSERT_TRUE(EvaluateComputed(again, cur2, ComputedQuery{NoQuery}).ok());
  EXPECT_EQ(again["set"], "already");
}

TEST(RtdbComputed, FunctionsQueriesAndErrors) {
  Json data =
      J(R"({"slug":{"$fn":"slugify","args":["  Hello, World!  "]},"lo":{"$fn":"lowercase","args":["AbC"]},
    "up":{"$fn":"uppercase","args":["AbC"]},"tr":{"$fn":"trim","args":["  x "]},"len":{"$fn":"length","args":[[1,2]]},
    "h":{"$fn":"hash","args":["x"]},"t":{"$fn":"now"},"q":{"$query":"count","path":"c"}})");
  ASSERT_TRUE(EvaluateComputed(data, Json::object(), ComputedQuery{NoQuery}).ok());
  EXPECT_EQ(data["slug"], "hello-world");
  EXPECT_EQ(data["lo"], "abc");
  EXPECT_EQ(data["up"], "ABC");
  EXPECT_EQ(data["tr"], "x");
  EXPECT_EQ(data["len"], 2);
  EXPECT_TRUE(data["h"].is_string());
  EXPECT_GT(data["t"].get<int64_t>(), 1700000000000);
  EXPECT_EQ(data["q"], 42);
  for (const char* bad :
       {R"({"a":{"$op":"explode"}})", R"({"a":{"$fn":"exec","args":["x"]}})",
        R"({"a":{"$fn":"slugify","args":[1]}})", R"({"a":{"$fn":"length"}})", R"({"a":{"$query":"count"}})",
        R"({"a":{"$query":"sum","path":"c"}})", R"({"a":{"$query":"drop","path":"c"}})"}) {
    Json d = J(bad);
    EXPECT_EQ(EvaluateComputed(d, Json::object(), ComputedQuery{NoQuery}).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  Json overflow = J(R"({"n":{"$op":"increment","by":9223372036854775807}})");
  EXPECT_FALSE(EvaluateComputed(overflow, J(R"({"n":1})"), ComputedQuery{NoQuery}).ok());
  Json mul = J(R"({"n":{"$op":"multiply","by":-9223372036854775807}})");
  EXPECT_FALSE(EvaluateComputed(mul, J(R"({"n":4})"), ComputedQuery{NoQuery}).ok());
  // A huge unsigned "by" is not an integer the reference would read: the default 1.
  Json big = J(R"({"n":{"$op":"increment","by":18446744073709551615}})");
  ASSERT_TRUE(EvaluateComputed(big, J(R"({"n":1})"), ComputedQuery{NoQuery}).ok());
  EXPECT_EQ(big["n"], 2);
}

TEST(RtdbFilter, ParsesAndMatches) {
  auto f = ParseFilter(J(R"({"equals":{"s":"a"},"greaterThan":{"n":1},"lessThanOrEqual":{"n":5},
    "inArray":{"c":["x","y"]},"notInArray":{"c":["z"]},"arrayContains":{"tags":"t1"},
    "arrayContainsAny":{"tags":["q","t2"]},"arrayContainsAll":{"tags":["t1","t2"]},"notEquals":{"d":true}})"),
                       kLimits);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->conditions.size(), 9u);
  Json doc = J(R"({"s":"a","n":3,"c":"x","tags":["t1","t2"]})");
  EXPECT_TRUE(f->Matches(doc));
  for (const char* patch : {R"({"s":"b"})", R"({"n":1})", R"({"n":6})", R"({"c":"z"})", R"({"tags":["t1"]})",
                            R"({"d":true})", R"({"tags":"t1 t2"})", R"({"n":"3"})"}) {
    Json d = doc;
    d.update(J(patch));
    EXPECT_FALSE(f->Matches(d)) << patch;
  }
  Json missing = doc;
  missing.erase("n");
  EXPECT_FALSE(f->Matches(missing));
}

TEST(RtdbFilter, UnparseableIsIgnoredNotRejected) {
  for (const char* bad : {R"([])", R"("x")", R"({"equals":[1]})", R"({"inArray":{"a":1}})",
                          R"({"arrayContainsAll":{"a":"x"}})"})
    EXPECT_FALSE(ParseFilter(J(bad), kLimits)) << bad;
  // Unknown operators are skipped like serde's unknown fields.
  auto f = ParseFilter(J(R"({"regex":{"a":".*"},"equals":{"a":1}})"), kLimits);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->conditions.size(), 1u);
  Json many = Json::object();
  for (int i = 0; i < 40; ++i) many["equals"]["f" + std::to_string(i)] = i;
  EXPECT_FALSE(ParseFilter(many, kLimits));
  Json long_field{{"equals", {{std::string(300, 'f'), 1}}}};
  EXPECT_FALSE(ParseFilter(long_field, kLimits));
  ReadOptions o =
      ParseReadOptions(J(R"({"filter":{"equals":5},"sort":[{"field":"a"},{"field":"b","ascending":false},7],
    "limit":-3,"offset":"x","aggregate":{"groupBy":1},"select":["a",2,"",null]})"),
                       kLimits);
  EXPECT_FALSE(o.filter);
  ASSERT_EQ(o.sort.size(), 1u);
  EXPECT_EQ(o.sort[0].field, "b");
  EXPECT_EQ(o.limit, kLimits.max_query_limit);
  EXPECT_EQ(o.offset, 0);
  EXPECT_FALSE(o.aggregate);
  EXPECT_EQ(o.select, std::vector<std::string>{"a"});
  EXPECT_EQ(ParseReadOptions(J(R"({"limit":99999999999999})"), kLimits).limit, kLimits.max_query_limit);
  EXPECT_EQ(ParseReadOptions(J(R"({"limit":1e300})"), kLimits).limit, kLimits.max_query_limit);
}

TEST(RtdbAggregate, GroupsSumsAndOrders) {
  auto spec = ParseAggregate(J(R"({"groupBy":"g","ops":[{"op":"sum","field":"v"},{"op":"avg","field":"v"},
    {"op":"min","field":"v"},{"op":"max","field":"v"}]})"),
                             kLimits);
  ASSERT_TRUE(spec);
  EXPECT_TRUE(spec->HasMinMax());
  EXPECT_FALSE(ParseAggregate(J(R"({"groupBy":"g","ops":[{"op":"median","field":"v"}]})"), kLimits));
  Aggregator agg(*spec, 2);
  agg.Add(J(R"({"g":"a","v":1})"));
  agg.Add(J(R"({"g":["a","b",{"x":1}],"v":3})"));
  agg.Add(J(R"({"g":"b","v":"not a number"})"));
  agg.Add(J(R"({"g":"b"})"));
  agg.Add(J(R"({"g":"c","v":100})"));  // over max_groups: dropped
  agg.Add(J(R"({"v":5})"));
  auto r = agg.Result();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], J(R"({"group":"b","count":3,"sum_v":3.0,"avg_v":3.0,"min_v":3.0,"max_v":3.0})"));
  EXPECT_EQ(r[1], J(R"({"group":"a","count":2,"sum_v":4.0,"avg_v":2.0,"min_v":1.0,"max_v":3.0})"));
}

TEST(RtdbScope, DocumentChildrenSubtree) {
  EXPECT_TRUE(InScope("posts/a", Scope::kDocument, "posts/a"));
  EXPECT_FALSE(InScope("posts/a", Scope::kDocument, "posts/a/c/1"));
  EXPECT_TRUE(InScope("posts", Scope::kChildren, "posts/a"));
  EXPECT_FALSE(InScope("posts", Scope::kChildren, "posts/a/c/1"));
  EXPECT_TRUE(InScope("posts", Scope::kSubtree, "posts/a/c/1"));
  EXPECT_FALSE(InScope("posts", Scope::kSubtree, "postsX/a"));
  EXPECT_FALSE(InScope("posts/a", Scope::kSubtree, "posts/ab"));
}

// A session whose store has no database: only commands answered before any query.
struct Harness {
  RtdbStore store{nullptr, Limits{}};
  RtdbHub hub{[this](const std::string& ch, std::string msg) { hub.Deliver(ch, msg); }, Limits{}};
  std::vector<Json> frames;
  int closed = 0;
  std::shared_ptr<RtdbSession> Open(Access access, bool presence = false, std::string file = "f1") {
    SessionConfig c{7, file, std::string("alice.example"), "conn1", access, presence};
    SessionDeps d{&store, &hub, [this](std::string f) { frames.push_back(Json::parse(f)); },
                  [this](int code, std::string) { closed = code; }, [](std::function<void()> fn) { fn(); }};
    auto s = RtdbSession::Create(c, d);
    s->Start();
    return s;
  }
};

TEST(RtdbSessionFrames, HostileFramesGetNoAnswerOr400) {
  Harness h;
  auto s = h.Open(Access::kWrite);
  for (const char* ignored : {"", "nope", "[]", "42", R"({"type":"ping"})", R"({"id":1})",
                              R"({"id":1,"type":5})", R"({"id":1,"type":"ping")"})
    s->HandleText(ignored);
  s->HandleText(std::string(100000, '['));
  EXPECT_TRUE(h.frames.empty());
  s->HandleText(R"({"id":7,"type":"ping"})");
  s->HandleText(R"({"id":"x","type":"drop table"})");
  s->HandleText(R"({"id":8,"type":"transaction"})");
  s->HandleText(R"({"id":9,"type":"transaction","operations":[1]})");
  s->HandleText(R"({"id":10,"type":"query","path":"a//b"})");
  s->HandleText(R"({"id":11,"type":"get","path":5})");
  s->HandleText(R"({"id":12,"type":"presence","state":{}})");
  s->HandleText(R"({"id":13,"type":"createIndex","path":"p"})");
  s->HandleText(R"({"id":1.5e300,"type":"ping"})");
  ASSERT_EQ(h.frames.size(), 9u);
  EXPECT_EQ(h.frames[0], J(R"({"id":7,"type":"pong"})"));
  EXPECT_EQ(h.frames[1]["id"], "x");
  EXPECT_EQ(h.frames[1]["type"], "error");
  EXPECT_EQ(h.frames[1]["code"], 400);
  EXPECT_EQ(h.frames[2], J(R"({"id":8,"type":"error","code":400,"message":"Missing operations"})"));
  for (int i = 3; i <= 7; ++i) EXPECT_EQ(h.frames[i]["code"], 400) << h.frames[i];
  EXPECT_EQ(h.frames[8]["id"], 1.5e300);
  std::string big = R"({"id":1,"type":"ping","pad":")" + std::string(2 << 20, 'x') + "\"}";
  s->HandleText(big);
  EXPECT_EQ(h.closed, kCloseTooBig);
}

TEST(RtdbSessionFrames, ReadersAndCommentersCannotWrite) {
  Harness h;
  auto reader = h.Open(Access::kRead);
  reader->HandleText(
      R"({"id":1,"type":"transaction","operations":[{"type":"create","path":"t","data":{}}]})");
  reader->HandleText(R"({"id":2,"type":"lock","path":"t/x","mode":"hard"})");
  // Comment on a normal database is Read (§6.1).
  auto commenter = h.Open(Access::kComment);
  EXPECT_EQ(commenter->access(), Access::kRead);
  auto meta = h.Open(Access::kComment, false, "f1~meta");
  EXPECT_EQ(meta->access(), Access::kComment);
  meta->HandleText(
      R"({"id":3,"type":"transaction","operations":[{"type":"create","path":"posts","data":{}}]})");
  meta->HandleText(
      R"({"id":4,"type":"transaction","operations":[{"type":"create","path":"c","data":{}},{"type":"delete","path":"x/y"}]})");
  meta->HandleText(R"({"id":5,"type":"createIndex","path":"posts","field":"a"})");
  ASSERT_EQ(h.frames.size(), 5u);
  for (const Json& f : h.frames) EXPECT_EQ(f["code"], 403) << f;
}

TEST(RtdbSessionFrames, PresenceNeedsTheFlagAndIsBoundedAndThrottled) {
  Harness h;
  auto plain = h.Open(Access::kRead);
  plain->HandleText(R"({"id":1,"type":"presence","state":{"x":1}})");
  ASSERT_EQ(h.frames.size(), 1u);
  EXPECT_EQ(h.frames[0]["code"], 400);
  h.frames.clear();
  auto p = h.Open(Access::kRead, true);
  ASSERT_EQ(h.frames.size(), 1u);
  EXPECT_EQ(h.frames[0]["type"], "presenceChange");
  EXPECT_EQ(h.frames[0]["event"]["action"], "sync");
  h.frames.clear();
  p->HandleText(R"({"id":2,"type":"presence","state":{"user":"mallory"}})");
  p->HandleText(R"({"id":3,"type":"presence","state":{"pad":")" + std::string(3000, 'x') + "\"}}");
  ASSERT_EQ(h.frames.size(), 2u);
  EXPECT_EQ(h.frames[0]["code"], 400);
  EXPECT_EQ(h.frames[1]["code"], 413);
  h.frames.clear();
  int throttled = 0;
  for (int i = 0; i < 30; ++i) {
    p->HandleText(R"({"id":4,"type":"presence","state":{"user":{"idTag":"bob.example"}}})");
    throttled += h.frames.back().contains("throttled");
  }
  EXPECT_GE(throttled, 9);
  EXPECT_LE(throttled, 10);
}

TEST(RtdbSessionFrames, PresenceIsStampedAndRelayedToOthers) {
  Harness h;
  auto a = h.Open(Access::kRead, true);
  std::vector<Json> seen_by_b;
  SessionConfig c{7, "f1", std::nullopt, "conn2", Access::kRead, true};
  SessionDeps d{&h.store, &h.hub, [&](std::string f) { seen_by_b.push_back(Json::parse(f)); },
                [](int, std::string) {}, [](std::function<void()> fn) { fn(); }};
  auto b = RtdbSession::Create(c, d);
  b->Start();
  a->HandleText(R"({"id":1,"type":"presence","state":{"user":{"idTag":"bob.example","name":"A"}}})");
  ASSERT_EQ(seen_by_b.size(), 2u);  // sync, join
  EXPECT_EQ(seen_by_b[1]["event"]["action"], "join");
  EXPECT_EQ(seen_by_b[1]["event"]["connId"], "conn1");
  EXPECT_EQ(seen_by_b[1]["event"]["state"]["user"]["idTag"], "alice.example");
  // An anonymous connection's claimed idTag is removed.
  b->HandleText(R"({"id":2,"type":"presence","state":{"user":{"idTag":"alice.example"}}})");
  const Json& last = h.frames.back();
  EXPECT_EQ(last["type"], "presenceChange");
  EXPECT_FALSE(last["event"]["state"]["user"].contains("idTag"));
  // A late joiner's sync lists both.
  auto late = h.Open(Access::kRead, true);
  EXPECT_EQ(h.frames.back()["event"]["users"].size(), 2u);
}

TEST(RtdbHubTest, RoomsHoldAtMostTheMemberLimit) {
  Harness h;
  auto s = h.Open(Access::kRead);
  for (int i = 0; i < 150; ++i)
    h.hub.Deliver("rtdb:7:f1", Json{{"k", "p"},
                                    {"tn", 7},
                                    {"f", "f1"},
                                    {"a", "join"},
                                    {"c", "c" + std::to_string(i)},
                                    {"s", {{"i", i}}}}
                                   .dump());
  EXPECT_FALSE(h.hub.PresenceJoin(7, "f1", "late"));
  h.hub.Deliver("rtdb:7:f1", R"({"k":"p","tn":7,"f":"f1","a":"leave","c":"c0"})");
  auto roster = h.hub.PresenceJoin(7, "f1", "late");
  ASSERT_TRUE(roster);
  EXPECT_EQ(roster->size(), 99u);
}

TEST(RtdbHubTest, DropsMessagesWhoseChannelDoesNotMatch) {
  Harness h;
  auto s = h.Open(Access::kRead);
  EXPECT_EQ(h.hub.Deliver("rtdb:7:f1", R"({"k":"c","tn":8,"f":"f1","a":"create","p":"x/y","d":{}})"), 0u);
  EXPECT_EQ(h.hub.Deliver("rtdb:7:f1", "not json"), 0u);
  EXPECT_EQ(h.hub.Deliver("other:7:f1", R"({"k":"c","tn":7,"f":"f1"})"), 0u);
  EXPECT_EQ(h.hub.Deliver("rtdb:7:f1", R"({"k":"c","tn":7,"f":"f1"})"), 1u);
  h.hub.Leave(7, "f1", s.get());
  EXPECT_EQ(h.hub.listeners(), 0u);
  // Presence of files without a local connection is not mirrored.
  EXPECT_EQ(h.hub.Deliver("rtdb:9:far", R"({"k":"p","tn":9,"f":"far","a":"join","c":"x","s":{"a":1}})"), 0u);
  auto roster = h.hub.PresenceJoin(9, "far", "me");
  ASSERT_TRUE(roster);
  EXPECT_TRUE(roster->empty());
}

}  // namespace
}  // namespace cloudillo::collab::rtdb
