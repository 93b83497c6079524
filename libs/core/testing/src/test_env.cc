#include "cloudillo/testing/test_env.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

#include "cloudillo/core/random.h"

namespace cloudillo::testing {
namespace {

std::map<std::string, std::string> ReadEnvFile() {
  std::map<std::string, std::string> out;
  const char* path = std::getenv("CLOUDILLO_TEST_ENV_FILE");
  if (!path) return out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

std::vector<std::string>& CreatedDatabases() {
  static auto* dbs = new std::vector<std::string>();  // outlives the atexit hook
  return *dbs;
}

void Psql(const std::string& sql) {
  std::string cmd =
      "psql -q -v ON_ERROR_STOP=1 '" + GetTestEnv().database_url + "' -c '" + sql + "' >/dev/null";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "test env: '%s' failed\n", sql.c_str());
    std::abort();
  }
}

}  // namespace

const TestEnv& GetTestEnv() {
  static const TestEnv& env = *new TestEnv([] {
    auto vars = ReadEnvFile();
    TestEnv e;
    e.database_url = vars["CLOUDILLO_TEST_DATABASE_URL"];
    e.redis_addr = vars["CLOUDILLO_TEST_REDIS"];
    if (e.database_url.empty() || e.redis_addr.empty()) {
      std::fprintf(
          stderr,
          "integration test: no PostgreSQL/Redis. Run through ctest (fixture pgredis) "
          "or tools/test; CLOUDILLO_TEST_ENV_FILE=%s\n",
          std::getenv("CLOUDILLO_TEST_ENV_FILE") ? std::getenv("CLOUDILLO_TEST_ENV_FILE") : "(unset)");
      std::abort();
    }
    return e;
  }());
  return env;
}

std::string CreateTestDatabase() {
  std::string name = "t_" + cloudillo::RandomAlnum(12);
  for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  Psql("CREATE DATABASE " + name);
  static std::once_flag once;
  std::call_once(once, [] {
    std::atexit([] {
      for (const auto& db : CreatedDatabases()) {
        std::string cmd = "psql -q '" + GetTestEnv().database_url + "' -c 'DROP DATABASE IF EXISTS " + db +
                          " WITH (FORCE)' >/dev/null 2>&1";
        (void)std::system(cmd.c_str());
      }
    });
  });
  CreatedDatabases().push_back(name);
  std::string url = GetTestEnv().database_url;
  size_t slash = url.rfind('/');
  return url.substr(0, slash + 1) + name;
}

std::string MakeClusterCerts(const std::vector<std::string>& names) {
  const char* src = std::getenv("CLOUDILLO_SOURCE_DIR");
  if (!src) {
    std::fprintf(stderr, "MakeClusterCerts: CLOUDILLO_SOURCE_DIR is unset (run through ctest)\n");
    std::abort();
  }
  char tmpl[] = "/tmp/cloudillo-certs.XXXXXX";
  if (!mkdtemp(tmpl)) std::abort();
  std::string dir = tmpl;
  std::string cmd = std::string(src) + "/tools/cluster-certs " + dir;
  for (const auto& n : names) cmd += " " + n;
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "MakeClusterCerts: '%s' failed\n", cmd.c_str());
    std::abort();
  }
  static std::mutex mu;
  static auto* dirs = new std::vector<std::string>();
  std::lock_guard<std::mutex> lock(mu);
  if (dirs->empty()) {
    std::atexit([] {
      for (const auto& d : *dirs) (void)std::system(("rm -rf '" + d + "'").c_str());
    });
  }
  dirs->push_back(dir);
  return dir;
}

}  // namespace cloudillo::testing
