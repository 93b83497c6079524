// The pure parts of the REST layer and the outbox: request bodies, cursors, text
// arrays and the proof-of-work length of a 428 (E4).
#include "action_service.h"

#include <gtest/gtest.h>

#include "issuer_limit.h"
#include "outbox_worker.h"
#include "pow_gate.h"

namespace cloudillo::action {
namespace {

using json = nlohmann::json;

TEST(CreateBody, ParsesTheClientShape) {
  auto in = ParseCreateBody(json{{"type", "POST"},
                                 {"subType", "TEXT"},
                                 {"content", "hello"},
                                 {"attachments", {"f1~a"}},
                                 {"audienceTag", nullptr},
                                 {"visibility", "P"}});
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->type, "POST");
  EXPECT_EQ(in->sub_type, "TEXT");
  EXPECT_EQ(*in->content, json("hello"));
  EXPECT_EQ(in->attachments, std::vector<std::string>{"f1~a"});
  EXPECT_EQ(in->visibility, "P");
}

TEST(CreateBody, RefusesHostileShapes) {
  for (const json& body :
       {json::object(), json{{"type", 5}}, json{{"type", ""}},
        json{{"type", "POST"}, {"attachments", "f1~a"}}, json{{"type", "POST"}, {"attachments", {1}}},
        json{{"type", "POST"}, {"attachments", json::array({std::string(200, 'x')})}},
        json{{"type", "POST"}, {"visibility", "PP"}}, json{{"type", "POST"}, {"expiresAt", "soon"}},
        json{{"type", "POST"}, {"audienceTag", 1}}}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseCreateBody(body).status())) << body.dump();
  }
}

TEST(Cursor, RoundTripsAndRefusesJunk) {
  auto c = DecodeCursor(EncodeCursor(1736942400123456, 42));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->first, 1736942400123456);
  EXPECT_EQ(c->second, 42);
  for (const char* junk : {"", "!!", "MTIz", "YS5i", "MS4yLjM"})
    EXPECT_FALSE(DecodeCursor(junk).has_value()) << junk;
}

TEST(TextArray, ParsesPostgresLiterals) {
  EXPECT_EQ(ParseTextArray("{}"), std::vector<std::string>{});
  EXPECT_EQ(ParseTextArray("{a,b}"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ParseTextArray(R"({"a b","c\"d",e})"), (std::vector<std::string>{"a b", "c\"d", "e"}));
  EXPECT_EQ(ParseTextArray("garbage"), std::vector<std::string>{});
}

TEST(ProofOfWork, ReadsTheRequiredLength) {
  EXPECT_EQ(OutboxWorker::PowRequired(
                R"({"error":{"code":"E-POW-REQUIRED","message":"x","details":{"required":3}}})"),
            3);
  EXPECT_EQ(
      OutboxWorker::PowRequired(
          R"j({"error":{"code":"E-POW-REQUIRED","message":"Precondition required: Proof of work required: Proof of work required: token must end with 'AA' (2 chars)"}})j"),
      2);
  EXPECT_EQ(OutboxWorker::PowRequired(R"({"error":{"message":"token must end with 'AAA'"}})"), 3);
  EXPECT_EQ(OutboxWorker::PowRequired("not json"), 0);
  EXPECT_EQ(OutboxWorker::PowRequired(R"({"error":"x"})"), 0);
}

}  // namespace
}  // namespace cloudillo::action

namespace cloudillo::action {
namespace {

TEST(PowGate, KeysByNetworkAndCountsTrailingAs) {
  EXPECT_EQ(PowKey("203.0.113.7"), "pow:v4:203.0.113");
  EXPECT_EQ(PowKey("203.0.113.200"), "pow:v4:203.0.113");
  EXPECT_EQ(PowKey("2001:db8:1:2:3:4:5:6"), "pow:v6:2001:db8:1:2");
  EXPECT_EQ(PowKey("not an address"), "");
  EXPECT_EQ(PowKey(""), "");
  EXPECT_TRUE(PowSatisfied("abc", 0));
  EXPECT_TRUE(PowSatisfied("abcAA", 2));
  EXPECT_FALSE(PowSatisfied("abcAB", 2));
  EXPECT_FALSE(PowSatisfied("A", 2));
}

TEST(IssuerLimit, LimitsAnIssuerPerTenantAndOverallFromItsNetworkOnly) {
  auto limits = cache::ParseBucketSpec("issuer", "0.001/2,1000/1000,0.001/3,1000/1000");
  ASSERT_TRUE(limits.ok()) << limits.status();
  IssuerLimit limit(nullptr, *limits);
  // bob -> tenant 1: the per-tenant burst of 2, then refused with a retry time.
  EXPECT_TRUE(limit.Check(1, "bob.test", "198.51.100.7").allowed);
  EXPECT_TRUE(limit.Check(1, "bob.test", "198.51.100.8").allowed);  // same /24
  cache::Decision refused = limit.Check(1, "bob.test", "198.51.100.9");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.level, "issuer_tenant");
  EXPECT_GT(refused.retry_after_secs, 0);
  // Another issuer, and bob's name sent from another network, have budgets of their own.
  EXPECT_TRUE(limit.Check(1, "carol.test", "198.51.100.7").allowed);
  EXPECT_TRUE(limit.Check(1, "bob.test", "203.0.113.5").allowed);
  // bob -> tenant 2 spends the overall budget (burst 3, two used on tenant 1).
  EXPECT_TRUE(limit.Check(2, "bob.test", "198.51.100.7").allowed);
  cache::Decision overall = limit.Check(3, "bob.test", "198.51.100.7");
  EXPECT_FALSE(overall.allowed);
  EXPECT_EQ(overall.level, "issuer");
}

TEST(IssuerLimit, TheSpecIsCheckedAndTheDefaultParses) {
  EXPECT_FALSE(cache::ParseBucketSpec("x", "1/2,3/4,5/6").ok());
  EXPECT_FALSE(cache::ParseBucketSpec("x", "1/0,3/4,5/6,7/8").ok());
  EXPECT_FALSE(cache::ParseBucketSpec("x", "a/2,3/4,5/6,7/8").ok());
  EXPECT_FALSE(cache::ParseBucketSpec("x", "-1/2,3/4,5/6,7/8").ok());
  cache::BucketLimits d = DefaultIssuerLimits();
  EXPECT_EQ(d.addr_short.burst, 100);
  EXPECT_DOUBLE_EQ(d.addr_short.per_second, 20);
  EXPECT_DOUBLE_EQ(d.net_long.per_second, 50000 / 3600.0);
}

}  // namespace
}  // namespace cloudillo::action
