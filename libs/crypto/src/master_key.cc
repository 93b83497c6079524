#include "cloudillo/crypto/master_key.h"

#include <openssl/evp.h>

#include <charconv>
#include <climits>
#include <cstdint>
#include <memory>

#include "cloudillo/core/base64.h"
#include "cloudillo/core/random.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/crypto/hash.h"

namespace cloudillo::crypto {
namespace {

constexpr size_t kKey = 32, kNonce = 12, kTag = 16;
constexpr std::string_view kMagic("CLK\x01", 4);
constexpr size_t kHeader = kMagic.size() + 4;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* U(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* U(std::string& s, size_t at) { return reinterpret_cast<unsigned char*>(s.data()) + at; }

std::string Header(uint32_t version) {
  std::string h(kMagic);
  for (int shift = 24; shift >= 0; shift -= 8) h += char((version >> shift) & 0xff);
  return h;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

absl::Status EntryError(int entry, std::string_view what) {
  return absl::InvalidArgumentError("master key entry " + std::to_string(entry) + ": " + std::string(what) +
                                    " (each entry is `<version>:<base64 of 32 bytes>` or a bare key as "
                                    "version 1; make a key with `openssl rand -base64 32`)");
}

// One entry of the keyring text -> (version, key). Messages never quote the entry: a
// typo in a key line would otherwise put most of a key into a log.
absl::StatusOr<std::pair<int, std::string>> ParseEntry(std::string_view entry, int index) {
  int version = 1;
  std::string_view b64 = entry;
  if (size_t colon = entry.find(':'); colon != std::string_view::npos) {
    std::string_view v = Trim(entry.substr(0, colon));
    b64 = Trim(entry.substr(colon + 1));
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), version);
    if (v.empty() || v.front() < '0' || v.front() > '9' || ec != std::errc() || end != v.data() + v.size() ||
        version < 1) {
      return EntryError(index, "the version must be a positive decimal integer below 2^31");
    }
  }
  auto key = Base64Decode(b64);
  if (!key.ok()) return EntryError(index, "the key is not standard base64 with padding");
  if (key->size() != kKey) return EntryError(index, "the key must decode to exactly 32 bytes");
  return std::make_pair(version, *std::move(key));
}

}  // namespace

absl::StatusOr<MasterKey> MasterKey::FromText(std::string_view text) {
  std::map<int, std::string> keys;
  std::map<std::string, int> seen;  // key -> entry index, to refuse one key under two versions
  int index = 0;
  while (!text.empty() || index == 0) {
    size_t sep = text.find_first_of(",\n");
    std::string_view entry = Trim(text.substr(0, sep));
    text = sep == std::string_view::npos ? std::string_view() : text.substr(sep + 1);
    ++index;
    if (entry.empty()) continue;
    CL_ASSIGN_OR_RETURN(auto parsed, ParseEntry(entry, index));
    if (keys.count(parsed.first)) {
      return EntryError(index, "version " + std::to_string(parsed.first) + " appears twice");
    }
    if (auto it = seen.find(parsed.second); it != seen.end()) {
      return EntryError(index, "repeats the key of entry " + std::to_string(it->second) +
                                   ": a new version needs a new random key");
    }
    seen.emplace(parsed.second, index);
    keys.emplace(parsed.first, std::move(parsed.second));
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "the master keyring is empty: give at least one key (make one with `openssl rand -base64 32`)");
  }
  return MasterKey(std::move(keys));
}

absl::StatusOr<MasterKey> MasterKey::FromBase64(std::string_view b64) {
  if (b64.find_first_of(",\n:") != std::string_view::npos) {
    return absl::InvalidArgumentError("a single master key must be bare base64 of 32 bytes");
  }
  return FromText(b64);
}

absl::StatusOr<std::string> MasterKey::Seal(std::string_view plaintext, std::string_view aad) const {
  if (plaintext.size() > INT_MAX || aad.size() > INT_MAX) {
    return absl::InvalidArgumentError("value to seal is too large");
  }
  const int version = current_version();
  const std::string& key = keys_.at(version);
  std::string out = Header(uint32_t(version)) + RandomBytes(kNonce);
  const size_t ct_at = out.size();
  out.resize(ct_at + plaintext.size() + kTag);

  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0, final_len = 0;
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key), U(out, kHeader)) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(out, 0), int(kHeader)) == 1 &&
            (aad.empty() || EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad), int(aad.size())) == 1);
  len = 0;
  ok = ok && (plaintext.empty() ||
              EVP_EncryptUpdate(ctx.get(), U(out, ct_at), &len, U(plaintext), int(plaintext.size())) == 1);
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), U(out, ct_at + size_t(len)), &final_len) == 1 &&
       size_t(len) + size_t(final_len) == plaintext.size() &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(kTag), U(out, ct_at + plaintext.size())) == 1;
  if (!ok) return absl::InternalError("AES-256-GCM sealing failed");
  return out;
}

