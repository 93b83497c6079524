#include "query_spec.h"

#include <algorithm>
#include <utility>

namespace cloudillo::collab::rtdb {
namespace {

struct OpName {
  const char* name;
  Condition::Op op;
  bool array_value;
};

constexpr OpName kOps[] = {
    {"equals", Condition::Op::kEquals, false},
    {"notEquals", Condition::Op::kNotEquals, false},
    {"greaterThan", Condition::Op::kGreaterThan, false},
    {"greaterThanOrEqual", Condition::Op::kGreaterThanOrEqual, false},
    {"lessThan", Condition::Op::kLessThan, false},
    {"lessThanOrEqual", Condition::Op::kLessThanOrEqual, false},
    {"inArray", Condition::Op::kInArray, true},
    {"notInArray", Condition::Op::kNotInArray, true},
    {"arrayContains", Condition::Op::kArrayContains, false},
    {"arrayContainsAny", Condition::Op::kArrayContainsAny, true},
    {"arrayContainsAll", Condition::Op::kArrayContainsAll, true},
};

const Json* Field(const Json& doc, const std::string& field) {
  if (!doc.is_object()) return nullptr;
  auto it = doc.find(field);
  return it == doc.end() ? nullptr : &*it;
}

bool Contains(const Json& array, const Json& v) {
  return std::any_of(array.begin(), array.end(), [&](const Json& e) { return e == v; });
}

std::optional<double> Number(const Json* v) {
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

}  // namespace

bool Filter::Matches(const Json& doc) const {
  for (const Condition& c : conditions) {
    const Json* actual = Field(doc, c.field);
    bool ok = false;
    switch (c.op) {
      case Condition::Op::kEquals:
        ok = actual != nullptr && *actual == c.value;
        break;
      case Condition::Op::kNotEquals:
        ok = actual == nullptr || *actual != c.value;
        break;
      case Condition::Op::kGreaterThan:
        ok = actual != nullptr && CompareJson(actual, &c.value) > 0;
        break;
      case Condition::Op::kGreaterThanOrEqual:
        ok = actual != nullptr && CompareJson(actual, &c.value) >= 0;
        break;
      case Condition::Op::kLessThan:
        ok = actual != nullptr && CompareJson(actual, &c.value) < 0;
        break;
      case Condition::Op::kLessThanOrEqual:
        ok = actual != nullptr && CompareJson(actual, &c.value) <= 0;
        break;
      case Condition::Op::kInArray:
        ok = actual != nullptr && Contains(c.value, *actual);
        break;
      case Condition::Op::kNotInArray:
        ok = actual == nullptr || !Contains(c.value, *actual);
        break;
      case Condition::Op::kArrayContains:
        ok = actual != nullptr && actual->is_array() && Contains(*actual, c.value);
        break;
      case Condition::Op::kArrayContainsAny:
        ok = actual != nullptr && actual->is_array() &&
             std::any_of(c.value.begin(), c.value.end(), [&](const Json& v) { return Contains(*actual, v); });
        break;
      case Condition::Op::kArrayContainsAll:
        ok = actual != nullptr && actual->is_array() &&
             std::all_of(c.value.begin(), c.value.end(), [&](const Json& v) { return Contains(*actual, v); });
        break;
    }
    if (!ok) return false;
  }
  return true;
}

std::optional<Filter> ParseFilter(const Json& v, const Limits& limits) {
  if (!v.is_object()) return std::nullopt;
  Filter f;
  for (const OpName& op : kOps) {
    auto it = v.find(op.name);
    if (it == v.end()) continue;
    if (!it->is_object()) return std::nullopt;
    for (const auto& [field, value] : it->items()) {
      if (field.empty() || field.size() > limits.max_field_bytes) return std::nullopt;
      if (op.array_value && (!value.is_array() || value.size() > limits.max_condition_values))
        return std::nullopt;
      if (f.conditions.size() >= limits.max_conditions) return std::nullopt;
      f.conditions.push_back({op.op, field, value});
    }
  }
  return f;
}

bool AggregateSpec::HasMinMax() const {
  return std::any_of(ops.begin(), ops.end(), [](const AggregateOp& op) {
    return op.kind == AggregateOp::Kind::kMin || op.kind == AggregateOp::Kind::kMax;
  });
}

std::optional<AggregateSpec> ParseAggregate(const Json& v, const Limits& limits) {
  if (!v.is_object()) return std::nullopt;
  auto group = v.find("groupBy");
  if (group == v.end() || !group->is_string()) return std::nullopt;
  AggregateSpec spec;
  spec.group_by = group->get<std::string>();
  if (spec.group_by.empty() || spec.group_by.size() > limits.max_field_bytes) return std::nullopt;
  auto ops = v.find("ops");
  if (ops != v.end() && !ops->is_null()) {
    if (!ops->is_array() || ops->size() > limits.max_select) return std::nullopt;
    for (const Json& op : *ops) {
      if (!op.is_object()) return std::nullopt;
      auto name = op.find("op");
      auto field = op.find("field");
      if (name == op.end() || !name->is_string() || field == op.end() || !field->is_string())
        return std::nullopt;
      const std::string& n = name->get_ref<const std::string&>();
      AggregateOp a;
      if (n == "sum") {
        a.kind = AggregateOp::Kind::kSum;
      } else if (n == "avg") {
        a.kind = AggregateOp::Kind::kAvg;
      } else if (n == "min") {
        a.kind = AggregateOp::Kind::kMin;
      } else if (n == "max") {
        a.kind = AggregateOp::Kind::kMax;
      } else {
        return std::nullopt;
      }
      a.field = field->get<std::string>();
      if (a.field.empty() || a.field.size() > limits.max_field_bytes) return std::nullopt;
      spec.ops.push_back(std::move(a));
    }
  }
  return spec;
}

ReadOptions ParseReadOptions(const Json& frame, const Limits& limits) {
  ReadOptions o;
  o.limit = limits.max_query_limit;
  if (auto it = frame.find("filter"); it != frame.end()) o.filter = ParseFilter(*it, limits);
  if (auto it = frame.find("sort"); it != frame.end() && it->is_array()) {
    for (const Json& s : *it) {
      if (o.sort.size() >= limits.max_sort_keys) break;
      if (!s.is_object()) continue;
      auto field = s.find("field");
      auto asc = s.find("ascending");
      if (field == s.end() || !field->is_string() || asc == s.end() || !asc->is_boolean()) continue;
      std::string name = field->get<std::string>();
      if (name.empty() || name.size() > limits.max_field_bytes) continue;
      o.sort.push_back({std::move(name), asc->get<bool>()});
    }
  }
  if (auto it = frame.find("limit"); it != frame.end() && it->is_number_integer() && it->get<int64_t>() >= 0)
    o.limit = std::min(it->get<int64_t>(), limits.max_query_limit);
  if (auto it = frame.find("offset"); it != frame.end() && it->is_number_integer() && it->get<int64_t>() >= 0)
    o.offset = std::min(it->get<int64_t>(), limits.max_query_offset);
  if (auto it = frame.find("aggregate"); it != frame.end()) o.aggregate = ParseAggregate(*it, limits);
  if (auto it = frame.find("select"); it != frame.end() && it->is_array()) {
    for (const Json& s : *it) {
      if (o.select.size() >= limits.max_select) break;
      if (s.is_string() && !s.get_ref<const std::string&>().empty()) o.select.push_back(s.get<std::string>());
    }
  }
  return o;
}

int CompareJson(const Json* a, const Json* b) {
  if (a == nullptr || b == nullptr) return (a != nullptr) - (b != nullptr);
  if (a->is_number() && b->is_number()) {
    double x = a->get<double>(), y = b->get<double>();
    return (x > y) - (x < y);
  }
  if (a->is_string() && b->is_string()) {
    int c = a->get_ref<const std::string&>().compare(b->get_ref<const std::string&>());
    return (c > 0) - (c < 0);
  }
  if (a->is_boolean() && b->is_boolean()) return int(a->get<bool>()) - int(b->get<bool>());
  int c = Dump(*a).compare(Dump(*b));
  return (c > 0) - (c < 0);
}

Json Project(const Json& doc, const std::vector<std::string>& select) {
  if (select.empty() || !doc.is_object()) return doc;
  Json out = Json::object();
  if (auto it = doc.find("id"); it != doc.end()) out["id"] = *it;
  for (const std::string& f : select)
    if (auto it = doc.find(f); it != doc.end()) out[f] = *it;
  return out;
}

std::string GroupKey(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  return Dump(v);
}

void Aggregator::Add(const Json& doc) {
  const Json* g = Field(doc, spec_.group_by);
  if (g == nullptr || g->is_null()) return;
  std::vector<std::string> keys;
  if (g->is_array()) {
    for (const Json& e : *g)
      if (!e.is_array() && !e.is_object()) keys.push_back(GroupKey(e));
  } else {
    keys.push_back(GroupKey(*g));
  }
  const size_t n_ops = spec_.ops.size();
  for (const std::string& key : keys) {
    auto it = std::find_if(groups_.begin(), groups_.end(), [&](const auto& p) { return p.first == key; });
    if (it == groups_.end()) {
      // Beyond the cap a new group is dropped; the groups shown stay exact.
      if (groups_.size() >= max_groups_) continue;
      Group fresh;
      fresh.sum.assign(n_ops, 0);
      fresh.min.assign(n_ops, 0);
      fresh.max.assign(n_ops, 0);
      fresh.n.assign(n_ops, 0);
      groups_.emplace_back(key, std::move(fresh));
      it = groups_.end() - 1;
    }
    Group& grp = it->second;
    ++grp.count;
    for (size_t i = 0; i < n_ops; ++i) {
      auto v = Number(Field(doc, spec_.ops[i].field));
      if (!v) continue;
      grp.sum[i] += *v;
      grp.min[i] = grp.n[i] == 0 ? *v : std::min(grp.min[i], *v);
      grp.max[i] = grp.n[i] == 0 ? *v : std::max(grp.max[i], *v);
      ++grp.n[i];
    }
  }
}

std::vector<Json> Aggregator::Result() const {
  std::vector<const std::pair<std::string, Group>*> order;
  for (const auto& g : groups_) order.push_back(&g);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto* a, const auto* b) { return a->second.count > b->second.count; });
  std::vector<Json> out;
  for (const auto* g : order) {
    Json o = Json::object();
    o["group"] = g->first;
    o["count"] = g->second.count;
    for (size_t i = 0; i < spec_.ops.size(); ++i) {
      const AggregateOp& op = spec_.ops[i];
      const bool any = g->second.n[i] > 0;
      switch (op.kind) {
        case AggregateOp::Kind::kSum:
          o["sum_" + op.field] = g->second.sum[i];
          break;
        case AggregateOp::Kind::kAvg:
          o["avg_" + op.field] = any ? g->second.sum[i] / double(g->second.n[i]) : 0.0;
          break;
        case AggregateOp::Kind::kMin:
          o["min_" + op.field] = any ? Json(g->second.min[i]) : Json(nullptr);
          break;
        case AggregateOp::Kind::kMax:
          o["max_" + op.field] = any ? Json(g->second.max[i]) : Json(nullptr);
          break;
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace cloudillo::collab::rtdb
