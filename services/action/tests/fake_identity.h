// Test doubles for the pipeline's neighbours: identity as an in-memory service that
// signs with per-tenant keys and keeps relationships and settings, and a key resolver
// that answers those keys.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "cloudillo/crypto/action_token.h"
#include "cloudillo/federation/key_resolver.h"
#include "cloudillo/v1/identity.grpc.pb.h"

namespace cloudillo::action {

class FakeIdentity final : public cloudillo::v1::Identity::CallbackService {
 public:
  struct Tenant {
    std::string id_tag;
    crypto::P384PrivateKey key;
  };

  void AddTenant(int64_t tn, const std::string& id_tag) {
    std::lock_guard<std::mutex> l(mu);
    tenants.emplace(tn, Tenant{id_tag, *crypto::P384PrivateKey::Generate()});
  }
  cloudillo::v1::Relationship& Rel(int64_t tn, const std::string& id_tag) {
    auto& r = rels[{tn, id_tag}];
    r.set_id_tag(id_tag);
    return r;
  }

  grpc::ServerUnaryReactor* SignAction(grpc::CallbackServerContext* ctx,
                                       const cloudillo::v1::SignActionRequest* req,
                                       cloudillo::v1::SignedAction* out) override {
    std::lock_guard<std::mutex> l(mu);
    const cloudillo::v1::ActionClaims& c = req->claims();
    crypto::ActionClaims a;
    a.iss = tenants.at(req->tn_id()).id_tag;
    a.k = "250101";
    a.t = c.t();
    auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
    if (!c.c_json().empty() && c.c_json() != "null") a.c = c.c_json();
    a.p = opt(c.p());
    if (c.a_size() > 0) a.a = std::vector<std::string>(c.a().begin(), c.a().end());
    a.aud = opt(c.aud());
    a.sub = opt(c.sub());
    a.iat = c.iat();
    if (c.exp() != 0) a.exp = c.exp();
    a.f = opt(c.f());
    a.v = opt(c.v());
    auto token = crypto::SignActionToken(a, tenants.at(req->tn_id()).key);
    out->set_token(token.ok() ? *token : "");
    out->set_key_id("250101");
    return Finish(ctx, token.ok() ? grpc::Status::OK : grpc::Status(grpc::StatusCode::INTERNAL, "sign"));
  }
  grpc::ServerUnaryReactor* GetRelationships(grpc::CallbackServerContext* ctx,
                                             const cloudillo::v1::RelationshipsRequest* req,
                                             cloudillo::v1::Relationships* out) override {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& t : req->id_tags()) {
      auto it = rels.find({req->tn_id(), t});
      if (it != rels.end()) {
        *out->add_items() = it->second;
      } else {
        out->add_items()->set_id_tag(t);
      }
    }
    return Finish(ctx, grpc::Status::OK);
  }
  grpc::ServerUnaryReactor* UpdateRelationship(grpc::CallbackServerContext* ctx,
                                               const cloudillo::v1::RelationshipUpdate* req,
                                               cloudillo::v1::Empty*) override {
    std::lock_guard<std::mutex> l(mu);
    auto& r = Rel(req->tn_id(), req->id_tag());
    if (req->has_connected()) r.set_connected(req->connected());
    if (req->has_following()) r.set_following(req->following());
    if (req->has_follower()) r.set_follower(req->follower());
    if (req->has_roles()) r.set_roles(req->roles());
    return Finish(ctx, grpc::Status::OK);
  }
  grpc::ServerUnaryReactor* ListFollowers(grpc::CallbackServerContext* ctx,
                                          const cloudillo::v1::FollowersRequest* req,
                                          cloudillo::v1::FollowersReply* out) override {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& [k, r] : rels)
      if (k.first == req->tn_id() && r.follower() && k.second > req->after_id_tag())
        out->add_id_tags(k.second);
    return Finish(ctx, grpc::Status::OK);
  }
  grpc::ServerUnaryReactor* GetTenantSettings(grpc::CallbackServerContext* ctx,
                                              const cloudillo::v1::TenantSettingsRequest* req,
                                              cloudillo::v1::TenantSettingsReply* out) override {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& k : req->keys()) {
      auto it = settings.find({req->tn_id(), k});
      if (it != settings.end()) (*out->mutable_values_json())[k] = it->second;
    }
    return Finish(ctx, grpc::Status::OK);
  }

  std::mutex mu;
  std::map<int64_t, Tenant> tenants;
  std::map<std::pair<int64_t, std::string>, cloudillo::v1::Relationship> rels;
  std::map<std::pair<int64_t, std::string>, std::string> settings;

 private:
  static grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* ctx, grpc::Status st) {
    auto* r = ctx->DefaultReactor();
    r->Finish(st);
    return r;
  }
};

class FakeKeys final : public federation::KeyResolver {
 public:
  explicit FakeKeys(FakeIdentity& id) : id_(id) {}
  absl::StatusOr<crypto::P384PublicKey> Key(std::string_view iss, std::string_view, int64_t) override {
    std::lock_guard<std::mutex> l(id_.mu);
    for (auto& [tn, t] : id_.tenants)
      if (t.id_tag == iss) return t.key.PublicKey();
    return absl::UnavailableError("unknown issuer");
  }
  absl::StatusOr<bool> Refetch(std::string_view, std::string_view) override { return false; }

 private:
  FakeIdentity& id_;
};

}  // namespace cloudillo::action
