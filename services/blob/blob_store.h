// Where blob bytes live (DESIGN "Data and scale"): a store keyed by (tenant, blob id).
//
// Bytes first go to a spool file (a temporary file the service writes while it hashes
// an upload, and where image variants are rendered); Put() then makes a spool file the
// blob's bytes in one step, so a reader never sees a half-written blob: the local
// store renames the synced file into place, an object store uploads it under its final
// key. Identical bytes are stored once per tenant (the key is their hash).
//
// Thread-safe; every call may block on disk or network: call from worker threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cloudillo::blob {

// Runs a job on another thread; false when it cannot take one now.
using BackgroundRunner = std::function<bool(std::function<void()>)>;

class SpoolFile {
 public:
  // A new empty file in `dir` (O_EXCL, mode 0600); it is removed when this object goes
  // away unless a store adopted it. With `write_behind` (for a file that will be synced
  // because it becomes the blob), every 16 MiB appended are flushed to disk by a job
  // it runs, and their pages dropped from the page cache, so that Sync() then waits
  // for the last few MiB only, not the whole file.
  static absl::StatusOr<std::unique_ptr<SpoolFile>> Create(const std::string& dir,
                                                           BackgroundRunner write_behind = nullptr);
  ~SpoolFile();
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;

  absl::Status Append(std::string_view bytes);
  absl::Status Sync();  // fsync: the bytes are on disk
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // The store took the file (renamed it): nothing to remove any more.
  void Adopted() { adopted_ = true; }

 private:
  struct Flush;  // the state a background flush shares with this file
  SpoolFile(std::string path, int fd, BackgroundRunner write_behind);
  void StartFlush();

  std::string path_;
  int fd_;
  BackgroundRunner write_behind_;
  std::shared_ptr<Flush> flush_;
  uint64_t size_ = 0;
  uint64_t flushed_ = 0;  // bytes appended when the last background flush started
  bool adopted_ = false;
};

class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual uint64_t size() const = 0;
  // Up to `max` bytes from `offset`; fewer only at the end.
  virtual absl::StatusOr<std::string> Read(uint64_t offset, size_t max) = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Where spool files go (on the local store: the same filesystem, so Put renames).
  virtual const std::string& spool_dir() const = 0;
  // True when Put() syncs the spool file and keeps it as the blob (the local store):
  // its bytes are worth writing to disk while they arrive. An object store reads
  // them back once and drops the file.
  virtual bool keeps_spool_files() const { return false; }
  // Makes `spool` (synced or not) the bytes of `blob_id`. Already stored: the spool
  // file is dropped and the call succeeds.
  virtual absl::Status Put(int64_t tn_id, const std::string& blob_id, SpoolFile& spool) = 0;
  // NotFound when absent.
  virtual absl::StatusOr<std::unique_ptr<BlobReader>> Open(int64_t tn_id, const std::string& blob_id) = 0;
  // Succeeds when already absent.
  virtual absl::Status Remove(int64_t tn_id, const std::string& blob_id) = 0;
};

// Blobs as files under `root`: <root>/<tn_id>/<2 chars of the hash>/<blob id>, spool
// files under <root>/tmp (emptied at startup: whatever is there was never a blob).
absl::StatusOr<std::unique_ptr<BlobStore>> OpenLocalStore(const std::string& root);

// Creates `dir` when missing and removes what a previous process left in it.
absl::Status PrepareSpoolDir(const std::string& dir);

struct S3Options {
  std::string endpoint;  // http://host:port
  std::string bucket;
  std::string region = "us-east-1";
  std::string access_key, secret_key;
  std::string spool_dir;                 // local folder for spool files
  uint64_t part_size = 8 * 1024 * 1024;  // multipart beyond one part; memory per upload
};

// Blobs as objects `<bucket>/<tn_id>/<blob id>` of an S3-compatible store (s3_store.cc).
absl::StatusOr<std::unique_ptr<BlobStore>> OpenS3Store(S3Options options);

}  // namespace cloudillo::blob
