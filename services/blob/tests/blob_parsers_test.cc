// The byte-level parsers of the blob service: ids, names, descriptors, ranges.
#include <gtest/gtest.h>

#include "byte_range.h"
#include "file_ids.h"
#include "presets.h"

namespace cloudillo::blob {
namespace {

std::string Sha(std::string_view s) {
  Sha256Stream h;
  h.Update(s);
  return h.Finish();
}

TEST(ContentId, IsPrefixVersionAndBase64UrlOfSha256) {
  // SHA-256("") = e3b0c442…b855; its base64url without padding.
  EXPECT_EQ(ContentId('b', Sha("")), "b1~47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
  EXPECT_TRUE(IsContentId(ContentId('b', Sha("x")), 'b'));
  EXPECT_FALSE(IsContentId(ContentId('b', Sha("x")), 'f'));
}

TEST(ContentId, StreamedHashEqualsOneShot) {
  Sha256Stream h;
  h.Update("hello ");
  h.Update("world");
  EXPECT_EQ(h.Finish(), Sha("hello world"));
}

TEST(ContentId, RejectsHostileIds) {
  std::string good = ContentId('f', Sha("x"));
  for (std::string bad :
       {std::string(""), std::string("f1~"), good.substr(0, 45), good + "A",
        std::string("f2~") + good.substr(3), std::string("f1~../../etc/passwd"),
        good.substr(0, 45) + "B" /* non-canonical last character */,
        good.substr(0, 10) + "/" + good.substr(11), good.substr(0, 10) + "=" + good.substr(11)}) {
    EXPECT_FALSE(IsContentId(bad, 'f')) << bad;
    EXPECT_FALSE(IsFileId(bad)) << bad;
  }
  EXPECT_TRUE(IsFileId("abcdefghijklmnopqrstuvwx"));
  EXPECT_FALSE(IsFileId("abcdefghijklmnopqrstuvw-"));
  EXPECT_FALSE(IsFileId("abcdefghijklmnopqrstuvw"));
}

TEST(FileName, AcceptsUnicodeRefusesPathsAndControls) {
  EXPECT_TRUE(IsValidFileName("photo.jpg"));
  EXPECT_TRUE(IsValidFileName("résumé 2024 (final).pdf"));
  for (std::string bad : {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("a\\b"), std::string("a\nb"), std::string("a\0b", 3),
                          std::string(256, 'a'), std::string("\xff\xfe"), std::string("a\x7f")}) {
    EXPECT_FALSE(IsValidFileName(bad)) << bad;
  }
}

TEST(Tag, Charset) {
  EXPECT_TRUE(IsValidTag("work"));
  EXPECT_TRUE(IsValidTag("a.b:c-d_e"));
  EXPECT_FALSE(IsValidTag(""));
  EXPECT_FALSE(IsValidTag("a b"));
  EXPECT_FALSE(IsValidTag("a,b"));
  EXPECT_FALSE(IsValidTag("{a}"));
  EXPECT_FALSE(IsValidTag(std::string(65, 'a')));
}

// An owner sets P, V, F or C; an action may open its attachments to 2 as well.
TEST(Visibility, SettableAndOpenLetters) {
  for (const char* v : {"P", "V", "F", "C"}) {
    EXPECT_TRUE(IsSettableVisibility(v)) << v;
    EXPECT_TRUE(IsOpenVisibility(v)) << v;
  }
  EXPECT_FALSE(IsSettableVisibility("2"));
  EXPECT_TRUE(IsOpenVisibility("2"));
  for (const std::string& bad : {std::string(), std::string("PV"), std::string("S"), std::string("D"),
                                 std::string("p"), std::string("\0", 1), std::string("P\0", 2)}) {
    EXPECT_FALSE(IsSettableVisibility(bad)) << bad;
    EXPECT_FALSE(IsOpenVisibility(bad)) << bad;
  }
}

TEST(Descriptor, BuildsSortedAndParsesBack) {
  std::string a = ContentId('b', Sha("a")), b = ContentId('b', Sha("b")), c = ContentId('b', Sha("c"));
  std::vector<Variant> v = {{"orig", a, "jpeg", 50000, 2000, 1000},
                            {"vis.sd", b, "webp", 10240, 720, 360},
                            {"vis.tn", c, "webp", 2048, 256, 128}};
  std::string d = BuildDescriptor(v);
  EXPECT_EQ(d, "d2,vis.tn:" + c + ":f=webp:s=2048:r=256x128;vis.sd:" + b +
                   ":f=webp:s=10240:r=720x360;orig:" + a + ":f=jpeg:s=50000:r=2000x1000");
  auto parsed = ParseDescriptor(d);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[2].name, "orig");
  EXPECT_EQ((*parsed)[2].width, 2000);
  EXPECT_EQ((*parsed)[0].blob_id, c);
}

TEST(Descriptor, RootPrefixUnknownPropertiesAndDefaultFormat) {
  std::string a = ContentId('b', Sha("a"));
  auto p = ParseDescriptor("d2,R=" + ContentId('f', Sha("r")) + ";vis.tn:" + a + ":s=10:zz=1:r=1x2");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].format, "avif");
  EXPECT_EQ((*p)[0].size, 10);
  EXPECT_FALSE(ParseDescriptor("d1~x"));
  EXPECT_FALSE(ParseDescriptor("d2,"));
  EXPECT_FALSE(ParseDescriptor("d2,orig:b1~short"));
  EXPECT_FALSE(ParseDescriptor("d2,orig:" + a + ":s=-1"));
  EXPECT_FALSE(ParseDescriptor("d2,orig:" + a + ":r=1"));
}

