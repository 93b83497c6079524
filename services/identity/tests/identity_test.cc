// identity against real PostgreSQL/Redis, through its gRPC interface in-process.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cloudillo/rpc/status.h"
#include "services_fixture.h"
#include "signing_keys.h"

namespace cloudillo::identity {
namespace {

using json = nlohmann::json;
using cloudillo::v1::ApiReply;
using cloudillo::v1::ApiRequest;

class IdentityTest : public cloudillo::testing::ServicesFixture {
 protected:
  grpc::Status Call(grpc::Status (cloudillo::v1::IdentityEdge::Stub::*m)(grpc::ClientContext*,
                                                                         const ApiRequest&, ApiReply*),
                    const ApiRequest& req, ApiReply* out) {
    auto ctx = rpc::ContextWithDeadline(absl::Seconds(10));
    return (identity_stub_.get()->*m)(ctx.get(), req, out);
  }
  static std::string Code(const grpc::Status& st) { return rpc::ErrorInfoOf(st).code(); }
};

TEST_F(IdentityTest, AdminApiRequiresToken) {
  cloudillo::v1::CreateTenantRequest req;
  req.set_id_tag("x.example.com");
  cloudillo::v1::Tenant t;
  auto ctx = rpc::ContextWithDeadline(absl::Seconds(5));
  EXPECT_EQ(admin_stub_->CreateTenant(ctx.get(), req, &t).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto ctx2 = rpc::ContextWithDeadline(absl::Seconds(5));
  ctx2->AddMetadata("authorization", "Bearer wrong");
  EXPECT_EQ(admin_stub_->CreateTenant(ctx2.get(), req, &t).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(IdentityTest, CreateTenantValidatesAndRejectsDuplicates) {
  cloudillo::v1::Tenant t = CreateTenant("Alice.Example.com");
  EXPECT_EQ(t.id_tag(), "alice.example.com");
  EXPECT_EQ(t.status(), "active");
  cloudillo::v1::CreateTenantRequest req;
  req.set_id_tag("alice.example.com");
  cloudillo::v1::Tenant out;
  auto ctx = AdminContext();
  EXPECT_EQ(admin_stub_->CreateTenant(ctx.get(), req, &out).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  req.set_id_tag("bad_name.example.com");
  auto ctx2 = AdminContext();
  EXPECT_EQ(admin_stub_->CreateTenant(ctx2.get(), req, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.set_id_tag("short.example.com");
  req.set_password("short");
  auto ctx3 = AdminContext();
  EXPECT_EQ(admin_stub_->CreateTenant(ctx3.get(), req, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(IdentityTest, GetMePublishesKeyWithEtag) {
  cloudillo::v1::Tenant t = CreateTenant("alice.example.com");
  ApiReply reply;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMe, Request(t), &reply).ok());
  json data = json::parse(reply.data_json());
  EXPECT_EQ(data["idTag"], "alice.example.com");
  EXPECT_EQ(data["name"], "Name of alice.example.com");
  EXPECT_EQ(data["type"], "person");
  EXPECT_FALSE(data.contains("profilePic"));
  ASSERT_EQ(data["keys"].size(), 1u);
  EXPECT_EQ(data["keys"][0]["keyId"], SigningKeys::KeyIdFor(clock_.Now(), 0));
  EXPECT_EQ(data["keys"][0]["publicKey"].get<std::string>().size(), 160u);
  EXPECT_FALSE(data["keys"][0].contains("expiresAt"));
  // Field order is part of the hashed form (PROTOCOL E15).
  EXPECT_EQ(reply.data_json().rfind("{\"idTag\":", 0), 0u);
  std::string etag = reply.headers().at("ETag");
  ASSERT_EQ(etag.size(), 13u);

  for (std::string inm : {etag, etag.substr(1, 11), "W/" + etag, "\"zzz\", " + etag}) {
    ApiRequest cond = Request(t);
    (*cond.mutable_headers())["if-none-match"] = inm;
    ApiReply r304;
    ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMe, cond, &r304).ok());
    EXPECT_EQ(r304.http_status(), 304) << inm;
    EXPECT_TRUE(r304.empty_body());
  }
  ApiRequest stale = Request(t);
  (*stale.mutable_headers())["if-none-match"] = "\"AAAAAAAAAAA\"";
  ApiReply fresh;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMe, stale, &fresh).ok());
  EXPECT_EQ(fresh.http_status(), 0);
}

TEST_F(IdentityTest, RotationKeepsOldKeyUntilItExpires) {
  cloudillo::v1::Tenant t = CreateTenant("alice.example.com");
  ApiReply before;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMe, Request(t), &before).ok());
  cloudillo::v1::RotateKeyRequest rot;
  rot.set_id_tag(t.id_tag());
  rot.set_retire_old_after_days(2);
  cloudillo::v1::SigningKeyInfo info;
  auto ctx = AdminContext();
  ASSERT_TRUE(admin_stub_->RotateSigningKey(ctx.get(), rot, &info).ok());
  EXPECT_EQ(info.key_id(), SigningKeys::KeyIdFor(clock_.Now(), 1));
  EXPECT_EQ(info.key_id().back(), 'b');
  ApiReply after;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMe, Request(t), &after).ok());
  json keys = json::parse(after.data_json())["keys"];
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys[0].contains("expiresAt"));
  EXPECT_EQ(keys[1]["keyId"], info.key_id());
  EXPECT_NE(before.headers().at("ETag"), after.headers().at("ETag"));
  // The newest key signs.
  auto signer = SigningKeys(*master_).Signer(*pool_, t.tn_id());
  ASSERT_TRUE(signer.ok());
  EXPECT_EQ(signer->first, info.key_id());
  clock_.Advance(absl::Hours(49));
  ApiReply later;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMe, Request(t), &later).ok());
  EXPECT_EQ(json::parse(later.data_json())["keys"].size(), 1u);
}

