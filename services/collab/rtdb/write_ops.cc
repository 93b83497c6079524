#include "write_ops.h"

#include <chrono>
#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cloudillo/core/status_macros.h"

namespace cloudillo::collab::rtdb {
namespace {

absl::Status SetDotted(Json& target, const std::string& key, const Json& value, const Limits& limits) {
  std::vector<std::string> parts = absl::StrSplit(absl::string_view(key), '.');
  if (parts.size() > limits.max_dot_parts) return absl::InvalidArgumentError("dot key too deep");
  Json* cur = &target;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].empty()) return absl::InvalidArgumentError("empty part in dot key");
    Json& next = (*cur)[parts[i]];
    if (next.is_null()) next = Json::object();
    if (!next.is_object())
      return absl::InvalidArgumentError(
          absl::StrCat("Cannot apply dot notation '", key, "': field '", parts[i], "' is not an object"));
    cur = &next;
  }
  if (parts.back().empty()) return absl::InvalidArgumentError("empty part in dot key");
  if (value.is_null()) {
    cur->erase(parts.back());
  } else {
    (*cur)[parts.back()] = value;
  }
  return absl::OkStatus();
}

// The JSON integer of `v` (integers only: "by" and min/max values as the reference
// reads them with as_i64), or `fallback`.
int64_t AsInt(const Json* v, int64_t fallback) {
  if (v == nullptr) return fallback;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      return fallback;
    return v->get<int64_t>();
  }
  return fallback;
}

const Json* Get(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

absl::StatusOr<Json> FieldOperation(const std::string& op, const Json& params, const Json* current) {
  const Json* by = Get(params, "by");
  const Json* value = Get(params, "value");
  const Json* values = Get(params, "values");
  int64_t out = 0;
  if (op == "increment" || op == "decrement" || op == "multiply") {
    const int64_t cur = AsInt(current, 0), n = AsInt(by, 1);
    bool overflow = op == "increment"   ? __builtin_add_overflow(cur, n, &out)
                    : op == "decrement" ? __builtin_sub_overflow(cur, n, &out)
                                        : __builtin_mul_overflow(cur, n, &out);
    if (overflow) return absl::InvalidArgumentError("integer overflow");
    return Json(out);
  }
  if (op == "append") {
    Json arr = current != nullptr && current->is_array() ? *current : Json::array();
    if (values != nullptr && values->is_array())
      for (const Json& v : *values) arr.push_back(v);
    return arr;
  }
  if (op == "remove") {
    if (current == nullptr || !current->is_array()) return Json::array();
    Json arr = Json::array();
    for (const Json& e : *current) {
      bool drop = false;
      if (values != nullptr && values->is_array())
        for (const Json& v : *values) drop = drop || v == e;
      if (!drop) arr.push_back(e);
    }
    return arr;
  }
  if (op == "concat") {
    std::string s = current != nullptr && current->is_string() ? current->get<std::string>() : "";
    if (value != nullptr && value->is_string()) s += value->get_ref<const std::string&>();
    return Json(std::move(s));
  }
  if (op == "setIfNotExists") {
    if (current == nullptr || current->is_null()) return value != nullptr ? *value : Json(nullptr);
    return *current;
  }
  if (op == "min" || op == "max") {
    const int64_t v = AsInt(value, 0);
    const bool is_min = op == "min";
    const int64_t cur =
        AsInt(current, is_min ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min());
    return Json(is_min ? std::min(cur, v) : std::max(cur, v));
  }
  return absl::InvalidArgumentError(absl::StrCat("Unknown field operation: ", op));
}

// FNV-1a: "hash" only promises a stable short hex digest of its argument.
std::string Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return absl::StrCat(absl::Hex(h));
}

std::string Slugify(std::string_view text) {
  std::string lower = absl::AsciiStrToLower(std::string(text));
  std::string out;
  bool dash = false;
  for (unsigned char c : lower) {
    // Bytes of multi-byte UTF-8 characters count as alphanumeric (the reference keeps
    // Unicode letters).
    if (absl::ascii_isalnum(c) || c >= 0x80) {
      if (dash && !out.empty()) out += '-';
      dash = false;
      out += char(c);
    } else {
      dash = true;
    }
  }
  return out;
}

