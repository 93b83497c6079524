// libFuzzer target for HTTP/1.1 request parsing as the server configures it
// (header limit, per-request body limit chosen after the head, chunked bodies).
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(16 * 1024 * 1024);  // ServerOptions::max_body_limit
  // As the server does: the head first (not eager), then the body under its limit.
  // (Parsing eagerly with no limit lets a declared Content-Length reserve that much,
  // which is why the server decides the limit before reading any body byte.)
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && parser.is_header_done()) {
    parser.body_limit(1 << 20);
    parser.eager(true);
    (void)parser.get().target();
    (void)parser.content_length();
    if (used < size) parser.put(boost::asio::buffer(data + used, size - used), ec);
  }
  return 0;
}