absl::StatusOr<std::string> MasterKey::OpenWith(int version, std::string_view header, std::string_view body,
                                                std::string_view aad) const {
  const std::string& key = keys_.at(version);
  std::string_view nonce = body.substr(0, kNonce);
  std::string_view ct = body.substr(kNonce, body.size() - kNonce - kTag);
  std::string tag(body.substr(body.size() - kTag));
  std::string out(ct.size(), '\0');

  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0, final_len = 0;
  bool ok =
      ctx != nullptr && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key), U(nonce)) == 1 &&
      (header.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(header), int(header.size())) == 1) &&
      (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad), int(aad.size())) == 1);
  len = 0;
  ok = ok && (ct.empty() || EVP_DecryptUpdate(ctx.get(), U(out, 0), &len, U(ct), int(ct.size())) == 1) &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(kTag), tag.data()) == 1;
  if (!ok) return absl::InternalError("AES-256-GCM opening failed");
  // Only the final step checks the tag; its failure is an authentication failure.
  if (EVP_DecryptFinal_ex(ctx.get(), U(out, size_t(len)), &final_len) != 1 ||
      size_t(len) + size_t(final_len) != ct.size()) {
    return absl::DataLossError("sealed secret does not open under master key version " +
                               std::to_string(version));
  }
  return out;
}

absl::StatusOr<std::string> MasterKey::Open(std::string_view sealed, std::string_view aad) const {
  if (sealed.size() > INT_MAX || aad.size() > INT_MAX) return absl::DataLossError("sealed secret too large");
  const bool has_legacy_key = keys_.count(1) > 0;
  const bool legacy_fits = sealed.size() >= kNonce + kTag;
  auto open_legacy = [&]() -> absl::StatusOr<std::string> { return OpenWith(1, "", sealed, aad); };

  if (int version = SealedVersion(sealed); version > 0) {
    std::string_view header = sealed.substr(0, kHeader), body = sealed.substr(kHeader);
    if (body.size() >= kNonce + kTag && keys_.count(version)) {
      auto opened = OpenWith(version, header, body, aad);
      if (opened.ok() || opened.status().code() != absl::StatusCode::kDataLoss) return opened;
    }
    // Maybe a legacy value whose random nonce starts with the magic.
    if (has_legacy_key && legacy_fits) {
      auto opened = open_legacy();
      if (opened.ok() || opened.status().code() != absl::StatusCode::kDataLoss) return opened;
    }
    if (!keys_.count(version) && body.size() >= kNonce + kTag) {
      return absl::FailedPreconditionError(
          "sealed secret names master key version " + std::to_string(version) +
          ", which the keyring lacks: add that version back to CLOUDILLO_MASTER_KEY");
    }
    return absl::DataLossError("sealed secret does not open under this master keyring");
  }
  if (!legacy_fits) return absl::DataLossError("sealed secret too short");
  if (!has_legacy_key) {
    return absl::FailedPreconditionError(
        "sealed secret has the legacy layout (master key version 1), which the keyring lacks: add version 1 "
        "back to CLOUDILLO_MASTER_KEY");
  }
  return open_legacy();
}

int MasterKey::SealedVersion(std::string_view sealed) {
  if (sealed.size() < kHeader || sealed.substr(0, kMagic.size()) != kMagic) return 0;
  uint32_t v = 0;
  for (size_t i = kMagic.size(); i < kHeader; ++i) v = (v << 8) | uint8_t(sealed[i]);
  // Version 0 and versions above INT_MAX are never written; such a header can only be a
  // legacy nonce (or damage), so it reads as legacy.
  return v == 0 || v > uint32_t(INT_MAX) ? 0 : int(v);
}

bool MasterKey::NeedsReseal(std::string_view sealed) const {
  int version = SealedVersion(sealed);
  return (version == 0 ? 1 : version) != current_version();
}

std::string MasterKey::Derive(std::string_view purpose) const {
  auto it = keys_.find(1);
  return HmacSha256(it != keys_.end() ? it->second : keys_.begin()->second, purpose);
}

}  // namespace cloudillo::crypto
