#include "file_ids.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/utf8.h"

namespace cloudillo::blob {
namespace {

bool IsB64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
bool IsAlnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return absl::SimpleAtoi(AV(s), out);
}

}  // namespace

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(ctx_); }
void Sha256Stream::Update(std::string_view bytes) { EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()); }
std::string Sha256Stream::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string ContentId(char prefix, std::string_view digest) {
  return std::string(1, prefix) + "1~" + Base64UrlEncode(digest);
}

bool IsContentId(std::string_view id, char prefix) {
  if (id.size() != 46 || id[0] != prefix || id[1] != '1' || id[2] != '~') return false;
  // 43 characters hold 258 bits: the last one carries 2 bits of the digest and 4 zero
  // bits, so only every 16th character may end a canonical id.
  if (!std::all_of(id.begin() + 3, id.end(), IsB64UrlChar)) return false;
  static const std::string_view kLast = "AEIMQUYcgkosw048";
  return kLast.find(id.back()) != std::string_view::npos;
}

bool IsRandomFileId(std::string_view id) {
  return id.size() == 24 && std::all_of(id.begin(), id.end(), IsAlnum);
}

bool IsFileId(std::string_view id) { return IsContentId(id, 'f') || IsRandomFileId(id); }

bool IsOpenVisibility(std::string_view v) {
  return v.size() == 1 && kOpenVisibilities.find(v[0]) != std::string_view::npos;
}

bool IsSettableVisibility(std::string_view v) {
  return v.size() == 1 && std::string_view("PVFC").find(v[0]) != std::string_view::npos;
}

bool IsValidFileName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  if (!IsValidUtf8(name)) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return false;
  }
  return true;
}

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 64) return false;
  return std::all_of(tag.begin(), tag.end(),
                     [](char c) { return IsAlnum(c) || c == '_' || c == '.' || c == ':' || c == '-'; });
}

std::string BuildDescriptor(std::vector<Variant>& variants) {
  std::sort(variants.begin(), variants.end(), [](const Variant& a, const Variant& b) {
    return std::tie(a.size, a.width, a.height, a.name) < std::tie(b.size, b.width, b.height, b.name);
  });
  std::string d = "d2,";
  for (size_t i = 0; i < variants.size(); ++i) {
    const Variant& v = variants[i];
    if (i) d += ';';
    d += v.name + ":" + v.blob_id + ":f=" + v.format + ":s=" + std::to_string(v.size) +
         ":r=" + std::to_string(v.width) + "x" + std::to_string(v.height);
  }
  return d;
}

std::optional<std::vector<Variant>> ParseDescriptor(std::string_view d) {
  if (d.size() > 8192 || d.substr(0, 3) != "d2,") return std::nullopt;
  d.remove_prefix(3);
  std::vector<Variant> out;
  bool first = true;
  for (absl::string_view part : absl::StrSplit(AV(d), ';')) {
    if (first && part.substr(0, 2) == "R=") {  // the root of a document tree
      first = false;
      continue;
    }
    first = false;
    std::vector<absl::string_view> f = absl::StrSplit(part, ':');
    if (f.size() < 2 || f[0].empty() || !IsContentId(SV(f[1]), 'b')) return std::nullopt;
    Variant v{std::string(f[0]), std::string(f[1]), "avif"};
    for (size_t i = 2; i < f.size(); ++i) {
      absl::string_view kv = f[i];
      if (kv.substr(0, 2) == "f=") {
        v.format = std::string(kv.substr(2));
      } else if (kv.substr(0, 2) == "s=") {
        if (!ParseInt(SV(kv.substr(2)), &v.size)) return std::nullopt;
      } else if (kv.substr(0, 2) == "r=") {
        size_t x = kv.find('x');
        int64_t w = 0, h = 0;
        if (x == absl::string_view::npos || !ParseInt(SV(kv.substr(2, x - 2)), &w) ||
            !ParseInt(SV(kv.substr(x + 1)), &h) || w > 1 << 20 || h > 1 << 20)
          return std::nullopt;
        v.width = int(w);
        v.height = int(h);
      }  // unknown properties are ignored (§4.1)
    }
    out.push_back(std::move(v));
  }
  if (out.empty()) return std::nullopt;
  return out;
}

const Variant* BestVariant(const std::vector<Variant>& variants, std::string_view wanted) {
  if (variants.empty()) return nullptr;
  auto find = [&](std::string_view name) -> const Variant* {
    for (const Variant& v : variants)
      if (v.name == name) return &v;
    return nullptr;
  };
  // `vis.sd` or a bare quality `sd`: the class comes from the file's own variants.
  std::string cls = "vis";
  for (const Variant& v : variants) {
    if (size_t dot = v.name.find('.'); dot != std::string::npos) cls = v.name.substr(0, dot);
  }
  std::string_view quality = wanted;
  if (size_t dot = wanted.find('.'); dot != std::string_view::npos) {
    cls = std::string(wanted.substr(0, dot));
    quality = wanted.substr(dot + 1);
  }
  std::vector<std::string_view> chain;
  if (quality.empty() || quality == "orig") {
    chain = {"orig", "xd", "hd"};
  } else if (quality == "sd") {
    chain = {"sd", "md", "tn", "pf"};
  } else if (quality == "hd") {
    chain = {"hd", "md", "sd", "tn"};
  } else {
    chain = {quality};
  }
  for (std::string_view q : chain) {
    if (const Variant* v = find(q == "orig" ? std::string("orig") : cls + "." + std::string(q))) return v;
  }
  // Last resort: the largest available variant.
  return &*std::max_element(variants.begin(), variants.end(),
                            [](const Variant& a, const Variant& b) { return a.size < b.size; });
}

std::string ContentTypeOfFormat(std::string_view f) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {"webp", "image/webp"},      {"avif", "image/avif"}, {"jpeg", "image/jpeg"},
      {"png", "image/png"},        {"gif", "image/gif"},   {"svg", "image/svg+xml"},
      {"pdf", "application/pdf"},  {"mp4", "video/mp4"},   {"webm", "video/webm"},
      {"mpeg", "audio/mpeg"},      {"ogg", "audio/ogg"},   {"txt", "text/plain"},
      {"json", "application/json"}};
  for (const auto& [k, v] : kTypes)
    if (k == f) return std::string(v);
  return "application/octet-stream";
}

std::string FormatOfContentType(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  static const std::pair<std::string_view, std::string_view> kFormats[] = {
      {"image/webp", "webp"},      {"image/avif", "avif"}, {"image/jpeg", "jpeg"},
      {"image/png", "png"},        {"image/gif", "gif"},   {"image/svg+xml", "svg"},
      {"application/pdf", "pdf"},  {"video/mp4", "mp4"},   {"video/webm", "webm"},
      {"audio/mpeg", "mpeg"},      {"audio/ogg", "ogg"},   {"text/plain", "txt"},
      {"application/json", "json"}};
  for (const auto& [k, v] : kFormats)
    if (absl::EqualsIgnoreCase(AV(k), AV(ct))) return std::string(v);
  return "bin";
}

}  // namespace cloudillo::blob