TEST_F(IdentityTest, PatchMeMergesAndAnswersRawProfile) {
  cloudillo::v1::Tenant t = CreateTenant("alice.example.com");
  ApiRequest req = OwnerRequest(t);
  req.set_body(R"({"name":"Alice B","x":{"bio":"hi","web":"w","web.vis":"F"}})");
  ApiReply reply;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::PatchMe, req, &reply).ok());
  EXPECT_TRUE(reply.raw());
  json p = json::parse(reply.data_json())["profile"];
  EXPECT_EQ(p["name"], "Alice B");
  EXPECT_EQ(p["x"]["bio"], "hi");
  EXPECT_TRUE(p.contains("createdAt"));
  req.set_body(R"({"x":{"bio":null}})");
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::PatchMe, req, &reply).ok());
  EXPECT_FALSE(json::parse(reply.data_json())["profile"]["x"].contains("bio"));

  // A guest sees no non-public x entries and no markers; the owner sees all.
  ApiReply guest, owner;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMeFull, Request(t), &guest).ok());
  EXPECT_FALSE(json::parse(guest.data_json()).contains("x"));
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMeFull, OwnerRequest(t), &owner).ok());
  EXPECT_EQ(json::parse(owner.data_json())["x"]["web"], "w");

  for (std::string bad :
       std::vector<std::string>{"", "[]", "{\"name\":5}", "{\"x\":{\"k\":5}}", "{\"name\":\"\"}",
                                "{\"x\":{\"k\":\"" + std::string(5000, 'v') + "\"}}"}) {
    req.set_body(bad);
    grpc::Status st = Call(&cloudillo::v1::IdentityEdge::Stub::PatchMe, req, &reply);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(Code(st), "E-VAL-INVALID");
  }
  ApiRequest guest_patch = Request(t);
  guest_patch.set_body(R"({"name":"Mallory"})");
  EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::PatchMe, guest_patch, &reply)), "E-AUTH-NOPERM");
}

