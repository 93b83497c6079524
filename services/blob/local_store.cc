// The local filesystem store (blob_store.h): temp file, fsync, rename, fsync of the
// directory, so that after a crash a blob is either whole under its name or absent.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "blob_store.h"
#include "cloudillo/core/random.h"

namespace cloudillo::blob {
namespace {

constexpr uint64_t kWriteBehindWindow = 16 << 20;

absl::Status Errno(const char* what, const std::string& path) {
  return absl::InternalError(std::string(what) + " " + path + ": " + std::strerror(errno));
}

absl::Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return absl::OkStatus();
  return Errno("mkdir", path);
}

absl::Status SyncDir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("fsync", path);
}

class FileReader final : public BlobReader {
 public:
  FileReader(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~FileReader() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  absl::StatusOr<std::string> Read(uint64_t offset, size_t max) override {
    if (offset >= size_) return std::string();
    size_t n = size_t(std::min<uint64_t>(max, size_ - offset));
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, out.data() + got, n - got, off_t(offset + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return absl::InternalError("blob file shorter than recorded");
      got += size_t(r);
    }
    return out;
  }

 private:
  int fd_;
  uint64_t size_;
};

class LocalStore final : public BlobStore {
 public:
  explicit LocalStore(std::string root) : root_(std::move(root)), spool_(root_ + "/tmp") {}
  const std::string& spool_dir() const override { return spool_; }
  bool keeps_spool_files() const override { return true; }

  absl::Status Put(int64_t tn_id, const std::string& blob_id, SpoolFile& spool) override {
    std::string dir = TenantDir(tn_id), sub = dir + "/" + Shard(blob_id), path = sub + "/" + blob_id;
    if (::access(path.c_str(), F_OK) == 0) return absl::OkStatus();  // the same bytes are there
    if (absl::Status st = spool.Sync(); !st.ok()) return st;
    if (absl::Status st = MakeDir(dir); !st.ok()) return st;
    if (absl::Status st = MakeDir(sub); !st.ok()) return st;
    if (::rename(spool.path().c_str(), path.c_str()) != 0) return Errno("rename", path);
    spool.Adopted();
    return SyncDir(sub);
  }

  absl::StatusOr<std::unique_ptr<BlobReader>> Open(int64_t tn_id, const std::string& blob_id) override {
    std::string path = TenantDir(tn_id) + "/" + Shard(blob_id) + "/" + blob_id;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return absl::NotFoundError("blob not stored");
      return Errno("open", path);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return Errno("fstat", path);
    }
    return std::unique_ptr<BlobReader>(new FileReader(fd, uint64_t(st.st_size)));
  }

  absl::Status Remove(int64_t tn_id, const std::string& blob_id) override {
    std::string path = TenantDir(tn_id) + "/" + Shard(blob_id) + "/" + blob_id;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("unlink", path);
    return absl::OkStatus();
  }

  absl::Status Init() {
    if (absl::Status st = MakeDir(root_); !st.ok()) return st;
    return PrepareSpoolDir(spool_);
  }

 private:
  std::string TenantDir(int64_t tn_id) const { return root_ + "/" + std::to_string(tn_id); }
  // Two characters of the hash (after "b1~"): at most 4096 entries per tenant folder.
  static std::string Shard(const std::string& blob_id) { return blob_id.substr(3, 2); }

  std::string root_, spool_;
};

}  // namespace

absl::Status PrepareSpoolDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError("mkdir " + dir + ": " + ec.message());
  // Spool files left by a process that died mid-upload were never blobs.
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      ::unlink((dir + "/" + e->d_name).c_str());
    }
    ::closedir(d);
  }
  return absl::OkStatus();
}

// One flush at a time per file; its outcome is kept here because the flush runs on a
// duplicate of the file's descriptor, and the kernel reports a writeback error once
// per open file: an error the background fdatasync saw would be missing at Sync().
struct SpoolFile::Flush {
  std::mutex mu;
  std::condition_variable idle;
  bool running = false;
  int error = 0;
};

SpoolFile::SpoolFile(std::string path, int fd, BackgroundRunner write_behind)
    : path_(std::move(path)),
      fd_(fd),
      write_behind_(std::move(write_behind)),
      flush_(std::make_shared<Flush>()) {}

void SpoolFile::StartFlush() {
  {
    std::lock_guard<std::mutex> lock(flush_->mu);
    if (flush_->running) return;  // the next window's Append tries again
    flush_->running = true;
  }
  int dup = ::dup(fd_);
  auto flush = flush_;
  const off_t upto = off_t(size_);
  bool started = dup >= 0 && write_behind_([dup, flush, upto] {
                   int rc = ::fdatasync(dup);
                   int err = rc == 0 ? 0 : errno;
                   // The flushed part of a large upload is not read again soon: its pages go back to
                   // the kernel, which hands the same warm pages to the next appends instead of
                   // growing the page cache (and evicting others' files) by the upload's size.
                   if (rc == 0) ::posix_fadvise(dup, 0, upto, POSIX_FADV_DONTNEED);
                   ::close(dup);
                   std::lock_guard<std::mutex> lock(flush->mu);
                   if (err != 0 && flush->error == 0) flush->error = err;
                   flush->running = false;
                   flush->idle.notify_all();
                 });
  if (!started) {
    if (dup >= 0) ::close(dup);
    std::lock_guard<std::mutex> lock(flush_->mu);
    flush_->running = false;
    return;
  }
  flushed_ = size_;
}

absl::StatusOr<std::unique_ptr<SpoolFile>> SpoolFile::Create(const std::string& dir,
                                                             BackgroundRunner write_behind) {
  std::string path = dir + "/up-" + RandomAlnum(20);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", path);
  return std::unique_ptr<SpoolFile>(new SpoolFile(std::move(path), fd, std::move(write_behind)));
}

SpoolFile::~SpoolFile() {
  ::close(fd_);
  if (!adopted_) ::unlink(path_.c_str());
}

absl::Status SpoolFile::Append(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t w = ::write(fd_, bytes.data(), bytes.size());
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      if (errno == ENOSPC || errno == EDQUOT)
        return absl::ResourceExhaustedError("no space left for the upload");
      return Errno("write", path_);
    }
    bytes.remove_prefix(size_t(w));
    size_ += uint64_t(w);
  }
  // Without this the kernel writes a 200 MB upload only at the final fsync (its own
  // threshold is a share of RAM) and the client waits ~0.3 s after its last byte;
  // asking for writeback alone (sync_file_range) did not shorten that fsync here.
  if (write_behind_ && size_ - flushed_ >= kWriteBehindWindow) StartFlush();
  return absl::OkStatus();
}

absl::Status SpoolFile::Sync() {
  int flush_error;
  {
    std::unique_lock<std::mutex> lock(flush_->mu);
    flush_->idle.wait(lock, [&] { return !flush_->running; });
    flush_error = flush_->error;
  }
  if (flush_error != 0) {
    errno = flush_error;
    return Errno("fdatasync", path_);
  }
  return ::fsync(fd_) == 0 ? absl::OkStatus() : Errno("fsync", path_);
}

absl::StatusOr<std::unique_ptr<BlobStore>> OpenLocalStore(const std::string& root) {
  auto store = std::make_unique<LocalStore>(root);
  if (absl::Status st = store->Init(); !st.ok()) return st;
  return std::unique_ptr<BlobStore>(std::move(store));
}

}  // namespace cloudillo::blob
