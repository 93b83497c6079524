// The update log of live documents in PostgreSQL (PROTOCOL §5.3): append, load,
// compact. Blocking: call from worker threads only.
//
// Writers of one document take a transaction-scoped advisory lock, so sequence numbers
// are handed out and committed in one order: whoever sees seq N committed knows every
// seq below N is committed too (replicas use that to fill gaps, doc_hub.h).
// Compaction takes another advisory lock (one compactor per document across replicas)
// and never holds the writers' lock: it rewrites only rows below the newest one it
// read, keeping the run's last seq, so a concurrent append is never touched.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloudillo/db/pool.h"
#include "cloudillo/yjs/update.h"

namespace cloudillo::collab {

struct UpdateRow {
  int64_t seq = 0;
  std::string bytes;
};

struct CompactionLimits {
  size_t batch_rows = 256;        // updates merged by one MergeUpdates call
  size_t batch_bytes = 8u << 20;  // ... and their bytes
  int max_rounds = 64;            // batches per Compact call
};

// The update a new document starts with (PROTOCOL §5.3): Y.Map `meta` holding
// `i = true`, written by client 1 at clock 0 (tests/e2e checks it against yjs).
std::string InitialUpdate();

// One update waiting for the group commit (log_writer.h).
struct AppendItem {
  int64_t tn_id = 0;
  std::string doc_id;
  std::string update;
  std::string id_tag;
};

class DocStore {
 public:
  explicit DocStore(std::shared_ptr<db::Pool> pool) : pool_(std::move(pool)) {}

  // Commits `update`, returns its seq.
  absl::StatusOr<int64_t> Append(int64_t tn_id, const std::string& doc_id, const std::string& update,
                                 const std::string& id_tag);
  // Commits all of `items` in one transaction and returns their seqs in item order:
  // one commit (and one fsync) for many documents' updates, in one round trip (the
  // crdt_append function). Updates of one document get consecutive seqs in item order.
  absl::StatusOr<std::vector<int64_t>> AppendBatch(const std::vector<AppendItem>& items);
  // Rows after `after_seq`, in seq order. A document without rows gets InitialUpdate
  // committed first (once, whoever loads it first).
  absl::StatusOr<std::vector<UpdateRow>> Load(int64_t tn_id, const std::string& doc_id, int64_t after_seq,
                                              bool init_if_empty);
  // Merges the log into as few rows as `limits` allow; returns the rows left. Another
  // replica compacting the same document makes this a no-op.
  absl::StatusOr<int64_t> Compact(int64_t tn_id, const std::string& doc_id, const CompactionLimits& limits,
                                  const yjs::Limits& yjs_limits);
  // Removes a document's log (tests, tenant purge).
  absl::Status Drop(int64_t tn_id, const std::string& doc_id);

 private:
  std::shared_ptr<db::Pool> pool_;
};

// Merges updates in bounded batches (never one call over a long log).
absl::StatusOr<std::string> MergeBounded(const std::vector<std::string>& updates, size_t batch,
                                         const yjs::Limits& limits);

}  // namespace cloudillo::collab
