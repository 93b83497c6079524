#include "cloudillo/core/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "cloudillo/testing/status_matchers.h"

namespace cloudillo {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

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

// A file in a fresh temporary folder, removed at the end of the test.
class SecretFile {
 public:
  explicit SecretFile(const std::string& content) {
    char tmpl[] = "/tmp/cloudillo-config-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/secret";
    std::ofstream(path_) << content;
  }
  ~SecretFile() {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

TEST(ConfigSourceSecret, FromEnvironmentOrFile) {
  ConfigSource env(std::map<std::string, std::string>{{"CLOUDILLO_DB_PASSWORD", "s3cret "}});
  EXPECT_EQ(env.Secret("CLOUDILLO_DB_PASSWORD", "pw"), "s3cret ");  // taken as given
  EXPECT_THAT(env.Finish(), IsOk());

  SecretFile file("from file\n\n  \t");
  ConfigSource from_file(std::map<std::string, std::string>{{"CLOUDILLO_DB_PASSWORD_FILE", file.path()}});
  EXPECT_EQ(from_file.Secret("CLOUDILLO_DB_PASSWORD", "pw"), "from file");
  EXPECT_THAT(from_file.Finish(), IsOk());

  ConfigSource unset(std::map<std::string, std::string>{});
  EXPECT_EQ(unset.Secret("CLOUDILLO_DB_PASSWORD", "pw"), "");
  EXPECT_THAT(unset.Finish(), IsOk());
}

TEST(ConfigSourceSecret, UnreadableFileOrBothSetAreErrors) {
  ConfigSource missing(
      std::map<std::string, std::string>{{"CLOUDILLO_DB_PASSWORD_FILE", "/nonexistent/secret"}});
  EXPECT_EQ(missing.Secret("CLOUDILLO_DB_PASSWORD", "pw"), "");
  absl::Status st = missing.Finish();
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("CLOUDILLO_DB_PASSWORD_FILE='/nonexistent/secret' cannot be read"));

  SecretFile file("x");
  ConfigSource both({{"CLOUDILLO_DB_PASSWORD", "inline"}, {"CLOUDILLO_DB_PASSWORD_FILE", file.path()}});
  both.Secret("CLOUDILLO_DB_PASSWORD", "pw");
  st = both.Finish();
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(st.message()), HasSubstr("only one of"));
  EXPECT_THAT(std::string(st.message()), Not(HasSubstr("inline")));
}

TEST(ConfigSourceSecret, FlagIsRefusedButFileFlagIsFine) {
  std::string a0 = "bin", a1 = "--db-password=hunter2";
  char* argv[] = {a0.data(), a1.data()};
  ConfigSource src = ConfigSource::FromProcess(2, argv);
  EXPECT_EQ(src.Secret("CLOUDILLO_DB_PASSWORD", "database password"), "");
  absl::Status st = src.Finish();
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("CLOUDILLO_DB_PASSWORD is a secret: set CLOUDILLO_DB_PASSWORD or "
                        "CLOUDILLO_DB_PASSWORD_FILE, never a flag"));
  EXPECT_THAT(std::string(st.message()), Not(HasSubstr("hunter2")));
  EXPECT_THAT(std::string(st.message()), Not(HasSubstr("unknown flag")));
  EXPECT_THAT(src.HelpText(), HasSubstr("CLOUDILLO_DB_PASSWORD (secret"));
  EXPECT_THAT(src.HelpText(), HasSubstr("--db-password-file"));

  SecretFile file("from-flagged-file\n");
  std::string f1 = "--db-password-file=" + file.path();
  char* argv2[] = {a0.data(), f1.data()};
  ConfigSource ok = ConfigSource::FromProcess(2, argv2);
  EXPECT_EQ(ok.Secret("CLOUDILLO_DB_PASSWORD", "database password"), "from-flagged-file");
  EXPECT_THAT(ok.Finish(), IsOk());
}

}  // namespace
}  // namespace cloudillo
