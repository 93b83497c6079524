// Known answers and hostile input for the Yjs codec. The differential test against
// the `yjs` package (tests/yjs) covers the operations at scale.
#include "cloudillo/yjs/update.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "cloudillo/testing/status_matchers.h"

namespace cloudillo::yjs {
namespace {
using ::cloudillo::testing::IsOk;
using ::cloudillo::testing::StatusIs;

std::string Varint(uint64_t v) {
  std::string s;
  for (; v >= 0x80; v >>= 7) s += char(0x80 | (v & 0x7f));
  return s + char(v);
}

// InvalidArgument, and the message names the reason.
MATCHER_P(InvalidWith, text, "is InvalidArgument mentioning " + ::testing::PrintToString(text)) {
  const absl::Status& s = ::cloudillo::testing::GetStatus(arg);
  *result_listener << "status: " << s;
  return s.code() == absl::StatusCode::kInvalidArgument && s.message().find(text) != std::string::npos;
}

std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += char(b);
  return s;
}

// doc.clientID = 1; doc.getText('t').insert(0, 'hi')
const std::string kInsertHi = B({1, 1, 1, 0, 4, 1, 1, 't', 2, 'h', 'i', 0});
// client 1 appends 'x' after 'hi' (origin 1:1), and deletes clock 0
const std::string kAppendX = B({1, 1, 1, 2, 0x84, 1, 1, 1, 'x', 1, 1, 1, 0, 1});
constexpr uint64_t lib0_max_safe = (uint64_t{1} << 53) - 1;

TEST(Decode, KnownUpdate) {
  auto u = DecodeUpdate(kInsertHi);
  ASSERT_THAT(u, IsOk());
  ASSERT_EQ(u->structs.size(), 1u);
  const Struct& s = u->structs[0];
  EXPECT_EQ(s.kind, StructKind::kItem);
  EXPECT_EQ(s.id.client, 1u);
  EXPECT_EQ(s.length, 2u);
  EXPECT_EQ(s.parent.kind, Parent::Kind::kKey);
  EXPECT_EQ(s.parent.key, "t");
  EXPECT_EQ(s.content.text, "hi");
  EXPECT_EQ(EncodeUpdate(*u), kInsertHi);
}

TEST(Operations, StateVectorMergeAndDiff) {
  EXPECT_THAT(StateVectorFromUpdate(kInsertHi), ::cloudillo::testing::IsOkAndHolds(B({1, 1, 2})));
  auto merged = MergeUpdates({kInsertHi, kAppendX});
  ASSERT_THAT(merged, IsOk());
  // One block for client 1 holding both items, then the delete set.
  EXPECT_EQ(*merged, B({1, 2, 1, 0, 4, 1, 1, 't', 2, 'h', 'i', 0x84, 1, 1, 1, 'x', 1, 1, 1, 0, 1}));
  EXPECT_THAT(StateVectorFromUpdate(*merged), ::cloudillo::testing::IsOkAndHolds(B({1, 1, 3})));
  // A client at clock 1 gets the rest of 'hi' as an item whose origin is 1:0.
  auto diff = DiffUpdate(*merged, B({1, 1, 1}));
  ASSERT_THAT(diff, IsOk());
  EXPECT_EQ(*diff, B({1, 2, 1, 1, 0x84, 1, 0, 1, 'i', 0x84, 1, 1, 1, 'x', 1, 1, 1, 0, 1}));
}

TEST(Operations, SlicingASurrogatePairYieldsReplacementCharacters) {
  // "😀" is one 4-byte UTF-8 character and two UTF-16 units in Yjs.
  std::string u = B({1, 1, 1, 0, 4, 1, 1, 't', 4, 0xf0, 0x9f, 0x98, 0x80, 0});
  auto d = DecodeUpdate(u);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->structs[0].length, 2u);
  auto diff = DiffUpdate(u, B({1, 1, 1}));
  ASSERT_THAT(diff, IsOk());
  EXPECT_EQ(*diff, B({1, 1, 1, 1, 0x84, 1, 0, 3, 0xef, 0xbf, 0xbd, 0}));
}

