#pragma once
// gRPC helpers shared by every daemon: channels, deadlines, status mapping.
// Includes grpcpp: keep this header out of widely included headers.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace im::rpc {

struct ChannelOptions {
  int keepalive_ms = 10000;          // ping an idle connection this often
  int keepalive_timeout_ms = 5000;   // give up on it after this
  int reconnect_backoff_max_ms = 2000;
};

/// A channel to `target` (host:port) with keepalive and a short reconnect
/// backoff, so a restarted peer is found again within seconds. Insecure unless
/// InstallTls() (tls.h) turned TLS on: then TLS with this process's client
/// certificate. Thread safe.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target,
                                           const ChannelOptions& options = {});

/// A deadline `ms` from now for a client call.
inline std::chrono::system_clock::time_point DeadlineAfter(int ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

/// The credentials for a server's AddListeningPort: insecure, or TLS (with
/// client certificates required unless tls.require_client_cert is false) after
/// InstallTls() turned it on. Thread safe.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials();

/// The credentials MakeChannel() uses (see ServerCredentials()); sets
/// `*target_name_override` (when not null) to tls.target_name_override.
/// Thread safe.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(std::string* target_name_override = nullptr);

/// Sets the channel arguments every server uses (keepalive, message size).
void ConfigureServerBuilder(grpc::ServerBuilder& builder, int max_message_bytes = 16 << 20);

}  // namespace im::rpc
