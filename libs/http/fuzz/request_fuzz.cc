// libFuzzer target for reading an HTTP/1.1 request head exactly as the server does:
// Beast's parser under the server's limits, fed in small steps, with the obsolete
// line folding scan and the RFC 9112 framing checks of request_head.h; then the
// body under a per-route limit, as the server continues after the head. Also the
// Accept-Encoding negotiation over the same bytes.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>

#include "../src/request_head.h"
#include "cloudillo/http/content_coding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace http = boost::beast::http;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)cloudillo::http::internal::ParseHeadForTest(bytes, 16 * 1024, 100);
  (void)cloudillo::http::NegotiateCoding(bytes);  // Accept-Encoding as any header value

  cloudillo::http::internal::HeadParser head;
  head.header_limit(16 * 1024);
  head.body_limit(16 * 1024 * 1024);
  head.eager(false);
  boost::beast::error_code ec;
  size_t used = head.put(boost::asio::buffer(data, size), ec);
  if (ec || !head.is_header_done()) return 0;
  if (cloudillo::http::internal::CheckFraming(head, 100)) return 0;
  (void)cloudillo::http::internal::HeadOf(head, "127.0.0.1", false);
  http::request_parser<http::string_body> body(std::move(head));
  body.body_limit(1 << 20);
  // A message without a body is complete after its head; Beast forbids feeding more
  // (the server's async_read checks is_done() the same way).
  if (used < size && !body.is_done()) body.put(boost::asio::buffer(data + used, size - used), ec);
  return 0;
}
