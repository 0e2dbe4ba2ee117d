#include "common/rpc/grpc_util.h"

#include <algorithm>

#include "common/rpc/tls.h"

namespace im::rpc {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, const ChannelOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, options.keepalive_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, options.keepalive_timeout_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, options.reconnect_backoff_max_ms);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetMaxReceiveMessageSize(64 << 20);
  std::string target_name_override;
  auto credentials = ChannelCredentials(&target_name_override);
  if (!target_name_override.empty()) args.SetSslTargetNameOverride(target_name_override);
  if (TlsEnabled()) {
    // gRPC also takes the minimum reconnect backoff as the deadline of one
    // connection attempt; a TLS handshake on a loaded host can take longer
    // than the 100 ms that suit plain TCP (2 s was seen to time out while a
    // whole test suite ran on two cores). Retries still start after 100 ms.
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::max(options.reconnect_backoff_max_ms, 5000));
  }
  return grpc::CreateCustomChannel(target, credentials, args);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

void ConfigureServerBuilder(grpc::ServerBuilder& builder, int max_message_bytes) {
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

}  // namespace im::rpc
