// cloudillo-admin: the provider's command line for the admin gRPC API.
//
//   cloudillo-admin [--addr=host:port] [--token=T] COMMAND ARGS
//     tenant create ID_TAG [--password=P] [--name=N] [--type=person|community] [--email=E]
//     tenant list
//     tenant suspend|activate|delete ID_TAG
//     tenant password ID_TAG PASSWORD
//     key rotate ID_TAG [--retire-days=N]
//     secret rotate ID_TAG
//     ban lift ADDRESS
// The address and token default to CLOUDILLO_ADMIN_ADDR and CLOUDILLO_ADMIN_TOKEN.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "cloudillo/rpc/server.h"
#include "cloudillo/v1/admin.grpc.pb.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: cloudillo-admin [--addr=HOST:PORT] [--token=T] COMMAND\n"
               "  tenant create ID_TAG [--password=P] [--name=N] [--type=person|community] [--email=E]\n"
               "  tenant list\n"
               "  tenant suspend|activate|delete ID_TAG\n"
               "  tenant password ID_TAG PASSWORD\n"
               "  key rotate ID_TAG [--retire-days=N]\n"
               "  secret rotate ID_TAG\n"
               "  ban lift ADDRESS\n");
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

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opts;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
      opts[a.substr(2, a.find('=') - 2)] = a.substr(a.find('=') + 1);
    } else {
      args.push_back(a);
    }
  }
  auto env = [](const char* n, const char* d) {
    const char* v = std::getenv(n);
    return std::string(v ? v : d);
  };
  std::string addr = opts.count("addr") ? opts["addr"] : env("CLOUDILLO_ADMIN_ADDR", "127.0.0.1:9100");
  std::string token = opts.count("token") ? opts["token"] : env("CLOUDILLO_ADMIN_TOKEN", "");
  if (args.size() < 2) return Usage();
  auto stub = cloudillo::v1::Admin::NewStub(cloudillo::rpc::ConnectChannel(addr));
  auto ctx = cloudillo::rpc::ContextWithDeadline(absl::Seconds(30));
  ctx->AddMetadata("authorization", "Bearer " + token);
  const std::string& group = args[0];
  const std::string& cmd = args[1];
  cloudillo::v1::Empty empty;
  if (group == "tenant" && cmd == "list") {
    cloudillo::v1::ListTenantsRequest req;
    req.set_limit(10000);
    cloudillo::v1::ListTenantsReply out;
    grpc::Status st = stub->ListTenants(ctx.get(), req, &out);
    for (const auto& t : out.tenants()) PrintTenant(t);
    return Report(st);
  }
  if (args.size() < 3) return Usage();
  const std::string& target = args[2];
  if (group == "tenant" && cmd == "create") {
    cloudillo::v1::CreateTenantRequest req;
    req.set_id_tag(target);
    req.set_password(opts["password"]);
    req.set_name(opts["name"]);
    req.set_type(opts["type"]);
    req.set_email(opts["email"]);
    cloudillo::v1::Tenant t;
    grpc::Status st = stub->CreateTenant(ctx.get(), req, &t);
    if (st.ok()) PrintTenant(t);
    return Report(st);
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
  if (group == "tenant" && cmd == "password" && args.size() == 4) {
    cloudillo::v1::SetPasswordAdminRequest req;
    req.set_id_tag(target);
    req.set_password(args[3]);
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
  if (group == "ban" && cmd == "lift") {
    cloudillo::v1::LiftBanRequest req;
    req.set_address(target);
    return Report(stub->LiftBan(ctx.get(), req, &empty));
  }
  return Usage();
}
