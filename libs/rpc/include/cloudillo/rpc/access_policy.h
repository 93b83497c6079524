// Which caller identities may call which methods of a listener (DESIGN "The internal
// network is hostile"). Each service declares its policy beside its service class;
// the policy is enforced by the listener's credentials before any handler runs, so a
// method nobody listed (including an unknown one) is refused for everyone.
//
//   AccessPolicy p;
//   p.Allow("/cloudillo.v1.IdentityApi/", {"gateway"});          // every method of a service
//   p.Allow("/cloudillo.v1.Identity/GetLoginProfile", {"access"}); // one method
//
// Exact method rules win over service-prefix rules. Immutable once the server starts.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

namespace cloudillo::rpc {

class AccessPolicy {
 public:
  // `what` is "/package.Service/" (all its methods) or "/package.Service/Method".
  AccessPolicy& Allow(std::string what, std::set<std::string> callers);
  bool Permits(std::string_view method, std::string_view caller) const;
  // The rules, for tests that walk every method of every service.
  const std::map<std::string, std::set<std::string>>& rules() const { return rules_; }

 private:
  std::map<std::string, std::set<std::string>> rules_;
};

}  // namespace cloudillo::rpc