TEST(Descriptor, BestVariantFollowsTheFallbackChain) {
  std::string a = ContentId('b', Sha("a"));
  std::vector<Variant> v = {{"vis.tn", a, "webp", 1}, {"vis.md", a, "webp", 3}, {"orig", a, "png", 9}};
  EXPECT_EQ(BestVariant(v, "")->name, "orig");
  EXPECT_EQ(BestVariant(v, "vis.sd")->name, "vis.md");
  EXPECT_EQ(BestVariant(v, "sd")->name, "vis.md");
  EXPECT_EQ(BestVariant(v, "vis.tn")->name, "vis.tn");
  EXPECT_EQ(BestVariant(v, "vis.xd")->name, "orig");  // last resort: the largest
  std::vector<Variant> no_orig = {{"vis.tn", a, "webp", 1}, {"vis.hd", a, "webp", 5}};
  EXPECT_EQ(BestVariant(no_orig, "")->name, "vis.hd");
  EXPECT_EQ(BestVariant({}, ""), nullptr);
}

TEST(ContentTypes, ActiveContentIsNeverNamed) {
  EXPECT_EQ(FormatOfContentType("image/jpeg"), "jpeg");
  EXPECT_EQ(FormatOfContentType("IMAGE/PNG; charset=x"), "png");
  EXPECT_EQ(FormatOfContentType("text/html"), "bin");
  EXPECT_EQ(FormatOfContentType("application/javascript"), "bin");
  EXPECT_EQ(ContentTypeOfFormat("bin"), "application/octet-stream");
  EXPECT_EQ(ContentTypeOfFormat("webp"), "image/webp");
}

TEST(Presets, UnknownFallsBackToDefaultAndNamesAreChecked) {
  EXPECT_EQ(PresetNamed("nope").name, "default");
  EXPECT_TRUE(PresetNamed("file").allows_raw);
  EXPECT_FALSE(PresetNamed("default").allows_raw);
  EXPECT_EQ(PresetNamed("profile-picture").images.front().px, 80);
  EXPECT_TRUE(IsValidPresetName("high_quality"));
  EXPECT_FALSE(IsValidPresetName("../x"));
  EXPECT_FALSE(IsValidPresetName("Default"));
  EXPECT_FALSE(IsValidPresetName(""));
  EXPECT_EQ(ClassOf("image/png"), "vis");
  EXPECT_EQ(ClassOf("application/zip"), "raw");
}

TEST(Range, SingleRanges) {
  ByteRange r;
  EXPECT_EQ(ParseRange("", 100, &r), RangeVerdict::kWhole);
  EXPECT_EQ(ParseRange("bytes=0-9", 100, &r), RangeVerdict::kPartial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.length, 10u);
  EXPECT_EQ(ParseRange("bytes=90-", 100, &r), RangeVerdict::kPartial);
  EXPECT_EQ(r.length, 10u);
  EXPECT_EQ(ParseRange("bytes=-5", 100, &r), RangeVerdict::kPartial);
  EXPECT_EQ(r.first, 95u);
  EXPECT_EQ(ParseRange("bytes=-500", 100, &r), RangeVerdict::kPartial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.length, 100u);
  EXPECT_EQ(ParseRange("bytes=50-1000", 100, &r), RangeVerdict::kPartial);
  EXPECT_EQ(r.length, 50u);
}

TEST(Range, UnsatisfiableAndMalformed) {
  ByteRange r;
  for (const char* bad : {"bytes=100-", "bytes=5-4", "bytes=-0", "bytes=abc", "bytes=", "bytes=1", "bytes=-",
                          "bytes=+1-2", "bytes=1-2x", "bytes=99999999999999999999-"}) {
    EXPECT_EQ(ParseRange(bad, 100, &r), RangeVerdict::kUnsatisfiable) << bad;
  }
  EXPECT_EQ(ParseRange("bytes=0-", 0, &r), RangeVerdict::kUnsatisfiable);
  // Other units and several ranges: the whole body.
  EXPECT_EQ(ParseRange("items=0-1", 100, &r), RangeVerdict::kWhole);
  EXPECT_EQ(ParseRange("bytes=0-1,5-6", 100, &r), RangeVerdict::kWhole);
}

}  // namespace
}  // namespace cloudillo::blob

namespace cloudillo::blob {
namespace {

TEST(IfNoneMatch, MatchesTheTagInItsCommonForms) {
  const std::string tag = "b1~AAAA";
  EXPECT_TRUE(IfNoneMatchHits("\"b1~AAAA\"", tag));
  EXPECT_TRUE(IfNoneMatchHits("W/\"b1~AAAA\"", tag));
  EXPECT_TRUE(IfNoneMatchHits("b1~AAAA", tag));
  EXPECT_TRUE(IfNoneMatchHits("\"x\", \"b1~AAAA\"", tag));
  EXPECT_TRUE(IfNoneMatchHits(" \"b1~AAAA\" ", tag));
  EXPECT_TRUE(IfNoneMatchHits("*", tag));
}

TEST(IfNoneMatch, OtherTagsAndHostileHeadersDoNotMatch) {
  const std::string tag = "b1~AAAA";
  for (const char* h : {"", "\"\"", "\"b1~AAAB\"", "\"b1~AAAA", "b1~AAA", "\"b1~AAAAA\"", ",,,", "W/",
                        "W/\"\"", "\"B1~AAAA\"", "**", "\"*\"x", "\"b1~AAAA\"\"b1~AAAA\""}) {
    EXPECT_FALSE(IfNoneMatchHits(h, tag)) << h;
  }
  EXPECT_FALSE(IfNoneMatchHits(std::string(100000, ','), tag));
  EXPECT_FALSE(IfNoneMatchHits("\"b1~AAAA\"", ""));
}

}  // namespace
}  // namespace cloudillo::blob
