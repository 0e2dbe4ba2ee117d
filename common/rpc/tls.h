#pragma once
// Optional TLS for inter-daemon gRPC, configured per daemon with the [tls]
// keys every daemon has (AddTlsKeys, called by daemon::AddCommonKeys). Off by
// default. When tls.cert_file is set, InstallTls() makes TLS the process's
// gRPC credentials: servers built with ServerCredentials() serve TLS only, and
// every MakeChannel() dials with TLS, verifying the peer against tls.ca_file
// and presenting the same certificate as a client certificate (mutual TLS).
// No grpcpp here: grpc_util.h has the credential accessors.

#include <string>

#include "absl/status/status.h"

namespace im::config {
class Schema;
}

namespace im::rpc {

struct TlsOptions {
  std::string cert_file;  // PEM certificate chain of this daemon; empty: TLS off
  std::string key_file;   // PEM private key of cert_file
  std::string ca_file;    // PEM CA bundle that peers' certificates must chain to
  bool require_client_cert = true;   // servers refuse clients without a cert signed by ca_file
  std::string target_name_override;  // expected peer name when it differs from the dialled host
  bool enabled() const { return !cert_file.empty(); }
};

/// Declares tls.cert_file, tls.key_file, tls.ca_file, tls.require_client_cert
/// and tls.target_name_override, with a check that a TLS config is complete.
/// Start-up only (not thread safe).
void AddTlsKeys(config::Schema& schema, TlsOptions* options);

/// Reads the PEM files of `options` and makes them the credentials of every
/// later ServerCredentials() and MakeChannel() of this process; with TLS off
/// it restores insecure credentials. Returns InvalidArgument naming the key of
/// a file that cannot be read or is not PEM. Call at start-up, before any
/// channel or server is made; thread safe.
absl::Status InstallTls(const TlsOptions& options);

/// Whether InstallTls() turned TLS on. Thread safe.
bool TlsEnabled();

}  // namespace im::rpc
