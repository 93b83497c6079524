// File rows as downloads read them, kept for a moment. A download of a small file is
// mostly fixed costs, and the PostgreSQL query for its row was the largest of them
// (docs/benchmarks.md, "Files through the gateway"). The bytes a row points to never
// change (content-addressed); what may change is who can read them (visibility,
// status, the folder it is in), so entries live kTtl at most and this process's own
// changes to a tenant's files drop that tenant's entries at once. Another replica's
// change reaches this one's downloads within kTtl. Share entries and folder links are
// not cached: they are looked up per request as before.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/time/time.h"
#include "file_row.h"

namespace cloudillo::blob {

class FileRowCache {
 public:
  static constexpr absl::Duration kTtl = absl::Seconds(2);
  // Entries; the cache is emptied when it gets this big (a burst of distinct files
  // refills it at one query each, as without it).
  static constexpr size_t kMax = 4096;

  std::optional<FileRow> Get(int64_t tn_id, const std::string& file_id, absl::Time now);
  void Put(int64_t tn_id, const std::string& file_id, const FileRow& row, absl::Time now);
  void ForgetTenant(int64_t tn_id);
  size_t size();

 private:
  struct Entry {
    FileRow row;
    absl::Time until;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> rows_;  // by "<tn_id>/<file_id>"
};

}  // namespace cloudillo::blob
