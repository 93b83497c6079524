#include "cloudillo/crypto/cbor.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace cloudillo::crypto {
namespace {

std::string Hex(const char* hex) { return absl::HexStringToBytes(hex); }

TEST(Cbor, DecodesRfc8949Examples) {
  EXPECT_EQ(DecodeCbor(Hex("00"))->AsInt(), 0);
  EXPECT_EQ(DecodeCbor(Hex("1903e8"))->AsInt(), 1000);
  EXPECT_EQ(DecodeCbor(Hex("3863"))->AsInt(), -100);
  EXPECT_EQ(DecodeCbor(Hex("1bffffffffffffffff"))->AsInt(), std::nullopt);  // > INT64_MAX
  EXPECT_EQ(DecodeCbor(Hex("3bffffffffffffffff"))->AsInt(), std::nullopt);
  EXPECT_EQ(DecodeCbor(Hex("6449455446"))->bytes, "IETF");
  EXPECT_EQ(DecodeCbor(Hex("4401020304"))->bytes, Hex("01020304"));
  auto arr = DecodeCbor(Hex("83010203"));
  ASSERT_TRUE(arr.ok());
  ASSERT_EQ(arr->items.size(), 3u);
  auto map = DecodeCbor(Hex("a201020304"));  // {1: 2, 3: 4}
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->Find(3)->AsInt(), 4);
  EXPECT_EQ(map->Find(5), nullptr);
  auto text_map = DecodeCbor(Hex("a26161016162820203"));  // {"a": 1, "b": [2, 3]}
  ASSERT_TRUE(text_map.ok());
  EXPECT_EQ(text_map->Find("b")->items.size(), 2u);
  EXPECT_EQ(DecodeCbor(Hex("f5"))->type, CborValue::Type::kTrue);
  EXPECT_EQ(DecodeCbor(Hex("f6"))->type, CborValue::Type::kNull);
  EXPECT_EQ(DecodeCbor(Hex("f93c00"))->type, CborValue::Type::kFloat);
}

TEST(Cbor, EncodeRoundTrips) {
  for (const char* hex :
       {"00", "17", "1818", "1903e8", "1a000f4240", "1b000000e8d4a51000", "3863", "4401020304", "6449455446",
        "83010203", "a201020304", "a26161016162820203", "f4", "f5", "f6", "f7"}) {
    auto v = DecodeCbor(Hex(hex));
    ASSERT_TRUE(v.ok()) << hex;
    EXPECT_EQ(absl::BytesToHexString(EncodeCbor(*v)), hex);
  }
}

TEST(Cbor, ConsumedAllowsFollowingItems) {
  size_t used = 0;
  auto v = DecodeCbor(Hex("a10102ff"), &used);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(used, 3u);
  EXPECT_FALSE(DecodeCbor(Hex("a10102ff")).ok());  // trailing byte without `consumed`
}

TEST(Cbor, RefusesTruncatedInput) {
  for (const char* hex :
       {"", "18", "19ff", "1aff", "1bffffffff", "44010203", "6461", "83", "8301", "a1", "a101", "a26161"}) {
    EXPECT_FALSE(DecodeCbor(Hex(hex)).ok()) << hex;
  }
}

TEST(Cbor, RefusesHugeLengthsBeforeAllocating) {
  EXPECT_FALSE(DecodeCbor(Hex("5bffffffffffffffff")).ok());
  EXPECT_FALSE(DecodeCbor(Hex("7a7fffffff00")).ok());
  EXPECT_FALSE(DecodeCbor(Hex("9bffffffffffffffff")).ok());
  EXPECT_FALSE(DecodeCbor(Hex("9a0000000500")).ok());
  EXPECT_FALSE(DecodeCbor(Hex("bbffffffffffffffff")).ok());
  EXPECT_FALSE(DecodeCbor(Hex("a3010203")).ok());  // three entries in four bytes
}

TEST(Cbor, RefusesDeepNesting) {
  std::string deep(100000, '\x81');
  deep.push_back('\x00');
  EXPECT_FALSE(DecodeCbor(deep).ok());
  std::string ok(16, '\x81');
  ok.push_back('\x00');
  EXPECT_TRUE(DecodeCbor(ok).ok());
  std::string too_deep(17, '\x81');
  too_deep.push_back('\x00');
  EXPECT_FALSE(DecodeCbor(too_deep).ok());
  std::string maps;  // {0: {0: … }}
  for (int i = 0; i < 40; ++i) maps += Hex("a100");
  maps.push_back('\x00');
  EXPECT_FALSE(DecodeCbor(maps).ok());
}

TEST(Cbor, RefusesTooManyItems) {
  std::string wide = Hex("9a00002000");  // 8192 items
  wide.append(8192, '\x00');
  EXPECT_FALSE(DecodeCbor(wide).ok());
  EXPECT_TRUE(DecodeCbor(wide, nullptr, CborLimits{16, 10000}).ok());
}

TEST(Cbor, RefusesIndefiniteLengthsTagsAndReserved) {
  for (const char* hex :
       {"5f4101ff", "7f6161ff", "9f01ff", "bf0102ff", "ff", "c11a514b67b0", "1c", "1d", "1e", "f0", "f818"}) {
    EXPECT_FALSE(DecodeCbor(Hex(hex)).ok()) << hex;
  }
}

TEST(Cbor, EveryPrefixOfAValidItemFailsCleanly) {
  std::string v = Hex("a301026161a2016162820203036443424f5201");
  ASSERT_TRUE(DecodeCbor(v).ok());
  for (size_t n = 0; n < v.size(); ++n) EXPECT_FALSE(DecodeCbor(v.substr(0, n)).ok()) << n;
}

}  // namespace
}  // namespace cloudillo::crypto
