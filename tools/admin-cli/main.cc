// cloudillo-admin: the provider's command line for the admin gRPC API.
//
//   cloudillo-admin [--addr=HOST:PORT] [--token-file=F] [--ca=F --cert=F --key=F] COMMAND ARGS
//     tenant create ID_TAG [--password-file=F | --password-stdin] [--name=N] [--type=person|community]
//     [--email=E] tenant create-many FILE    (one ID_TAG a line, no password; for tests and benchmarks)
//     tenant list
//     tenant suspend|activate|delete ID_TAG
//     tenant password ID_TAG (--password-file=F | --password-stdin)
//     key rotate ID_TAG [--retire-days=N]
//     secret rotate ID_TAG
//     plan list | plan set NAME [--storage-mb=N] [--rpm=N] [--rpd=N] [--max-tenants=N] | plan delete NAME
//     tenant plan ID_TAG PLAN     ("" takes the tenant off its plan)
//     usage ID_TAG [--days=N]
//     rotate-master-key
//     ban lift ADDRESS
//
// The admin API requires mutual TLS with an `admin` certificate of the cluster CA
// (CLOUDILLO_GRPC_CA, CLOUDILLO_GRPC_CERT, CLOUDILLO_GRPC_KEY, or the flags) and the
// admin token (CLOUDILLO_ADMIN_TOKEN, CLOUDILLO_ADMIN_TOKEN_FILE or --token-file).
// Secrets are never taken from the command line, where every user of the machine can
// read them: tokens and passwords come from the environment, a file or stdin.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cloudillo/rpc/channel.h"
#include "cloudillo/rpc/cluster_tls.h"
#include "cloudillo/v1/admin.grpc.pb.h"

