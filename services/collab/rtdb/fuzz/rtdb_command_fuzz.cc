// Client frames of /ws/rtdb through everything that runs before the store: the
// guarded JSON parse, path validation, the read options, the merge and the computed
// values of a transaction's operations.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "json.h"
#include "path.h"
#include "query_spec.h"
#include "rtdb_limits.h"
#include "write_ops.h"

using namespace cloudillo::collab::rtdb;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Limits limits;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto frame = ParseJson(text, limits.max_json_depth);
  if (!frame || !frame->is_object()) return 0;
  ReadOptions o = ParseReadOptions(*frame, limits);
  Json doc = Json::object();
  if (auto it = frame->find("doc"); it != frame->end()) doc = *it;
  if (o.filter) (void)o.filter->Matches(doc);
  (void)Project(doc, o.select);
  if (o.aggregate) {
    Aggregator agg(*o.aggregate, limits.max_groups);
    agg.Add(doc);
    (void)agg.Result();
  }
  if (auto it = frame->find("path"); it != frame->end() && it->is_string())
    (void)NormalizePath(it->get<std::string>(), limits);
  if (auto it = frame->find("data"); it != frame->end()) {
    Json patch = *it;
    ComputedQuery q{[](const std::string&, const std::string&, const std::string&,
                       const Json&) -> absl::StatusOr<Json> { return Json(0); }};
    if (EvaluateComputed(patch, doc, q).ok()) {
      Json target = doc;
      (void)ShallowMerge(target, patch, limits);
      (void)Dump(target);
    }
  }
  return 0;
}
