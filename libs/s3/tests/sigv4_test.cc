// SigV4 against AWS's published vectors: the Signature Version 4 test suite
// (get-vanilla, get-vanilla-query-order-key-case, post-vanilla; credentials
// AKIDEXAMPLE, 2015-08-30T12:36:00Z, region us-east-1, service "service") and the
// S3 API reference's "Signature Calculations for the Authorization Header" examples
// (GET Object with a Range, PUT Object, GET Bucket lifecycle, GET Bucket list;
// AKIAIOSFODNN7EXAMPLE, 2013-05-24).
//
// These vectors are the only check of the signature's value: s3rver 3.7.1, the S3
// server of tests/e2e/files_s3.test.mjs, checks that the access key exists but does
// not compute V4 signatures (its authentication middleware leaves V4 "unimplemented"),
// so the e2e run proves the requests' shape, not their signature.
#include "cloudillo/s3/sigv4.h"

#include <gtest/gtest.h>

namespace cloudillo::s3 {
namespace {

const SigV4Credentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1",
                              "service"};
const SigV4Credentials kS3{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1",
                           "s3"};
const std::string kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string SignatureOf(const std::string& authorization) {
  return authorization.substr(authorization.find("Signature=") + 10);
}

TEST(SigV4, SuiteGetVanilla) {
  SigV4Request r{
      "GET", "/", {}, {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}}, kEmpty};
  std::string signed_headers;
  EXPECT_EQ(
      CanonicalRequest(r, &signed_headers),
      "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + kEmpty);
  EXPECT_EQ(SignV4(r, kSuite, "20150830T123600Z"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, SuiteQueryOrderKeyCase) {
  SigV4Request r{"GET",
                 "/",
                 {{"Param2", "value2"}, {"Param1", "value1"}},
                 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                 kEmpty};
  EXPECT_EQ(SignatureOf(SignV4(r, kSuite, "20150830T123600Z")),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, SuitePostVanilla) {
  SigV4Request r{
      "POST", "/", {}, {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}}, kEmpty};
  EXPECT_EQ(SignatureOf(SignV4(r, kSuite, "20150830T123600Z")),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4, S3GetObjectWithRange) {
  SigV4Request r{"GET",
                 "/test.txt",
                 {},
                 {{"Host", "examplebucket.s3.amazonaws.com"},
                  {"Range", "bytes=0-9"},
                  {"x-amz-content-sha256", kEmpty},
                  {"x-amz-date", "20130524T000000Z"}},
                 kEmpty};
  EXPECT_EQ(SignV4(r, kS3, "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3PutObject) {
  const std::string body = "Welcome to Amazon S3.";
  const std::string hash = Sha256Hex(body);
  EXPECT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SigV4Request r{"PUT",
                 "/test$file.text",
                 {},
                 {{"Host", "examplebucket.s3.amazonaws.com"},
                  {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                  {"x-amz-date", "20130524T000000Z"},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                  {"x-amz-content-sha256", hash}},
                 hash};
  EXPECT_EQ(SignV4(r, kS3, "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  // One character of the secret, the body or the key changes the signature.
  SigV4Credentials wrong = kS3;
  wrong.secret_key.back() = 'X';
  EXPECT_NE(SignatureOf(SignV4(r, wrong, "20130524T000000Z")),
            SignatureOf(SignV4(r, kS3, "20130524T000000Z")));
  SigV4Request other_key = r;
  other_key.path = "/test$file.texT";
  EXPECT_NE(SignatureOf(SignV4(other_key, kS3, "20130524T000000Z")),
            SignatureOf(SignV4(r, kS3, "20130524T000000Z")));
}

TEST(SigV4, S3GetBucketLifecycle) {
  SigV4Request r{"GET",
                 "/",
                 {{"lifecycle", ""}},
                 {{"Host", "examplebucket.s3.amazonaws.com"},
                  {"x-amz-content-sha256", kEmpty},
                  {"x-amz-date", "20130524T000000Z"}},
                 kEmpty};
  EXPECT_EQ(SignatureOf(SignV4(r, kS3, "20130524T000000Z")),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, S3ListObjects) {
  SigV4Request r{"GET",
                 "/",
                 {{"max-keys", "2"}, {"prefix", "J"}},
                 {{"Host", "examplebucket.s3.amazonaws.com"},
                  {"x-amz-content-sha256", kEmpty},
                  {"x-amz-date", "20130524T000000Z"}},
                 kEmpty};
  EXPECT_EQ(SignatureOf(SignV4(r, kS3, "20130524T000000Z")),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, EncodingAndDate) {
  EXPECT_EQ(UriEncode("a b/ü~.txt", false), "a%20b/%C3%BC~.txt");
  EXPECT_EQ(UriEncode("a/b=c", true), "a%2Fb%3Dc");
  EXPECT_EQ(AmzDate(absl::FromUnixSeconds(1440938160)), "20150830T123600Z");
  EXPECT_EQ(Sha256Hex(""), kEmpty);
}

}  // namespace
}  // namespace cloudillo::s3
