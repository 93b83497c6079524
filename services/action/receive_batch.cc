#include "receive_batch.h"

#include "cloudillo/core/status_macros.h"
#include "token_claims.h"

namespace cloudillo::action {

void ReceiveBatch::Add(const Tenant& tenant, const std::string& token,
                       const std::vector<std::string>& related, KnownActions* lookups, Done done) {
  auto claims = DecodeClaims(token);
  if (!claims.ok()) return done(claims.status());
  const std::string action_id = ActionIdOf(token);
  if (Waits(tenant.tn_id, claims->p) || Waits(tenant.tn_id, claims->sub) || Waits(tenant.tn_id, action_id))
    Flush();
  auto decided = pipeline_.Decide(tenant, token, *claims, action_id, false, lookups);
  if (!decided.ok()) return done(decided.status());
  if (decided->outcome == Received::kStored && related.empty() &&
      Pipeline::EffectFree(tenant, decided->row)) {
    ids_.emplace(tenant.tn_id, decided->action_id);
    waiting_.push_back(Waiting{tenant, std::move(*decided), std::move(done)});
    return;
  }
  Flush();
  done(pipeline_.StoreDecided(tenant, *decided, related, durability_));
}

void ReceiveBatch::Flush() {
  if (waiting_.empty()) return;
  std::vector<Waiting> waiting = std::move(waiting_);
  waiting_.clear();
  ids_.clear();
  std::vector<std::pair<int64_t, const ActionRow*>> rows;
  rows.reserve(waiting.size());
  for (const Waiting& w : waiting) rows.emplace_back(w.tenant.tn_id, &w.decided.row);
  std::vector<int64_t> a_ids;
  absl::Status stored = pipeline_.store_.CommitAtomic(
      [&](db::Tx& tx) -> absl::Status {
        CL_ASSIGN_OR_RETURN(a_ids, pipeline_.store_.InsertMany(tx, rows));
        return absl::OkStatus();
      },
      durability_);
  for (size_t i = 0; i < waiting.size(); ++i) {
    Waiting& w = waiting[i];
    if (!stored.ok()) {
      // One refused row fails the statement for all: alone, each fails only for itself.
      w.done(pipeline_.StoreDecided(w.tenant, w.decided, {}, durability_));
    } else if (a_ids[i] == 0) {
      w.done(Received::kDuplicate);  // a concurrent verifier stored it first
    } else {
      w.decided.row.a_id = a_ids[i];
      absl::Status after = pipeline_.AfterStored(w.tenant, w.decided.row);
      w.done(after.ok() ? absl::StatusOr<Received>(Received::kStored) : after);
    }
  }
}

}  // namespace cloudillo::action
