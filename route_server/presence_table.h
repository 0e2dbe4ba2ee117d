#pragma once
// route_server's state: which notify_server node holds each online device,
// and the link to each attached node. Pure logic over protos; the gRPC
// streams plug in through NodeSink.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proto/route.pb.h"

namespace im::route {

/// Where a node's deliveries go (its Attach stream). Thread safe.
class NodeSink {
 public:
  virtual ~NodeSink() = default;
  /// Queues a message for the node; never blocks.
  virtual void Deliver(rpc::RouteToNotify message) = 0;
};

/// Thread safe: every method takes the table's lock.
class PresenceTable {
 public:
  using NodeHandle = std::uint64_t;

  /// Registers a newly attached node. A node already attached under the same
  /// node_id (a reconnect whose old stream is not yet gone) is replaced: its
  /// presence is dropped.
  NodeHandle AddNode(const std::string& node_id, const std::string& address, std::shared_ptr<NodeSink> sink);
  /// Forgets a node and every device it announced (its stream ended). A
  /// handle that was already replaced is ignored.
  void RemoveNode(NodeHandle node);
  /// Applies a snapshot (replaces all the node announced before) or changes.
  void Apply(NodeHandle node, const rpc::NotifyToRoute& message);

  /// Narrows each notification to the nodes holding its uids and hands each
  /// node one message. Returns the number of devices addressed.
  int Route(const rpc::PublishRequest& request);
  /// Sends kick_uids to every node holding one of the uids.
  void Kick(const std::vector<std::int64_t>& uids);
  rpc::QueryOnlineReply Query(const std::vector<std::int64_t>& uids) const;

  std::size_t online_users() const;
  std::size_t online_devices() const;
  std::size_t nodes() const;

 private:
  struct Device {
    std::int64_t device_id;
    std::int32_t platform;
    NodeHandle node;
  };
  struct Node {
    std::string node_id;
    std::string address;
    std::shared_ptr<NodeSink> sink;
    std::unordered_set<std::int64_t> uids;
  };
  void SetOnlineLocked(NodeHandle handle, Node& node, const rpc::DevicePresence& p);
  void DropNodePresenceLocked(NodeHandle handle, Node& node);

  mutable std::mutex mu_;
  NodeHandle next_handle_ = 1;
  std::unordered_map<std::int64_t, std::vector<Device>> users_;
  std::unordered_map<NodeHandle, Node> nodes_;
  std::unordered_map<std::string, NodeHandle> node_ids_;
  std::size_t devices_ = 0;
};

}  // namespace im::route
