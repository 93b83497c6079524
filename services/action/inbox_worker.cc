#include "inbox_worker.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "cloudillo/core/log.h"
#include "receive_batch.h"
#include "token_claims.h"

namespace cloudillo::action {
namespace {

constexpr int kMaxAttempts = 10;
// How long a row is ours once claimed or kept in memory; then any verifier may claim it.
constexpr absl::Duration kLease = absl::Minutes(2);

absl::Duration Backoff(int attempts) {
  int64_t s = 60;
  for (int i = 0; i < attempts && s < 3600; ++i) s *= 2;
  return absl::Seconds(std::min<int64_t>(s, 3600));
}

}  // namespace

struct InboxWorker::Metrics {
  prometheus::Counter* accepted = nullptr;
  prometheus::Counter* duplicate = nullptr;
  prometheus::Counter* refused = nullptr;
};

InboxWorker::InboxWorker(ActionStore& store, Pipeline& pipeline, PowGate& pow, InboxOptions options,
                         prometheus::Registry* registry)
    : store_(store),
      pipeline_(pipeline),
      pow_(pow),
      options_(options),
      metrics_(new Metrics),
      batcher_([this](const std::vector<InboundItem>& items) { return Write(items); }, options.queue,
               registry) {
  if (registry) {
    auto& c = prometheus::BuildCounter()
                  .Name("cloudillo_inbox_received_total")
                  .Help("Incoming action tokens by verification outcome")
                  .Register(*registry);
    metrics_->accepted = &c.Add({{"result", "accepted"}});
    metrics_->duplicate = &c.Add({{"result", "duplicate"}});
    metrics_->refused = &c.Add({{"result", "rejected"}});
  }
}

InboxWorker::~InboxWorker() { Stop(); }

void InboxWorker::Start() {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Run(); });
}

absl::Status InboxWorker::Write(const std::vector<InboundItem>& items) {
  bool keep;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keep = !stop_ && held_.size() + items.size() <= options_.max_held;
  }
  // Held rows come back to the pollers after the lease if this process dies first.
  auto ids = store_.EnqueueInboundBatch(items, keep ? kLease : absl::ZeroDuration());
  if (!ids.ok()) return ids.status();
  if (!keep || ids->size() != items.size()) {
    next_poll_ = 0;  // due rows: the next verifier looks
    cv_.notify_one();
    return absl::OkStatus();
  }
  size_t wake = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < items.size(); ++i) {
      const InboundItem& it = items[i];
      held_.push_back(Leased{it.tn_id, (*ids)[i], it.tenant, it.token, it.related, 0, it.client_ip});
    }
    // One verifier per lease's worth of rows, not all of them.
    wake = (items.size() + size_t(options_.batch) - 1) / size_t(options_.batch);
  }
  for (size_t i = 0; i < wake; ++i) cv_.notify_one();
  return absl::OkStatus();
}

absl::Status InboxWorker::Enqueue(InboundItem item) { return batcher_.Submit(std::move(item)); }

absl::Status InboxWorker::EnqueueAsync(InboundItem item, InboundBatcher::Done done) {
  return batcher_.SubmitAsync(std::move(item), std::move(done));
}

void InboxWorker::Stop() {
  batcher_.Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  // What memory still holds is handed back at once, so another replica (or our
  // successor) need not wait out the lease.
  std::vector<std::pair<int64_t, int64_t>> rows;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Leased& r : held_) rows.emplace_back(r.tn_id, r.in_id);
    held_.clear();
  }
  if (absl::Status st = store_.ReleaseInbound(rows); !st.ok())
    LogWarn("inbox_release_failed", {{"rows", int64_t(rows.size())}, {"error", std::string(st.message())}});
}

bool InboxWorker::IsPermanent(const absl::Status& st) {
  return absl::IsInvalidArgument(st) || absl::IsUnauthenticated(st) || absl::IsPermissionDenied(st) ||
         absl::IsFailedPrecondition(st) || absl::IsNotFound(st) || absl::IsAlreadyExists(st);
}

bool InboxWorker::PollDue() {
  int64_t now = absl::ToUnixNanos(absl::Now());
  int64_t due = next_poll_.load();
  return now >= due &&
         next_poll_.compare_exchange_strong(due, now + absl::ToInt64Nanoseconds(options_.idle_poll));
}

std::vector<InboxWorker::Leased> InboxWorker::Claim() {
  std::vector<Leased> out;
  // By tuple id and planned per call, whatever the queue's statistics say (see
  // ActionStore::DeleteInbound): a join read the whole queue per claimed row.
  auto claimed = store_.pool().Query(
      db::PlannedPerCall("UPDATE inbound SET next_at = now() + $2::bigint * interval '1 millisecond' "
                         "WHERE ctid = ANY(ARRAY(SELECT ctid FROM inbound WHERE next_at <= now() "
                         "  ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)) "
                         "RETURNING tn_id, in_id, tenant, token, related, attempts, coalesce(client_ip, '')"),
      {db::P(options_.batch), db::P(absl::ToInt64Milliseconds(kLease))});
  if (!claimed.ok()) {
    LogWarn("inbox_claim_failed", {{"error", std::string(claimed.status().message())}});
    return out;
  }
  for (const db::Row& r : claimed->rows)
    out.push_back(
        Leased{r.Int(0), r.Int(1), r.Str(2), r.Str(3), ParseTextArray(r.Str(4)), int(r.Int(5)), r.Str(6)});
  // A full lease: more may be due, so the next verifier looks again at once.
  if (out.size() == size_t(options_.batch)) {
    next_poll_ = 0;
    cv_.notify_one();
  }
  return out;
}

