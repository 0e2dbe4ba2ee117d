#include "access_server/access_config.h"

#include "common/net/host_port.h"

namespace im::access {

void DeclareConfig(config::Schema& schema, AccessConfig* c) {
  schema.Add("server.listen", &c->listen, "host:port of the gRPC AccessService");
  schema.Add("server.worker_threads", &c->worker_threads, "threads that run request handlers", 1, 1024);
  schema.Add("storage.addresses", &c->storage_addresses,
             "storage_server host:port per shard; the list index is the shard id (id % count)");
  schema.Add("storage.timeout_ms", &c->storage_timeout_ms, "deadline of a storage call", 10, 600000);
  schema.Add("storage.max_batch", &c->storage_max_batch, "appends sent in one SaveBatch call", 1, 100000);
  schema.Add("storage.max_in_flight", &c->storage_max_in_flight, "SaveBatch calls in flight per shard", 1, 1024);
  schema.Add("route.addresses", &c->route_addresses,
             "route_server host:port per shard; the list index is the shard id (uid % count); empty: no pushes");
  schema.Add("route.timeout_ms", &c->route_timeout_ms, "deadline of a Publish call", 10, 600000);
  schema.Add("redis.host", &c->redis_host, "Redis host (message cache, tokens)");
  schema.Add("redis.port", &c->redis_port, "Redis port", 1, 65535);
  schema.Add("redis.timeout_ms", &c->redis_timeout_ms, "Redis connect and command timeout", 1, 60000);
  schema.Add("redis.connections", &c->redis_connections, "Redis connections in the pool", 1, 256);
  schema.Add("cache.max_records", &c->cache_max_records, "newest records cached per sequence", 0, 100000);
  schema.Add("cache.ttl_s", &c->cache_ttl_s, "lifetime of a cached sequence after its last write", 1, 86400 * 365);
  schema.Add("mysql.host", &c->mysql_host, "MySQL/MariaDB host (directory: accounts, groups, friends)");
  schema.Add("mysql.port", &c->mysql_port, "MySQL port", 1, 65535);
  schema.Add("mysql.user", &c->mysql_user, "MySQL user");
  schema.Add("mysql.password", &c->mysql_password, "MySQL password");
  schema.Add("mysql.database", &c->mysql_database, "MySQL database");
  schema.Add("mysql.pool_size", &c->mysql_pool_size, "MySQL connections", 1, 1024);
  schema.Add("directory.cache_ms", &c->directory_cache_ms,
             "how long directory data is cached (admin changes also invalidate it at once)", 0, 86400000);
  schema.Add("limits.max_content_bytes", &c->max_content_bytes, "largest message content", 1, 65521);
  schema.Add("limits.push_max_data_bytes", &c->push_max_data_bytes,
             "content up to this size is pushed with the message (337/338), larger as offsets only (321/336); 0: never",
             0, 65521);
  schema.Add("limits.rate_limit_per_s", &c->rate_limit_per_s, "sends per user per second; 0: unlimited", 0, 1000000);
  schema.Add("limits.rate_limit_burst", &c->rate_limit_burst, "sends a user may burst above the rate", 1, 1000000);
  schema.Add("limits.pull_default_limit", &c->pull_default_limit, "messages per pull when the client asks 0", 1, 100000);
  schema.Add("limits.pull_max_limit", &c->pull_max_limit, "most messages per pull", 1, 100000);
  schema.Add("limits.fanout_chunk", &c->fanout_chunk, "member uids per group notification", 1, 100000);
  schema.AddCheck([c]() -> std::string {
    if (std::string e = net::CheckHostPort("server.listen", c->listen); !e.empty()) return e;
    if (c->storage_addresses.empty()) return "storage.addresses: at least one storage_server is required";
    if (std::string e = net::CheckHostPorts("storage.addresses", c->storage_addresses); !e.empty()) return e;
    if (std::string e = net::CheckHostPorts("route.addresses", c->route_addresses); !e.empty()) return e;
    if (c->pull_default_limit > c->pull_max_limit) return "limits.pull_default_limit: above limits.pull_max_limit";
    return "";
  });
}

}  // namespace im::access
