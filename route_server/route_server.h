#pragma once
// route_server: presence of online devices per notify_server node and routing
// of notifications to those nodes (proto/route.proto). Sharded by uid: each
// shard only ever hears about the uids the notify_servers assign to it.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/config/config.h"
#include "common/daemon/daemon.h"

namespace im::route {

struct RouteConfig {
  std::string listen = "0.0.0.0:50071";  // gRPC
  int max_queued_messages = 10000;       // per attached node
  int max_batch_notifications = 512;     // notifications merged into one stream message
  int shutdown_grace_ms = 1000;
};

void DeclareConfig(config::Schema& schema, RouteConfig* config);

absl::StatusOr<std::unique_ptr<daemon::Daemon>> CreateRouteServer(const RouteConfig& config,
                                                                   const daemon::DaemonContext& context);

/// The whole process: RunDaemon with route_server's spec.
int Main(int argc, char** argv);

}  // namespace im::route