namespace {

int Usage() {
  std::fprintf(
      stderr,
      "usage: cloudillo-admin [--addr=HOST:PORT] [--token-file=F] [--ca=F --cert=F --key=F] COMMAND\n"
      "  tenant create ID_TAG [--password-file=F | --password-stdin] [--name=N] [--type=person|community] "
      "[--email=E]\n"
      "  tenant create-many FILE   (one ID_TAG a line; no passwords)\n"
      "  tenant list [--limit=N [--after=ID_TAG]]   (every tenant, page by page, unless --limit)\n"
      "  tenant suspend|activate|delete ID_TAG      (activate also cancels a scheduled deletion)\n"
      "  tenant schedule-delete ID_TAG [--grace-days=30]   (stops serving now, deleted by purge later)\n"
      "  tenant purge                               (deletes tenants whose grace period is over)\n"
      "  tenant password ID_TAG (--password-file=F | --password-stdin)\n"
      "  key rotate ID_TAG [--retire-days=N]\n"
      "  secret rotate ID_TAG\n"
      "  plan list | plan set NAME [--storage-mb=N] [--rpm=N] [--rpd=N] [--max-tenants=N] | plan delete "
      "NAME\n"
      "  tenant plan ID_TAG PLAN   (\"\" takes the tenant off its plan)\n"
      "  usage ID_TAG [--days=N]   (storage now; requests and federation traffic per day)\n"
      "  rotate-master-key\n"
      "  ban lift ADDRESS\n"
      "TLS: CLOUDILLO_GRPC_CA/_CERT/_KEY (an `admin` certificate); token: CLOUDILLO_ADMIN_TOKEN(_FILE)\n");
  return 2;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 2;
}

int Report(const grpc::Status& st) {
  if (st.ok()) return 0;
  std::fprintf(stderr, "error: %s (%d)\n", st.error_message().c_str(), int(st.error_code()));
  return 1;
}

void PrintTenant(const cloudillo::v1::Tenant& t) {
  std::printf("%lld\t%s\t%s\t%s\t%s\t%s\n", (long long)t.tn_id(), t.id_tag().c_str(), t.type().c_str(),
              t.status().c_str(), t.name().c_str(), t.created_at().c_str());
}

void PrintPlan(const cloudillo::v1::Plan& p) {
  std::printf("%s\tstorage=%lld\trpm=%d\trpd=%d\tmax_tenants=%d\ttenants=%d\n", p.name().c_str(),
              (long long)p.storage_bytes(), p.requests_per_minute(), p.requests_per_day(), p.max_tenants(),
              p.tenants());
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// A secret from a file (trailing whitespace stripped); nullopt when unreadable.
std::optional<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opts;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      size_t eq = a.find('=');
      opts[a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2)] =
          eq == std::string::npos ? "" : a.substr(eq + 1);
    } else {
      args.push_back(a);
    }
  }
  for (const char* secret : {"token", "password", "admin-token"}) {
    if (opts.count(secret)) {
      return Fail(std::string("--") + secret +
                  " is not accepted: a command line is visible to every user of the machine; use "
                  "--token-file / CLOUDILLO_ADMIN_TOKEN(_FILE), or --password-file / --password-stdin");
    }
  }
  auto opt = [&](const char* name, const char* env) { return opts.count(name) ? opts[name] : Env(env); };
  std::string addr = opt("addr", "CLOUDILLO_ADMIN_ADDR");
  if (addr.empty()) addr = "127.0.0.1:9100";

  std::string token = Env("CLOUDILLO_ADMIN_TOKEN");
  std::string token_file = opt("token-file", "CLOUDILLO_ADMIN_TOKEN_FILE");
  if (token.empty() && !token_file.empty()) {
    auto t = ReadSecretFile(token_file);
    if (!t) return Fail("cannot read the token file '" + token_file + "'");
    token = *t;
  }
  if (token.empty()) return Fail("no admin token: set CLOUDILLO_ADMIN_TOKEN or CLOUDILLO_ADMIN_TOKEN_FILE");

  cloudillo::rpc::ClusterTls tls{opt("ca", "CLOUDILLO_GRPC_CA"), opt("cert", "CLOUDILLO_GRPC_CERT"),
                                 opt("key", "CLOUDILLO_GRPC_KEY"), ""};
  if (absl::Status st = tls.Validate(); !st.ok()) return Fail(std::string(st.message()));
  if (args.empty()) return Usage();

  auto stub = cloudillo::v1::Admin::NewStub(cloudillo::rpc::ConnectChannel(addr, &tls, "identity"));
  auto ctx = cloudillo::rpc::ContextWithDeadline(absl::Minutes(5));
  ctx->AddMetadata("authorization", "Bearer " + token);
  cloudillo::v1::Empty empty;

  // A new password from a file or stdin (one line).
  auto password = [&](bool required) -> std::optional<std::string> {
    if (opts.count("password-file")) return ReadSecretFile(opts["password-file"]);
    if (opts.count("password-stdin")) {
      std::string line;
      if (!std::getline(std::cin, line)) return std::nullopt;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (required) return std::nullopt;
    return std::string();
  };

  if (args[0] == "rotate-master-key") {
    cloudillo::v1::ResealReply out;
    grpc::Status st = stub->RotateMasterKey(ctx.get(), empty, &out);
    if (st.ok()) {
      std::printf("resealed %lld, still under an older key %lld\n", (long long)out.resealed(),
                  (long long)out.remaining());
    }
    return Report(st);
  }
  if (args.size() < 2) return Usage();
  const std::string& group = args[0];
  const std::string& cmd = args[1];
  if (group == "plan" && cmd == "list") {
    cloudillo::v1::ListPlansReply out;
    grpc::Status st = stub->ListPlans(ctx.get(), empty, &out);
    for (const auto& p : out.plans()) PrintPlan(p);
    return Report(st);
  }
  if (group == "usage") {
    cloudillo::v1::UsageRequest req;
    req.set_id_tag(cmd);
    req.set_days(opts.count("days") ? std::atoi(opts["days"].c_str()) : 7);
    cloudillo::v1::TenantUsage u;
    grpc::Status st = stub->GetTenantUsage(ctx.get(), req, &u);
    if (st.ok()) {
      std::printf("%s	plan=%s	storage=%lld/%lld bytes	files=%lld\n", u.id_tag().c_str(), u.plan().c_str(),
                  (long long)u.storage_bytes(), (long long)u.storage_quota_bytes(), (long long)u.files());
      for (const auto& d : u.days()) {
        std::printf("%s	requests=%lld	fed_out=%lld (%lld bytes)	fed_in=%lld (%lld bytes)\n",
                    d.day().c_str(), (long long)d.requests(), (long long)d.federation_out(),
                    (long long)d.federation_out_bytes(), (long long)d.federation_in(),
                    (long long)d.federation_in_bytes());
      }
    }
    return Report(st);
  }
  if (group == "tenant" && cmd == "list") {
    // One page with --limit (and --after), else every tenant, 1000 at a time.
    bool one_page = opts.count("limit") > 0;
    int limit = one_page ? std::atoi(opts["limit"].c_str()) : 1000;
    std::string after = opts["after"];
    for (;;) {
      cloudillo::v1::ListTenantsRequest req;
      req.set_limit(limit);
      req.set_after_id_tag(after);
      cloudillo::v1::ListTenantsReply out;
      auto call = cloudillo::rpc::ContextWithDeadline(absl::Seconds(60));
      call->AddMetadata("authorization", "Bearer " + token);
      grpc::Status st = stub->ListTenants(call.get(), req, &out);
      if (!st.ok()) return Report(st);
      for (const auto& t : out.tenants()) PrintTenant(t);
      if (one_page || out.tenants_size() < limit || out.tenants_size() == 0) return 0;
      after = out.tenants(out.tenants_size() - 1).id_tag();
    }
  }
  if (group == "tenant" && cmd == "purge") {
    cloudillo::v1::PurgeTenantsReply out;
    grpc::Status st = stub->PurgeTenants(ctx.get(), empty, &out);
    for (const auto& id : out.deleted()) std::printf("deleted\t%s\n", id.c_str());
    return Report(st);
  }
  if (args.size() < 3) return Usage();
  const std::string& target = args[2];
  if (group == "tenant" && cmd == "create") {
    auto pw = password(false);
    if (!pw) return Fail("cannot read the password");
    cloudillo::v1::CreateTenantRequest req;
    req.set_id_tag(target);
    req.set_password(*pw);
    req.set_name(opts["name"]);
    req.set_type(opts["type"]);
    req.set_email(opts["email"]);
    cloudillo::v1::Tenant t;
    grpc::Status st = stub->CreateTenant(ctx.get(), req, &t);
    if (st.ok()) PrintTenant(t);
    return Report(st);
  }
  if (group == "tenant" && cmd == "create-many") {
    std::ifstream in(target);
    if (!in) return Fail("cannot read '" + target + "'");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      cloudillo::v1::CreateTenantRequest req;
      req.set_id_tag(line);
      cloudillo::v1::Tenant t;
      auto call = cloudillo::rpc::ContextWithDeadline(absl::Seconds(30));
      call->AddMetadata("authorization", "Bearer " + token);
      grpc::Status st = stub->CreateTenant(call.get(), req, &t);
      if (!st.ok()) return Report(st);
      PrintTenant(t);
    }
    return 0;
  }
  if (group == "tenant" && (cmd == "suspend" || cmd == "activate")) {
    cloudillo::v1::SetTenantStatusRequest req;
    req.set_id_tag(target);
    req.set_status(cmd == "suspend" ? "suspended" : "active");
    cloudillo::v1::Tenant t;
    grpc::Status st = stub->SetTenantStatus(ctx.get(), req, &t);
    if (st.ok()) PrintTenant(t);
    return Report(st);
  }
  if (group == "tenant" && cmd == "delete") {
    cloudillo::v1::TenantByIdTag req;
    req.set_id_tag(target);
    return Report(stub->DeleteTenant(ctx.get(), req, &empty));
  }
  if (group == "tenant" && cmd == "schedule-delete") {
    cloudillo::v1::ScheduleDeletionRequest req;
    req.set_id_tag(target);
    req.set_grace_days(opts.count("grace-days") ? std::atoi(opts["grace-days"].c_str()) : 30);
    cloudillo::v1::ScheduleDeletionReply out;
    grpc::Status st = stub->ScheduleTenantDeletion(ctx.get(), req, &out);
    if (st.ok())
      std::printf("%s\tdeleting after %s\n", out.tenant().id_tag().c_str(), out.delete_after().c_str());
    return Report(st);
  }
  if (group == "tenant" && cmd == "password") {
    if (args.size() > 3)
      return Fail("the password is read from --password-file or --password-stdin, not argv");
    auto pw = password(true);
    if (!pw) return Fail("give the new password with --password-file=F or --password-stdin");
    cloudillo::v1::SetPasswordAdminRequest req;
    req.set_id_tag(target);
    req.set_password(*pw);
    return Report(stub->SetPassword(ctx.get(), req, &empty));
  }
  if (group == "key" && cmd == "rotate") {
    cloudillo::v1::RotateKeyRequest req;
    req.set_id_tag(target);
    if (opts.count("retire-days")) req.set_retire_old_after_days(std::atoi(opts["retire-days"].c_str()));
    cloudillo::v1::SigningKeyInfo info;
    grpc::Status st = stub->RotateSigningKey(ctx.get(), req, &info);
    if (st.ok()) std::printf("%s\t%s\n", info.key_id().c_str(), info.public_key().c_str());
    return Report(st);
  }
  if (group == "secret" && cmd == "rotate") {
    cloudillo::v1::TenantByIdTag req;
    req.set_id_tag(target);
    return Report(stub->RotateTokenSecret(ctx.get(), req, &empty));
  }
  if (group == "plan" && cmd == "set") {
    cloudillo::v1::Plan p;
    p.set_name(target);
    p.set_storage_bytes(std::atoll(opts["storage-mb"].c_str()) << 20);
    p.set_requests_per_minute(std::atoi(opts["rpm"].c_str()));
    p.set_requests_per_day(std::atoi(opts["rpd"].c_str()));
    p.set_max_tenants(std::atoi(opts["max-tenants"].c_str()));
    cloudillo::v1::Plan out;
    grpc::Status st = stub->UpsertPlan(ctx.get(), p, &out);
    if (st.ok()) PrintPlan(out);
    return Report(st);
  }
  if (group == "plan" && cmd == "delete") {
    cloudillo::v1::PlanByName req;
    req.set_name(target);
    return Report(stub->DeletePlan(ctx.get(), req, &empty));
  }
  if (group == "tenant" && cmd == "plan") {
    if (args.size() < 4) return Usage();
    cloudillo::v1::AssignPlanRequest req;
    req.set_id_tag(target);
    req.set_plan(args[3]);
    cloudillo::v1::Tenant t;
    grpc::Status st = stub->AssignPlan(ctx.get(), req, &t);
    if (st.ok()) PrintTenant(t);
    return Report(st);
  }
  if (group == "ban" && cmd == "lift") {
    cloudillo::v1::LiftBanRequest req;
    req.set_address(target);
    return Report(stub->LiftBan(ctx.get(), req, &empty));
  }
  return Usage();
}
