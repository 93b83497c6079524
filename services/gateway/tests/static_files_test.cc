#include "static_files.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>

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

namespace cloudillo::gateway {
namespace {

std::string HeaderOf(const http::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "(none)";
}

class StaticCompressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/web-gz-" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ + "/assets-0.9.1");
    for (int i = 0; i < 300; ++i) script_ += "console.log('line " + std::to_string(i) + "');\n";
    std::ofstream(root_ + "/index.html") << "<html>" << std::string(1000, ' ') << "</html>";
    std::ofstream(root_ + "/assets-0.9.1/index.js") << script_;
    std::ofstream(root_ + "/assets-0.9.1/index.js.br") << "PRECOMPRESSED-BR";
    std::ofstream(root_ + "/plain.js") << script_;
    std::ofstream(root_ + "/logo.png") << std::string(5000, 'p');
    std::ofstream(::testing::TempDir() + "/outside.gz") << "OUTSIDE";
    std::filesystem::create_symlink(::testing::TempDir() + "/outside.gz", root_ + "/plain.js.gz");
  }
  http::Response Get(const std::string& path, const std::string& accept) {
    http::Request r;
    r.method = "GET";
    r.path = path;
    if (!accept.empty()) r.headers.emplace_back("accept-encoding", accept);
    auto res = files_->Serve(r);
    EXPECT_TRUE(res.has_value()) << path;
    return res ? *res : http::Response{};
  }
  std::string root_, script_;
  std::unique_ptr<StaticFiles> files_;
};

TEST_F(StaticCompressionTest, ShippedSiblingsAreServedAndOthersCompressedOnce) {
  files_ = std::make_unique<StaticFiles>(root_);
  if (http::BrotliAvailable()) {
    http::Response br = Get("/assets-0.9.1/index.js", "gzip, br");
    EXPECT_EQ(br.body, "PRECOMPRESSED-BR");
    EXPECT_EQ(HeaderOf(br, "Content-Encoding"), "br");
    EXPECT_EQ(HeaderOf(br, "Content-Type"), "text/javascript; charset=utf-8");
  }
  // No .gz sibling: compressed here, and the same bytes the second time.
  http::Response gz = Get("/assets-0.9.1/index.js", "gzip");
  EXPECT_EQ(HeaderOf(gz, "Content-Encoding"), "gzip");
  EXPECT_LT(gz.body.size(), script_.size() / 3);
  EXPECT_EQ(gz.body.substr(0, 2), "\x1f\x8b");
  EXPECT_EQ(Get("/assets-0.9.1/index.js", "gzip").body, gz.body);
  // A sibling that is a link out of the root is not used.
  http::Response plain = Get("/plain.js", "gzip");
  EXPECT_NE(plain.body, "OUTSIDE");
  EXPECT_EQ(HeaderOf(plain, "Content-Encoding"), "gzip");
}

TEST_F(StaticCompressionTest, NeverCompressedWhenNotAskedOrNotText) {
  files_ = std::make_unique<StaticFiles>(root_);
  http::Response js = Get("/assets-0.9.1/index.js", "");
  EXPECT_EQ(js.body, script_);
  EXPECT_EQ(HeaderOf(js, "Content-Encoding"), "(none)");
  EXPECT_EQ(HeaderOf(js, "Vary"), "accept-encoding");
  EXPECT_EQ(Get("/assets-0.9.1/index.js", "gzip;q=0, br;q=0").body, script_);
  http::Response png = Get("/logo.png", "gzip, br");
  EXPECT_EQ(png.body, std::string(5000, 'p'));
  EXPECT_EQ(HeaderOf(png, "Content-Encoding"), "(none)");
  EXPECT_EQ(HeaderOf(png, "Vary"), "(none)");
}

TEST_F(StaticCompressionTest, AChangedFileIsNeverAnsweredFromItsOldCopy) {
  files_ = std::make_unique<StaticFiles>(root_);
  std::string before = Get("/plain.js", "gzip").body;
  std::ofstream(root_ + "/plain.js") << script_ << "// v2\n";
  std::filesystem::last_write_time(
      root_ + "/plain.js", std::filesystem::last_write_time(root_ + "/plain.js") + std::chrono::seconds(5));
  EXPECT_NE(Get("/plain.js", "gzip").body, before);
}

TEST(StaticCacheControl, HtmlRevalidatesVersionedAndHashedAssetsAreImmutable) {
  const std::string kImmutable = "public, max-age=31536000, immutable";
  EXPECT_EQ(CacheControlFor("index.html", false), std::string("no-cache"));
  EXPECT_EQ(CacheControlFor("assets-0.9.1/index.js", true), std::string("no-cache"));  // SPA fallback
  EXPECT_EQ(CacheControlFor("sw.js", false), std::string("no-cache"));
  EXPECT_EQ(CacheControlFor("assets-0.9.1/index.js", false), kImmutable);
  EXPECT_EQ(CacheControlFor("assets-0.9.1/fonts/a.woff2", false), kImmutable);
  EXPECT_EQ(CacheControlFor("apps/quillo/index-B7x2Kq9a.js", false), kImmutable);
  EXPECT_EQ(CacheControlFor("main.4f3e2a1b.chunk.js", false), kImmutable);
  const std::string kHour = "public, max-age=3600";
  EXPECT_EQ(CacheControlFor("assets-/x.js", false), kHour);  // names no version
  EXPECT_EQ(CacheControlFor("assets/app.js", false), kHour);
  EXPECT_EQ(CacheControlFor("favicon.ico", false), kHour);
  EXPECT_EQ(CacheControlFor("android-chrome-192x192.png", false), kHour);
  EXPECT_EQ(CacheControlFor("serviceworker-helper.js", false), kHour);  // letters only
  EXPECT_EQ(CacheControlFor("20240101.json", false), kHour);            // the name itself, digits only
  EXPECT_EQ(CacheControlFor("a.js-B7x2Kq9a", false), kHour);            // the hash is the extension
}

}  // namespace
}  // namespace cloudillo::gateway
