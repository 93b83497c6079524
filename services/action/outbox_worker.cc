#include "outbox_worker.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cloudillo/core/log.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/db/sql_text.h"

namespace cloudillo::action {
namespace {

using json = nlohmann::json;

constexpr int kMaxAttempts = 50;
constexpr int kMaxPow = 4;

absl::Duration Backoff(int attempts) {
  int64_t s = 10;
  for (int i = 0; i < attempts && s < 12 * 3600; ++i) s *= 2;
  return absl::Seconds(std::min<int64_t>(s, 12 * 3600));
}

// The client's Status messages name the stage that failed (libs/federation client.cc).
const char* FailureReason(const absl::Status& st) {
  if (absl::IsDeadlineExceeded(st)) return "timeout";
  if (!absl::IsUnavailable(st)) return "other";
  std::string m = absl::AsciiStrToLower(std::string(st.message()));
  if (m.find("resolv") != std::string::npos || m.find("dns") != std::string::npos) return "dns";
  if (m.find("tls") != std::string::npos || m.find("handshake") != std::string::npos ||
      m.find("certificate") != std::string::npos)
    return "tls";
  return "connect";
}

bool Permanent4xx(int status) {
  return status >= 400 && status < 500 && status != 408 && status != 425 && status != 428 && status != 429;
}

}  // namespace

// Names and labels as deploy/mixin's alerts and docs/operations.md expect them.
struct OutboxWorker::Metrics {
  prometheus::Counter* attempts = nullptr;
  prometheus::Family<prometheus::Counter>* failures = nullptr;
  std::map<std::string, prometheus::Counter*> by_reason;
  prometheus::Gauge* pending = nullptr;
  prometheus::Gauge* oldest = nullptr;

  void Failure(const char* reason) {
    auto it = by_reason.find(reason);
    if (it != by_reason.end()) it->second->Increment();
  }
};

OutboxWorker::OutboxWorker(ActionStore& store, Pipeline& pipeline, std::shared_ptr<federation::Client> client,
                           OutboxOptions options, prometheus::Registry* registry)
    : store_(store),
      pipeline_(pipeline),
      client_(std::move(client)),
      options_(options),
      metrics_(new Metrics) {
  if (registry) {
    metrics_->attempts = &prometheus::BuildCounter()
                              .Name("cloudillo_delivery_attempts_total")
                              .Help("Outbound action delivery attempts")
                              .Register(*registry)
                              .Add({});
    metrics_->failures = &prometheus::BuildCounter()
                              .Name("cloudillo_delivery_failures_total")
                              .Help("Failed outbound delivery attempts by reason")
                              .Register(*registry);
    for (const char* r :
         {"dns", "connect", "tls", "timeout", "http_4xx", "http_5xx", "signature", "dropped", "other"}) {
      metrics_->by_reason[r] = &metrics_->failures->Add({{"reason", r}});
    }
    metrics_->pending = &prometheus::BuildGauge()
                             .Name("cloudillo_outbox_pending")
                             .Help("Deliveries waiting in the outbox")
                             .Register(*registry)
                             .Add({});
    metrics_->oldest = &prometheus::BuildGauge()
                            .Name("cloudillo_outbox_oldest_pending_seconds")
                            .Help("Age of the oldest pending delivery (0 when none)")
                            .Register(*registry)
                            .Add({});
  }
  pipeline_.OnEphemeral([this](const Tenant& tenant, const std::vector<std::string>& recipients,
                               const std::string& token) { SendEphemeral(tenant, recipients, token); });
}

OutboxWorker::~OutboxWorker() {
  Stop();
  // Nothing creates actions any more (the server stopped first): the hook may go.
  pipeline_.OnEphemeral(nullptr);
}

void OutboxWorker::SendEphemeral(const Tenant& tenant, const std::vector<std::string>& recipients,
                                 const std::string& token) {
  auto payload = std::make_shared<const std::string>(json{{"token", token}}.dump());
  for (const std::string& recipient : recipients) {
    bool queued = presence_.TrySubmit([this, recipient, payload, tn_id = tenant.tn_id] {
      if (stop_) return;  // shutting down: queued presence is not worth the wait
      if (metrics_->attempts) metrics_->attempts->Increment();
      auto resp = client_->PostJson(recipient, "/api/inbox", *payload);
      if (!resp.ok()) return metrics_->Failure(FailureReason(resp.status()));
      if (resp->status < 200 || resp->status >= 300)
        return metrics_->Failure(resp->status >= 500 ? "http_5xx" : "http_4xx");
      if (usage_) {
        usage_->Add(tn_id, cache::kUsageFedOut);
        usage_->Add(tn_id, cache::kUsageFedOutBytes, int64_t(payload->size()));
      }
    });
    if (!queued) metrics_->Failure("dropped");
  }
}

void OutboxWorker::Start() {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Run(); });
}

