#include "doc_hub.h"

#include <algorithm>
#include <future>

#include "absl/strings/numbers.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/random.h"
#include "frames.h"

namespace cloudillo::collab {

class LiveDoc {
 public:
  LiveDoc(int64_t tn, std::string id, std::string ch)
      : tn_id(tn), doc_id(std::move(id)), channel(std::move(ch)) {}

  const int64_t tn_id;
  const std::string doc_id, channel;

  std::mutex mu;
  bool loaded = false;
  std::string merged;                // a snapshot of the log up to some point
  std::vector<std::string> pending;  // updates since, merged lazily
  size_t pending_bytes = 0;
  int64_t last_seq = 0;             // every seq up to this one is applied
  std::set<int64_t> ahead;          // applied seqs beyond last_seq
  yjs::DeleteSet structs, deletes;  // what the state holds: struct ranges, deletions
  std::vector<std::shared_ptr<DocPeer>> peers;
  struct Claim {
    const DocPeer* owner = nullptr;  // nullptr: a connection on another process
    uint64_t clock = 0;
  };
  std::unordered_map<uint64_t, Claim> claims;  // awareness client id -> claim
  size_t appended = 0;                         // accepted here since the last compaction

  // Guarded by DocHub::mu_.
  int refs = 0;
  absl::Time idle_since = absl::InfinitePast();

  size_t bytes() const { return merged.size() + pending_bytes; }

  absl::StatusOr<std::string> Snapshot(const yjs::Limits& limits) {
    if (!pending.empty()) {
      std::vector<std::string> all;
      all.reserve(pending.size() + 1);
      all.push_back(std::move(merged));
      for (auto& p : pending) all.push_back(std::move(p));
      pending.clear();
      pending_bytes = 0;
      auto m = MergeBounded(all, 64, limits);
      if (!m.ok()) return m.status();
      merged = std::move(*m);
    }
    return merged;
  }

  void Cover(const yjs::Update& u) {
    yjs::DeleteSet mine;
    for (const auto& s : u.structs) {
      if (s.kind == yjs::StructKind::kSkip || s.length == 0) continue;
      auto it = std::find_if(mine.begin(), mine.end(), [&](const auto& e) { return e.first == s.id.client; });
      if (it == mine.end()) {
        mine.push_back({s.id.client, {}});
        it = mine.end() - 1;
      }
      it->second.push_back({s.id.clock, s.length});
    }
    if (!mine.empty()) structs = yjs::MergeDeleteSets({structs, mine});
    if (!u.delete_set.empty()) deletes = yjs::MergeDeleteSets({deletes, u.delete_set});
  }

  void Add(std::string bytes, const yjs::Update& u, const yjs::Limits& limits) {
    pending_bytes += bytes.size();
    pending.push_back(std::move(bytes));
    Cover(u);
    // Bounded: the lazily merged tail never outgrows the snapshot by much.
    if (pending.size() >= 256 || pending_bytes > std::max<size_t>(merged.size(), 1u << 20)) {
      if (auto st = Snapshot(limits); !st.ok())
        LogWarn("crdt_merge_failed", {{"error", st.status().ToString()}});
    }
  }