TEST(DeleteSets, MergeSortsAndCoalesces) {
  DeleteSet a = {{5, {{10, 2}, {0, 3}}}};
  DeleteSet b = {{7, {{1, 1}}}, {5, {{2, 9}}}};
  DeleteSet m = MergeDeleteSets({a, b});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].first, 5u);
  ASSERT_EQ(m[0].second.size(), 1u);
  EXPECT_EQ(m[0].second[0].clock, 0u);
  EXPECT_EQ(m[0].second[0].len, 12u);
  EXPECT_EQ(EncodeDeleteSet(m), B({2, 7, 1, 1, 1, 5, 1, 0, 12}));
}

TEST(Hostile, EveryTruncationIsAnError) {
  std::string merged = *MergeUpdates({kInsertHi, kAppendX});
  for (size_t n = 0; n < merged.size(); ++n) {
    EXPECT_THAT(DecodeUpdate(merged.substr(0, n)), StatusIs(absl::StatusCode::kInvalidArgument)) << n;
  }
  EXPECT_THAT(DecodeUpdate(merged + "x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Hostile, MalformedPieces) {
  const std::vector<std::string> bad = {
      B({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}),        // endless varint
      B({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}),              // varint beyond 2^53
      B({0x7f}),                                                              // 127 clients in 1 byte
      B({1, 0xff, 0xff, 0xff, 0x0f, 1, 0, 0}),                                // huge struct count
      B({1, 1, 1, 0, 4, 1, 1, 't', 50, 'h', 0}),                              // string past the end
      B({1, 1, 1, 0, 17, 1, 1, 't', 0}),                                      // unknown content kind 17
      B({1, 1, 1, 0, 0x8a, 1, 0, 0}),                                         // content kind 10 on an item
      B({1, 1, 1, 0, 7, 1, 1, 't', 9, 0}),                                    // unknown type ref
      B({1, 1, 1, 0, 4, 1, 1, 't', 1, 0xff, 0}),                              // invalid UTF-8
      B({1, 1, 1, 0, 2, 1, 1, 't', 1, 3, '{', 'x', '}', 0}),                  // invalid JSON content
      B({1, 1, 1, 0, 8, 1, 1, 't', 1, 99, 0}),                                // unknown any tag
      B({1, 1, 1, 0, 0, 0, 0}),                                               // zero-length GC
      B({1, 1, 1, 0, 2, 1, 1, 't', 0, 0}),                                    // empty JSON content
      B({1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 5, 0}),  // clock + len past 2^53
      B({0, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 5}),     // delete range past 2^53
  };
  for (const auto& b : bad) {
    EXPECT_THAT(DecodeUpdate(b), StatusIs(absl::StatusCode::kInvalidArgument)) << b.size();
    EXPECT_THAT(MergeUpdates({b, b}), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  // Deeply nested `any` arrays stop at the depth limit.
  std::string deep = B({1, 1, 1, 0, 8, 1, 1, 't', 1});
  for (int i = 0; i < 10000; ++i) deep += char(117), deep += char(1);
  deep += char(126);
  deep += char(0);
  EXPECT_THAT(DecodeUpdate(deep), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Hostile, ClientIdsAtTheLimits) {
  std::string max_client = B({1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 1, 0});
  auto u = DecodeUpdate(max_client);
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->structs[0].id.client, (uint64_t{1} << 53) - 1);
  EXPECT_EQ(EncodeUpdate(*u), max_client);
  std::string zero_client = B({1, 1, 0, 0, 0, 1, 0});
  EXPECT_THAT(DecodeUpdate(zero_client), IsOk());
}

// lib0's readVarUint has no length limit: zero padding is read as long as the
// multiplier stays finite (147 bytes), and it throws only when a continuation byte
// follows a value beyond 2^53 - 1.
std::string Overlong(int value, int bytes) {
  std::string s(1, char(0x80 | value));
  s.append(bytes - 2, char(0x80));
  return s + char(0);
}

TEST(Varints, OverlongEncodingsReadAsLib0DoesAndWriteCanonically) {
  // kInsertHi with its client count padded to 12 bytes.
  std::string padded = Overlong(1, 12) + kInsertHi.substr(1);
  auto u = DecodeUpdate(padded);
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(EncodeUpdate(*u), kInsertHi);
  EXPECT_EQ(*MergeUpdates({padded, kAppendX}), *MergeUpdates({kInsertHi, kAppendX}));
  EXPECT_THAT(DecodeUpdate(Overlong(1, 147) + kInsertHi.substr(1)), IsOk());
  // The 148th byte multiplies by Infinity: lib0 returns NaN, which no answer could match.
  EXPECT_THAT(DecodeUpdate(Overlong(1, 148) + kInsertHi.substr(1)), InvalidWith("beyond 2^53 - 1"));
  // 2^53 - 1 in nine bytes (the eighth only continues).
  std::string max_client = B({1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x8f, 0, 0, 0, 1, 0});
  ASSERT_THAT(DecodeUpdate(max_client), IsOk());
  EXPECT_EQ(DecodeUpdate(max_client)->structs[0].id.client, lib0_max_safe);
}

TEST(Varints, Lib0ErrorsAreKept) {
  // A continuation byte after 2^56 - 1: lib0 throws "Integer out of Range".
  EXPECT_THAT(DecodeUpdate(B({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})),
              InvalidWith("integer out of range"));
  // A last byte beyond 2^53 - 1: lib0 returns a rounded number.
  EXPECT_THAT(DecodeUpdate(B({1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 1, 0})),
              InvalidWith("beyond 2^53 - 1"));
  EXPECT_THAT(DecodeUpdate(B({1, 0x81})), InvalidWith("unexpected end of array"));
  // readVarInt inside `any`: padded is fine, a continuation beyond 2^53 - 1 is not.
  std::string any_int = B({1,    1,    1,    0,    8,    1,    1,    't',  1,    125, 0x85, 0x80,
                           0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0,   0});
  EXPECT_THAT(DecodeUpdate(any_int), IsOk());
  std::string any_range =
      B({1, 1, 1, 0, 8, 1, 1, 't', 1, 125, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0});
  EXPECT_THAT(DecodeUpdate(any_range), InvalidWith("integer out of range"));
}

TEST(StateVectors, ReadAsYjsReadsThem) {
  // Clock 2^54 (a rounded lib0 number): nothing of client 1 is missing.
  std::string beyond = B({1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f});
  EXPECT_THAT(DecodeStateVector(beyond),
              ::cloudillo::testing::IsOkAndHolds(StateVector{{1, kClockBeyondAll}}));
  EXPECT_THAT(DiffUpdate(kInsertHi, beyond), ::cloudillo::testing::IsOkAndHolds(B({0, 0})));
  // Infinity (a non-zero 148th byte) likewise; NaN (a zero one) counts as clock 0.
  std::string inf = B({1, 1}) + Overlong(0, 147) + char(1);
  inf[2 + 146] = char(0x80);
  EXPECT_THAT(DiffUpdate(kInsertHi, inf), ::cloudillo::testing::IsOkAndHolds(B({0, 0})));
  EXPECT_THAT(DiffUpdate(kInsertHi, B({1, 1}) + Overlong(0, 148)),
              ::cloudillo::testing::IsOkAndHolds(kInsertHi));
  // A client beyond 2^53 - 1 matches nothing; a NaN count reads no entry.
  EXPECT_THAT(DiffUpdate(kInsertHi, B({1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 5})),
              ::cloudillo::testing::IsOkAndHolds(kInsertHi));
  EXPECT_THAT(DiffUpdate(kInsertHi, Overlong(0, 148) + B({1, 1, 5})),
              ::cloudillo::testing::IsOkAndHolds(kInsertHi));
  // Bytes after the last entry are ignored, as Yjs' readStateVector never looks.
  EXPECT_THAT(DiffUpdate(kInsertHi, B({1, 1, 1, 7, 7})),
              ::cloudillo::testing::IsOkAndHolds(B({1, 1, 1, 1, 0x84, 1, 0, 1, 'i', 0})));
  EXPECT_THAT(DiffUpdate(kInsertHi, B({1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0})),
              InvalidWith("integer out of range"));
  EXPECT_THAT(DiffUpdate(kInsertHi, ""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Subdocuments, OptionsMustNotBeNullOrUndefined) {
  // A ContentDoc (ref 9) in map 'm' with guid "g", then its options as an `any`.
  auto doc = [](std::string opts) { return B({1, 1, 1, 0, 9, 1, 1, 'm', 1, 'g'}) + opts + char(0); };
  // readContentDoc reads `opts.shouldLoad`, which throws for these two only.
  for (int tag : {126, 127}) {
    EXPECT_THAT(DecodeUpdate(doc(B({tag}))), InvalidWith("subdocument options")) << tag;
    EXPECT_THAT(MergeUpdates({doc(B({tag})), kInsertHi}), InvalidWith("subdocument options")) << tag;
  }
  // Anything else is applied; Yjs then writes the options it derived, none from a
  // non-object, so merges and diffs write an empty object.
  const std::string empty_object = B({118, 0});
  for (const std::string& opts :
       {B({125, 5}), B({120}), B({119, 2, 'a', 'b'}), B({117, 1, 126}), B({116, 0})}) {
    ASSERT_THAT(DecodeUpdate(doc(opts)), IsOk());
    EXPECT_EQ(EncodeUpdate(*DecodeUpdate(doc(opts))), doc(opts));
    EXPECT_THAT(DiffUpdate(doc(opts), B({0})), ::cloudillo::testing::IsOkAndHolds(doc(empty_object)));
  }
  const std::string meta = B({118, 1, 4, 'm', 'e', 't', 'a', 119, 1, 'x'});
  EXPECT_THAT(DiffUpdate(doc(meta), B({0})), ::cloudillo::testing::IsOkAndHolds(doc(meta)));
}

TEST(Empty, ZeroLengthInputsFailAsInYjs) {
  // lib0 throws "Unexpected end of array" reading the first count of each.
  EXPECT_THAT(DecodeUpdate(""), InvalidWith("unexpected end of array"));
  EXPECT_THAT(DiffUpdate("", B({0})), InvalidWith("unexpected end of array"));
  EXPECT_THAT(DiffUpdate(kInsertHi, ""), InvalidWith("unexpected end of array"));
  EXPECT_THAT(StateVectorFromUpdate(""), InvalidWith("unexpected end of array"));
  EXPECT_THAT(MergeUpdates({"", kInsertHi}), InvalidWith("unexpected end of array"));
  EXPECT_THAT(MergeUpdates({kInsertHi, ""}), InvalidWith("unexpected end of array"));
  // Y.mergeUpdates([]) is an update without structs or deletions.
  EXPECT_THAT(MergeUpdates({}), ::cloudillo::testing::IsOkAndHolds(B({0, 0})));
  // Y.mergeUpdates([u]) returns u unread; we validate it.
  EXPECT_THAT(MergeUpdates({""}), InvalidWith("unexpected end of array"));
}

// Two clients typing one character each per update: client 2 at `clock` in text 't',
// then client 1, each after its own previous character.
std::string TinyUpdate(uint64_t clock) {
  std::string u = B({2});
  for (int client : {2, 1}) {
    u += B({1, client});
    u += Varint(clock);
    if (clock == 0) {
      u += B({4, 1, 1, 't'});
    } else {
      u += B({0x84, client});
      u += Varint(clock - 1);
    }
    u += B({1, client == 1 ? 'a' : 'b'});
  }
  return u + char(0);
}

TEST(Merge, ManyUpdatesInOneCallAsInChunks) {
  constexpr size_t kN = 100'000;
  std::vector<std::string> updates;
  for (size_t i = 0; i < kN; ++i) updates.push_back(TinyUpdate(i));
  // Out of order, so that every round re-inserts a decoder somewhere in the middle.
  std::mt19937 rng(7);
  std::shuffle(updates.begin(), updates.end(), rng);
  std::vector<std::string_view> all(updates.begin(), updates.end());

  // Its speed is measured by `tools/bench yjs` (one call against chunks), not here.
  auto one_call = MergeUpdates(all);
  ASSERT_THAT(one_call, IsOk());

  std::vector<std::string> chunks;
  for (size_t i = 0; i < kN; i += 1000) {
    std::vector<std::string_view> part(all.begin() + i, all.begin() + i + 1000);
    chunks.push_back(*MergeUpdates(part));
  }
  auto chunked = MergeUpdates(std::vector<std::string_view>(chunks.begin(), chunks.end()));
  ASSERT_THAT(chunked, IsOk());
  EXPECT_EQ(*one_call, *chunked);
  EXPECT_THAT(StateVectorFromUpdate(*one_call),
              ::cloudillo::testing::IsOkAndHolds(B({2, 2}) + Varint(kN) + B({1}) + Varint(kN)));
}

TEST(Hostile, LimitsAreEnforced) {
  Limits l;
  l.max_update_bytes = 4;
  EXPECT_THAT(DecodeUpdate(kInsertHi, l), StatusIs(absl::StatusCode::kResourceExhausted));
  Limits s;
  s.max_structs = 1;
  EXPECT_THAT(DecodeUpdate(*MergeUpdates({kInsertHi, kAppendX}), s),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(DecodeStateVector(B({5, 1})), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DiffUpdate(kInsertHi, B({1})), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cloudillo::yjs
