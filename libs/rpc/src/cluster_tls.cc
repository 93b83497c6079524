#include "cloudillo/rpc/cluster_tls.h"

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/rpc/access_policy.h"

namespace cloudillo::rpc {
namespace {

constexpr unsigned kRefreshSeconds = 60;

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

absl::StatusOr<std::vector<X509Ptr>> ReadCerts(const std::string& path, const char* what) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "r"));
  if (!f) return absl::InvalidArgumentError(std::string(what) + " '" + path + "' cannot be read");
  std::vector<X509Ptr> out;
  while (X509* x = PEM_read_X509(f.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  if (out.empty()) return absl::InvalidArgumentError(std::string(what) + " '" + path + "' holds no PEM certificate");
  return out;
}

// DNS names from the subjectAltName extension.
std::vector<std::string> DnsNames(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_DNS) continue;
    const unsigned char* data = ASN1_STRING_get0_data(n->d.dNSName);
    out.emplace_back(reinterpret_cast<const char*>(data), ASN1_STRING_length(n->d.dNSName));
  }
  GENERAL_NAMES_free(names);
  return out;
}

// `<name>.cloudillo.internal` -> `<name>`; "" for anything else.
std::string IdentityOf(std::string_view dns) {
  if (!absl::EndsWith(AV(dns), kClusterDomain)) return "";
  std::string_view name = dns.substr(0, dns.size() - std::string_view(kClusterDomain).size());
  if (name.empty() || name.find('.') != std::string_view::npos) return "";
  return std::string(name);
}

class PolicyProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit PolicyProcessor(std::shared_ptr<AccessPolicy> policy) : policy_(std::move(policy)) {}
  // Decides from memory only: run inline on the transport thread.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& md, grpc::AuthContext* ctx, OutputMetadata*, OutputMetadata*) override {
    std::string_view path;
    for (const auto& [k, v] : md) {
      if (k == ":path") {
        path = std::string_view(v.data(), v.size());
        break;
      }
    }
    std::string caller = CallerIdentity(*ctx);
    if (!path.empty() && policy_->Permits(path, caller)) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        caller.empty() ? "caller has no cluster identity"
                                       : caller + " may not call " + std::string(path));
  }

 private:
  std::shared_ptr<AccessPolicy> policy_;
};

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> Provider(const ClusterTls& tls) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(tls.key_file, tls.cert_file,
                                                                              tls.ca_file, kRefreshSeconds);
}

}  // namespace

ClusterTls ClusterTls::Load(ConfigSource& src, bool required) {
  ClusterTls t;
  auto get = [&](const char* name, const char* help) {
    return required ? src.Required(name, help) : src.Str(name, "", help);
  };
  t.ca_file = get("CLOUDILLO_GRPC_CA", "cluster CA bundle (PEM) for internal mutual TLS");
  t.cert_file = get("CLOUDILLO_GRPC_CERT", "this process's certificate (PEM), DNS name <service>.cloudillo.internal");
  t.key_file = get("CLOUDILLO_GRPC_KEY", "this process's private key (PEM)");
  return t;
}

absl::Status ClusterTls::Validate() {
  if (ca_file.empty() || cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError(
        "internal TLS needs CLOUDILLO_GRPC_CA, CLOUDILLO_GRPC_CERT and CLOUDILLO_GRPC_KEY (tools/cluster-certs makes "
        "them)");
  }
  auto ca = ReadCerts(ca_file, "CLOUDILLO_GRPC_CA");
  if (!ca.ok()) return ca.status();
  auto chain = ReadCerts(cert_file, "CLOUDILLO_GRPC_CERT");
  if (!chain.ok()) return chain.status();
  std::unique_ptr<FILE, FileCloser> kf(std::fopen(key_file.c_str(), "r"));
  if (!kf) return absl::InvalidArgumentError("CLOUDILLO_GRPC_KEY '" + key_file + "' cannot be read");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  if (!key) return absl::InvalidArgumentError("CLOUDILLO_GRPC_KEY '" + key_file + "' holds no PEM private key");
  X509* leaf = (*chain)[0].get();
  if (X509_check_private_key(leaf, key.get()) != 1) {
    return absl::InvalidArgumentError("CLOUDILLO_GRPC_KEY does not match the certificate in CLOUDILLO_GRPC_CERT");
  }
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  for (auto& c : *ca) X509_STORE_add_cert(store.get(), c.get());
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> untrusted(sk_X509_new_null(),
                                                                      [](STACK_OF(X509)* s) { sk_X509_free(s); });
  for (size_t i = 1; i < chain->size(); ++i) sk_X509_push(untrusted.get(), (*chain)[i].get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> vctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  if (!vctx || X509_STORE_CTX_init(vctx.get(), store.get(), leaf, untrusted.get()) != 1) {
    return absl::InternalError("cannot set up certificate verification");
  }
  if (X509_verify_cert(vctx.get()) != 1) {
    return absl::InvalidArgumentError(std::string("CLOUDILLO_GRPC_CERT is not signed by CLOUDILLO_GRPC_CA: ") +
                                      X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx.get())));
  }
  for (const auto& dns : DnsNames(leaf)) {
    identity = IdentityOf(dns);
    if (!identity.empty()) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(std::string("CLOUDILLO_GRPC_CERT names no <service>") + kClusterDomain +
                                    " DNS name");
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const ClusterTls& tls,
                                                           std::shared_ptr<AccessPolicy> policy) {
  grpc::experimental::TlsServerCredentialsOptions options(Provider(tls));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  auto creds = grpc::experimental::TlsServerCredentials(options);
  creds->SetAuthMetadataProcessor(std::make_shared<PolicyProcessor>(std::move(policy)));
  return creds;
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const ClusterTls& tls) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(tls));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  options.set_check_call_host(true);
  return grpc::experimental::TlsCredentials(options);
}

std::string CallerIdentity(const grpc::AuthContext& ctx) {
  for (const auto& value : ctx.FindPropertyValues("x509_subject_alternative_name")) {
    std::string id = IdentityOf(std::string_view(value.data(), value.size()));
    if (!id.empty()) return id;
  }
  return "";
}

}  // namespace cloudillo::rpc
