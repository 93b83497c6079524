// Reading a request head the way RFC 9112 asks, beyond what Beast's parser checks.
// Kept apart from the server so the request fuzzer and the unit tests drive the very
// code the server runs.
#pragma once

#include <boost/beast/http.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cloudillo/http/server.h"

namespace cloudillo::http::internal {

using HeadParser = boost::beast::http::request_parser<boost::beast::http::empty_body>;

struct HeadProblem {
  int status;  // 400 or 431
  std::string reason;
};

// Watches the bytes of one request head as they arrive for obsolete line folding
// (a field line starting with a space or tab), which Beast would silently unfold.
// Linear overall: each byte is looked at once, whatever the read sizes.
class FoldScanner {
 public:
  // `data` is the unconsumed input starting at the request's first byte; it only
  // grows between calls. Returns true when a folded line appears in the head.
  bool FoundFold(std::string_view data);

 private:
  size_t scanned_ = 0;
  bool leading_done_ = false;  // empty lines before the request line are allowed
  bool head_done_ = false;
};

// The checks on a parsed head: field count, Host, Content-Length and
// Transfer-Encoding. nullopt when the head is acceptable.
std::optional<HeadProblem> CheckFraming(const HeadParser& parser, size_t max_fields);

// The Request the handler sees (names lowercased, target split at '?').
Request HeadOf(const HeadParser& parser, const std::string& client_ip, bool tls);

// Parses `bytes` as the server does (limits, fold scan, framing checks) and returns
// the problem, if any; for the fuzzer and tests.
std::optional<HeadProblem> ParseHeadForTest(std::string_view bytes, size_t header_limit, size_t max_fields);

}  // namespace cloudillo::http::internal
