#pragma once
// Publishes notifications to the route shards, off the send path: Publish()
// only queues. Per shard, one Publish call carries everything waiting, with
// at most a few calls in flight. Pushes are best effort (clients repair a
// lost push by their gap check or next heartbeat), so a failed call is
// logged and dropped, never retried into a backlog. Thread safe.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proto/route.pb.h"

namespace im::access {

struct RoutePublisherOptions {
  std::vector<std::string> addresses;  // index = shard id (uid % count)
  int timeout_ms = 2000;
  int max_in_flight = 2;
  std::size_t max_queued = 100000;  // notifications waiting per shard; beyond: dropped
};

class RoutePublisher {
 public:
  explicit RoutePublisher(RoutePublisherOptions options);
  ~RoutePublisher();

  /// Queues `notification` for the shards owning its uids (split among them).
  void Publish(const rpc::Notification& notification);

  int ShardOf(std::int64_t uid) const;
  bool enabled() const { return !shards_.empty(); }

 private:
  class Shard;
  RoutePublisherOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace im::access