  // Whether seq is new here; marks it applied.
  bool Take(int64_t seq) {
    if (seq <= last_seq || ahead.count(seq)) return false;
    ahead.insert(seq);
    while (!ahead.empty() && *ahead.begin() == last_seq + 1) {
      last_seq = *ahead.begin();
      ahead.erase(ahead.begin());
    }
    return true;
  }
  bool HasGap() const { return !ahead.empty(); }
};

struct DocHub::Counters {
  prometheus::Counter *step1 = nullptr, *step2 = nullptr, *update = nullptr, *awareness = nullptr,
                      *other = nullptr;
  prometheus::Counter *malformed = nullptr, *invalid = nullptr, *too_big = nullptr, *read_only = nullptr,
                      *noop = nullptr;
  prometheus::Counter *gap_fills = nullptr, *compacted = nullptr, *compact_failed = nullptr;
};

void DocHub::Count(prometheus::Counter* Counters::*which) {
  if (counters_ && counters_.get()->*which) (counters_.get()->*which)->Increment();
}

namespace {

bool Covered(const yjs::DeleteSet& ds, uint64_t client, uint64_t clock, uint64_t len) {
  auto it = std::find_if(ds.begin(), ds.end(), [&](const auto& e) { return e.first == client; });
  if (it == ds.end()) return false;
  const auto& ranges = it->second;  // sorted and coalesced (MergeDeleteSets)
  auto r = std::upper_bound(ranges.begin(), ranges.end(), clock,
                            [](uint64_t c, const yjs::DeleteRange& x) { return c < x.clock; });
  if (r == ranges.begin()) return false;
  --r;
  return clock + len <= r->clock + r->len;
}

// A client update that adds nothing: every struct and every deletion is already held.
bool IsNoop(const LiveDoc& doc, const yjs::Update& u) {
  for (const auto& s : u.structs) {
    if (s.kind == yjs::StructKind::kSkip || s.length == 0) continue;
    if (!Covered(doc.structs, s.id.client, s.id.clock, s.length)) return false;
  }
  for (const auto& [client, ranges] : u.delete_set) {
    for (const auto& r : ranges) {
      if (r.len > 0 && !Covered(doc.deletes, client, r.clock, r.len)) return false;
    }
  }
  return true;
}

std::string ChannelOf(int64_t tn_id, const std::string& doc_id) {
  return "crdt:" + std::to_string(tn_id) + ":" + doc_id;
}

constexpr size_t kOriginLen = 16;

// Published: kind ('u' update, 'a' awareness), origin, 8-byte big-endian seq, payload.
std::string PackMessage(char kind, const std::string& origin, int64_t seq, const std::string& payload) {
  std::string out;
  out.reserve(1 + kOriginLen + 8 + payload.size());
  out.push_back(kind);
  out.append(origin);
  for (int i = 7; i >= 0; --i) out.push_back(char((uint64_t(seq) >> (8 * i)) & 0xff));
  out.append(payload);
  return out;
}

}  // namespace

DocHub::DocHub(DocStore& store, std::shared_ptr<cache::Redis> redis, rpc::WorkerPool& workers,
               HubLimits limits, prometheus::Registry* registry)
    : store_(store),
      redis_(std::move(redis)),
      workers_(workers),
      limits_(limits),
      origin_(RandomAlnum(kOriginLen)),
      log_(store, registry) {
  if (registry) {
    docs_gauge_ = &prometheus::BuildGauge()
                       .Name("cloudillo_collab_documents_open")
                       .Help("Live documents held in memory by this process")
                       .Register(*registry)
                       .Add({});
    updates_ = &prometheus::BuildCounter()
                    .Name("cloudillo_collab_updates_total")
                    .Help("Yjs updates accepted from clients and committed by this process")
                    .Register(*registry)
                    .Add({});
    counters_ = std::make_unique<Counters>();
    auto& messages = prometheus::BuildCounter()
                         .Name("cloudillo_collab_messages_total")
                         .Help("Client messages on /ws/crdt by type")
                         .Register(*registry);
    counters_->step1 = &messages.Add({{"type", "sync_step1"}});
    counters_->step2 = &messages.Add({{"type", "sync_step2"}});
    counters_->update = &messages.Add({{"type", "update"}});
    counters_->awareness = &messages.Add({{"type", "awareness"}});
    counters_->other = &messages.Add({{"type", "other"}});
    auto& dropped = prometheus::BuildCounter()
                        .Name("cloudillo_collab_dropped_total")
                        .Help("Client messages refused (the socket closes) or dropped, by reason")
                        .Register(*registry);
    counters_->malformed = &dropped.Add({{"reason", "malformed"}});
    counters_->invalid = &dropped.Add({{"reason", "invalid_update"}});
    counters_->too_big = &dropped.Add({{"reason", "too_big"}});
    counters_->read_only = &dropped.Add({{"reason", "read_only"}});
    counters_->noop = &dropped.Add({{"reason", "noop"}});
    counters_->gap_fills = &prometheus::BuildCounter()
                                .Name("cloudillo_collab_gap_fills_total")
                                .Help("Update-log reads that filled updates missed on Redis pub/sub")
                                .Register(*registry)
                                .Add({});
    auto& compactions = prometheus::BuildCounter()
                            .Name("cloudillo_collab_compactions_total")
                            .Help("Update-log compactions by result")
                            .Register(*registry);
    counters_->compacted = &compactions.Add({{"result", "done"}});
    counters_->compact_failed = &compactions.Add({{"result", "failed"}});
  }
}

DocHub::~DocHub() { Stop(); }

void DocHub::Start() {
  reaper_ = std::thread([this] { ReapLoop(); });
}

void DocHub::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
}

