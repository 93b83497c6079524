// GET and HEAD of /api/files/{fileId} and /api/files/variant/{variantId} (PROTOCOL
// §4.4): the head (status, caching, range and safety headers) first, then the bytes
// in chunks, each read from the store once the previous one was sent.
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "blob_service.h"
#include "byte_range.h"
#include "cloudillo/core/deadline.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/status.h"
#include "file_row_cache.h"
#include "file_rows.h"

namespace cloudillo::blob {
namespace {

using cloudillo::v1::ApiDownloadPart;

const std::string& Header(const ApiRequest& req, const std::string& name) {
  static const std::string kEmpty;
  auto it = req.headers().find(name);
  return it == req.headers().end() ? kEmpty : it->second;
}

absl::Time DeadlineOf(grpc::CallbackServerContext* ctx) {
  auto d = ctx->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(d);
}

// One download stream: one read or one write in flight at a time, each at the next
// offset, so the order of the bytes is that of the file. The first chunk is read with
// the plan, so a small file is one worker job, and the last chunk goes out with the
// status (no extra round).
class DownloadReactor final : public grpc::ServerWriteReactor<ApiDownloadPart> {
 public:
  DownloadReactor(BlobService& s, grpc::CallbackServerContext* ctx, const ApiRequest* req, bool by_variant)
      : s_(s), deadline_(DeadlineOf(ctx)) {
    reading_ = true;
    Submit([this, req, by_variant] {
      auto plan = s_.PlanDownload(*req, by_variant, false);
      if (!plan.ok()) return ReadEnded(rpc::ToGrpcStatus(plan.status()), std::nullopt);
      plan_ = std::move(*plan);
      *part_.mutable_head() = std::move(plan_.head);
      std::optional<std::string> first;
      if (plan_.length > 0) {
        auto chunk = ReadAt(0);
        if (!chunk) return ReadEnded(ReadFailed(), std::nullopt);
        first = std::move(*chunk);
      }
      std::unique_lock<std::mutex> lock(mu_);
      reading_ = false;
      if (Gone(lock)) return;
      if (first) {
        read_ += first->size();
        next_ = std::move(first);
      }
      // No buffer hint on the head: gRPC would hold its OnWriteDone until a later
      // write flushed it, and that later write waits for the OnWriteDone.
      writing_ = true;
      lock.unlock();
      StartWrite(&part_);
    });
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) return FinishOnce(lock, grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    if (!error_.ok()) return FinishOnce(lock, error_);
    if (sent_ == plan_.length) return FinishOnce(lock, grpc::Status::OK);
    if (next_) return WriteNext(lock);
    if (!reading_ && !StartRead())
      return FinishOnce(lock, grpc::Status(grpc::StatusCode::UNAVAILABLE, "overloaded: worker queue full"));
    waiting_ = true;  // the read under way writes its chunk when it is done
  }

  void OnDone() override {
    std::unique_lock<std::mutex> lock(mu_);
    done_ = true;
    if (reading_) return;  // the read job deletes the reactor when it ends
    lock.unlock();
    delete this;
  }

 private:
  static grpc::Status ReadFailed() { return grpc::Status(grpc::StatusCode::INTERNAL, "read failed"); }

  // The chunk at `at` of the plan's range; nullopt when the store fails or is short.
  std::optional<std::string> ReadAt(uint64_t at) {
    size_t n = size_t(std::min<uint64_t>(s_.options().download_chunk, plan_.length - at));
    auto chunk = plan_.reader->Read(plan_.first + at, n);
    if (!chunk.ok() || chunk->size() != n) return std::nullopt;
    return std::move(*chunk);
  }

  // With mu_ held, no write in flight and next_ set: hands next_ to gRPC (with the
  // status when it is the last). The chunk after it is read only once this write is
  // done: reading ahead of gRPC let blob fill the gateway's receive window faster than
  // the client drained it, and the gateway grew by 70 MiB on a 200 MB download
  // (docs/benchmarks.md, "Files through the gateway").
  void WriteNext(std::unique_lock<std::mutex>& lock) {
    const size_t n = next_->size();
    const bool last = sent_ + n == plan_.length;
    part_.set_chunk(std::move(*next_));
    next_.reset();
    sent_ += n;
    s_.metrics().download_bytes.Increment(double(n));
    if (last) {
      finished_ = true;
      lock.unlock();
      return StartWriteAndFinish(&part_, grpc::WriteOptions(), grpc::Status::OK);
    }
    writing_ = true;
    lock.unlock();
    StartWrite(&part_);
  }

  // With mu_ held: one read job at read_; false when the worker queue is full.
  bool StartRead() {
    const uint64_t at = read_;
    reading_ = s_.workers().TrySubmit([this, at] {
      DeadlineScope scope(deadline_);
      std::optional<std::string> chunk = ReadAt(at);
      ReadEnded(chunk ? grpc::Status::OK : ReadFailed(), std::move(chunk));
    });
    return reading_;
  }

