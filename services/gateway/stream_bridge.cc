#include "stream_bridge.h"

#include <mutex>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "api_flow.h"
#include "cloudillo/core/absl_compat.h"
#include "envelope.h"
#include "grpc_bytes.h"

namespace cloudillo::gateway {
namespace {

using cloudillo::v1::ApiDownloadPart;
using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiUploadPart;
using cloudillo::v1::SocketFrame;

http::Response Internal() { return ErrorResponse(500, "E-CORE-INTERNAL", "Internal server error"); }

// One gRPC stream, kept alive by itself until gRPC reports it done. Reads and writes
// started from outside gRPC's own reactions (from the HTTP side) are covered by a
// hold, released once no more of them will be started.
class Bridge : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
               public std::enable_shared_from_this<Bridge> {
 public:
  explicit Bridge(StreamTarget t) : t_(std::move(t)) {}

 protected:
  void Prepare(bool with_deadline) {
    self_ = shared_from_this();
    if (with_deadline) ctx_.set_deadline(t_.deadline);
    t_.stub->PrepareBidiStreamingCall(&ctx_, t_.method, grpc::StubOptions(), this);
  }
  template <class T>
  std::shared_ptr<T> Self() {
    return std::static_pointer_cast<T>(shared_from_this());
  }
  void OnDone(const grpc::Status& status) final {
    auto keep = std::move(self_);  // may be the last reference: nothing after Finished
    Finished(status);
  }
  virtual void Finished(const grpc::Status& status) = 0;

  StreamTarget t_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer out_, in_;
  std::mutex mu_;

 private:
  std::shared_ptr<Bridge> self_;
};

// The body goes to the service as the client sends it, with the next chunk read from
// the client while the previous one is written to the stream: reading and writing then
// run on two threads at once instead of taking turns, at most two chunks held.
class UploadBridge final : public Bridge {
 public:
  using Bridge::Bridge;

  void Run(cloudillo::v1::ApiRequest request) {
    ApiUploadPart head;
    *head.mutable_head() = std::move(request);
    out_ = ToBytes(head);
    Prepare(true);
    AddHold();  // body chunks are written from the HTTP side
    writing_ = reading_ = true;
    StartWrite(&out_);
    StartRead(&in_);
    StartCall();
    ReadNext();
  }

 private:
  // What to do next, decided under the lock and done after it (gRPC may run a
  // reaction inline).
  struct Step {
    std::optional<std::string> write;
    bool read = false, writes_done = false, release = false, cancel = false;
  };

  void ReadNext() {
    auto self = Self<UploadBridge>();
    t_.ex->ReadBody([self](absl::StatusOr<std::string> chunk) { self->OnBodyChunk(std::move(chunk)); });
  }

  void OnBodyChunk(absl::StatusOr<std::string> chunk) {
    Step step;
    {
      std::lock_guard<std::mutex> lock(mu_);
      reading_ = false;
      if (released_) return;  // the stream broke meanwhile
      if (!chunk.ok()) {
        body_error_ = chunk.status();
        step.cancel = step.release = released_ = true;
      } else if (chunk->empty()) {
        body_done_ = true;
        if (!writing_) step.writes_done = step.release = released_ = true;
      } else if (writing_) {
        next_ = std::move(*chunk);  // written at OnWriteDone, which then reads on
      } else {
        step.write = std::move(*chunk);
        step.read = writing_ = reading_ = true;
      }
    }
    Do(std::move(step));
  }

  void OnWriteDone(bool ok) override {
    Step step;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (released_) return;
      if (!ok) {  // the stream broke; OnDone says why
        step.release = released_ = true;
      } else if (next_) {
        step.write = std::move(*next_);
        next_.reset();
        writing_ = true;
        step.read = reading_ = true;
      } else if (body_done_) {
        step.writes_done = step.release = released_ = true;
      }  // else a read is under way: its chunk is written when it arrives
    }
    Do(std::move(step));
  }

  void Do(Step step) {
    if (step.write) {
      ApiUploadPart part;
      part.set_chunk(std::move(*step.write));
      out_ = ToBytes(part);
      StartWrite(&out_);
    }
    if (step.read) ReadNext();
    if (step.cancel) ctx_.TryCancel();
    if (step.writes_done) StartWritesDone();
    if (step.release) RemoveHold();
  }

  void OnReadDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    got_reply_ = ok;
  }

  void Finished(const grpc::Status& status) override {
    std::optional<absl::Status> body_error;
    bool got;
    {
      std::lock_guard<std::mutex> lock(mu_);
      body_error = body_error_;
      got = got_reply_;
    }
    http::Response res;
    if (body_error) {
      switch (body_error->code()) {
        case absl::StatusCode::kResourceExhausted:
          res = ErrorResponse(413, "E-VAL-INVALID", "Request body too large");
          break;
        case absl::StatusCode::kInvalidArgument:
          res = ErrorResponse(400, "E-VAL-INVALID", "Malformed request body");
          break;
        default:  // the client went away: nobody to answer
          t_.ex->Abort();
          return t_.done(499);
      }
    } else if (!status.ok()) {
      res = FromGrpcError(status);
    } else {
      ApiReply reply;
      res = got && FromBytes(in_, &reply) ? FromApiReply(reply, t_.req_id) : Internal();
    }
    t_.answer(std::move(res));
  }

