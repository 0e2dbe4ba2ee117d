#pragma once
// notify_server's side of route_server: one Attach stream per route shard
// (shard = uid % number of shards). Announces presence changes, receives
// deliveries and kicks. A broken stream is reopened with backoff and starts
// with a hello plus a full snapshot of this node's devices for that shard.
// grpcpp stays in route_client.cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "notify_server/session_registry.h"
#include "proto/route.pb.h"

namespace im::notify {

struct RouteClientOptions {
  std::vector<std::string> addresses;  // one per shard, in shard order
  std::string node_id;                 // unique per process
  std::string client_address;          // host:port clients use to reach this node
  int reconnect_initial_ms = 100;
  int reconnect_max_ms = 1000;
  std::size_t max_queued_messages = 10000;  // presence messages queued per shard while a write is in flight
};

class RouteClient final : public PresenceListener {
 public:
  /// `deliver` runs on gRPC threads for every message a shard sends; it must
  /// not block. `registry` must outlive the client.
  RouteClient(RouteClientOptions options, SessionRegistry* registry,
              std::function<void(rpc::RouteToNotify&)> deliver);
  ~RouteClient() override;

  /// Starts connecting (in the background). Call once.
  void Start();
  /// Closes every stream and joins. Idempotent.
  void Stop();
  /// Registry lock held: queues the change on the uid's shard.
  void OnPresence(const rpc::DevicePresence& presence) override;
  /// Streams open now (for tests and metrics). Thread safe.
  int connected_shards() const;
  const RouteClientOptions& options() const { return options_; }

  struct Shard;
  struct Loop;

 private:
  void Reconnector();
  void Connect(Shard& shard);

  RouteClientOptions options_;
  SessionRegistry* registry_;
  std::function<void(rpc::RouteToNotify&)> deliver_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<Loop> loop_;
};

}  // namespace im::notify