absl::StatusOr<Json> Function(const std::string& fn, const Json& params) {
  if (fn == "now") {
    return Json(int64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count()));
  }
  const Json* args = Get(params, "args");
  const Json* first = args != nullptr && args->is_array() && !args->empty() ? &(*args)[0] : nullptr;
  if (fn == "length") {
    if (first != nullptr && first->is_string()) return Json(first->get_ref<const std::string&>().size());
    if (first != nullptr && first->is_array()) return Json(first->size());
    return absl::InvalidArgumentError("length requires string or array argument");
  }
  if (fn != "slugify" && fn != "hash" && fn != "lowercase" && fn != "uppercase" && fn != "trim")
    return absl::InvalidArgumentError(absl::StrCat("Unknown function: ", fn));
  if (first == nullptr || !first->is_string())
    return absl::InvalidArgumentError(absl::StrCat(fn, " requires string argument"));
  const std::string& text = first->get_ref<const std::string&>();
  if (fn == "slugify") return Json(Slugify(text));
  if (fn == "hash") return Json(Fnv1a(text));
  if (fn == "lowercase") return Json(absl::AsciiStrToLower(text));
  if (fn == "uppercase") return Json(absl::AsciiStrToUpper(text));
  return Json(std::string(absl::StripAsciiWhitespace(text)));
}

}  // namespace

absl::Status ShallowMerge(Json& target, const Json& patch, const Limits& limits) {
  if (!patch.is_object() || !target.is_object()) {
    target = patch;
    return absl::OkStatus();
  }
  for (const auto& [key, value] : patch.items()) {
    if (key.find('.') != std::string::npos) {
      CL_RETURN_IF_ERROR(SetDotted(target, key, value, limits));
    } else if (value.is_null()) {
      target.erase(key);
    } else {
      target[key] = value;
    }
  }
  return absl::OkStatus();
}

absl::Status EvaluateComputed(Json& data, const Json& current, const ComputedQuery& query) {
  if (!data.is_object()) return absl::OkStatus();
  for (auto& [key, value] : data.items()) {
    if (!value.is_object()) continue;
    const Json* cur = current.is_object() ? Get(current, key.c_str()) : nullptr;
    if (const Json* op = Get(value, "$op"); op != nullptr && op->is_string()) {
      CL_ASSIGN_OR_RETURN(Json v, FieldOperation(op->get<std::string>(), value, cur));
      value = std::move(v);
    } else if (const Json* fn = Get(value, "$fn"); fn != nullptr && fn->is_string()) {
      CL_ASSIGN_OR_RETURN(Json v, Function(fn->get<std::string>(), value));
      value = std::move(v);
    } else if (const Json* q = Get(value, "$query"); q != nullptr && q->is_string()) {
      const Json* path = Get(value, "path");
      if (path == nullptr || !path->is_string())
        return absl::InvalidArgumentError("Query operation requires path");
      const std::string kind = q->get<std::string>();
      const Json* field = Get(value, "field");
      const bool needs_field = kind == "sum" || kind == "avg" || kind == "min" || kind == "max";
      if (!needs_field && kind != "count" && kind != "exists")
        return absl::InvalidArgumentError(absl::StrCat("Unknown query operation: ", kind));
      if (needs_field && (field == nullptr || !field->is_string()))
        return absl::InvalidArgumentError(absl::StrCat(kind, " requires field"));
      const Json* filter = Get(value, "filter");
      CL_ASSIGN_OR_RETURN(
          Json v, query.run(kind, path->get<std::string>(), needs_field ? field->get<std::string>() : "",
                            filter != nullptr ? *filter : Json(nullptr)));
      value = std::move(v);
    }
  }
  return absl::OkStatus();
}

}  // namespace cloudillo::collab::rtdb
