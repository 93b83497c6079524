#include "inbox_worker.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <algorithm>

#include "cloudillo/core/log.h"
#include "token_claims.h"

namespace cloudillo::action {
namespace {

constexpr int kMaxAttempts = 10;

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
      batcher_([&store](const std::vector<InboundItem>& items) { return store.EnqueueInboundBatch(items); },
               options.queue, registry) {
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

absl::Status InboxWorker::Enqueue(InboundItem item) {
  absl::Status st = batcher_.Submit(std::move(item));
  if (st.ok()) Notify();
  return st;
}

absl::Status InboxWorker::EnqueueAsync(InboundItem item, InboundBatcher::Done done) {
  return batcher_.SubmitAsync(std::move(item), [this, done = std::move(done)](absl::Status st) {
    if (st.ok()) Notify();
    done(std::move(st));
  });
}

void InboxWorker::Notify() {
  std::lock_guard<std::mutex> lock(mu_);
  // Bounded: credit beyond what all verifiers can lease at once wakes nobody useful.
  const size_t cap = size_t(options_.threads) * size_t(options_.batch);
  if (pending_rows_ < cap) ++pending_rows_;
  // One more row wakes a verifier only when it starts a new lease's worth.
  if ((pending_rows_ - 1) % size_t(options_.batch) == 0) cv_.notify_one();
}

void InboxWorker::Stop() {
  batcher_.Stop();
  stop_ = true;
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

bool InboxWorker::IsPermanent(const absl::Status& st) {
  return absl::IsInvalidArgument(st) || absl::IsUnauthenticated(st) || absl::IsPermissionDenied(st) ||
         absl::IsFailedPrecondition(st) || absl::IsNotFound(st) || absl::IsAlreadyExists(st);
}

KnownActions InboxWorker::LookUp(const std::vector<db::Row>& lease) {
  KnownActions known;
  std::vector<std::pair<int64_t, std::string>> ids;
  ids.reserve(lease.size());
  for (const db::Row& r : lease) ids.emplace_back(r.Int(0), ActionIdOf(r.Str(3)));
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
  while (!stop_) {
    auto claimed = store_.pool().Query(
        "UPDATE inbound i SET next_at = now() + interval '2 minutes' FROM ("
        "  SELECT tn_id, in_id FROM inbound WHERE next_at <= now() ORDER BY next_at LIMIT $1 "
        "  FOR UPDATE SKIP LOCKED) c WHERE i.tn_id = c.tn_id AND i.in_id = c.in_id "
        "RETURNING i.tn_id, i.in_id, i.tenant, i.token, i.related, i.attempts, coalesce(i.client_ip, '')",
        {db::P(options_.batch)});
    if (!claimed.ok()) LogWarn("inbox_claim_failed", {{"error", std::string(claimed.status().message())}});
    bool idle = !claimed.ok() || claimed->empty();
    if (claimed.ok()) {
      std::vector<std::pair<int64_t, int64_t>> decided;
      KnownActions known = LookUp(claimed->rows);
      // Announced after the lease: every message in it is of a row already committed.
      BusBatch bus(pipeline_);
      for (const db::Row& r : claimed->rows) {
        Tenant tenant{r.Int(0), r.Str(2)};
        int64_t in_id = r.Int(1);
        int attempts = int(r.Int(5));
        auto outcome = pipeline_.Receive(tenant, r.Str(3), ParseTextArray(r.Str(4)), false, &known);
        bool done = outcome.ok() || IsPermanent(outcome.status()) || attempts + 1 >= kMaxAttempts;
        if (outcome.ok()) {
          Metrics& m = *metrics_;
          if (*outcome == Received::kDuplicate && m.duplicate) m.duplicate->Increment();
          if (*outcome != Received::kDuplicate && m.accepted) m.accepted->Increment();
          if (*outcome != Received::kDuplicate && usage_) {
            usage_->Add(tenant.tn_id, cache::kUsageFedIn);
            usage_->Add(tenant.tn_id, cache::kUsageFedInBytes, int64_t(r.Str(3).size() + r.Str(4).size()));
          }
        } else if (done) {
          if (metrics_->refused) metrics_->refused->Increment();
          // E5 recommend: only a CONN* whose signature failed raises its network's PoW.
          if (absl::IsUnauthenticated(outcome.status()) && r.Str(3).size() > 0) {
            auto claims = DecodeClaims(r.Str(3));
            if (claims.ok() && claims->t.rfind("CONN", 0) == 0) pow_.Penalize(r.Str(6));
          }
          LogInfo("inbound_refused",
                  {{"tn_id", tenant.tn_id}, {"error", std::string(outcome.status().message())}});
        }
        if (done) {
          decided.emplace_back(tenant.tn_id, in_id);
          continue;
        }
        auto st = store_.pool().Query(
            "UPDATE inbound SET attempts = attempts + 1, last_error = $3, "
            "next_at = now() + make_interval(secs => $4) WHERE tn_id = $1 AND in_id = $2",
            {db::P(tenant.tn_id), db::P(in_id), db::P(std::string(outcome.status().message()).substr(0, 200)),
             db::P(int64_t(absl::ToInt64Seconds(Backoff(attempts))))});
        if (!st.ok()) LogWarn("inbox_update_failed", {{"error", std::string(st.status().message())}});
      }
      bus.Flush();
      // Rows left by a failed delete come back after the lease and end as duplicates.
      if (absl::Status st = store_.DeleteInbound(decided); !st.ok())
        LogWarn("inbox_delete_failed", {{"error", std::string(st.message())}});
    }
    if (idle) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.idle_poll),
                   [this] { return stop_ || pending_rows_ > 0; });
      pending_rows_ -= std::min(pending_rows_, size_t(options_.batch));
    }
  }
}

}  // namespace cloudillo::action
