#include "request_head.h"

#include <boost/beast/websocket/rfc6455.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace cloudillo::http::internal {

namespace bhttp = boost::beast::http;

bool FoldScanner::FoundFold(std::string_view data) {
  size_t i = scanned_;
  if (!leading_done_) {
    while (i < data.size() && (data[i] == '\r' || data[i] == '\n')) ++i;
    if (i == data.size()) {
      scanned_ = i;
      return false;
    }
    leading_done_ = true;
  }
  for (; !head_done_ && i + 1 < data.size(); ++i) {
    if (data[i] != '\n') continue;
    char next = data[i + 1];
    if (next == ' ' || next == '\t') return true;
    if (next == '\r' || next == '\n') head_done_ = true;  // the empty line ending the head
  }
  scanned_ = i;
  return false;
}

std::optional<HeadProblem> CheckFraming(const HeadParser& parser, size_t max_fields) {
  const auto& msg = parser.get();
  size_t fields = 0, hosts = 0, lengths = 0, encodings = 0;
  for (const auto& f : msg) {
    ++fields;
    switch (f.name()) {
      case bhttp::field::host:
        ++hosts;
        break;
      case bhttp::field::content_length:
        ++lengths;
        break;
      case bhttp::field::transfer_encoding:
        ++encodings;
        break;
      default:
        break;
    }
  }
  if (fields > max_fields) return HeadProblem{431, "too many header fields"};
  if (msg.version() != 11 && msg.version() != 10) return HeadProblem{400, "unsupported HTTP version"};
  if (msg.version() == 11 ? hosts != 1 : hosts > 1) return HeadProblem{400, "exactly one Host header required"};
  if (lengths > 1) return HeadProblem{400, "more than one Content-Length"};
  if (encodings > 0) {
    if (encodings > 1) return HeadProblem{400, "more than one Transfer-Encoding"};
    if (msg.version() == 10) return HeadProblem{400, "Transfer-Encoding in an HTTP/1.0 request"};
    if (lengths > 0) return HeadProblem{400, "Transfer-Encoding together with Content-Length"};
    std::string te(absl::StripAsciiWhitespace(std::string(msg[bhttp::field::transfer_encoding])));
    if (!absl::EqualsIgnoreCase(te, "chunked")) return HeadProblem{400, "unsupported Transfer-Encoding"};
  }
  return std::nullopt;
}

Request HeadOf(const HeadParser& parser, const std::string& client_ip, bool tls) {
  const auto& msg = parser.get();
  Request r;
  r.method = std::string(msg.method_string());
  r.target = std::string(msg.target());
  size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  r.headers.reserve(16);
  for (const auto& f : msg) {
    std::string name(f.name_string());
    absl::AsciiStrToLower(&name);
    r.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  r.client_ip = client_ip;
  r.tls = tls;
  r.websocket_upgrade = boost::beast::websocket::is_upgrade(msg);
  return r;
}

std::optional<HeadProblem> ParseHeadForTest(std::string_view bytes, size_t header_limit, size_t max_fields) {
  HeadParser parser;
  parser.header_limit(static_cast<uint32_t>(header_limit));
  parser.body_limit(16 * 1024 * 1024);
  parser.eager(false);
  FoldScanner folds;
  // Feed in small steps, as a slow client would, to exercise the incremental scan.
  size_t fed = 0, consumed = 0;
  while (fed < bytes.size() && !parser.is_header_done()) {
    fed = std::min(bytes.size(), fed + 7);
    std::string_view pending = bytes.substr(consumed, fed - consumed);
    if (folds.FoundFold(pending)) return HeadProblem{400, "obsolete line folding"};
    boost::beast::error_code ec;
    size_t n = parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
    if (ec == bhttp::error::need_more) continue;
    if (ec == bhttp::error::header_limit) return HeadProblem{431, "header too large"};
    if (ec) return HeadProblem{400, ec.message()};
    consumed += n;
  }
  if (!parser.is_header_done()) return std::nullopt;  // incomplete: the server would wait
  return CheckFraming(parser, max_fields);
}

}  // namespace cloudillo::http::internal
