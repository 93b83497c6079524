#include "cloudillo/core/log.h"

#include <gtest/gtest.h>

namespace cloudillo {
namespace {

TEST(AppendJsonString, EscapesControlAndInvalidUtf8) {
  std::string out;
  AppendJsonString(out, std::string("a\"b\\c\n\x01\xff\xc3\xa9", 10));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd\xc3\xa9\"");
}

TEST(AppendJsonString, RejectsOverlongAndSurrogates) {
  std::string out;
  AppendJsonString(out, "\xc0\xaf\xed\xa0\x80");
  EXPECT_EQ(out, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

}  // namespace
}  // namespace cloudillo

namespace cloudillo {
namespace {

TEST(Logging, NamingTheProcessKeepsTheLevel) {
  SetLogLevel(LogLevel::kError);
  InitLogging("test");
  ::testing::internal::CaptureStderr();
  LogInfo("dropped");
  LogError("kept");
  FlushLogs();
  std::string out = ::testing::internal::GetCapturedStderr();
  SetLogLevel(LogLevel::kInfo);
  EXPECT_EQ(out.find("dropped"), std::string::npos);
  EXPECT_NE(out.find("\"msg\":\"kept\""), std::string::npos);
  EXPECT_NE(out.find("\"service\":\"test\""), std::string::npos);
}

}  // namespace
}  // namespace cloudillo