// PROTOCOL D.14: each standing sees the sections its word allows, relationships read
// from the tenant's profiles, roles from the token.
TEST_F(IdentityTest, ProfileSectionsFollowTheCallersStanding) {
  cloudillo::v1::Tenant t = CreateTenant("alice.example.com");
  ApiRequest patch = OwnerRequest(t);
  patch.set_body(R"({"x":{"sections":"about,fol,con,sup,odd","about":"a","fol":"f","fol.vis":"follower",
    "con":"c","con.vis":"connected","sup":"s","sup.vis":"supporter","odd":"o","odd.vis":"F"}})");
  ApiReply reply;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::PatchMe, patch, &reply).ok());
  for (auto [who, follower, connected] :
       {std::tuple{"bob.example.com", true, false}, std::tuple{"carol.example.com", false, true}}) {
    ASSERT_TRUE(
        pool_
            ->Query(
                "INSERT INTO profiles (tn_id, id_tag, name, follower, connected) VALUES ($1, $2, $2, $3, $4)",
                {db::P(t.tn_id()), db::P(who), db::P(follower), db::P(connected)})
            .ok());
  }
  auto as = [&](const std::string& subject, const std::string& roles) {
    ApiRequest r = Request(t);
    r.mutable_ctx()->set_authenticated(true);
    r.mutable_ctx()->set_subject(subject);
    r.mutable_ctx()->set_roles(roles);
    r.mutable_ctx()->set_auth_kind("token");
    return r;
  };
  auto sees = [&](const ApiRequest& r) {
    ApiReply out;
    EXPECT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMeFull, r, &out).ok());
    json p = json::parse(out.data_json());
    return p.contains("x") ? p["x"].value("sections", std::string("(none)")) : std::string("(no x)");
  };
  EXPECT_EQ(sees(Request(t)), "about");
  EXPECT_EQ(sees(as("dave.example.com", "public")), "about");
  EXPECT_EQ(sees(as("bob.example.com", "public,follower")), "about,fol");
  EXPECT_EQ(sees(as("Carol.Example.com", "public")), "about,fol,con");
  EXPECT_EQ(sees(as("erin.example.com", "public,follower,supporter")), "about,fol,con,sup");
  EXPECT_EQ(sees(OwnerRequest(t)), "about,fol,con,sup,odd");
  // A scoped token keeps its identity's relationships but not its roles.
  ApiRequest scoped = as("erin.example.com", "supporter");
  scoped.mutable_ctx()->set_scope("file:f1:R");
  EXPECT_EQ(sees(scoped), "about");
  // A hidden section leaves no marker behind.
  ApiReply guest;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMeFull, Request(t), &guest).ok());
  EXPECT_EQ(json::parse(guest.data_json())["x"], (json{{"about", "a"}, {"sections", "about"}}));
}