  std::optional<absl::Status> body_error_;
  bool got_reply_ = false;
  bool writing_ = false, reading_ = false, body_done_ = false, released_ = false;
  std::optional<std::string> next_;  // read from the client, waiting for the write
};

class DownloadBridge final : public Bridge {
 public:
  using Bridge::Bridge;

  void Run(cloudillo::v1::ApiRequest request) {
    out_ = ToBytes(request);
    Prepare(true);
    AddHold();  // the next part is read once the HTTP side wrote the previous one
    StartWriteLast(&out_, grpc::WriteOptions());
    StartRead(&in_);
    StartCall();
  }

 private:
  void OnReadDone(bool ok) override {
    if (!ok) return RemoveHold();  // end of stream; OnDone follows
    ApiDownloadPart part;
    std::unique_lock<std::mutex> lock(mu_);
    if (!FromBytes(in_, &part) || part.has_head() == started_) {
      broken_ = true;  // a chunk before the head, or a second head
      lock.unlock();
      ctx_.TryCancel();
      return RemoveHold();
    }
    if (part.has_head()) {
      started_ = true;
      status_ = part.head().http_status() != 0 ? part.head().http_status() : 200;
      lock.unlock();
      http::Response head;
      head.status = status_;
      std::optional<uint64_t> length;
      for (const auto& [k, v] : part.head().headers()) {
        uint64_t n = 0;
        if (absl::EqualsIgnoreCase(AV(k), "content-length") && absl::SimpleAtoi(AV(v), &n)) {
          length = n;
        } else {
          head.Set(k, v);
        }
      }
      if (t_.keep && status_ == 200 && part.head().has_cache() && length && *length <= t_.keep_limit) {
        kept_.emplace(std::move(*part.mutable_head()));
        auto& kept_headers = *kept_->mutable_headers();  // the length goes with each answer
        for (auto it = kept_headers.begin(); it != kept_headers.end();) {
          it = absl::EqualsIgnoreCase(AV(it->first), "content-length") ? kept_headers.erase(it)
                                                                       : std::next(it);
        }
        kept_->mutable_data_json()->reserve(*length);
        keep_length_ = *length;
      } else {
        t_.settled.reset();
      }
      // The API host's headers (request id, nosniff, CORS for the web client's fetches);
      // the service's own Cache-Control (immutable files) stays.
      DecorateApiResponse(head, t_.ex->request(), t_.req_id);
      t_.ex->StartResponse(std::move(head), length);
      return StartRead(&in_);
    }
    if (kept_) {
      if (kept_->data_json().size() + part.chunk().size() <= keep_length_) {
        kept_->mutable_data_json()->append(part.chunk());
      } else {
        kept_.reset();  // more than the head announced: not kept
      }
    }
    lock.unlock();
    auto self = Self<DownloadBridge>();
    t_.ex->WriteBody(std::move(*part.mutable_chunk()), [self](absl::Status st) {
      if (st.ok()) return self->StartRead(&self->in_);
      {
        std::lock_guard<std::mutex> l(self->mu_);
        self->client_gone_ = true;
      }
      self->ctx_.TryCancel();
      self->RemoveHold();
    });
  }

  void Finished(const grpc::Status& status) override {
    bool started, clean;
    int code;
    std::optional<cloudillo::v1::ApiReply> kept;
    {
      std::lock_guard<std::mutex> lock(mu_);
      started = started_;
      clean = status.ok() && !client_gone_ && !broken_;
      code = status_;
      if (clean && kept_ && kept_->data_json().size() == keep_length_) kept = std::move(kept_);
    }
    if (!started) return t_.answer(status.ok() ? Internal() : FromGrpcError(status));
    if (clean) {
      if (kept) t_.keep(std::move(*kept));
      t_.settled.reset();
      t_.ex->FinishResponse();
    } else {
      t_.ex->Abort();  // the length or the chunking tells the client the answer is incomplete
    }
    t_.done(code);
  }

  bool started_ = false, client_gone_ = false, broken_ = false;
  int status_ = 200;
  std::optional<cloudillo::v1::ApiReply> kept_;  // the answer so far, while it may be kept
  uint64_t keep_length_ = 0;
};

class SocketBridge final : public Bridge {
 public:
  using Bridge::Bridge;

  void Run(cloudillo::v1::ApiRequest request) {
    SocketFrame open;
    *open.mutable_open() = std::move(request);
    out_ = ToBytes(open);
    Prepare(false);  // a socket lives as long as both sides want
    AddHold();       // both pumps start reads and writes from the WebSocket side
    StartWrite(&out_);
    StartRead(&in_);
    StartCall();
  }

