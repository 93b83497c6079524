#include "history_sync.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"

namespace cloudillo::action {
namespace {

using json = nlohmann::json;

absl::Duration Backoff(int attempts) { return absl::Seconds(10) * (int64_t(1) << std::min(attempts, 6)); }

}  // namespace

HistorySync::HistorySync(ActionStore& store, Pipeline& pipeline, std::shared_ptr<federation::Client> client,
                         const Clock& clock, HistorySyncOptions options)
    : store_(store),
      pipeline_(pipeline),
      client_(client),
      clock_(clock),
      options_(options),
      proxy_(std::move(client), pipeline.ProxySigner()) {}

HistorySync::~HistorySync() { Stop(); }

void HistorySync::Attach(Pipeline& pipeline, OutboxWorker& outbox) {
  pipeline.OnLinkFormed([this](const Tenant& tenant, const std::string& peer) {
    absl::Status st = Schedule(tenant, peer, absl::ZeroDuration());
    if (!st.ok()) LogWarn("history_sync_not_queued", {{"peer", peer}, {"error", std::string(st.message())}});
  });
  outbox.OnDelivered([this](const Tenant& tenant, int64_t a_id, const std::string& recipient,
                            const std::string& type) {
    if (type != "FLLW") return;
    // FLLW:DEL shares the base type; only a plain FLLW forms a link.
    auto r = store_.pool().Query("SELECT 1 FROM actions WHERE tn_id = $1 AND a_id = $2 AND sub_type IS NULL",
                                 {db::P(tenant.tn_id), db::P(a_id)});
    if (!r.ok() || r->empty()) return;
    absl::Status st = Schedule(tenant, recipient, options_.fllw_delay);
    if (!st.ok())
      LogWarn("history_sync_not_queued", {{"peer", recipient}, {"error", std::string(st.message())}});
  });
}

absl::Status HistorySync::Schedule(const Tenant& tenant, const std::string& peer, absl::Duration delay) {
  if (options_.limit <= 0 || peer == tenant.id_tag) return absl::OkStatus();
  CL_RETURN_IF_ERROR(
      store_.pool()
          .Query("INSERT INTO history_sync (tn_id, peer, tenant, next_at) "
                 "VALUES ($1, $2, $3, now() + make_interval(secs => $4)) "
                 "ON CONFLICT (tn_id, peer) DO UPDATE SET tenant = excluded.tenant, state = 'Q', "
                 "attempts = 0, refused = 0, next_at = excluded.next_at, last_error = NULL, "
                 "done_at = NULL",
                 {db::P(tenant.tn_id), db::P(peer), db::P(tenant.id_tag),
                  db::P(std::to_string(absl::ToDoubleSeconds(delay)))})
          .status());
  std::lock_guard<std::mutex> lock(mu_);
  pending_ = true;
  cv_.notify_all();
  return absl::OkStatus();
}

void HistorySync::Start() {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Run(); });
}

void HistorySync::Stop() {
  stop_ = true;
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void HistorySync::Run() {
  while (!stop_) {
    // The lease outlasts a token exchange plus the outbox request and its items.
    auto claimed = store_.pool().Query(
        "UPDATE history_sync h SET next_at = now() + interval '5 minutes' FROM ("
        "  SELECT tn_id, peer FROM history_sync WHERE state = 'Q' AND next_at <= now() "
        "  ORDER BY next_at LIMIT 4 FOR UPDATE SKIP LOCKED) c "
        "WHERE h.tn_id = c.tn_id AND h.peer = c.peer "
        "RETURNING h.tn_id, h.tenant, h.peer, h.attempts, h.refused");
    if (!claimed.ok())
      LogWarn("history_sync_claim_failed", {{"error", std::string(claimed.status().message())}});
    bool idle = !claimed.ok() || claimed->empty();
    if (claimed.ok()) {
      for (const db::Row& r : claimed->rows) {
        Pull(Job{Tenant{r.Int(0), r.Str(1)}, r.Str(2), int(r.Int(3)), int(r.Int(4))});
      }
    }
    if (idle) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.idle_poll),
                   [this] { return stop_ || pending_; });
      pending_ = false;
    }
  }
}

