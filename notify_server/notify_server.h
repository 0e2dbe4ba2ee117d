#pragma once
// notify_server: holds clients' long-lived TCP connections (client protocol,
// docs/protocol.md), authenticates them, answers heartbeats with the server's
// newest peer offsets, pushes new-message notifications routed by
// route_server, forwards acks and sync-offset queries to access_server.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/net/tcp_server.h"
#include "common/config/config.h"
#include "common/daemon/daemon.h"

namespace im::notify {

struct NotifyConfig {
  // [server]
  std::string listen = "0.0.0.0:21983";
  std::string advertise_address;  // host:port announced to route_server; "" = listen
  std::string node_id;            // "" = advertise address + start time
  int threads = 0;                // io threads; 0 = one per core
  int max_connections = 100000;
  int max_body_bytes = 65521;
  int login_timeout_ms = 10000;
  int heartbeat_interval_ms = 30000;  // idle close after 3 intervals
  int max_output_bytes = 256 << 10;
  int max_requests_per_second = 200;
  int accept_retry_ms = 100;
  net::ClientTlsOptions tls;  // server.tls_listen, server.tls_cert_file, server.tls_key_file
  // [push]
  bool push_data = true;
  int push_max_data_bytes = 4096;
  int push_max_pending_frames = 200000;
  // [redis]
  std::string redis_host = "127.0.0.1";
  int redis_port = 6379;
  std::string redis_password;
  int redis_db = 0;
  int redis_timeout_ms = 500;
  int token_check_threads = 2;
  // [access]
  std::string access_address = "127.0.0.1:50051";
  int access_timeout_ms = 2000;
  int ping_batch_max = 2000;
  int ping_calls_max = 4;
  // [route]
  std::vector<std::string> route_addresses = {"127.0.0.1:50071"};
  int route_reconnect_max_ms = 1000;
};

void DeclareConfig(config::Schema& schema, NotifyConfig* config);

absl::StatusOr<std::unique_ptr<daemon::Daemon>> CreateNotifyServer(const NotifyConfig& config,
                                                                    const daemon::DaemonContext& context);

/// The whole process: RunDaemon with notify_server's spec.
int Main(int argc, char** argv);

}  // namespace im::notify
