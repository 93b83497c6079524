#include "socket_reactor.h"

#include "collab_service.h"

namespace cloudillo::collab {

using cloudillo::v1::SocketFrame;

void SocketReactor::Queue(std::shared_ptr<const std::string> frame, bool text) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return;
  if (queue_.size() + 1 > limits_.queue_messages || queued_bytes_ + frame->size() > limits_.queue_bytes) {
    ClearQueue();
    QueueClose(too_slow_code_, "client too slow");
  } else {
    queued_bytes_ += frame->size();
    queue_.push_back({std::move(frame), text});
  }
  Pump();
}

void SocketReactor::CloseWith(int code, std::string reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return;
  ClearQueue();
  QueueClose(code, std::move(reason));
  Pump();
}

void SocketReactor::OnReadDone(bool ok) {
  if (!ok) return End();
  if (!opened_) {
    opened_ = true;
    if (!in_.has_open()) return End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "open frame expected"));
    return Opened();
  }
  if (in_.has_close()) return End();
  OnFrame();
}

void SocketReactor::OnWriteDone(bool ok) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (ok && !out_.has_close()) return Pump();
  }
  End();
}

void SocketReactor::Accept() {
  std::lock_guard<std::mutex> lock(mu_);
  SocketFrame f;
  f.mutable_accepted();
  control_.push_front(std::move(f));
  Pump();
}

void SocketReactor::ReadNext() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!finished_) StartRead(&in_);
}

void SocketReactor::End(grpc::Status status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    closing_ = true;
    ClearQueue();
  }
  Finish(status);
}

void SocketReactor::ClearQueue() {
  queue_.clear();
  queued_bytes_ = 0;
}

void SocketReactor::QueueClose(int code, std::string reason) {
  closing_ = true;
  SocketFrame f;
  f.mutable_close()->set_code(code);
  f.mutable_close()->set_reason(std::move(reason));
  control_.push_back(std::move(f));
}

// Starts the next write if none is outstanding; control frames go first, and a close
// only once the frames queued before it were written.
void SocketReactor::Pump() {
  if (writing_ || finished_) return;
  if (!control_.empty() && (control_.front().has_accepted() || queue_.empty())) {
    out_ = std::move(control_.front());
    control_.pop_front();
  } else if (accepted_sent_ && !queue_.empty()) {
    out_.Clear();
    Outgoing& next = queue_.front();
    if (next.text)
      out_.set_text(*next.data);
    else
      out_.set_binary(*next.data);
    queued_bytes_ -= next.data->size();
    queue_.pop_front();
  } else {
    return;
  }
  if (out_.has_accepted()) accepted_sent_ = true;
  writing_ = true;
  StartWrite(&out_);
}

}  // namespace cloudillo::collab
