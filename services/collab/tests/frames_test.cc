// The y-protocols frame codec and awareness stamping against hostile input: truncated
// varints, lengths past the end, numbers beyond 2^53, forged identities, states that
// are not objects. Nothing may crash or read past the input.
#include "frames.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

namespace cloudillo::collab {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(char(c));
  return s;
}

TEST(Frames, SyncRoundTrip) {
  for (auto t : {SyncType::kStep1, SyncType::kStep2, SyncType::kUpdate}) {
    std::string payload(300, 'x');
    std::string frame = EncodeSync(t, payload);  // the message views it
    auto m = ParseMessage(frame);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->type, MessageType::kSync);
    EXPECT_EQ(m->sync, t);
    EXPECT_EQ(m->payload, payload);
  }
}

TEST(Frames, KnownBytes) {
  // y-protocols writeSyncStep1 of an empty doc: [0, 0, 1, 0].
  EXPECT_EQ(EncodeSync(SyncType::kStep1, std::string(1, '\0')), Bytes({0, 0, 1, 0}));
  EXPECT_EQ(EncodeAwarenessMessage("ab"), Bytes({1, 2, 'a', 'b'}));
}

TEST(Frames, HostileInputIsRefused) {
  for (const std::string& bad :
       {std::string(), Bytes({0}), Bytes({0, 0}), Bytes({0, 0, 5, 1}), Bytes({0, 3, 0}), Bytes({1}),
        Bytes({1, 0x80}), Bytes({0x80}), Bytes({0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}),
        Bytes({0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})}) {
    EXPECT_FALSE(ParseMessage(bad).ok()) << testing::PrintToString(bad);
  }
}

TEST(Frames, OtherTypesAreIgnoredNotRefused) {
  auto m = ParseMessage(Bytes({2, 0, 0}));  // auth
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->type, MessageType::kOther);
  m = ParseMessage(Bytes({3}));  // queryAwareness
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->type, MessageType::kOther);
}

TEST(Frames, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 24, '\0');
    for (auto& c : s) c = char(rng());
    auto m = ParseMessage(s);
    if (m.ok() && m->type == MessageType::kAwareness) (void)DecodeAwareness(m->payload);
  }
}

TEST(Awareness, RoundTripAndLimits) {
  std::vector<AwarenessEntry> in = {{5, 1, R"({"a":1})"}, {9, 3, "null"}};
  auto out = DecodeAwareness(EncodeAwareness(in));
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].client, 5u);
  EXPECT_EQ((*out)[1].state_json, "null");
  EXPECT_TRUE((*out)[1].removed());
  std::vector<AwarenessEntry> many(100, {1, 1, "{}"});
  EXPECT_FALSE(DecodeAwareness(EncodeAwareness(many)).ok());
  // A count that promises more entries than there are bytes.
  EXPECT_FALSE(DecodeAwareness(Bytes({5, 1, 1, 2, '{', '}'})).ok());
  EXPECT_FALSE(DecodeAwareness(Bytes({1, 1, 1, 50, '{'})).ok());
}

TEST(Awareness, StampOverwritesForgedIdentity) {
  auto out = StampAwareness({{1, 1, R"({"user":{"name":"x","idTag":"ceo.example"}})"}}, "alice.test");
  ASSERT_TRUE(out);
  auto j = nlohmann::json::parse((*out)[0].state_json);
  EXPECT_EQ(j["user"]["idTag"], "alice.test");
  EXPECT_EQ(j["user"]["name"], "x");
}

TEST(Awareness, StampDeletesIdentityOfAnonymous) {
  auto out = StampAwareness({{1, 1, R"({"user":{"idTag":"ceo.example"},"cursor":1})"}}, "");
  ASSERT_TRUE(out);
  auto j = nlohmann::json::parse((*out)[0].state_json);
  EXPECT_FALSE(j["user"].contains("idTag"));
  EXPECT_EQ(j["cursor"], 1);
}

TEST(Awareness, BadStatesDropTheMessage) {
  for (const char* s : {R"({"user":"ceo"})", R"({"user":[1]})", "[1]", "42", "{not json", "\"str\""}) {
    EXPECT_FALSE(StampAwareness({{1, 1, "{}"}, {2, 1, s}}, "alice.test")) << s;
  }
  auto ok = StampAwareness({{1, 1, "null"}, {2, 1, "{}"}}, "alice.test");
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)[0].state_json, "null");
}

}  // namespace
}  // namespace cloudillo::collab
