#include "cloudillo/http/content_coding.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

#include "cloudillo/core/list_items.h"

#ifdef CLOUDILLO_WITH_BROTLI
#include <brotli/encode.h>
#endif

namespace cloudillo::http {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
// thousandths; -1 when malformed.
int ParseQ(std::string_view v) {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return -1;
  int whole = v[0] - '0';
  if (v.size() == 1) return whole * 1000;
  if (v[1] != '.' || v.size() > 5) return -1;
  int frac = 0, scale = 100;
  for (char c : v.substr(2)) {
    if (c < '0' || c > '9') return -1;
    frac += (c - '0') * scale;
    scale /= 10;
  }
  if (whole == 1 && frac != 0) return -1;
  return whole * 1000 + frac;
}

const std::string* FindHeader(const Response& res, std::string_view name) {
  for (const auto& [k, v] : res.headers) {
    if (EqualsNoCase(k, name)) return &v;
  }
  return nullptr;
}

std::string* FindHeader(Response& res, std::string_view name) {
  return const_cast<std::string*>(FindHeader(static_cast<const Response&>(res), name));
}

absl::StatusOr<std::string> Gzip(std::string_view in, int level) {
  z_stream zs{};
  // 15 window bits + 16: a gzip wrapper, not zlib's.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, uLong(in.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return absl::InternalError("deflate did not finish");
  out.resize(written);
  return out;
}

#ifdef CLOUDILLO_WITH_BROTLI
absl::StatusOr<std::string> Brotli(std::string_view in, int quality) {
  size_t size = BrotliEncoderMaxCompressedSize(in.size());
  if (size == 0) return absl::InvalidArgumentError("input too large for Brotli");
  std::string out(size, '\0');
  if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, in.size(),
                             reinterpret_cast<const uint8_t*>(in.data()), &size,
                             reinterpret_cast<uint8_t*>(out.data()))) {
    return absl::InternalError("Brotli encoding failed");
  }
  out.resize(size);
  return out;
}
#endif

}  // namespace

bool BrotliAvailable() {
#ifdef CLOUDILLO_WITH_BROTLI
  return true;
#else
  return false;
#endif
}

const char* CodingName(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::kGzip:
      return "gzip";
    case ContentCoding::kBrotli:
      return "br";
    case ContentCoding::kIdentity:
      break;
  }
  return "";
}

ContentCoding NegotiateCoding(std::string_view accept_encoding, Preference preference) {
  // q in thousandths; -1: not named.
  int gzip = -1, br = -1, star = -1;
  ForEachListItem(accept_encoding, ',', [&](std::string_view item) {
    if (item.empty()) return;
    std::string_view name;
    int q = 1000;
    bool first = true;
    ForEachListItem(item, ';', [&](std::string_view part) {
      if (first) {
        name = part;
        first = false;
        return;
      }
      if (q < 0) return;
      size_t eq = part.find('=');
      if (eq != std::string_view::npos && EqualsNoCase(TrimSpaces(part.substr(0, eq)), "q")) {
        q = ParseQ(TrimSpaces(part.substr(eq + 1)));
      }
    });
    if (q < 0) return;  // a malformed weight: the element counts for nothing
    // The first mention of a coding decides; a later one cannot overturn a refusal.
    if ((EqualsNoCase(name, "gzip") || EqualsNoCase(name, "x-gzip")) && gzip < 0) gzip = q;
    if (EqualsNoCase(name, "br") && br < 0) br = q;
    if (name == "*" && star < 0) star = q;
  });
  if (gzip < 0) gzip = std::max(star, 0);
  if (br < 0) br = std::max(star, 0);
  if (!BrotliAvailable()) br = 0;
  if (br > gzip || (br > 0 && br == gzip && preference == Preference::kSmallest))
    return ContentCoding::kBrotli;
  if (gzip > 0) return ContentCoding::kGzip;
  return ContentCoding::kIdentity;
}

absl::StatusOr<std::string> Encode(ContentCoding coding, std::string_view body, Effort effort) {
  switch (coding) {
    case ContentCoding::kGzip:
      return Gzip(body, effort == Effort::kBest ? 9 : 4);
    case ContentCoding::kBrotli:
#ifdef CLOUDILLO_WITH_BROTLI
      // Quality 9 rather than 11 for kept files: within a few per cent of the size at
      // a tenth of the time, so a large bundle's first request is not seconds late.
      return Brotli(body, effort == Effort::kBest ? 9 : 4);
#else
      return absl::UnimplementedError("built without Brotli");
#endif
    case ContentCoding::kIdentity:
      break;
  }
  return std::string(body);
}

bool CompressibleType(std::string_view content_type) {
  std::string_view type = TrimSpaces(content_type.substr(0, content_type.find(';')));
  auto starts = [&](std::string_view p) {
    return type.size() >= p.size() && EqualsNoCase(type.substr(0, p.size()), p);
  };
  return starts("text/") || EqualsNoCase(type, "application/json") ||
         EqualsNoCase(type, "application/javascript") || EqualsNoCase(type, "application/manifest+json") ||
         EqualsNoCase(type, "image/svg+xml") || EqualsNoCase(type, "application/wasm") ||
         EqualsNoCase(type, "application/xml");
}

void CompressResponse(std::string_view accept_encoding, Response& res) {
  if (res.status < 200 || res.status == 204 || res.status == 206 || res.status == 304) return;
  const std::string* type = FindHeader(res, "content-type");
  if (!type || !CompressibleType(*type) || FindHeader(res, "content-encoding")) return;
  if (res.body.size() < kMinCompressBytes) return;
  // The answer depends on Accept-Encoding from here on, compressed or not.
  if (std::string* vary = FindHeader(res, "vary")) {
    bool named = false;
    ForEachListItem(*vary, ',', [&](std::string_view v) {
      named = named || EqualsNoCase(v, "accept-encoding") || v == "*";
    });
    if (!named) *vary += ", accept-encoding";
  } else {
    res.Set("Vary", "accept-encoding");
  }
  ContentCoding coding = NegotiateCoding(accept_encoding, Preference::kCheapest);
  if (coding == ContentCoding::kIdentity) return;
  auto encoded = Encode(coding, res.body, Effort::kFast);
  if (!encoded.ok() || encoded->size() >= res.body.size()) return;
  res.body = std::move(*encoded);
  res.Set("Content-Encoding", CodingName(coding));
  if (std::string* etag = FindHeader(res, "etag"); etag && etag->rfind("W/", 0) != 0) *etag = "W/" + *etag;
}

}  // namespace cloudillo::http