size_t DocHub::open_documents() const {
  std::lock_guard<std::mutex> lock(mu_);
  return docs_.size();
}

absl::StatusOr<DocHub::Joined> DocHub::Join(int64_t tn_id, const std::string& doc_id,
                                            std::shared_ptr<DocPeer> peer) {
  std::string channel = ChannelOf(tn_id, doc_id);
  std::shared_ptr<LiveDoc> doc;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = docs_[channel];
    if (!slot) slot = std::make_shared<LiveDoc>(tn_id, doc_id, channel);
    doc = slot;
    ++doc->refs;
    if (docs_gauge_) docs_gauge_->Set(double(docs_.size()));
  }
  auto fail = [&](absl::Status st) -> absl::Status {
    std::lock_guard<std::mutex> lock(mu_);
    if (--doc->refs == 0) doc->idle_since = absl::Now();
    return st;
  };
  std::lock_guard<std::mutex> lock(doc->mu);
  if (!doc->loaded) {
    // Registered before the load: anything published from now on reaches this copy,
    // and anything committed before is in what the load reads.
    auto rows = store_.Load(tn_id, doc_id, 0, true);
    if (!rows.ok()) return fail(rows.status());
    std::vector<std::string> updates;
    int64_t last = 0;
    for (auto& r : *rows) {
      last = std::max(last, r.seq);
      updates.push_back(std::move(r.bytes));
    }
    auto merged = MergeBounded(updates, limits_.compaction.batch_rows, limits_.yjs);
    if (!merged.ok()) return fail(merged.status());
    auto decoded = yjs::DecodeUpdate(*merged, limits_.yjs);
    if (!decoded.ok()) return fail(decoded.status());
    doc->merged = std::move(*merged);
    doc->Cover(*decoded);
    doc->last_seq = last;
    doc->loaded = true;
  }
  auto snap = doc->Snapshot(limits_.yjs);
  if (!snap.ok()) return fail(snap.status());
  auto sv = yjs::StateVectorFromUpdate(*snap, limits_.yjs);
  if (!sv.ok()) return fail(sv.status());
  doc->peers.push_back(std::move(peer));
  return Joined{doc, EncodeSync(SyncType::kStep1, *sv)};
}