 private:
  // Service → client. When the service ends its stream the socket is closed (1000; a
  // service that fails sends a close frame with its code first), which also ends the
  // client pump's pending read.
  void OnReadDone(bool ok) override {
    if (!ok) {
      std::shared_ptr<http::WebSocket> ws;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ws = ws_;
      }
      if (ws) ws->Close(1000, "");
      return PumpEnded(&server_done_);
    }
    SocketFrame frame;
    std::unique_lock<std::mutex> lock(mu_);
    if (!FromBytes(in_, &frame)) {
      lock.unlock();
      ctx_.TryCancel();
      return PumpEnded(&server_done_);
    }
    if (!accepted_) {
      if (!frame.has_accepted()) {
        lock.unlock();
        ctx_.TryCancel();
        return PumpEnded(&server_done_);
      }
      accepted_ = true;
      lock.unlock();
      auto self = Self<SocketBridge>();
      t_.ex->AcceptWebSocket(
          t_.socket, [self](std::shared_ptr<http::WebSocket> ws) { self->OnAccepted(std::move(ws)); });
      return;
    }
    std::shared_ptr<http::WebSocket> ws = ws_;
    lock.unlock();
    if (frame.has_close()) {
      ws->Close(uint16_t(frame.close().code() ? frame.close().code() : 1000), frame.close().reason());
      return StartRead(&in_);
    }
    if (!frame.has_binary() && !frame.has_text()) return StartRead(&in_);
    http::WsMessage m{frame.has_binary() ? frame.binary() : frame.text(), frame.has_binary()};
    auto self = Self<SocketBridge>();
    ws->Write(std::move(m), [self](absl::Status st) {
      if (!st.ok()) self->ctx_.TryCancel();
      self->StartRead(&self->in_);  // fails at once after a cancel, ending this pump
    });
  }

  // The upgrade completed (or failed: the client went away during the handshake).
  void OnAccepted(std::shared_ptr<http::WebSocket> ws) {
    if (!ws) {
      ctx_.TryCancel();
      PumpEnded(&client_done_);
      return StartRead(&in_);
    }
    bool pump;
    {
      std::lock_guard<std::mutex> l(mu_);
      ws_ = ws;
      pump = open_written_;  // else OnWriteDone of the open frame starts it
    }
    if (pump) ReadClient();
    StartRead(&in_);
  }

  // Client → service: the open frame, then one client message per write.
  void OnWriteDone(bool ok) override {
    if (!ok) return PumpEnded(&client_done_);
    bool pump;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!open_written_) {
        // The open frame: the client pump starts once the socket is accepted too.
        open_written_ = true;
        pump = ws_ != nullptr;
      } else {
        pump = !client_closing_;  // a client message went out: read the next one
      }
    }
    if (pump) ReadClient();
  }

  void ReadClient() {
    auto self = Self<SocketBridge>();
    ws_->Read([self](absl::StatusOr<http::WsMessage> m) {
      SocketFrame frame;
      if (!m.ok()) {
        frame.mutable_close()->set_code(self->ws_->peer_close_code());
        self->out_ = ToBytes(frame);
        {
          // Before the write: its completion must not start another read.
          std::lock_guard<std::mutex> lock(self->mu_);
          self->client_closing_ = true;
        }
        self->StartWriteLast(&self->out_, grpc::WriteOptions());
        return self->PumpEnded(&self->client_done_);
      }
      if (m->binary) {
        frame.set_binary(std::move(m->data));
      } else {
        frame.set_text(std::move(m->data));
      }
      self->out_ = ToBytes(frame);
      self->StartWrite(&self->out_);
    });
  }

  // Releases the hold once neither pump will start another operation.
  void PumpEnded(bool* which) {
    bool release;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (*which) return;
      *which = true;
      if (!accepted_ || !ws_) client_done_ = true;  // no client pump ever ran
      release = client_done_ && server_done_ && !released_;
      if (release) released_ = true;
    }
    if (release) RemoveHold();
  }

  void Finished(const grpc::Status& status) override {
    std::shared_ptr<http::WebSocket> ws;
    bool accepted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ws = ws_;
      accepted = accepted_;
    }
    if (!accepted) return t_.answer(status.ok() ? Internal() : FromGrpcError(status));
    if (ws) ws->Close(status.ok() ? 1000 : 1011, status.ok() ? "" : "backend failed");
    t_.done(101);
  }

  std::shared_ptr<http::WebSocket> ws_;
  bool accepted_ = false, open_written_ = false, client_closing_ = false, client_done_ = false,
       server_done_ = false, released_ = false;
};

}  // namespace

void StartUpload(StreamTarget target, cloudillo::v1::ApiRequest request) {
  std::make_shared<UploadBridge>(std::move(target))->Run(std::move(request));
}

void StartDownload(StreamTarget target, cloudillo::v1::ApiRequest request) {
  std::make_shared<DownloadBridge>(std::move(target))->Run(std::move(request));
}

void StartSocket(StreamTarget target, cloudillo::v1::ApiRequest request) {
  std::make_shared<SocketBridge>(std::move(target))->Run(std::move(request));
}

}  // namespace cloudillo::gateway
