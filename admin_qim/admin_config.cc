#include "admin_qim/admin_config.h"

#include "common/net/host_port.h"

namespace im::admin {
namespace {

std::string CheckAddress(const std::string& key, const std::string& value, bool may_be_empty) {
  if (value.empty() && may_be_empty) return "";
  return net::CheckHostPort(key, value);
}

}  // namespace

void DeclareAdminConfig(config::Schema& s, AdminConfig* c) {
  s.Add("http.listen", &c->http_listen, "host:port of the HTTP API (GET /v1/nodes, accounts, tokens, groups, ...)");
  s.Add("http.threads", &c->http_threads, "HTTP server threads (handlers block on MySQL)", 1, 64);
  s.Add("http.body_limit", &c->http_body_limit, "largest request body in bytes (larger: 413)", 1024, 16 << 20);
  s.Add("grpc.listen", &c->grpc_listen, "host:port of the gRPC AdminService used by the qim console");
  s.Add("grpc.workers", &c->grpc_workers, "threads that run admin RPCs (they block on MySQL and Redis)", 1, 64);

  s.Add("auth.admin_secret", &c->admin_secret,
        "secret of admin calls: HTTP 'Authorization: Bearer <secret>', gRPC metadata 'authorization'");
  s.Add("auth.token_lifetime_s", &c->token_lifetime_s, "lifetime of issued login tokens, seconds", 1, 365LL * 86400);
  s.Add("auth.login_rate_per_s", &c->login_rate_per_s,
        "user token requests (no+password) refilled per second per remote address; beyond: 429");
  s.Add("auth.login_burst", &c->login_burst, "user token requests allowed at once per remote address", 1, 100000);
  s.Add("auth.password_opslimit", &c->password_opslimit,
        "Argon2id passes for new password hashes (cost of each login and account creation)", 1, 32);
  s.Add("auth.password_memlimit_kib", &c->password_memlimit_kib,
        "Argon2id memory for new password hashes, KiB (each concurrent login uses this much)", 8, 4 << 20);

  s.Add("mysql.host", &c->mysql.host, "MySQL/MariaDB host");
  s.Add("mysql.port", &c->mysql.port, "MySQL/MariaDB port", 1, 65535);
  s.Add("mysql.unix_socket", &c->mysql.unix_socket, "MySQL unix socket, used instead of host:port when set");
  s.Add("mysql.user", &c->mysql.user, "MySQL user");
  s.Add("mysql.password", &c->mysql.password, "MySQL password");
  s.Add("mysql.database", &c->mysql.database, "MySQL database (schema migrated on start)");
  s.Add("mysql.pool_size", &c->mysql.pool_size, "MySQL connections", 1, 256);
  s.Add("mysql.migrate_lock_timeout_s", &c->migrate_lock_timeout_s,
        "how long to wait for another instance that is migrating the schema", 1, 3600);

  s.Add("redis.host", &c->redis.host, "Redis host (tokens, bans, im:kick and im:directory channels)");
  s.Add("redis.port", &c->redis.port, "Redis port", 1, 65535);
  s.Add("redis.password", &c->redis.password, "Redis password; empty: none");

  s.Add("access.address", &c->access_address,
        "host:port of an access_server for system messages; empty: system messages answer UNAVAILABLE");
  s.Add("route.addresses", &c->route_addresses,
        "host:port of each route_server shard (uid % count picks one) for online status; empty: UNAVAILABLE");
  s.Add("cluster.rpc_timeout_ms", &c->rpc_timeout_ms, "deadline of calls to access_server and route_server", 10,
        60000);
  s.Add("cluster.probe_timeout_ms", &c->probe_timeout_ms, "timeout of each step of a node health check (TCP probe, /healthz, /metrics)", 10, 10000);

  s.AddCheck([c] {
    return c->admin_secret.size() < 16 ? "auth.admin_secret must be set, at least 16 characters" : "";
  });
  s.AddCheck([c] { return c->login_rate_per_s > 0 ? "" : "auth.login_rate_per_s must be greater than 0"; });
  s.AddCheck([c] { return CheckAddress("http.listen", c->http_listen, false); });
  s.AddCheck([c] { return CheckAddress("grpc.listen", c->grpc_listen, false); });
  s.AddCheck([c] { return CheckAddress("access.address", c->access_address, true); });
  s.AddCheck([c] {
    for (const auto& a : c->route_addresses) {
      if (std::string e = CheckAddress("route.addresses", a, false); !e.empty()) return e;
    }
    return std::string();
  });
}

}  // namespace im::admin
