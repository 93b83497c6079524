#include "cloudillo/process/process.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "cloudillo/core/base64.h"
#include "cloudillo/core/random.h"
#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::process {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;

TEST(LoadMasterKey, FromEnvFileOrClearError) {
  std::string key = Base64Encode(RandomBytes(32));
  ConfigSource inline_src({{"CLOUDILLO_MASTER_KEY", key}});
  EXPECT_THAT(LoadMasterKey(inline_src), IsOk());

  std::string path = ::testing::TempDir() + "/mk";
  std::ofstream(path) << key << "\n";
  ConfigSource file_src(std::map<std::string, std::string>{{"CLOUDILLO_MASTER_KEY_FILE", path}});
  EXPECT_THAT(LoadMasterKey(file_src), IsOk());

  ConfigSource none(std::map<std::string, std::string>{});
  auto s = LoadMasterKey(none);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(s.status().message().find("openssl rand -base64 32"), std::string::npos);
  ConfigSource bad(std::map<std::string, std::string>{{"CLOUDILLO_MASTER_KEY", "short"}});
  EXPECT_THAT(LoadMasterKey(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(LoadMasterKey(bad).status().message()), ::testing::HasSubstr("prepend `2:"));
  ConfigSource missing(std::map<std::string, std::string>{{"CLOUDILLO_MASTER_KEY_FILE", "/nonexistent/key"}});
  EXPECT_THAT(LoadMasterKey(missing), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LoadMasterKey, KeyringFileWithSeveralVersions) {
  std::string k1 = Base64Encode(RandomBytes(32)), k2 = Base64Encode(RandomBytes(32));
  std::string path = ::testing::TempDir() + "/mk-ring";
  std::ofstream(path) << "2:" << k2 << "\n" << k1 << "\n";
  ConfigSource file_src(std::map<std::string, std::string>{{"CLOUDILLO_MASTER_KEY_FILE", path}});
  auto ring = LoadMasterKey(file_src);
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(ring->current_version(), 2);
  // Version 1 is the bare key: what it sealed before rotation still opens.
  auto v1 = crypto::MasterKey::FromBase64(k1);
  ASSERT_THAT(v1, IsOk());
  auto sealed = v1->Seal("x", "aad");
  ASSERT_THAT(sealed, IsOk());
  EXPECT_THAT(ring->Open(*sealed, "aad"), IsOk());

  ConfigSource inline_src({{"CLOUDILLO_MASTER_KEY", "2:" + k2 + "," + k1}});
  ASSERT_THAT(LoadMasterKey(inline_src), IsOk());
  EXPECT_EQ(LoadMasterKey(inline_src)->current_version(), 2);

  // A bad line names the file and the line, never the key.
  std::ofstream(path) << "2:" << k2 << "\n" << k1.substr(4) << "\n";
  auto bad = LoadMasterKey(file_src);
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  std::string msg(bad.status().message());
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("entry 2"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(k1.substr(4, 12)), std::string::npos) << msg;
  EXPECT_EQ(msg.find(k2.substr(0, 12)), std::string::npos) << msg;
}

TEST(Addresses, SplitAndListen) {
  auto hp = SplitHostPort("127.0.0.1:9101");
  ASSERT_THAT(hp, IsOk());
  EXPECT_EQ(hp->second, 9101);
  EXPECT_THAT(SplitHostPort("nohost"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SplitHostPort("h:70000"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(*ListenAddress("127.0.0.1:9101", ""), "127.0.0.1:9101");
  EXPECT_EQ(*ListenAddress("localhost:9101", ""), "localhost:9101");
  EXPECT_EQ(*ListenAddress("identity:9101", "0.0.0.0:1"), "0.0.0.0:1");
  // A service name cannot be bound: the listen address must be given.
  auto named = ListenAddress("identity:9101", "");
  EXPECT_THAT(named, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(named.status().message().find("CLOUDILLO_GRPC_LISTEN"), std::string::npos);
  EXPECT_THAT(ListenAddress("127.0.0.1:1", "nonsense"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cloudillo::process

namespace cloudillo::process {
namespace {

TEST(TakeMigrateCommand, RemovesOnlyALeadingMigrate) {
  std::string a0 = "bin", a1 = "migrate", a2 = "--x=1";
  char* argv_store[] = {a0.data(), a1.data(), a2.data()};
  char** argv = argv_store;
  int argc = 3;
  EXPECT_TRUE(TakeMigrateCommand(argc, argv));
  EXPECT_EQ(argc, 2);
  EXPECT_STREQ(argv[0], "bin");
  EXPECT_STREQ(argv[1], "--x=1");
  EXPECT_FALSE(TakeMigrateCommand(argc, argv));
  EXPECT_EQ(argc, 2);
}

}  // namespace
}  // namespace cloudillo::process