void DocHub::Leave(const std::shared_ptr<LiveDoc>& doc, const DocPeer* peer) {
  std::vector<AwarenessEntry> gone;
  std::shared_ptr<DocPeer> keep;  // released after the lock
  {
    std::lock_guard<std::mutex> lock(doc->mu);
    auto p =
        std::find_if(doc->peers.begin(), doc->peers.end(), [&](const auto& x) { return x.get() == peer; });
    if (p != doc->peers.end()) {
      keep = std::move(*p);
      doc->peers.erase(p);
    }
    for (auto it = doc->claims.begin(); it != doc->claims.end();) {
      if (it->second.owner == peer) {
        gone.push_back({it->first, it->second.clock + 1, "null"});
        it = doc->claims.erase(it);
      } else {
        ++it;
      }
    }
    if (!gone.empty()) {
      std::string update = EncodeAwareness(gone);
      Broadcast(*doc, std::make_shared<const std::string>(EncodeAwarenessMessage(update)));
      Publish(*doc, 'a', 0, update);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (--doc->refs == 0) doc->idle_since = absl::Now();
}

void DocHub::Broadcast(LiveDoc& doc, std::shared_ptr<const std::string> frame) {
  for (const auto& p : doc.peers) p->Send(frame);
}

void DocHub::Publish(const LiveDoc& doc, char kind, int64_t seq, const std::string& payload) {
  if (!redis_) return;
  redis_->CommandAsync({"PUBLISH", doc.channel, PackMessage(kind, origin_, seq, payload)},
                       [](absl::StatusOr<cache::Reply> r) {
                         // Other processes catch up from the log on their next message.
                         if (!r.ok()) LogWarn("crdt_publish_failed", {{"error", r.status().ToString()}});
                       });
}

DocHub::Outcome DocHub::Handle(LiveDoc& doc, DocPeer* from, const PeerInfo& who, std::string_view frame) {
  std::promise<Outcome> decided;
  // The caller keeps `doc` alive until this returns: a non-owning pointer will do.
  Handle(std::shared_ptr<LiveDoc>(std::shared_ptr<LiveDoc>(), &doc), from, who, frame,
         [&decided](Outcome out) { decided.set_value(std::move(out)); });
  return decided.get_future().get();
}

void DocHub::Handle(std::shared_ptr<LiveDoc> doc, DocPeer* from, const PeerInfo& who, std::string_view frame,
                    std::function<void(Outcome)> done) {
  ToCommit commit;
  Outcome now = Check(*doc, from, who, frame, &commit);
  if (!commit.update) return done(std::move(now));
  // Committed before anyone sees it: an acknowledged update survives this process.
  AppendItem item{doc->tn_id, doc->doc_id, std::move(commit.bytes), who.writer};
  log_.Append(std::move(item), [this, doc, update = std::move(*commit.update), done = std::move(done)](
                                   absl::StatusOr<int64_t> seq, std::string bytes) mutable {
    done(Committed(doc, seq, std::move(bytes), update));
  });
}

bool DocHub::IsQuick(std::string_view frame) {
  if (frame.size() > kQuickBytes) return false;
  auto msg = ParseMessage(frame);
  // A malformed one is refused at once either way.
  return !msg.ok() || msg->type != MessageType::kSync || msg->sync != SyncType::kStep1;
}

DocHub::Outcome DocHub::Check(LiveDoc& doc, DocPeer* from, const PeerInfo& who, std::string_view frame,
                              ToCommit* commit) {
  auto msg = ParseMessage(frame);
  if (!msg.ok()) {
    Count(&Counters::malformed);
    return {kCloseProtocol, "malformed message"};
  }
  if (msg->type == MessageType::kOther) {
    Count(&Counters::other);
    return {};  // auth, queryAwareness: ignored (§5.2)
  }

  if (msg->type == MessageType::kAwareness) {
    Count(&Counters::awareness);
    auto entries = DecodeAwareness(msg->payload);
    if (!entries.ok()) {
      Count(&Counters::malformed);
      return {kCloseProtocol, "malformed awareness"};
    }
    auto stamped = StampAwareness(std::move(*entries), who.awareness_id);
    if (!stamped) {
      Count(&Counters::malformed);
      return {};
    }
    std::lock_guard<std::mutex> lock(doc.mu);
    std::vector<AwarenessEntry> keep;
    for (auto& e : *stamped) {
      auto it = doc.claims.find(e.client);
      if (it != doc.claims.end() && it->second.owner != from) continue;  // someone else's
      if (it == doc.claims.end()) {
        if (e.removed()) continue;
        size_t mine = std::count_if(doc.claims.begin(), doc.claims.end(),
                                    [&](const auto& c) { return c.second.owner == from; });
        if (mine >= limits_.max_awareness_clients) continue;
        it = doc.claims.emplace(e.client, LiveDoc::Claim{from, e.clock}).first;
      }
      it->second.clock = std::max(it->second.clock, e.clock);
      if (e.removed()) doc.claims.erase(it);
      keep.push_back(std::move(e));
    }
    if (keep.empty()) return {};
    std::string update = EncodeAwareness(keep);
    Broadcast(doc, std::make_shared<const std::string>(EncodeAwarenessMessage(update)));
    Publish(doc, 'a', 0, update);
    return {};
  }

  if (msg->sync == SyncType::kStep1) {
    Count(&Counters::step1);
    std::lock_guard<std::mutex> lock(doc.mu);
    auto snap = doc.Snapshot(limits_.yjs);
    if (!snap.ok()) return {4500, "internal error"};
    auto diff = yjs::DiffUpdate(*snap, msg->payload, limits_.yjs);
    if (!diff.ok()) {
      Count(&Counters::malformed);
      return {kCloseProtocol, "malformed state vector"};
    }
    from->Send(std::make_shared<const std::string>(EncodeSync(SyncType::kStep2, *diff)));
    return {};
  }

  // SyncStep2 or Update.
  Count(msg->sync == SyncType::kStep2 ? &Counters::step2 : &Counters::update);
  if (who.read_only) {
    Count(&Counters::read_only);
    return {};
  }
  if (msg->payload.empty()) return {};
  if (msg->payload.size() > limits_.max_update_bytes) {
    Count(&Counters::too_big);
    return {kCloseTooBig, "update too large"};
  }
  auto update = yjs::DecodeUpdate(msg->payload, limits_.yjs);
  if (!update.ok()) {
    bool big = update.status().code() == absl::StatusCode::kResourceExhausted;
    Count(big ? &Counters::too_big : &Counters::invalid);
    return big ? Outcome{kCloseTooBig, "update too large"} : Outcome{kCloseInvalid, "invalid update"};
  }
  {
    std::lock_guard<std::mutex> lock(doc.mu);
    if (IsNoop(doc, *update)) {
      Count(&Counters::noop);
      return {};
    }
    if (doc.bytes() + msg->payload.size() > limits_.max_doc_bytes) {
      Count(&Counters::too_big);
      return {kCloseTooBig, "document too large"};
    }
  }
  commit->bytes = std::string(msg->payload);
  commit->update = std::move(*update);
  return {};
}

DocHub::Outcome DocHub::Committed(const std::shared_ptr<LiveDoc>& doc_ptr, const absl::StatusOr<int64_t>& seq,
                                  std::string bytes, const yjs::Update& update) {
  LiveDoc& doc = *doc_ptr;
  if (!seq.ok()) {
    LogWarn("crdt_append_failed", {{"error", seq.status().ToString()}});
    return {4500, "internal error"};
  }
  if (updates_) updates_->Increment();
  bool gap, compact;
  {
    std::lock_guard<std::mutex> lock(doc.mu);
    doc.Take(*seq);
    doc.Add(bytes, update, limits_.yjs);
    // To the others and back to the sender, who takes it as a keepalive (§5.2).
    Broadcast(doc, std::make_shared<const std::string>(EncodeSync(SyncType::kUpdate, bytes)));
    Publish(doc, 'u', *seq, bytes);
    gap = doc.HasGap();
    compact = ++doc.appended >= limits_.compact_every;
    if (compact) doc.appended = 0;
  }
  if (gap) {
    // Another process committed in between and its message has not arrived (or was
    // lost): the log has it already. Reading it blocks: never on the log writer's thread.
    std::shared_ptr<LiveDoc> self;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = docs_.find(doc.channel);
      if (it != docs_.end()) self = it->second;
    }
    if (self) workers_.TrySubmit([this, self] { CatchUp(self); });
  }
  if (compact) {
    int64_t tn = doc.tn_id;
    std::string id = doc.doc_id;
    workers_.TrySubmit([this, tn, id] { Compact(tn, id); });
  }
  return {};
}

void DocHub::ApplyRows(LiveDoc& doc, const std::vector<UpdateRow>& rows, bool broadcast) {
  for (const auto& r : rows) {
    if (!doc.Take(r.seq)) continue;
    auto u = yjs::DecodeUpdate(r.bytes, limits_.yjs);
    if (!u.ok()) {
      LogWarn("crdt_row_invalid", {{"seq", r.seq}});
      continue;
    }
    doc.Add(r.bytes, *u, limits_.yjs);
    if (broadcast)
      Broadcast(doc, std::make_shared<const std::string>(EncodeSync(SyncType::kUpdate, r.bytes)));
  }
}

void DocHub::CatchUp(const std::shared_ptr<LiveDoc>& doc, bool always) {
  int64_t after;
  {
    std::lock_guard<std::mutex> lock(doc->mu);
    if (!doc->loaded || (!always && !doc->HasGap())) return;
    after = doc->last_seq;
  }
  Count(&Counters::gap_fills);
  auto rows = store_.Load(doc->tn_id, doc->doc_id, after, false);
  if (!rows.ok()) {
    LogWarn("crdt_catch_up_failed", {{"error", rows.status().ToString()}});
    return;
  }
  std::lock_guard<std::mutex> lock(doc->mu);
  ApplyRows(*doc, *rows, true);
  // Every seq up to the newest read is committed and now applied (a compacted row
  // stands for the seqs it replaced).
  int64_t newest = rows->empty() ? doc->last_seq : rows->back().seq;
  if (newest > doc->last_seq) doc->last_seq = newest;
  while (!doc->ahead.empty() && *doc->ahead.begin() <= doc->last_seq) doc->ahead.erase(doc->ahead.begin());
  while (!doc->ahead.empty() && *doc->ahead.begin() == doc->last_seq + 1) {
    doc->last_seq = *doc->ahead.begin();
    doc->ahead.erase(doc->ahead.begin());
  }
}

void DocHub::Deliver(const std::string& channel, const std::string& message) {
  if (message.size() < 1 + kOriginLen + 8) return;
  if (message.compare(1, kOriginLen, origin_) == 0) return;  // our own
  std::shared_ptr<LiveDoc> doc;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = docs_.find(channel);
    if (it == docs_.end()) return;  // nobody here has it open
    doc = it->second;
  }
  char kind = message[0];
  int64_t seq = 0;
  for (size_t i = 0; i < 8; ++i) seq = (seq << 8) | uint8_t(message[1 + kOriginLen + i]);
  std::string payload = message.substr(1 + kOriginLen + 8);
  if (kind == 'a') {
    auto entries = DecodeAwareness(payload);
    if (!entries.ok()) return;
    std::lock_guard<std::mutex> lock(doc->mu);
    std::vector<AwarenessEntry> keep;
    for (auto& e : *entries) {
      auto it = doc->claims.find(e.client);
      if (it != doc->claims.end() && it->second.owner != nullptr) continue;  // claimed here
      if (e.removed()) {
        if (it != doc->claims.end()) doc->claims.erase(it);
      } else {
        doc->claims[e.client] = LiveDoc::Claim{nullptr, e.clock};
      }
      keep.push_back(std::move(e));
    }
    if (!keep.empty())
      Broadcast(*doc, std::make_shared<const std::string>(EncodeAwarenessMessage(EncodeAwareness(keep))));
    return;
  }
  if (kind != 'u' || seq <= 0) return;
  bool queued = workers_.TrySubmit([this, doc, seq, payload = std::move(payload)] {
    bool gap;
    {
      std::lock_guard<std::mutex> lock(doc->mu);
      if (!doc->loaded) return;
      ApplyRows(*doc, {UpdateRow{seq, payload}}, true);
      gap = doc->HasGap();
    }
    if (gap) CatchUp(doc);
  });
  if (!queued) LogWarn("crdt_deliver_dropped", {{"reason", "workers busy"}});
}