  // The end of a read job, or of the plan job when it failed.
  void ReadEnded(const grpc::Status& st, std::optional<std::string> chunk) {
    std::unique_lock<std::mutex> lock(mu_);
    reading_ = false;
    if (Gone(lock)) return;
    if (!st.ok()) {
      // Finish waits for the write in flight, if any (OnWriteDone sees error_).
      if (writing_) {
        error_ = st;
        return;
      }
      return FinishOnce(lock, st);
    }
    read_ += chunk->size();
    next_ = std::move(chunk);
    if (waiting_) {
      waiting_ = false;
      WriteNext(lock);
    }
  }

  // True (and the reactor deleted, the lock released) when gRPC is already done with it.
  bool Gone(std::unique_lock<std::mutex>& lock) {
    if (!done_) return false;
    lock.unlock();
    delete this;
    return true;
  }

  void FinishOnce(std::unique_lock<std::mutex>& lock, const grpc::Status& st) {
    if (finished_) return;
    finished_ = true;
    lock.unlock();
    Finish(st);
  }

  void Submit(std::function<void()> job) {
    if (!s_.workers().TrySubmit([this, job = std::move(job)] {
          DeadlineScope scope(deadline_);
          job();
        })) {
      std::unique_lock<std::mutex> lock(mu_);
      reading_ = false;
      FinishOnce(lock, grpc::Status(grpc::StatusCode::UNAVAILABLE, "overloaded: worker queue full"));
    }
  }

