#include "mux_queue.h"

namespace cloudillo::collab {

void MuxQueue::Push(uint64_t socket, cloudillo::v1::MuxEvent ev, size_t bytes) {
  charges_.emplace_back(socket, bytes);
  pending_.push_back({std::move(ev), bytes, charges_.size()});
  bytes_ += bytes;
  last_frame_.reset();
}

void MuxQueue::PushData(uint64_t socket, std::shared_ptr<const std::string> frame, bool text) {
  const size_t bytes = frame->size();
  if (fan_out_ && last_frame_ == frame && last_text_ == text) {
    Pending& last = pending_.back();
    last.ev.add_also(socket);
    charges_.emplace_back(socket, bytes);
    last.charges_end = charges_.size();
    return;
  }
  cloudillo::v1::MuxEvent ev;
  ev.set_socket(socket);
  if (text)
    ev.set_text(*frame);
  else
    ev.set_binary(*frame);
  Push(socket, std::move(ev), bytes);
  last_frame_ = std::move(frame);
  last_text_ = text;
}

size_t MuxQueue::Take(size_t max_bytes, cloudillo::v1::MuxFrame* out, std::vector<Charge>* charged) {
  out->Clear();
  charged->clear();
  if (pending_.empty()) return 0;
  size_t n = 0, bytes = 0;
  while (n < pending_.size() && (n == 0 || bytes + pending_[n].bytes <= max_bytes)) {
    bytes += pending_[n].bytes;
    ++n;
  }
  out->mutable_events()->Reserve(int(n));
  for (size_t i = 0; i < n; ++i) *out->add_events() = std::move(pending_[i].ev);
  const size_t charges = pending_[n - 1].charges_end;
  charged->assign(charges_.begin(), charges_.begin() + charges);
  pending_.erase(pending_.begin(), pending_.begin() + n);
  charges_.erase(charges_.begin(), charges_.begin() + charges);
  for (Pending& p : pending_) p.charges_end -= charges;
  if (pending_.empty()) last_frame_.reset();  // its event is on its way: nothing joins it now
  return bytes;
}

void MuxQueue::Clear() {
  pending_.clear();
  charges_.clear();
  last_frame_.reset();
  bytes_ = 0;
}

}  // namespace cloudillo::collab
