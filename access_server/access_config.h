#pragma once
// access_server configuration: a typed struct whose fields hold the defaults,
// declared key by key to the config schema (deploy/config/access_server.toml).

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/config.h"

namespace im::access {

struct AccessConfig {
  std::string listen = "127.0.0.1:50051";          // gRPC AccessService
  int worker_threads = 64;                         // request handlers (may block on MySQL/Redis)

  std::vector<std::string> storage_addresses;      // index = storage shard id
  std::vector<std::string> route_addresses;        // index = route shard id
  int storage_timeout_ms = 3000;
  int route_timeout_ms = 2000;
  int storage_max_batch = 512;                     // appends per SaveBatch call
  int storage_max_in_flight = 4;                   // SaveBatch calls in flight per shard

  std::string redis_host = "127.0.0.1";
  int redis_port = 6379;
  int redis_timeout_ms = 200;
  int redis_connections = 8;
  int cache_max_records = 200;                     // newest records kept per sequence
  int cache_ttl_s = 86400;

  std::string mysql_host = "127.0.0.1";
  int mysql_port = 3306;
  std::string mysql_user = "im";
  std::string mysql_password;
  std::string mysql_database = "im";
  int mysql_pool_size = 8;
  int directory_cache_ms = 60000;                  // cached directory entries live this long (changes also invalidate)

  int max_content_bytes = 65000;                   // larger content: 400
  int push_max_data_bytes = 4096;                  // larger content is pushed as 321/336 (offsets only)
  int rate_limit_per_s = 100;                      // sends per user per second per access_server; 0: off
  int rate_limit_burst = 200;
  int pull_default_limit = 100;
  int pull_max_limit = 500;
  int fanout_chunk = 1000;                         // uids per group notification
};

void DeclareConfig(config::Schema& schema, AccessConfig* config);

}  // namespace im::access
