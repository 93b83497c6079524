#include "cloudillo/http/content_coding.h"

#include <gtest/gtest.h>
#include <zlib.h>

#ifdef CLOUDILLO_WITH_BROTLI
#include <brotli/decode.h>
#endif

namespace cloudillo::http {
namespace {

std::string Gunzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::string Unbrotli(const std::string& in) {
#ifdef CLOUDILLO_WITH_BROTLI
  std::string out(1 << 20, '\0');
  size_t size = out.size();
  EXPECT_EQ(BrotliDecoderDecompress(in.size(), reinterpret_cast<const uint8_t*>(in.data()), &size,
                                    reinterpret_cast<uint8_t*>(out.data())),
            BROTLI_DECODER_RESULT_SUCCESS);
  out.resize(size);
  return out;
#else
  ADD_FAILURE() << "no Brotli in this build";
  return "";
#endif
}

const ContentCoding kBest = BrotliAvailable() ? ContentCoding::kBrotli : ContentCoding::kGzip;

TEST(ContentCodingTest, NegotiatesWhatBrowsersSend) {
  EXPECT_EQ(NegotiateCoding("gzip, deflate, br, zstd"), kBest);
  EXPECT_EQ(NegotiateCoding("gzip, deflate"), ContentCoding::kGzip);
  EXPECT_EQ(NegotiateCoding("GZIP"), ContentCoding::kGzip);
  EXPECT_EQ(NegotiateCoding("x-gzip"), ContentCoding::kGzip);
  EXPECT_EQ(NegotiateCoding(""), ContentCoding::kIdentity);
  EXPECT_EQ(NegotiateCoding("identity"), ContentCoding::kIdentity);
  EXPECT_EQ(NegotiateCoding("deflate, zstd"), ContentCoding::kIdentity);
  EXPECT_EQ(NegotiateCoding("gzip, deflate, br", Preference::kCheapest), ContentCoding::kGzip);
  EXPECT_EQ(NegotiateCoding("br", Preference::kCheapest), kBest);
  EXPECT_EQ(NegotiateCoding("gzip;q=0.5, br", Preference::kCheapest), kBest);
}

TEST(ContentCodingTest, WeightsDecideAndZeroRefuses) {
  EXPECT_EQ(NegotiateCoding("br;q=0, gzip"), ContentCoding::kGzip);
  EXPECT_EQ(NegotiateCoding("br;q=0.5, gzip;q=0.9"), ContentCoding::kGzip);
  EXPECT_EQ(NegotiateCoding("gzip;q=0"), ContentCoding::kIdentity);
  EXPECT_EQ(NegotiateCoding("gzip;q=0.000"), ContentCoding::kIdentity);
  EXPECT_EQ(NegotiateCoding("*"), kBest);
  EXPECT_EQ(NegotiateCoding("*;q=0"), ContentCoding::kIdentity);
  EXPECT_EQ(NegotiateCoding("*;q=0.1, br;q=0"), ContentCoding::kGzip);
  EXPECT_EQ(NegotiateCoding("gzip ; Q=1.000"), ContentCoding::kGzip);
  // The first mention decides: a refusal is not overturned by a repeat.
  EXPECT_EQ(NegotiateCoding("gzip;q=0, gzip"), ContentCoding::kIdentity);
}

TEST(ContentCodingTest, HostileHeadersNeverSelectAnythingByAccident) {
  for (const char* h : {"gzip;q=2", "gzip;q=1.5", "gzip;q=-1", "gzip;q=0.0001", "gzip;q=", "gzip;q=abc",
                        "gzip;q=01", "gzip;q=1.01", ";;;,,,", ",", ";q=1", "gzipx", "g zip", "\x01gzip"}) {
    EXPECT_EQ(NegotiateCoding(h), ContentCoding::kIdentity) << h;
  }
  EXPECT_EQ(NegotiateCoding(std::string_view("gzip\0", 5)), ContentCoding::kIdentity);
  EXPECT_EQ(NegotiateCoding("gzip;q=1."), ContentCoding::kGzip);  // "1." is a valid weight
  EXPECT_EQ(NegotiateCoding(",, gzip ,,"), ContentCoding::kGzip);
  EXPECT_EQ(NegotiateCoding("gzip;level=9;q=0.5"), ContentCoding::kGzip);  // unknown parameters are ignored
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "a;q=0.5,";
  EXPECT_EQ(NegotiateCoding(many + "gzip"), ContentCoding::kGzip);
}

TEST(ContentCodingTest, EncodesRoundTrip) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "{\"n\":" + std::to_string(i) + ",\"v\":\"value\"},";
  for (Effort e : {Effort::kFast, Effort::kBest}) {
    auto gz = Encode(ContentCoding::kGzip, text, e);
    ASSERT_TRUE(gz.ok());
    EXPECT_LT(gz->size(), text.size() / 4);
    EXPECT_EQ(Gunzip(*gz), text);
    if (BrotliAvailable()) {
      auto br = Encode(ContentCoding::kBrotli, text, e);
      ASSERT_TRUE(br.ok());
      EXPECT_LT(br->size(), text.size() / 4);
      EXPECT_EQ(Unbrotli(*br), text);
    }
  }
  auto empty = Encode(ContentCoding::kGzip, "", Effort::kFast);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Gunzip(*empty), "");
}

