// An inbox lease received as Pipeline::Receive() receives each token, except that the
// rows of effect-free actions (Pipeline::EffectFree: plain posts, messages, custom
// types) wait and are stored together: one INSERT and one commit per run of them
// instead of one each, which was most of what PostgreSQL spent on a received token.
//
// Each token still sees the rows before it as it would one at a time: a token whose
// parent, subject or own action id is waiting stores the waiting rows first, and so
// does any row with effects, before its own commit.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pipeline.h"

namespace cloudillo::action {

class ReceiveBatch {
 public:
  // Told each token's outcome: at once, or when the rows waiting are stored.
  using Done = std::function<void(const absl::StatusOr<Received>&)>;

  ReceiveBatch(Pipeline& pipeline, Durability durability) : pipeline_(pipeline), durability_(durability) {}
  ~ReceiveBatch() { Flush(); }
  ReceiveBatch(const ReceiveBatch&) = delete;
  ReceiveBatch& operator=(const ReceiveBatch&) = delete;

  void Add(const Tenant& tenant, const std::string& token, const std::vector<std::string>& related,
           KnownActions* lookups, Done done);
  // Stores what waits and reports its outcomes.
  void Flush();
  size_t waiting() const { return waiting_.size(); }

 private:
  struct Waiting {
    Tenant tenant;
    Pipeline::Decided decided;
    Done done;
  };
  bool Waits(int64_t tn_id, const std::string& action_id) const {
    return !action_id.empty() && ids_.count(std::pair(tn_id, action_id)) > 0;
  }

  Pipeline& pipeline_;
  const Durability durability_;
  std::vector<Waiting> waiting_;
  std::set<std::pair<int64_t, std::string>> ids_;
};

}  // namespace cloudillo::action