  BlobService& s_;
  absl::Time deadline_;
  BlobService::DownloadPlan plan_;
  ApiDownloadPart part_;  // the message gRPC is writing; touched only between writes
  std::mutex mu_;
  std::optional<std::string> next_;  // the chunk read ahead
  uint64_t read_ = 0, sent_ = 0;     // offsets into the plan's range
  grpc::Status error_;               // a read that failed while a write was in flight
  bool reading_ = false, writing_ = false, waiting_ = false, finished_ = false, done_ = false;
};

// Headers that keep stored bytes from acting as a page of the API's origin.
void SafetyHeaders(const std::string& format, ApiReply* head) {
  auto& h = *head->mutable_headers();
  h["Content-Type"] = ContentTypeOfFormat(format);  // nosniff: the gateway sets it on every answer
  if (format == "svg") {
    h["Content-Security-Policy"] = "script-src 'none'; object-src 'none'; sandbox";
  } else if (ContentTypeOfFormat(format) == "application/octet-stream") {
    h["Content-Disposition"] = "attachment";
  }
}

}  // namespace

grpc::ServerWriteReactor<ApiDownloadPart>* BlobService::GetFile(grpc::CallbackServerContext* ctx,
                                                                const ApiRequest* req) {
  return new DownloadReactor(*this, ctx, req, false);
}

grpc::ServerWriteReactor<ApiDownloadPart>* BlobService::GetVariant(grpc::CallbackServerContext* ctx,
                                                                   const ApiRequest* req) {
  return new DownloadReactor(*this, ctx, req, true);
}

absl::StatusOr<BlobService::DownloadPlan> BlobService::PlanDownload(const ApiRequest& req, bool by_variant,
                                                                    bool head_only) {
  const auto& ctx = req.ctx();
  Variant chosen;
  std::string descriptor;
  // Readable by CanRead alone: the answer depends on the caller's token and the file
  // row only (not on relationships, share entries or folder links), so the gateway
  // may reuse it.
  bool reusable = false;
  if (by_variant) {
    const std::string& id = rpc::PathParam(req, "variantId");
    if (!IsContentId(id, 'b')) return rpc::BadRequest("Invalid variant id");
    // Any file of this tenant that lists the blob and that the caller may read.
    CL_ASSIGN_OR_RETURN(auto rows,
                        pool_->Query(std::string("SELECT ") + kFileColumns +
                                         ", v.variant, v.format, v.size, v.width, v.height "
                                         "FROM file_variants v JOIN files f USING (tn_id, file_id) "
                                         "WHERE v.tn_id = $1 AND v.blob_id = $2 LIMIT 64",
                                     {db::P(ctx.tn_id()), db::P(id)}));
    if (rows.empty()) return rpc::NotFoundError("Variant not found");
    const db::Row* hit = nullptr;
    for (const db::Row& r : rows.rows) {
      FileRow f = RowToFile(r);
      bool readable = CanRead(ctx, f);
      reusable = readable;
      if (!readable && !ctx.scope().empty()) {  // a link to a folder above it?
        CL_ASSIGN_OR_RETURN(char level, ScopeLevel(*pool_, ctx, f));
        readable = level != 0;
      }
      if (readable) {
        hit = &r;
        break;
      }
    }
    for (size_t i = 0; !hit && i < rows.rows.size(); ++i) {  // a follower or a connection?
      CL_ASSIGN_OR_RETURN(bool related, relations_.Permits(ctx, RowToFile(rows.rows[i])));
      if (related) hit = &rows.rows[i];
    }
    for (size_t i = 0; !hit && i < rows.rows.size(); ++i) {  // shared with this caller?
      CL_ASSIGN_OR_RETURN(char share, SharePermission(ctx, rows.rows[i].Str(0)));
      if (share != 0 && rows.rows[i].Str(10) == "A") hit = &rows.rows[i];
    }
    if (!hit) return rpc::Forbidden();
    chosen = {hit->Str(15), id, hit->Str(16), hit->Int(17), int(hit->Int(18)), int(hit->Int(19))};
  } else {
    CL_ASSIGN_OR_RETURN(FileRow f, ReadableFile(req, rpc::PathParam(req, "fileId"), true));
    if (f.file_tp != "BLOB") return rpc::NotFoundError("This file has no stored content");
    reusable = CanRead(ctx, f);
    auto variants = ParseDescriptor(f.descriptor);
    if (!variants) return absl::InternalError("stored descriptor does not parse");
    const Variant* v = BestVariant(*variants, rpc::QueryParam(req, "variant"));
    if (!v) return rpc::NotFoundError("No variant");
    chosen = *v;
    descriptor = f.descriptor;
  }
  // The variant id is the hash of its bytes, so a matching tag proves the client's
  // copy is current; the store is not even opened.
  if (const std::string& inm = Header(req, "if-none-match");
      !inm.empty() && IfNoneMatchHits(inm, chosen.blob_id)) {
    DownloadPlan plan;
    auto& h = *plan.head.mutable_headers();
    h["ETag"] = "\"" + chosen.blob_id + "\"";
    h["Cache-Control"] = "public, max-age=31536000, immutable";
    h["X-Cloudillo-Variant"] = chosen.blob_id;
    h["Content-Length"] = "0";
    plan.head.set_http_status(304);
    if (!head_only) metrics_.not_modified.Increment();
    return plan;
  }
  auto reader = store_->Open(ctx.tn_id(), chosen.blob_id);
  if (!reader.ok()) {
    if (reader.status().code() == absl::StatusCode::kNotFound)
      return rpc::ApiError(absl::StatusCode::kInternal, "E-SYS-IO", "Stored bytes are missing");
    return reader.status();
  }
  DownloadPlan plan;
  plan.reader = std::move(*reader);
  const uint64_t size = plan.reader->size();
  const std::string etag = "\"" + chosen.blob_id + "\"";
  ByteRange range;
  RangeVerdict verdict = RangeVerdict::kWhole;
  const std::string& if_range = Header(req, "if-range");
  if (if_range.empty() || if_range == etag) verdict = ParseRange(Header(req, "range"), size, &range);
  if (verdict == RangeVerdict::kUnsatisfiable) {
    metrics_.unsatisfiable.Increment();
    return rpc::ApiError(absl::StatusCode::kOutOfRange, "E-VAL-INVALID", "Range not satisfiable",
                         nlohmann::json{{"size", size}}.dump(), 416);
  }
  auto& h = *plan.head.mutable_headers();
  SafetyHeaders(chosen.format, &plan.head);
  h["Accept-Ranges"] = "bytes";
  h["Cache-Control"] = "public, max-age=31536000, immutable";
  h["ETag"] = etag;
  h["X-Cloudillo-Variant"] = chosen.blob_id;
  if (verdict == RangeVerdict::kPartial) {
    plan.first = range.first;
    plan.length = range.length;
    plan.head.set_http_status(206);
    h["Content-Range"] = "bytes " + std::to_string(range.first) + "-" +
                         std::to_string(range.first + range.length - 1) + "/" + std::to_string(size);
    if (!head_only) metrics_.partial.Increment();
  } else {
    plan.length = size;
    if (!head_only) metrics_.full.Increment();
    // The bytes never change; who may read them may, and a change made through another
    // replica reaches this one's row cache within its TTL: the gateway keeps the answer
    // no longer than that (and drops a tenant's at once on a write it passed on).
    if (reusable && !head_only) {
      plan.head.mutable_cache()->set_max_age_ms(int32_t(absl::ToInt64Milliseconds(FileRowCache::kTtl)));
      plan.head.mutable_cache()->set_tag(absl::StrCat("files:", ctx.tn_id()));
    }
  }
  if (!descriptor.empty() && plan.first == 0) h["X-Cloudillo-Variants"] = descriptor;
  h["Content-Length"] = std::to_string(plan.length);
  return plan;
}

absl::StatusOr<ApiReply> BlobService::DoHead(const ApiRequest& req, bool by_variant) {
  CL_ASSIGN_OR_RETURN(DownloadPlan plan, PlanDownload(req, by_variant, true));
  metrics_.head.Increment();
  plan.head.set_empty_body(true);
  return std::move(plan.head);
}

grpc::ServerUnaryReactor* BlobService::HeadFile(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [=, this] { return DoHead(*req, false); });
}

grpc::ServerUnaryReactor* BlobService::HeadVariant(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                                   ApiReply* out) {
  return rpc::Serve(ctx, out, workers_, [=, this] { return DoHead(*req, true); });
}

}  // namespace cloudillo::blob
