// The S3-compatible store (blob_store.h): objects `<bucket>/<tn_id>/<b1~id>` signed
// with libs/s3's Signature V4, over plain HTTP/1.1 (one connection per request, each
// bounded by a timeout). A blob of up to one part is one PUT; a larger one is a
// multipart upload read from the spool file one part at a time (memory: one part),
// aborted when any step fails, so a failed Put leaves no object. Reads are ranged
// GETs of what the caller asked for.
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <map>

#include "absl/strings/numbers.h"
#include "blob_store.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/s3/sigv4.h"

namespace cloudillo::blob {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Reads `n` bytes at `offset` of a file.
absl::StatusOr<std::string> ReadAt(const std::string& path, uint64_t offset, size_t n) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError("open spool file");
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out.data() + got, n - got, off_t(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += size_t(r);
  }
  ::close(fd);
  if (got != n) return absl::InternalError("spool file shorter than expected");
  return out;
}

std::string Between(const std::string& s, const std::string& open, const std::string& close) {
  size_t a = s.find(open);
  if (a == std::string::npos) return "";
  a += open.size();
  size_t b = s.find(close, a);
  return b == std::string::npos ? "" : s.substr(a, b - a);
}

class S3Store;

class S3Reader final : public BlobReader {
 public:
  S3Reader(S3Store& store, std::string key, uint64_t size)
      : store_(store), key_(std::move(key)), size_(size) {}
  uint64_t size() const override { return size_; }
  absl::StatusOr<std::string> Read(uint64_t offset, size_t max) override;

 private:
  absl::StatusOr<std::string> Fetch(uint64_t offset, uint64_t max);

  // Reads ahead in windows of kWindow bytes: one request per window, not per chunk.
  static constexpr uint64_t kWindow = 4 * 1024 * 1024;
  S3Store& store_;
  std::string key_;
  uint64_t size_;
  uint64_t window_at_ = 0;
  std::string window_;
};

class S3Store final : public BlobStore {
 public:
  explicit S3Store(S3Options o) : o_(std::move(o)) {}

  absl::Status Init() {
    std::string ep = o_.endpoint;
    if (ep.rfind("http://", 0) != 0)
      return absl::InvalidArgumentError("CLOUDILLO_S3_ENDPOINT must be http://host:port");
    ep = ep.substr(7);
    while (!ep.empty() && ep.back() == '/') ep.pop_back();
    size_t colon = ep.rfind(':');
    host_ = colon == std::string::npos ? ep : ep.substr(0, colon);
    port_ = colon == std::string::npos ? "80" : ep.substr(colon + 1);
    host_header_ = ep;
    if (absl::Status st = PrepareSpoolDir(o_.spool_dir); !st.ok()) return st;
    // A bucket of our own is made when missing (a provider's usually exists already).
    auto head = Call("HEAD", "", {}, {}, "");
    if (!head.ok()) return head.status();
    if (head->status == 200) return absl::OkStatus();
    auto made = Call("PUT", "", {}, {}, "");
    if (!made.ok()) return made.status();
    return made->status == 200 || made->status == 409 ? absl::OkStatus() : Failed("CreateBucket", *made);
  }

  const std::string& spool_dir() const override { return o_.spool_dir; }

  absl::Status Put(int64_t tn_id, const std::string& blob_id, SpoolFile& spool) override {
    const std::string key = Key(tn_id, blob_id);
    auto head = Call("HEAD", key, {}, {}, "");
    if (!head.ok()) return head.status();
    if (head->status == 200) return absl::OkStatus();  // the same bytes are there
    const uint64_t size = spool.size();
    if (size <= o_.part_size) {
      auto body = ReadAt(spool.path(), 0, size_t(size));
      if (!body.ok()) return body.status();
      auto r = Call("PUT", key, {}, {}, std::move(*body));
      if (!r.ok()) return r.status();
      return r->status == 200 ? absl::OkStatus() : Failed("PUT", *r);
    }
    auto init = Call("POST", key, {{"uploads", ""}}, {}, "");
    if (!init.ok()) return init.status();
    std::string upload_id = Between(init->body, "<UploadId>", "</UploadId>");
    if (init->status != 200 || upload_id.empty()) return Failed("CreateMultipartUpload", *init);
    absl::Status st = Multipart(key, upload_id, spool);
    if (!st.ok()) (void)Call("DELETE", key, {{"uploadId", upload_id}}, {}, "");  // nothing half-made stays
    return st;
  }

  absl::StatusOr<std::unique_ptr<BlobReader>> Open(int64_t tn_id, const std::string& blob_id) override {
    const std::string key = Key(tn_id, blob_id);
    auto r = Call("HEAD", key, {}, {}, "");
    if (!r.ok()) return r.status();
    if (r->status == 404) return absl::NotFoundError("blob not stored");
    uint64_t size = 0;
    if (r->status != 200 || !absl::SimpleAtoi(AV(r->headers["content-length"]), &size))
      return Failed("HEAD", *r);
    return std::unique_ptr<BlobReader>(new S3Reader(*this, key, size));
  }

  absl::Status Remove(int64_t tn_id, const std::string& blob_id) override {
    auto r = Call("DELETE", Key(tn_id, blob_id), {}, {}, "");
    if (!r.ok()) return r.status();
    return r->status == 204 || r->status == 200 || r->status == 404 ? absl::OkStatus() : Failed("DELETE", *r);
  }