void OutboxWorker::Notify() {
  std::lock_guard<std::mutex> lock(mu_);
  pending_ = true;
  cv_.notify_all();
}

void OutboxWorker::Stop() {
  stop_ = true;
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  presence_.Shutdown();
}

bool OutboxWorker::Acquire(const std::string& recipient) {
  std::lock_guard<std::mutex> lock(mu_);
  int& n = in_flight_[recipient];
  if (n >= options_.per_destination) return false;
  ++n;
  return true;
}

void OutboxWorker::Release(const std::string& recipient) {
  std::lock_guard<std::mutex> lock(mu_);
  if (--in_flight_[recipient] <= 0) in_flight_.erase(recipient);
}

void OutboxWorker::Run() {
  absl::Time next_gauge = absl::InfinitePast();
  while (!stop_) {
    // By tuple id and planned per call, whatever the queue's statistics say (see
    // ActionStore::DeleteInbound).
    auto claimed = store_.pool().Query(
        db::PlannedPerCall(
            "UPDATE deliveries d SET next_at = now() + make_interval(secs => $2) WHERE ctid = ANY(ARRAY("
            "  SELECT ctid FROM deliveries WHERE state = 'Q' AND next_at <= now() "
            "  ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)) "
            "RETURNING d.tn_id, d.a_id, d.recipient, d.related, d.attempts, "
            "(SELECT token FROM actions a WHERE a.tn_id = d.tn_id AND a.a_id = d.a_id), "
            "(SELECT issuer FROM actions a WHERE a.tn_id = d.tn_id AND a.a_id = d.a_id), "
            "(SELECT type FROM actions a WHERE a.tn_id = d.tn_id AND a.a_id = d.a_id)"),
        {db::P(options_.batch), db::P(int64_t(absl::ToInt64Seconds(options_.lease)))});
    if (!claimed.ok()) LogWarn("outbox_claim_failed", {{"error", std::string(claimed.status().message())}});
    bool idle = !claimed.ok() || claimed->empty();
    if (claimed.ok()) {
      for (const db::Row& r : claimed->rows) {
        Job job{r.Int(0),     r.Int(1), r.Str(2), r.Str(5), r.Str(6), r.Str(7), ParseTextArray(r.Str(3)),
                int(r.Int(4))};
        if (job.token.empty()) {  // the action was deleted
          Finish(job, "F", 0, "action gone");
          continue;
        }
        if (!Acquire(job.recipient)) {
          Retry(job, 0, "destination busy", false);
          continue;
        }
        Deliver(job);
        Release(job.recipient);
      }
    }
    if (metrics_->oldest && absl::Now() > next_gauge) {
      next_gauge = absl::Now() + absl::Seconds(5);
      auto age = store_.pool().Query(
          "SELECT coalesce(extract(epoch from now() - min(created_at)), 0)::bigint FROM deliveries WHERE "
          "state = 'Q'");
      if (age.ok() && !age->empty()) metrics_->oldest->Set(double(age->rows[0].Int(0)));
    }
    if (idle) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.idle_poll),
                   [this] { return stop_ || pending_; });
      pending_ = false;
    }
  }
}