TEST_F(IdentityTest, SettingsFollowAppendixB) {
  cloudillo::v1::Tenant t = CreateTenant("alice.example.com");
  ApiRequest get = OwnerRequest(t);
  (*get.mutable_path())["name"] = "idp.enabled";
  ApiReply reply;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetSetting, get, &reply).ok());
  EXPECT_EQ(
      reply.data_json(),
      R"({"key":"idp.enabled","value":false,"scope":"Tenant","permission":"Admin","description":"Enable Identity Provider functionality for this tenant"})");

  (*get.mutable_path())["name"] = "ui.theme";
  EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::GetSetting, get, &reply)), "E-CORE-NOTFOUND");
  (*get.mutable_path())["name"] = "profile.lang";
  EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::GetSetting, get, &reply)), "E-SET-NOTFOUND");
  (*get.mutable_path())["name"] = "no.such.key";
  EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::GetSetting, get, &reply)), "E-CORE-NOTFOUND");

  ApiRequest put = OwnerRequest(t);
  (*put.mutable_path())["name"] = "ui.theme";
  put.set_body(R"({"value":"glass"})");
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::PutSetting, put, &reply).ok());
  (*get.mutable_path())["name"] = "ui.theme";
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetSetting, get, &reply).ok());
  EXPECT_EQ(json::parse(reply.data_json())["key"], "ui.*");
  EXPECT_EQ(json::parse(reply.data_json())["value"], "glass");

  ApiRequest list = OwnerRequest(t);
  (*list.mutable_query())["prefix"] = "ui";
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::ListSettings, list, &reply).ok());
  json items = json::parse(reply.data_json());
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["key"], "ui.theme");
  EXPECT_EQ(json::parse(reply.extra_json())["pagination"]["total"], 1);

  (*put.mutable_path())["name"] = "notify.push";
  put.set_body(R"({"value":"true"})");
  grpc::Status st = Call(&cloudillo::v1::IdentityEdge::Stub::PutSetting, put, &reply);
  EXPECT_EQ(Code(st), "E-VAL-INVALID");
  EXPECT_EQ(st.error_message(), "Type mismatch for setting 'notify.push': expected bool, got string");

  // An owner cannot write Admin keys.
  (*put.mutable_path())["name"] = "idp.enabled";
  put.set_body(R"({"value":true})");
  EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::PutSetting, put, &reply)), "E-AUTH-NOPERM");
  // Provider-wide keys (SMTP and every other email.* key) do not exist for tenants,
  // not even for a token claiming the site-admin role: not readable, not listed, not writable.
  ApiRequest sadm = OwnerRequest(t);
  sadm.mutable_ctx()->set_roles(std::string(access::AccessService::OwnerRoles()) + ",SADM");
  (*sadm.mutable_path())["name"] = "email.smtp.password";
  sadm.set_body(R"({"value":"hunter2"})");
  EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::PutSetting, sadm, &reply)), "E-AUTH-NOPERM");
  for (const char* key :
       {"email.smtp.password", "email.smtp.host", "email.enabled", "server.registration_enabled"}) {
    (*sadm.mutable_path())["name"] = key;
    EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::GetSetting, sadm, &reply)), "E-CORE-NOTFOUND")
        << key;
  }
  ApiRequest all = OwnerRequest(t);
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::ListSettings, all, &reply).ok());
  for (const auto& item : json::parse(reply.data_json())) {
    std::string key = item["key"];
    EXPECT_NE(key.rfind("email.", 0), 0u) << key;
    EXPECT_NE(item["scope"], "Global") << key;
  }
  (*all.mutable_query())["prefix"] = "email";
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::ListSettings, all, &reply).ok());
  EXPECT_EQ(json::parse(reply.data_json()).size(), 0u);
  (*all.mutable_query())["level"] = "global";
  EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::ListSettings, all, &reply)), "E-AUTH-NOPERM");

  // A visitor with only `public` may not read (§13.14).
  ApiRequest visitor = Request(t);
  visitor.mutable_ctx()->set_authenticated(true);
  visitor.mutable_ctx()->set_subject("bob.example.com");
  visitor.mutable_ctx()->set_roles("public");
  (*visitor.mutable_path())["name"] = "ui.theme";
  EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::GetSetting, visitor, &reply)), "E-AUTH-NOPERM");

  ApiRequest del = OwnerRequest(t);
  (*del.mutable_path())["name"] = "ui.theme";
  EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::DeleteSetting, del, &reply)), "E-VAL-INVALID");
  (*del.mutable_query())["level"] = "tenant";
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::DeleteSetting, del, &reply).ok());
  EXPECT_EQ(reply.http_status(), 204);
}

TEST_F(IdentityTest, TenantsNeverSeeEachOthersData) {
  cloudillo::v1::Tenant a = CreateTenant("alice.example.com");
  cloudillo::v1::Tenant b = CreateTenant("bob.example.com");
  ApiRequest put = OwnerRequest(a);
  (*put.mutable_path())["name"] = "ui.theme";
  put.set_body(R"({"value":"glass"})");
  ApiReply reply;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::PutSetting, put, &reply).ok());
  ApiRequest get = OwnerRequest(b);
  (*get.mutable_path())["name"] = "ui.theme";
  EXPECT_EQ(Code(Call(&cloudillo::v1::IdentityEdge::Stub::GetSetting, get, &reply)), "E-CORE-NOTFOUND");
  ApiReply me;
  ASSERT_TRUE(Call(&cloudillo::v1::IdentityEdge::Stub::GetMe, Request(b), &me).ok());
  EXPECT_EQ(json::parse(me.data_json())["idTag"], "bob.example.com");
}

}  // namespace
}  // namespace cloudillo::identity