void DocHub::OnSubscriberReset() {
  std::vector<std::shared_ptr<LiveDoc>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [ch, d] : docs_) all.push_back(d);
  }
  for (auto& d : all) workers_.TrySubmit([this, d] { CatchUp(d, true); });
}

void DocHub::Compact(int64_t tn_id, const std::string& doc_id) {
  auto left = store_.Compact(tn_id, doc_id, limits_.compaction, limits_.yjs);
  Count(left.ok() ? &Counters::compacted : &Counters::compact_failed);
  if (!left.ok()) LogWarn("crdt_compaction_failed", {{"error", left.status().ToString()}});
}

void DocHub::ReapLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(500));
    absl::Time now = absl::Now();
    std::vector<std::pair<int64_t, std::string>> evicted;
    for (auto it = docs_.begin(); it != docs_.end();) {
      const auto& d = it->second;
      if (d->refs == 0 && now - d->idle_since >= limits_.evict_after) {
        evicted.emplace_back(d->tn_id, d->doc_id);
        it = docs_.erase(it);
      } else {
        ++it;
      }
    }
    if (docs_gauge_) docs_gauge_->Set(double(docs_.size()));
    if (evicted.empty()) continue;
    lock.unlock();
    for (auto& [tn, id] : evicted) {
      // Compaction runs when nobody here edits (PROTOCOL §5.3), off this thread.
      workers_.TrySubmit([this, tn = tn, id = id] { Compact(tn, id); });
    }
    lock.lock();
  }
}

}  // namespace cloudillo::collab