void OutboxWorker::Deliver(const Job& job) {
  json body{{"token", job.token}};
  if (!job.related.empty()) body["related"] = job.related;
  if (metrics_->attempts) metrics_->attempts->Increment();
  std::string payload = body.dump();
  auto resp = client_->PostJson(job.recipient, "/api/inbox", payload);
  if (!resp.ok()) {
    metrics_->Failure(FailureReason(resp.status()));
    // A recipient we may never contact (bad id_tag, private address) will not improve.
    if (absl::IsInvalidArgument(resp.status()) || absl::IsPermissionDenied(resp.status())) {
      return Finish(job, "F", 0, std::string(resp.status().message()));
    }
    return Retry(job, 0, std::string(resp.status().message()));
  }
  int status = resp->status;
  if (status >= 200 && status < 300) {
    Finish(job, "D", status, "");
    if (usage_) {
      usage_->Add(job.tn_id, cache::kUsageFedOut);
      usage_->Add(job.tn_id, cache::kUsageFedOutBytes, int64_t(payload.size()));
    }
    if (delivered_) delivered_(Tenant{job.tn_id, job.issuer}, job.a_id, job.recipient, job.type);
    return;
  }
  metrics_->Failure(status >= 500 ? "http_5xx" : "http_4xx");
  if (status == 428 && job.type == "CONN") {
    int required = PowRequired(resp->body);
    if (required <= 0) required = 1;
    if (required > kMaxPow) return Finish(job, "F", status, "proof of work too large");
    Tenant tenant{job.tn_id, job.issuer};
    ActionRow row;
    auto stored = store_.pool().Query(
        absl::StrCat("SELECT ", ActionStore::kColumns, " FROM actions WHERE tn_id = $1 AND a_id = $2"),
        {db::P(job.tn_id), db::P(job.a_id)});
    if (!stored.ok() || stored->empty()) return Retry(job, status, "action unreadable");
    auto resigned = pipeline_.ResignWithPow(tenant, ActionStore::FromRow(stored->rows[0]), required);
    if (!resigned.ok()) {
      metrics_->Failure("signature");
      return Retry(job, status, std::string(resigned.status().message()));
    }
    return Retry(job, status, "proof of work added", false);
  }
  if (Permanent4xx(status)) return Finish(job, "F", status, resp->body.substr(0, 200));
  Retry(job, status, resp->body.substr(0, 200));
}

void OutboxWorker::Finish(const Job& job, const std::string& state, int http_status,
                          const std::string& error) {
  if (state == "F") {
    LogWarn("delivery_failed",
            {{"tn_id", job.tn_id}, {"status", http_status}, {"error", error.substr(0, 200)}});
  }
  auto st = store_.pool().Query(
      "UPDATE deliveries SET state = $4, attempts = attempts + 1, last_status = $5, last_error = nullif($6, "
      "''), "
      "done_at = now() WHERE tn_id = $1 AND a_id = $2 AND recipient = $3",
      {db::P(job.tn_id), db::P(job.a_id), db::P(job.recipient), db::P(state), db::P(http_status),
       db::P(error)});
  if (!st.ok()) LogWarn("delivery_update_failed", {{"error", std::string(st.status().message())}});
}

void OutboxWorker::Retry(const Job& job, int http_status, const std::string& error, bool count_attempt) {
  int attempts = job.attempts + (count_attempt ? 1 : 0);
  if (attempts >= kMaxAttempts) return Finish(job, "F", http_status, error);
  absl::Duration delay = count_attempt ? Backoff(job.attempts) : absl::Seconds(1);
  auto st = store_.pool().Query(
      "UPDATE deliveries SET attempts = $4, next_at = now() + make_interval(secs => $5), last_status = $6, "
      "last_error = nullif($7, '') WHERE tn_id = $1 AND a_id = $2 AND recipient = $3",
      {db::P(job.tn_id), db::P(job.a_id), db::P(job.recipient), db::P(attempts),
       db::P(int64_t(absl::ToInt64Seconds(delay))), db::P(http_status), db::P(error)});
  if (!st.ok()) LogWarn("delivery_update_failed", {{"error", std::string(st.status().message())}});
}

int OutboxWorker::PowRequired(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return 0;
  const json& e = j["error"];
  if (e.contains("details") && e["details"].is_object() && e["details"].contains("required") &&
      e["details"]["required"].is_number_integer()) {
    return e["details"]["required"].get<int>();
  }
  if (!e.contains("message") || !e["message"].is_string()) return 0;
  const std::string& m = e["message"].get_ref<const std::string&>();
  std::smatch match;
  static const std::regex kChars(R"(\((\d{1,2}) chars\))");
  if (std::regex_search(m, match, kChars)) return std::stoi(match[1]);
  static const std::regex kRun(R"('(A{1,10})')");
  if (std::regex_search(m, match, kRun)) return int(match[1].length());
  return 0;
}

}  // namespace cloudillo::action
