// Response compression (RFC 9110 §8.4, §12.5.3): which content coding a client
// accepts, and encoding a body with it. gzip always; Brotli when the build found
// Debian's libbrotli-dev (BrotliAvailable()).
//
// Policy (CompressResponse): text-like types (JSON, text/*, JavaScript, SVG, manifests,
// wasm) of at least kMinCompressBytes, never a 206, a 204/304 or an answer that already
// has a Content-Encoding; `Vary: Accept-Encoding` on every answer that could have been
// compressed, so shared caches keep the variants apart; a strong ETag becomes weak
// when the bytes change (the validator still names the same content).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cloudillo/http/server.h"

namespace cloudillo::http {

enum class ContentCoding { kIdentity, kGzip, kBrotli };

// Below this, compressing saves a few dozen bytes for more CPU than sending them.
inline constexpr size_t kMinCompressBytes = 256;

// How hard to try: kFast for answers made per request, kBest for what is compressed
// once and kept (static files).
enum class Effort { kFast, kBest };

bool BrotliAvailable();
const char* CodingName(ContentCoding coding);  // "gzip", "br"; "" for identity

// Which coding wins when the client weighs both alike. kSmallest (Brotli) for bodies
// compressed once and kept; kCheapest (gzip) for bodies compressed per answer, where
// Brotli at a fast level saves no bytes over gzip for more CPU (the reference server
// measured the same and compresses dynamic answers without Brotli).
enum class Preference { kSmallest, kCheapest };

// The coding to answer with for an Accept-Encoding header: the supported coding with
// the highest q-value above 0, ties broken by `preference`; identity when the client
// names none of them, the header is empty, or an element cannot be parsed (that element
// counts for nothing). `*` stands for every coding not named.
ContentCoding NegotiateCoding(std::string_view accept_encoding,
                              Preference preference = Preference::kSmallest);

absl::StatusOr<std::string> Encode(ContentCoding coding, std::string_view body, Effort effort);

// Whether a Content-Type is worth compressing (text-like, not already compressed).
bool CompressibleType(std::string_view content_type);

// Compresses `res` in place for a client that sent `accept_encoding`, as the policy
// above says. Leaves it untouched when nothing applies or the encoder fails.
// Negotiates with Preference::kCheapest and encodes with Effort::kFast.
void CompressResponse(std::string_view accept_encoding, Response& res);

}  // namespace cloudillo::http
