#include "../src/request_head.h"

#include <gtest/gtest.h>

namespace cloudillo::http::internal {
namespace {

std::optional<HeadProblem> Parse(const std::string& bytes) { return ParseHeadForTest(bytes, 16 * 1024, 100); }

TEST(FoldScanner, FindsFoldsOnlyInTheHead) {
  FoldScanner a;
  EXPECT_TRUE(a.FoundFold("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"));
  FoldScanner b;
  EXPECT_FALSE(b.FoundFold("POST / HTTP/1.1\r\nHost: h\r\n\r\nbody\r\n with a space"));
  // Fed a byte at a time, the answer is the same.
  std::string folded = "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n";
  FoldScanner c;
  bool found = false;
  for (size_t n = 1; n <= folded.size() && !found; ++n) found = c.FoundFold(std::string_view(folded).substr(0, n));
  EXPECT_TRUE(found);
  // Empty lines before the request line are allowed and are not the end of the head.
  FoldScanner d;
  EXPECT_TRUE(d.FoundFold("\r\n\r\nGET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"));
  FoldScanner e;
  EXPECT_FALSE(e.FoundFold("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"));
}

TEST(RequestHead, AcceptsOrdinaryRequests) {
  EXPECT_FALSE(Parse("GET /a?b=c HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n"));
  EXPECT_FALSE(Parse("GET / HTTP/1.0\r\n\r\n"));  // HTTP/1.0 needs no Host
  EXPECT_FALSE(Parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_FALSE(Parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"));
}

TEST(RequestHead, RefusesAmbiguousFraming) {
  struct Case {
    const char* bytes;
    int status;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: 1\r\n 2\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    auto p = Parse(c.bytes);
    ASSERT_TRUE(p.has_value()) << c.bytes;
    EXPECT_EQ(p->status, c.status) << c.bytes;
  }
}

TEST(RequestHead, LimitsFieldsAndBytes) {
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 100; ++i) many += "A" + std::to_string(i) + ": 1\r\n";
  auto p = Parse(many + "\r\n");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->status, 431);
  p = Parse("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(17000, 'a') + "\r\n\r\n");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->status, 431);
}

TEST(RequestHead, HostileBytesAreRefusedOrAwaited) {
  // Complete but malformed heads are refused with 400.
  for (const std::string& s : std::vector<std::string>{"G\xff / HTTP/1.1\r\nHost: h\r\n\r\n", "GET / HTTP/1.1\r\nHost h\r\n\r\n",
                        "GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", std::string("\0\0\0\r\n\r\n", 7)}) {
    auto p = Parse(s);
    ASSERT_TRUE(p.has_value()) << s;
    EXPECT_EQ(p->status, 400) << s;
  }
  // Incomplete heads are not problems yet: the server waits for more (under its timeout).
  EXPECT_FALSE(Parse("GET"));
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nHost: h\r\n"));
}

}  // namespace
}  // namespace cloudillo::http::internal
