#include "cloudillo/core/id_tag.h"

#include <gtest/gtest.h>

#include "cloudillo/testing/status_matchers.h"

namespace cloudillo {
namespace {
using ::cloudillo::testing::IsOkAndHolds;
using ::cloudillo::testing::StatusIs;
using ::testing::Eq;

TEST(CanonicalIdTag, LowercasesAndDecodesPunycode) {
  EXPECT_THAT(CanonicalIdTag("Alice.Example.COM"), IsOkAndHolds(Eq("alice.example.com")));
  EXPECT_THAT(CanonicalIdTag("xn--bcher-kva.example"), IsOkAndHolds(Eq("b\xc3\xbc"
                                                                       "cher.example")));
  EXPECT_THAT(CanonicalIdTag("B\xc3\x9c"
                             "CHER.example"),
              IsOkAndHolds(Eq("b\xc3\xbc"
                              "cher.example")));
  EXPECT_THAT(CanonicalIdTag("dev"), IsOkAndHolds(Eq("dev")));
}

TEST(CanonicalIdTag, RejectsNonDnsNames) {
  for (const char* bad : {"", "a_b.example", "a/b", "a@b.c", "a:b", "a b.c", "a..b", ".a", "-a.b", "a-.b",
                          "\xff\xfe", "a\x01.b"}) {
    EXPECT_THAT(CanonicalIdTag(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(CanonicalIdTag(std::string(64, 'a') + ".com"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CanonicalIdTag(std::string("a\0b", 3)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(IdTagToAscii, EncodesULabels) {
  EXPECT_THAT(IdTagToAscii("b\xc3\xbc"
                           "cher.example"),
              IsOkAndHolds(Eq("xn--bcher-kva.example")));
}

// PROTOCOL Appendix E21: what a peer's iss/aud may be.
TEST(IsCanonicalIdTag, AcceptsOnlyTheCanonicalFormWithinTheLengthRule) {
  EXPECT_TRUE(IsCanonicalIdTag("alice.example.com"));
  EXPECT_TRUE(
      IsCanonicalIdTag("b\xc3\xbc"
                       "cher.example"));
  EXPECT_TRUE(IsCanonicalIdTag("a.bcd"));                        // 5 characters
  EXPECT_TRUE(IsCanonicalIdTag(std::string(58, 'a') + ".com"));  // 62
  for (std::string bad : {std::string("Alice.example.com"), std::string("xn--bcher-kva.example"),
                          std::string(" alice.example.com"), std::string("alice.example.com."),
                          std::string("a_b.example.com"), std::string("a.io"), std::string("dev"),
                          std::string(59, 'a') + ".com", std::string(""), std::string("alice..com")}) {
    EXPECT_FALSE(IsCanonicalIdTag(bad)) << bad;
  }
  // The length rule counts the A-label: 46 'a's + "bücher.ex" is 55 characters as a
  // U-label and 62 as "xn--aa…abcher-ukf.ex"; one 'a' more makes 63.
  EXPECT_TRUE(IsCanonicalIdTag(std::string(46, 'a') + "b\xc3\xbc"
                                                      "cher.ex"));
  EXPECT_FALSE(IsCanonicalIdTag(std::string(47, 'a') + "b\xc3\xbc"
                                                       "cher.ex"));
}

TEST(ParseHost, ApiHostWithPortAndDot) {
  ParsedHost h = ParseHost("cl-o.Alice.example.com.:8443");
  EXPECT_EQ(h.kind, ParsedHost::Kind::kApi);
  EXPECT_EQ(h.id_tag, "alice.example.com");
  h = ParseHost("CL-O.demo.localhost");
  EXPECT_EQ(h.kind, ParsedHost::Kind::kApi);
  EXPECT_EQ(h.id_tag, "demo.localhost");
}

TEST(ParseHost, InvalidApiHostIsNotTheApp) {
  EXPECT_EQ(ParseHost("cl-o.a_b.example").kind, ParsedHost::Kind::kInvalidApi);
  EXPECT_EQ(ParseHost("cl-o.a.example:80x").kind, ParsedHost::Kind::kInvalidApi);
}

TEST(ParseHost, AppHost) {
  ParsedHost h = ParseHost("demo.localhost:8080");
  EXPECT_EQ(h.kind, ParsedHost::Kind::kApp);
  EXPECT_EQ(h.id_tag, "demo.localhost");
  EXPECT_EQ(ParseHost("").kind, ParsedHost::Kind::kInvalid);
  EXPECT_EQ(ParseHost("[::1]:80").kind, ParsedHost::Kind::kInvalid);
}

}  // namespace
}  // namespace cloudillo
