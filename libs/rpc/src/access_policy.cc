#include "cloudillo/rpc/access_policy.h"

namespace cloudillo::rpc {

AccessPolicy& AccessPolicy::Allow(std::string what, std::set<std::string> callers) {
  rules_[std::move(what)].merge(callers);
  return *this;
}

bool AccessPolicy::Permits(std::string_view method, std::string_view caller) const {
  if (caller.empty()) return false;
  auto exact = rules_.find(std::string(method));
  if (exact != rules_.end()) return exact->second.count(std::string(caller)) > 0;
  size_t slash = method.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  auto service = rules_.find(std::string(method.substr(0, slash + 1)));
  return service != rules_.end() && service->second.count(std::string(caller)) > 0;
}

}  // namespace cloudillo::rpc