void HistorySync::Pull(const Job& job) {
  auto grant = proxy_.Get(job.tenant.tn_id, job.peer, clock_.Now());
  if (!grant.ok()) {
    if (absl::IsPermissionDenied(grant.status()))
      return Again(job, options_.retry_delay, true, std::string(grant.status().message()));
    if (absl::IsInvalidArgument(grant.status())) return Done(job, "F", std::string(grant.status().message()));
    return Again(job, Backoff(job.attempts), false, std::string(grant.status().message()));
  }
  int64_t since = absl::ToUnixSeconds(clock_.Now()) - int64_t(options_.since_days) * 86400;
  auto resp = client_->Get(job.peer, absl::StrCat("/api/outbox?since=", since, "&limit=", options_.limit),
                           {{"Authorization", "Bearer " + grant->token}});
  if (!resp.ok()) return Again(job, Backoff(job.attempts), false, std::string(resp.status().message()));
  if (resp->status == 401 || resp->status == 403) {
    proxy_.Forget(job.tenant.tn_id, job.peer);
    return Again(job, options_.retry_delay, true, "outbox answered " + std::to_string(resp->status));
  }
  if (resp->status != 200) {
    if (resp->status >= 400 && resp->status < 500)
      return Done(job, "F", "outbox answered " + std::to_string(resp->status));
    return Again(job, Backoff(job.attempts), false, "outbox answered " + std::to_string(resp->status));
  }
  json body = json::parse(resp->body, nullptr, false);
  const json* items = nullptr;
  if (body.is_object() && body.contains("data") && body["data"].is_object() &&
      body["data"].contains("items") && body["data"]["items"].is_array())
    items = &body["data"]["items"];
  if (!items) return Done(job, "F", "outbox answer has no data.items");
  int stored = 0, refused = 0;
  for (const json& item : *items) {
    if (!item.is_object() || !item.contains("token") || !item["token"].is_string()) continue;
    std::vector<std::string> related;
    if (auto it = item.find("related"); it != item.end() && it->is_array()) {
      for (const json& r : *it)
        if (r.is_string() && related.size() < 8) related.push_back(r.get<std::string>());
    }
    auto outcome = pipeline_.Receive(job.tenant, item["token"].get<std::string>(), related, false);
    if (outcome.ok() && *outcome == Received::kStored) {
      ++stored;
    } else if (!outcome.ok()) {
      ++refused;
      LogInfo("history_item_refused", {{"tn_id", job.tenant.tn_id},
                                       {"peer", job.peer},
                                       {"error", std::string(outcome.status().message())}});
    }
  }
  LogInfo("history_synced",
          {{"tn_id", job.tenant.tn_id}, {"peer", job.peer}, {"stored", stored}, {"refused", refused}});
  Done(job, "D", "");
}

void HistorySync::Done(const Job& job, const std::string& state, const std::string& error) {
  if (state == "F")
    LogInfo("history_sync_failed", {{"tn_id", job.tenant.tn_id}, {"peer", job.peer}, {"error", error}});
  auto st = store_.pool().Query(
      "UPDATE history_sync SET state = $3, last_error = nullif($4, ''), done_at = now() "
      "WHERE tn_id = $1 AND peer = $2",
      {db::P(job.tenant.tn_id), db::P(job.peer), db::P(state), db::P(error)});
  if (!st.ok()) LogWarn("history_sync_update_failed", {{"error", std::string(st.status().message())}});
}

// E9: a refusal is retried once (the peer may not have verified our FLLW yet), then the
// job ends quietly; other failures a few times with backoff.
void HistorySync::Again(const Job& job, absl::Duration delay, bool refused, const std::string& error) {
  if (refused && job.refused >= 1) return Done(job, "F", error);
  if (!refused && job.attempts + 1 >= options_.max_attempts) return Done(job, "F", error);
  LogInfo("history_sync_retry", {{"tn_id", job.tenant.tn_id}, {"peer", job.peer}, {"error", error}});
  auto st = store_.pool().Query(
      "UPDATE history_sync SET attempts = attempts + $3, refused = refused + $4, "
      "next_at = now() + make_interval(secs => $5), last_error = nullif($6, '') WHERE tn_id = $1 AND peer = "
      "$2",
      {db::P(job.tenant.tn_id), db::P(job.peer), db::P(refused ? 0 : 1), db::P(refused ? 1 : 0),
       db::P(std::to_string(absl::ToDoubleSeconds(delay))), db::P(error)});
  if (!st.ok()) LogWarn("history_sync_update_failed", {{"error", std::string(st.status().message())}});
}

}  // namespace cloudillo::action
