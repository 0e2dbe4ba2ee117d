#include "common/rpc/tls.h"

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "common/config/config.h"
#include "common/rpc/grpc_util.h"

namespace im::rpc {
namespace {

struct InstalledTls {
  std::mutex mu;
  bool enabled = false;
  std::string cert, key, ca;
  bool require_client_cert = true;
  std::string target_name_override;
};

InstalledTls& Installed() {
  static auto* installed = new InstalledTls;
  return *installed;
}

absl::Status ReadPem(const std::string& key, const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(key + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  if (out->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(key + ": " + path + " is not a PEM file");
  }
  return absl::OkStatus();
}

}  // namespace

void AddTlsKeys(config::Schema& schema, TlsOptions* options) {
  schema.Add("tls.cert_file", &options->cert_file,
             "PEM certificate of this daemon for inter-daemon gRPC (server and client side); empty: TLS off");
  schema.Add("tls.key_file", &options->key_file, "PEM private key of tls.cert_file");
  schema.Add("tls.ca_file", &options->ca_file, "PEM CA bundle the certificates of gRPC peers must chain to");
  schema.Add("tls.require_client_cert", &options->require_client_cert,
             "gRPC servers refuse callers without a certificate signed by tls.ca_file (mutual TLS)");
  schema.Add("tls.target_name_override", &options->target_name_override,
             "name expected in the certificates of gRPC servers when it differs from the dialled host");
  schema.AddCheck([options]() -> std::string {
    if (!options->enabled()) {
      if (!options->key_file.empty() || !options->ca_file.empty()) {
        return "tls.cert_file: must be set when tls.key_file or tls.ca_file is";
      }
      return "";
    }
    if (options->key_file.empty()) return "tls.key_file: required when tls.cert_file is set";
    if (options->ca_file.empty()) return "tls.ca_file: required when tls.cert_file is set";
    return "";
  });
}

absl::Status InstallTls(const TlsOptions& options) {
  InstalledTls next;
  if (options.enabled()) {
    if (absl::Status s = ReadPem("tls.cert_file", options.cert_file, &next.cert); !s.ok()) return s;
    if (absl::Status s = ReadPem("tls.key_file", options.key_file, &next.key); !s.ok()) return s;
    if (absl::Status s = ReadPem("tls.ca_file", options.ca_file, &next.ca); !s.ok()) return s;
  }
  InstalledTls& installed = Installed();
  std::lock_guard<std::mutex> lock(installed.mu);
  installed.enabled = options.enabled();
  installed.cert = std::move(next.cert);
  installed.key = std::move(next.key);
  installed.ca = std::move(next.ca);
  installed.require_client_cert = options.require_client_cert;
  installed.target_name_override = options.target_name_override;
  return absl::OkStatus();
}

bool TlsEnabled() {
  InstalledTls& installed = Installed();
  std::lock_guard<std::mutex> lock(installed.mu);
  return installed.enabled;
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials() {
  InstalledTls& installed = Installed();
  std::lock_guard<std::mutex> lock(installed.mu);
  if (!installed.enabled) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(installed.require_client_cert
                                            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_root_certs = installed.ca;
  ssl.pem_key_cert_pairs.push_back({installed.key, installed.cert});
  return grpc::SslServerCredentials(ssl);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(std::string* target_name_override) {
  InstalledTls& installed = Installed();
  std::lock_guard<std::mutex> lock(installed.mu);
  if (target_name_override != nullptr) *target_name_override = installed.target_name_override;
  if (!installed.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = installed.ca;
  ssl.pem_private_key = installed.key;
  ssl.pem_cert_chain = installed.cert;
  return grpc::SslCredentials(ssl);
}

}  // namespace im::rpc
