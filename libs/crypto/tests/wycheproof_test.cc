// Project Wycheproof vectors from ../shared/testdata (never copied into the repo).
// When the folder is absent (a user's fresh clone) these tests report SKIPPED.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/escaping.h"
#include "cloudillo/crypto/hash.h"
#include "cloudillo/crypto/p384.h"

namespace cloudillo::crypto {
namespace {
using json = nlohmann::json;

std::optional<json> LoadVectors(const std::string& name) {
  const char* dir = std::getenv("CLOUDILLO_SHARED_TESTDATA");
  if (!dir) return std::nullopt;
  std::ifstream in(std::string(dir) + "/wycheproof/" + name);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

TEST(Wycheproof, EcdsaP384Sha384P1363) {
  auto v = LoadVectors("ecdsa_secp384r1_sha384_p1363_test.json");
  if (!v) GTEST_SKIP() << "shared testdata absent";
  int checked = 0;
  for (const auto& group : (*v)["testGroups"]) {
    auto key = P384PublicKey::FromSpkiDer(absl::HexStringToBytes(group["publicKeyDer"].get<std::string>()));
    ASSERT_TRUE(key.ok()) << key.status();
    for (const auto& t : group["tests"]) {
      std::string msg = absl::HexStringToBytes(t["msg"].get<std::string>());
      std::string sig = absl::HexStringToBytes(t["sig"].get<std::string>());
      bool ok = key->Verify(msg, sig);
      std::string result = t["result"];
      if (result == "valid") EXPECT_TRUE(ok) << "tcId " << t["tcId"] << " " << t["comment"];
      if (result == "invalid") EXPECT_FALSE(ok) << "tcId " << t["tcId"] << " " << t["comment"];
      ++checked;
    }
  }
  EXPECT_GT(checked, 200);
}

TEST(Wycheproof, HmacSha256) {
  auto v = LoadVectors("hmac_sha256_test.json");
  if (!v) GTEST_SKIP() << "shared testdata absent";
  int checked = 0;
  for (const auto& group : (*v)["testGroups"]) {
    size_t tag_bytes = group["tagSize"].get<size_t>() / 8;
    for (const auto& t : group["tests"]) {
      std::string mac = HmacSha256(absl::HexStringToBytes(t["key"].get<std::string>()),
                                   absl::HexStringToBytes(t["msg"].get<std::string>()));
      bool ok =
          ConstantTimeEqual(mac.substr(0, tag_bytes), absl::HexStringToBytes(t["tag"].get<std::string>()));
      EXPECT_EQ(ok, t["result"] == "valid") << "tcId " << t["tcId"];
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace cloudillo::crypto
