#include "cloudillo/core/config.h"

#include <gtest/gtest.h>

#include "cloudillo/testing/status_matchers.h"

namespace cloudillo {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;

TEST(ConfigSource, ReadsTypedValuesWithDefaults) {
  ConfigSource src({{"CLOUDILLO_HTTP_PORT", "9090"}, {"CLOUDILLO_TLS", "true"}});
  EXPECT_EQ(src.Int("CLOUDILLO_HTTP_PORT", 8080, 1, 65535, "port"), 9090);
  EXPECT_TRUE(src.Bool("CLOUDILLO_TLS", false, "tls"));
  EXPECT_EQ(src.Str("CLOUDILLO_NAME", "x", "name"), "x");
  EXPECT_THAT(src.Finish(), IsOk());
  EXPECT_NE(src.HelpText().find("--http-port"), std::string::npos);
}

TEST(ConfigSource, CollectsEveryProblem) {
  ConfigSource src({{"CLOUDILLO_HTTP_PORT", "99999"}, {"CLOUDILLO_TLS", "maybe"}});
  src.Int("CLOUDILLO_HTTP_PORT", 8080, 1, 65535, "port");
  src.Bool("CLOUDILLO_TLS", false, "tls");
  src.Required("CLOUDILLO_DATABASE_URL", "PostgreSQL URL");
  absl::Status s = src.Finish();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(s.message().find("CLOUDILLO_HTTP_PORT"), std::string::npos);
  EXPECT_NE(s.message().find("CLOUDILLO_TLS"), std::string::npos);
  EXPECT_NE(s.message().find("CLOUDILLO_DATABASE_URL"), std::string::npos);
}

TEST(ConfigSource, FlagsOverrideEnvAndUnknownFlagsFail) {
  std::string a0 = "bin", a1 = "--http-port=7000", a2 = "--bogus=1";
  char* argv[] = {a0.data(), a1.data(), a2.data()};
  ConfigSource src = ConfigSource::FromProcess(3, argv);
  EXPECT_EQ(src.Int("CLOUDILLO_HTTP_PORT", 8080, 1, 65535, "port"), 7000);
  absl::Status s = src.Finish();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(s.message().find("--bogus"), std::string::npos);
}

}  // namespace
}  // namespace cloudillo
