#include "issuer_limit.h"

#include "absl/strings/str_cat.h"

namespace cloudillo::action {

cache::BucketLimits DefaultIssuerLimits() { return *cache::ParseBucketSpec("issuer", kDefaultIssuerRate); }

IssuerLimit::IssuerLimit(std::shared_ptr<cache::Redis> redis, cache::BucketLimits limits)
    : limits_(std::move(limits)), limiter_(std::move(redis), cache::LocalLimiter::Options{}) {
  limits_.name = "issuer";
  limiter_.Start();
}

IssuerLimit::~IssuerLimit() { limiter_.Stop(); }

cache::Decision IssuerLimit::Check(int64_t tn_id, const std::string& issuer, const std::string& client_ip) {
  auto addr = cache::ClientAddress::Parse(client_ip);
  const std::string net = addr.ok() ? addr->network : "unknown";
  return limiter_.CheckScoped(limits_, absl::StrCat(tn_id, "|", issuer, "|", net), "issuer_tenant",
                              absl::StrCat(issuer, "|", net), "issuer");
}

}  // namespace cloudillo::action
