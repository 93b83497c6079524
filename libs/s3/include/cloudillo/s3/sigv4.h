// AWS Signature Version 4 for S3-compatible object stores (DESIGN "Chosen libraries":
// a component we write ourselves lives in its own library with its own tests). Pure
// functions, no I/O; tests/sigv4_test.cc checks them against AWS's published vectors
// (the SigV4 test suite and the S3 API reference examples).
//
//   SigV4Request r{"GET", "/bucket/key", {{"partNumber", "1"}}, {{"host", "s3.local"},
//                  {"x-amz-date", date}, {"x-amz-content-sha256", hash}}, hash};
//   std::string authorization = SignV4(r, credentials, date);
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace cloudillo::s3 {

struct SigV4Credentials {
  std::string access_key;
  std::string secret_key;
  std::string region = "us-east-1";
  std::string service = "s3";
};

struct SigV4Request {
  std::string method;  // "GET", "PUT", …
  std::string path;    // the object path, not yet encoded ("/bucket/a b.txt")
  std::vector<std::pair<std::string, std::string>> query;    // not yet encoded
  std::vector<std::pair<std::string, std::string>> headers;  // every header to sign; must include host
  std::string payload_sha256_hex;                            // or "UNSIGNED-PAYLOAD"
};

// RFC 3986 unreserved characters stay, everything else is %XX (upper case); '/' stays
// unless `encode_slash` (as S3 wants for keys in paths and for query values).
std::string UriEncode(std::string_view s, bool encode_slash);

// "20150830T123600Z".
std::string AmzDate(absl::Time t);

// The canonical request of the algorithm, and the `;`-joined signed header names.
std::string CanonicalRequest(const SigV4Request& r, std::string* signed_headers);

// The value of the Authorization header for `r` at `amz_date` ("YYYYMMDDTHHMMSSZ",
// which `r` must also carry as x-amz-date).
std::string SignV4(const SigV4Request& r, const SigV4Credentials& c, std::string_view amz_date);

// Lower-case hex of SHA-256(bytes).
std::string Sha256Hex(std::string_view bytes);

}  // namespace cloudillo::s3
