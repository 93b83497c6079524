// Ids, names and descriptors of files (PROTOCOL §0.1, §4.1). Pure functions over
// bytes, no I/O: everything a client sends as a file id, a variant id, a preset or a
// file name is checked here before it reaches a query or a path, and the fuzz target
// (fuzz/blob_parsers_fuzz.cc) runs them on arbitrary bytes.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cloudillo::blob {

// SHA-256 over bytes that arrive in pieces (an upload is never whole in memory).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view bytes);
  std::string Finish();  // 32 raw bytes; the stream is spent afterwards

 private:
  EVP_MD_CTX* ctx_;
};

// "b1~" / "f1~" + base64url(digest): 46 characters.
std::string ContentId(char prefix, std::string_view sha256_digest);
// A `<prefix>1~` id with exactly 43 base64url characters after it.
bool IsContentId(std::string_view id, char prefix);
// 24 characters of [0-9A-Za-z] (mutable files made by POST /api/files).
bool IsRandomFileId(std::string_view id);
// Either kind of file id.
bool IsFileId(std::string_view id);

// A file name as a client may set it: 1–255 bytes of valid UTF-8, no control
// characters, no '/' or '\\', and not "." or "..". It is stored, listed and sent back
// in JSON; it never becomes a filesystem path (blobs are stored under their hash).
bool IsValidFileName(std::string_view name);

// A tag: 1–64 characters of [0-9A-Za-z_.:-] (they appear in paths: /tag/{tag}).
bool IsValidTag(std::string_view tag);

// The visibility letters that open a file beyond its owner, most open first (PROTOCOL
// §2.6): P, V, 2, F, C. S and direct (D, NULL) open nothing: a file has no subscribers.
inline constexpr std::string_view kOpenVisibilities = "PV2FC";
// One of kOpenVisibilities, alone.
bool IsOpenVisibility(std::string_view v);
// One of the letters an owner sets on upload, create or PATCH: P, V, F or C, alone.
bool IsSettableVisibility(std::string_view v);

struct Variant {
  std::string name;     // orig, vis.tn, …
  std::string blob_id;  // b1~…
  std::string format;   // webp, jpeg, png, …
  int64_t size = 0;
  int width = 0, height = 0;
};

// "d2," + variants sorted by (size, width, height, name), ';'-separated, each
// `<name>:<id>:f=<format>:s=<bytes>:r=<w>x<h>` (§4.1). Sorts `variants` in place.
std::string BuildDescriptor(std::vector<Variant>& variants);
// Parses a d2 descriptor (the R= root prefix and unknown k=v properties are skipped;
// format defaults to avif). nullopt when malformed.
std::optional<std::vector<Variant>> ParseDescriptor(std::string_view descriptor);

// The variant served for `?variant=` (§4.2 selection); nullptr when there is none.
const Variant* BestVariant(const std::vector<Variant>& variants, std::string_view wanted);

// Content type of a stored format ("webp" -> "image/webp"; unknown -> octet-stream).
std::string ContentTypeOfFormat(std::string_view format);
// The format recorded for an upload's original from its Content-Type.
std::string FormatOfContentType(std::string_view content_type);

}  // namespace cloudillo::blob
