#include "file_row_cache.h"

#include "absl/strings/str_cat.h"
#include "cloudillo/core/absl_compat.h"

namespace cloudillo::blob {
namespace {
std::string Key(int64_t tn_id, const std::string& file_id) { return absl::StrCat(tn_id, "/", AV(file_id)); }
}  // namespace

std::optional<FileRow> FileRowCache::Get(int64_t tn_id, const std::string& file_id, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rows_.find(Key(tn_id, file_id));
  if (it == rows_.end()) return std::nullopt;
  if (it->second.until <= now) {
    rows_.erase(it);
    return std::nullopt;
  }
  return it->second.row;
}

void FileRowCache::Put(int64_t tn_id, const std::string& file_id, const FileRow& row, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (rows_.size() >= kMax) rows_.clear();
  rows_[Key(tn_id, file_id)] = {row, now + kTtl};
}

void FileRowCache::ForgetTenant(int64_t tn_id) {
  const std::string prefix = absl::StrCat(tn_id, "/");
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = rows_.begin(); it != rows_.end();) {
    it = it->first.compare(0, prefix.size(), prefix) == 0 ? rows_.erase(it) : std::next(it);
  }
}

size_t FileRowCache::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return rows_.size();
}

}  // namespace cloudillo::blob