KnownActions InboxWorker::LookUp(const std::vector<Leased>& lease) {
  KnownActions known;
  std::vector<std::pair<int64_t, std::string>> ids;
  ids.reserve(lease.size());
  for (const Leased& r : lease) ids.emplace_back(r.tn_id, ActionIdOf(r.token));
  auto found = store_.FindMany(ids);
  // Without the answer every token asks the store itself, as it would alone.
  if (!found.ok()) {
    LogWarn("inbox_lookup_failed", {{"error", std::string(found.status().message())}});
    return known;
  }
  for (auto& [tn_id, row] : *found) known.Present(tn_id, std::move(row));
  for (auto& [tn_id, id] : ids) known.Absent(tn_id, std::move(id));
  return known;
}

void InboxWorker::Run() {
  // Per thread on Linux; raising it needs no privilege. A refusal changes nothing else.
  if (options_.nice > 0 && setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), options_.nice) != 0)
    LogWarn("inbox_nice_failed", {{"nice", int64_t(options_.nice)}});
  while (!stop_) {
    std::vector<Leased> lease;
    if (PollDue()) lease = Claim();
    if (lease.empty()) {
      std::unique_lock<std::mutex> lock(mu_);
      if (held_.empty())
        cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.idle_poll),
                     [this] { return stop_ || !held_.empty() || next_poll_ == 0; });
      while (!held_.empty() && lease.size() < size_t(options_.batch)) {
        lease.push_back(std::move(held_.front()));
        held_.pop_front();
      }
    }
    if (!lease.empty()) Verify(lease);
  }
}

void InboxWorker::Verify(std::vector<Leased>& lease) {
  std::vector<std::pair<int64_t, int64_t>> decided;
  KnownActions known = LookUp(lease);
  // Announced after the lease: every message in it is of a row already committed.
  BusBatch bus(pipeline_);
  {
    // The row in `inbound` redoes the token until the DELETE below, which WAL orders
    // after the action's commit: neither waits for its flush.
    ReceiveBatch batch(pipeline_, Durability::kReplayable);
    for (const Leased& r : lease) {
      batch.Add(Tenant{r.tn_id, r.tenant}, r.token, r.related, &known,
                [&](const absl::StatusOr<Received>& outcome) { Settle(r, outcome, decided); });
    }
  }
  bus.Flush();
  // Rows left by a failed delete come back after the lease and end as duplicates.
  if (absl::Status st = store_.DeleteInbound(decided, Durability::kReplayable); !st.ok())
    LogWarn("inbox_delete_failed", {{"error", std::string(st.message())}});
}

void InboxWorker::Settle(const Leased& r, const absl::StatusOr<Received>& outcome,
                         std::vector<std::pair<int64_t, int64_t>>& decided) {
  bool done = outcome.ok() || IsPermanent(outcome.status()) || r.attempts + 1 >= kMaxAttempts;
  if (outcome.ok()) {
    Metrics& m = *metrics_;
    if (*outcome == Received::kDuplicate && m.duplicate) m.duplicate->Increment();
    if (*outcome != Received::kDuplicate && m.accepted) m.accepted->Increment();
    if (*outcome != Received::kDuplicate && usage_) {
      size_t bytes = r.token.size();
      for (const std::string& t : r.related) bytes += t.size();
      usage_->Add(r.tn_id, cache::kUsageFedIn);
      usage_->Add(r.tn_id, cache::kUsageFedInBytes, int64_t(bytes));
    }
  } else if (done) {
    if (metrics_->refused) metrics_->refused->Increment();
    // E5 recommend: only a CONN* whose signature failed raises its network's PoW.
    if (absl::IsUnauthenticated(outcome.status()) && !r.token.empty()) {
      auto claims = DecodeClaims(r.token);
      if (claims.ok() && claims->t.rfind("CONN", 0) == 0) pow_.Penalize(r.client_ip);
    }
    LogInfo("inbound_refused", {{"tn_id", r.tn_id}, {"error", std::string(outcome.status().message())}});
  }
  if (done) {
    decided.emplace_back(r.tn_id, r.in_id);
    return;
  }
  auto st = store_.pool().Query(
      "UPDATE inbound SET attempts = attempts + 1, last_error = $3, "
      "next_at = now() + make_interval(secs => $4) WHERE tn_id = $1 AND in_id = $2",
      {db::P(r.tn_id), db::P(r.in_id), db::P(std::string(outcome.status().message()).substr(0, 200)),
       db::P(int64_t(absl::ToInt64Seconds(Backoff(r.attempts))))});
  if (!st.ok()) LogWarn("inbox_update_failed", {{"error", std::string(st.status().message())}});
}

}  // namespace cloudillo::action
