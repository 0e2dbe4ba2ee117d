#include "sync_server/sync_config.h"

#include "common/net/host_port.h"

namespace im::sync {

void DeclareConfig(config::Schema& schema, SyncConfig* c) {
  schema.Add("server.listen", &c->tcp.listen, "host:port for client TCP connections (PROTOCOL.md §8: 31983)");
  schema.Add("server.threads", &c->tcp.threads, "io threads; 0: one per core", 0, 256);
  schema.Add("server.max_connections", &c->tcp.max_connections, "connections beyond this are closed at once", 1,
             10000000);
  schema.Add("server.max_body_bytes", &c->max_body, "largest frame body accepted", 16, 65521);
  schema.Add("server.login_timeout_ms", &c->tcp.limits.login_timeout_ms, "close a connection not logged in by then",
             100, 600000);
  schema.Add("server.idle_timeout_ms", &c->tcp.limits.idle_timeout_ms,
             "close a connection silent this long (3 heartbeat intervals); 0: never", 0, 86400000);
  schema.Add("server.max_output_bytes", &c->max_output_bytes,
             "unsent bytes queued for a client before it is dropped as a slow reader; a pull answer carries at most half", 1024, 1 << 30);
  schema.Add("server.max_requests_per_second", &c->tcp.limits.max_requests_per_second,
             "frames per second per connection before it is cut off", 1, 1000000);
  schema.Add("access.addresses", &c->access_addresses, "access_server host:port list (round-robin)");
  schema.Add("access.timeout_ms", &c->access_timeout_ms, "deadline of an access_server call", 10, 600000);
  schema.Add("access.send_batch", &c->access_send_batch,
             "most peer sends coalesced into one SendPeerMessages call", 1, 4096);
  schema.Add("access.send_calls_in_flight", &c->access_send_calls_in_flight,
             "SendPeerMessages calls in flight per access_server", 1, 1024);
  schema.Add("redis.host", &c->redis_host, "Redis holding login tokens");
  schema.Add("redis.port", &c->redis_port, "Redis port", 1, 65535);
  schema.Add("redis.token_check_threads", &c->token_check_threads, "Redis connections checking login tokens", 1, 64);
  net::AddClientTlsKeys(schema, &c->tcp.tls);
  schema.AddCheck([c]() -> std::string {
    if (std::string e = net::CheckHostPort("server.listen", c->tcp.listen); !e.empty()) return e;
    if (c->access_addresses.empty()) return "access.addresses: at least one access_server is required";
    return net::CheckHostPorts("access.addresses", c->access_addresses);
  });
}

}  // namespace im::sync
