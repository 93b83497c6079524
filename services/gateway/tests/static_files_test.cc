#include "static_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace cloudillo::gateway {
namespace {

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/web-" + std::to_string(getpid());
    std::filesystem::create_directories(root_ + "/assets");
    std::filesystem::create_directories(root_ + "/apps/quillo");
    std::ofstream(root_ + "/index.html") << "SHELL";
    std::ofstream(root_ + "/sw.js") << "SW";
    std::ofstream(root_ + "/assets/app.js") << "JS";
    std::ofstream(root_ + "/apps/quillo/index.html") << "QUILLO";
    std::ofstream(::testing::TempDir() + "/secret.txt") << "SECRET";
    std::filesystem::remove(root_ + "/escape");
    std::filesystem::create_symlink(::testing::TempDir() + "/secret.txt", root_ + "/escape");
  }
  std::string Get(const std::string& path) {
    StaticFiles files(root_);
    http::Request r;
    r.method = "GET";
    r.path = path;
    auto res = files.Serve(r);
    return res ? res->body : "<none>";
  }
  std::string root_;
};

TEST_F(StaticFilesTest, FilesFallbackAndApps) {
  EXPECT_EQ(Get("/assets/app.js"), "JS");
  EXPECT_EQ(Get("/"), "SHELL");
  EXPECT_EQ(Get("/app/alice.example.com/quillo/alice.example.com:f1~x"), "SHELL");
  EXPECT_EQ(Get("/apps/quillo/"), "QUILLO");
  EXPECT_EQ(Get("/apps/quillo/some/route.with.dot"), "QUILLO");
  EXPECT_EQ(Get("/sw-0.8.17.js"), "SW");
}

TEST_F(StaticFilesTest, NeverLeavesTheRoot) {
  EXPECT_EQ(Get("/../secret.txt"), "<none>");
  EXPECT_EQ(Get("/assets/../../secret.txt"), "<none>");
  EXPECT_EQ(Get("/%2e%2e/secret.txt"), "<none>");
  EXPECT_EQ(Get("/escape"), "SHELL");  // a symlink out of the root is not served
  EXPECT_EQ(Get("/a%00b"), "SHELL");
  EXPECT_EQ(Get("/%zz"), "<none>");
}

TEST(StaticFiles, DisabledWithoutRoot) {
  StaticFiles files("");
  http::Request r;
  r.path = "/";
  EXPECT_FALSE(files.Serve(r).has_value());
}

}  // namespace
}  // namespace cloudillo::gateway