  // One signed request; the answer's body is read up to `max_body` bytes.
  absl::StatusOr<Reply> Call(const std::string& method, const std::string& key,
                             std::vector<std::pair<std::string, std::string>> query,
                             std::vector<std::pair<std::string, std::string>> extra, std::string body,
                             size_t max_body = 1 << 20) {
    s3::SigV4Request req;
    req.method = method;
    req.path = "/" + o_.bucket + (key.empty() ? "" : "/" + key);
    req.query = query;
    req.payload_sha256_hex = s3::Sha256Hex(body);
    const std::string date = s3::AmzDate(absl::Now());
    req.headers = {
        {"host", host_header_}, {"x-amz-date", date}, {"x-amz-content-sha256", req.payload_sha256_hex}};
    for (auto& h : extra) req.headers.push_back(h);
    const std::string auth = s3::SignV4(req, {o_.access_key, o_.secret_key, o_.region, "s3"}, date);
    std::string target = s3::UriEncode(req.path, false);
    for (size_t i = 0; i < query.size(); ++i) {
      target += (i ? "&" : "?") + s3::UriEncode(query[i].first, true);
      if (!query[i].second.empty()) target += "=" + s3::UriEncode(query[i].second, true);
    }
    try {
      boost::asio::io_context io;
      beast::tcp_stream stream(io);
      stream.expires_after(std::chrono::seconds(60));
      tcp::resolver resolver(io);
      stream.connect(resolver.resolve(host_, port_));
      bhttp::request<bhttp::string_body> out{bhttp::string_to_verb(method), target, 11};
      for (const auto& [k, v] : req.headers) out.set(k, v);
      out.set(bhttp::field::authorization, auth);
      out.body() = std::move(body);  // a part is in memory once, not twice
      out.prepare_payload();
      bhttp::write(stream, out);
      beast::flat_buffer buffer;
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(max_body);
      if (method == "HEAD") parser.skip(true);
      bhttp::read(stream, buffer, parser);
      Reply reply;
      reply.status = int(parser.get().result_int());
      for (const auto& f : parser.get()) {
        std::string name(f.name_string());
        for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
        reply.headers[name] = std::string(f.value());
      }
      reply.body = std::move(parser.get().body());
      beast::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      return reply;
    } catch (const std::exception& e) {
      return absl::UnavailableError(std::string("object store unreachable: ") + e.what());
    }
  }

 private:
  std::string Key(int64_t tn_id, const std::string& blob_id) const {
    return std::to_string(tn_id) + "/" + blob_id;
  }

  static absl::Status Failed(const char* what, const Reply& r) {
    return absl::InternalError(std::string("object store ") + what + " answered " + std::to_string(r.status) +
                               ": " + Between(r.body, "<Code>", "</Code>"));
  }

  absl::Status Multipart(const std::string& key, const std::string& upload_id, SpoolFile& spool) {
    std::string complete = "<CompleteMultipartUpload>";
    int part = 1;
    for (uint64_t off = 0; off < spool.size(); off += o_.part_size, ++part) {
      size_t n = size_t(std::min<uint64_t>(o_.part_size, spool.size() - off));
      auto body = ReadAt(spool.path(), off, n);
      if (!body.ok()) return body.status();
      auto r = Call("PUT", key, {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}}, {},
                    std::move(*body));
      if (!r.ok()) return r.status();
      if (r->status != 200 || r->headers["etag"].empty()) return Failed("UploadPart", *r);
      complete += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" + r->headers["etag"] +
                  "</ETag></Part>";
    }
    complete += "</CompleteMultipartUpload>";
    auto r = Call("POST", key, {{"uploadId", upload_id}}, {{"content-type", "application/xml"}}, complete);
    if (!r.ok()) return r.status();
    // S3 may answer 200 with an <Error> body when completion fails late.
    if (r->status != 200 || r->body.find("<Error>") != std::string::npos)
      return Failed("CompleteMultipartUpload", *r);
    return absl::OkStatus();
  }

  S3Options o_;
  std::string host_, port_, host_header_;
};

absl::StatusOr<std::string> S3Reader::Read(uint64_t offset, size_t max) {
  if (offset >= size_) return std::string();
  const uint64_t end = std::min<uint64_t>(size_, offset + max);
  if (offset < window_at_ || end > window_at_ + window_.size()) {
    auto w = Fetch(offset, std::max<uint64_t>(max, kWindow));
    if (!w.ok()) return w.status();
    window_at_ = offset;
    window_ = std::move(*w);
    if (window_at_ + window_.size() < end) return absl::InternalError("object shorter than its length");
  }
  return window_.substr(size_t(offset - window_at_), size_t(end - offset));
}

absl::StatusOr<std::string> S3Reader::Fetch(uint64_t offset, uint64_t max) {
  uint64_t last = std::min<uint64_t>(size_, offset + max) - 1;
  auto r = store_.Call("GET", key_, {},
                       {{"range", "bytes=" + std::to_string(offset) + "-" + std::to_string(last)}}, "",
                       size_t(max) + 1);
  if (!r.ok()) return r.status();
  if (r->status != 206 && r->status != 200) return absl::InternalError("object store GET failed");
  if (r->status == 200) return r->body.substr(size_t(offset), size_t(last - offset + 1));
  return std::move(r->body);
}

}  // namespace

absl::StatusOr<std::unique_ptr<BlobStore>> OpenS3Store(S3Options options) {
  auto store = std::make_unique<S3Store>(std::move(options));
  if (absl::Status st = store->Init(); !st.ok()) return st;
  return std::unique_ptr<BlobStore>(std::move(store));
}

}  // namespace cloudillo::blob
