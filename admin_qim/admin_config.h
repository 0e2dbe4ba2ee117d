#pragma once
// admin_qim's configuration (deploy/config/admin_qim.toml documents every key).

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/config.h"
#include <cppconn/connection.h>  // mysql_pool.h needs sql::Connection complete

#include "common/db/mysql_pool.h"
#include "common/redis/redis_client.h"

namespace im::admin {

struct AdminConfig {
  std::string http_listen = "0.0.0.0:8080";    // HTTP API (SDKs, operators)
  int http_threads = 4;                        // handlers block on MySQL: a few threads
  int http_body_limit = 1 << 20;
  std::string grpc_listen = "127.0.0.1:50081";  // gRPC AdminService (qim console)
  int grpc_workers = 4;

  std::string admin_secret;                // required: Bearer secret of admin calls
  std::int64_t token_lifetime_s = 86400;   // login token lifetime
  double login_rate_per_s = 1.0;           // POST /v1/tokens (user) per remote address
  int login_burst = 10;
  int password_opslimit = 2;          // Argon2id passes (libsodium OPSLIMIT_INTERACTIVE)
  int password_memlimit_kib = 65536;  // Argon2id memory (MEMLIMIT_INTERACTIVE = 64 MiB)

  db::MysqlOptions mysql;
  int migrate_lock_timeout_s = 60;
  redis::RedisOptions redis;

  std::string access_address;                 // access_server for system messages; "" = none
  std::vector<std::string> route_addresses;   // route_server shards for online status; empty = none
  int rpc_timeout_ms = 2000;
  int probe_timeout_ms = 300;                 // node TCP health probe
};

/// Binds every key of `config` to `schema`, with help texts and checks.
void DeclareAdminConfig(config::Schema& schema, AdminConfig* config);

}  // namespace im::admin
