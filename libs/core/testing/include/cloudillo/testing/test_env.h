// Where the integration tests' PostgreSQL and Redis are. The ctest fixture `pgredis`
// (tools/testenv) starts both on free loopback ports and writes their addresses to
// the file named by CLOUDILLO_TEST_ENV_FILE; a test that needs them and finds none fails.
#pragma once

#include <string>

namespace cloudillo::testing {

struct TestEnv {
  std::string database_url;  // an admin URL on the test cluster (database "postgres")
  std::string redis_addr;    // host:port
};

// Reads the fixture's file; aborts the test binary with a clear message if missing.
const TestEnv& GetTestEnv();

// Creates a fresh, uniquely named database and returns its URL; dropped at exit.
std::string CreateTestDatabase();

}  // namespace cloudillo::testing
