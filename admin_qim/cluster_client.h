#pragma once
// admin_qim's calls into the rest of the cluster: system messages through
// access_server (AccessService.SendPeerMessage / SendGroupMessage), online
// status and totals through route_server (RouteService.QueryOnline,
// PresenceStats), and node health from each daemon's /healthz and /metrics
// (a TCP probe where no admin endpoint is known). gRPC stays out of this
// header.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace im::admin {

struct SystemMessageResult {
  int code = 0;  // client protocol code (docs/protocol.md §6)
  std::string desp;
  std::int64_t offset = 0;
};

struct OnlineDeviceInfo {
  std::int64_t device_id = 0;
  int platform = 0;
  std::string notify_address;
};

struct PresenceTotals {
  std::int64_t online_users = 0;
  std::int64_t online_devices = 0;
};

/// Implementations are thread safe.
class ClusterClient {
 public:
  virtual ~ClusterClient() = default;
  /// Stores and delivers a message from the system uid to `to_uid`, or to
  /// group `gid` when it is non-zero. UNAVAILABLE (with the reason) when no
  /// access_server is configured or it cannot be reached.
  virtual absl::StatusOr<SystemMessageResult> SendSystemMessage(std::int64_t from_uid, std::int64_t to_uid,
                                                                std::int64_t gid, int msg_type,
                                                                const std::string& content) = 0;
  /// The online devices of uid. UNAVAILABLE when no route_server is
  /// configured or it cannot be reached.
  virtual absl::StatusOr<std::vector<OnlineDeviceInfo>> QueryOnline(std::int64_t uid) = 0;
  /// Online users and devices summed over every route shard (users are
  /// sharded by uid, so shards never count a user twice). UNAVAILABLE when
  /// no route_server is configured or any shard cannot be reached.
  virtual absl::StatusOr<PresenceTotals> Presence() = 0;
};

struct ClusterClientOptions {
  std::string access_address;                // host:port of an access_server; "" = none
  std::vector<std::string> route_addresses;  // route shards, uid % size picks one; empty = none
  int rpc_timeout_ms = 2000;
};

std::unique_ptr<ClusterClient> NewGrpcClusterClient(ClusterClientOptions options);

/// True when a TCP connection to host:port succeeds within timeout_ms.
/// Thread safe; blocks the caller up to the timeout.
bool ProbeTcp(const std::string& host, int port, int timeout_ms);

/// What a daemon's admin endpoint (host:port of /healthz and /metrics) says.
struct AdminScrape {
  bool reachable = false;         // /healthz answered at all
  bool healthy = false;           // /healthz answered 200
  std::int64_t connections = -1;  // client connections from /metrics; -1 unknown
  std::string error;              // why not reachable / no connection count
};

/// Scrapes /healthz and /metrics of a notify_server (server_type 1) or a
/// sync_server (2). Thread safe; blocks up to about 3 × timeout_ms.
AdminScrape ScrapeAdminEndpoint(const std::string& admin_endpoint, int server_type, int timeout_ms);

}  // namespace im::admin