Response Json(std::string body) {
  Response r;
  r.body = std::move(body);
  r.Set("Content-Type", "application/json");
  r.Set("ETag", "\"abc\"");
  return r;
}

std::string Header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "(none)";
}

TEST(ContentCodingTest, CompressesTextAnswersWhenAskedAndNeverWhenNot) {
  std::string big(4000, 'x');
  Response asked = Json(big);
  CompressResponse("gzip", asked);
  EXPECT_EQ(Header(asked, "Content-Encoding"), "gzip");
  EXPECT_EQ(Header(asked, "Vary"), "accept-encoding");
  EXPECT_EQ(Header(asked, "ETag"), "W/\"abc\"");
  EXPECT_EQ(Gunzip(asked.body), big);

  Response not_asked = Json(big);
  CompressResponse("", not_asked);
  EXPECT_EQ(not_asked.body, big);
  EXPECT_EQ(Header(not_asked, "Content-Encoding"), "(none)");
  EXPECT_EQ(Header(not_asked, "Vary"), "accept-encoding");  // the answer still depends on the header
  EXPECT_EQ(Header(not_asked, "ETag"), "\"abc\"");

  // Brotli only where the client does not take gzip as gladly.
  Response brotli = Json(big);
  CompressResponse("gzip;q=0.8, br", brotli);
  if (BrotliAvailable()) {
    EXPECT_EQ(Header(brotli, "Content-Encoding"), "br");
    EXPECT_EQ(Unbrotli(brotli.body), big);
  }
  Response both = Json(big);
  CompressResponse("gzip, deflate, br", both);
  EXPECT_EQ(Header(both, "Content-Encoding"), "gzip");

  Response small = Json("{\"a\":1}");
  CompressResponse("gzip", small);
  EXPECT_EQ(small.body, "{\"a\":1}");
}

TEST(ContentCodingTest, LeavesAloneWhatMustNotBeCompressed) {
  std::string big(4000, 'x');
  Response png = Json(big);
  png.headers[0].second = "image/png";
  CompressResponse("gzip", png);
  EXPECT_EQ(png.body, big);
  for (int status : {204, 206, 304, 101}) {
    Response r = Json(big);
    r.status = status;
    CompressResponse("gzip", r);
    EXPECT_EQ(r.body, big) << status;
  }
  Response encoded = Json(big);
  encoded.Set("Content-Encoding", "br");
  CompressResponse("gzip", encoded);
  EXPECT_EQ(encoded.body, big);
  // An existing Vary is extended once, not replaced.
  Response cors = Json(big);
  cors.Set("Vary", "origin");
  CompressResponse("gzip", cors);
  CompressResponse("gzip", cors);
  EXPECT_EQ(Header(cors, "Vary"), "origin, accept-encoding");
}

TEST(ContentCodingTest, KnowsTextTypes) {
  EXPECT_TRUE(CompressibleType("application/json"));
  EXPECT_TRUE(CompressibleType("text/html; charset=utf-8"));
  EXPECT_TRUE(CompressibleType("Text/JavaScript;charset=utf-8"));
  EXPECT_TRUE(CompressibleType("image/svg+xml"));
  EXPECT_FALSE(CompressibleType("image/png"));
  EXPECT_FALSE(CompressibleType("font/woff2"));
  EXPECT_FALSE(CompressibleType("application/octet-stream"));
  EXPECT_FALSE(CompressibleType(""));
}

}  // namespace
}  // namespace cloudillo::http
