#pragma once
// sync_server configuration (deploy/config/sync_server.toml).

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/net/tcp_server.h"

namespace im::sync {

struct SyncConfig {
  net::TcpServerOptions tcp;                   // client listener; default port 31983
  std::int64_t max_body = 65521;               // copied into tcp.limits (size_t there)
  std::int64_t max_output_bytes = 256 << 10;
  std::vector<std::string> access_addresses;   // access_server host:port, balanced round-robin
  int access_timeout_ms = 5000;
  int access_send_batch = 256;
  int access_send_calls_in_flight = 4;
  std::string redis_host = "127.0.0.1";        // login tokens
  int redis_port = 6379;
  int token_check_threads = 2;

  SyncConfig() { tcp.listen = "0.0.0.0:31983"; }
};

void DeclareConfig(config::Schema& schema, SyncConfig* config);

}  // namespace im::sync
