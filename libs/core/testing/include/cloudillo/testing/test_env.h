// Where the integration tests' PostgreSQL and Redis are. The ctest fixture `pgredis`
// (tools/testenv) starts both on free loopback ports and writes their addresses to
// the file named by CLOUDILLO_TEST_ENV_FILE; a test that needs them and finds none fails.
#pragma once

#include <string>
#include <vector>

namespace cloudillo::testing {

struct TestEnv {
  std::string database_url;  // an admin URL on the test cluster (database "postgres")
  std::string redis_addr;    // host:port
};

// Reads the fixture's file; aborts the test binary with a clear message if missing.
const TestEnv& GetTestEnv();

// Creates a fresh, uniquely named database and returns its URL; dropped at exit.
std::string CreateTestDatabase();

// A fresh cluster CA with a certificate and key for each of `names`, made by
// tools/cluster-certs in a temporary folder (removed at exit); returns the folder
// (`<dir>/ca.crt`, `<dir>/<name>.crt`, `<dir>/<name>.key`). Needs CLOUDILLO_SOURCE_DIR,
// which ctest sets.
std::string MakeClusterCerts(const std::vector<std::string>& names);

}  // namespace cloudillo::testing
