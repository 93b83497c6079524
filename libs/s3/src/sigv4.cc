#include "cloudillo/s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

namespace cloudillo::s3 {
namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

std::string Hmac(std::string_view key, std::string_view msg) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

// Header values are trimmed and inner runs of spaces collapsed to one.
std::string Canonical(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string UriEncode(std::string_view s, bool encode_slash) {
  static const char* kDigits = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encode_slash)) {
      out += char(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

std::string AmzDate(absl::Time t) { return absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone()); }

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return Hex(md, len);
}

std::string CanonicalRequest(const SigV4Request& r, std::string* signed_headers) {
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [k, v] : r.query) query.emplace_back(UriEncode(k, true), UriEncode(v, true));
  std::sort(query.begin(), query.end());
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [k, v] : r.headers) {
    std::string name = k;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    headers.emplace_back(std::move(name), Canonical(v));
  }
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out = r.method + "\n" + UriEncode(r.path.empty() ? "/" : r.path, false) + "\n";
  for (size_t i = 0; i < query.size(); ++i) out += (i ? "&" : "") + query[i].first + "=" + query[i].second;
  out += "\n";
  signed_headers->clear();
  for (size_t i = 0; i < headers.size(); ++i) {
    // Repeated names are one header with comma-joined values.
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      out.insert(out.size() - 1, "," + headers[i].second);
      continue;
    }
    out += headers[i].first + ":" + headers[i].second + "\n";
    *signed_headers += (signed_headers->empty() ? "" : ";") + headers[i].first;
  }
  out += "\n" + *signed_headers + "\n" + r.payload_sha256_hex;
  return out;
}

std::string SignV4(const SigV4Request& r, const SigV4Credentials& c, std::string_view amz_date) {
  std::string date(amz_date.substr(0, 8));
  std::string scope = date + "/" + c.region + "/" + c.service + "/aws4_request";
  std::string signed_headers;
  std::string canonical = CanonicalRequest(r, &signed_headers);
  std::string to_sign =
      "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope + "\n" + Sha256Hex(canonical);
  std::string key = Hmac("AWS4" + c.secret_key, date);
  key = Hmac(key, c.region);
  key = Hmac(key, c.service);
  key = Hmac(key, "aws4_request");
  std::string sig = Hmac(key, to_sign);
  return "AWS4-HMAC-SHA256 Credential=" + c.access_key + "/" + scope + ", SignedHeaders=" + signed_headers +
         ", Signature=" + Hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

}  // namespace cloudillo::s3
