#include "route_server/presence_table.h"

#include <algorithm>
#include <map>

namespace im::route {

PresenceTable::NodeHandle PresenceTable::AddNode(const std::string& node_id, const std::string& address,
                                                 std::shared_ptr<NodeSink> sink) {
  std::lock_guard<std::mutex> lock(mu_);
  auto old = node_ids_.find(node_id);
  if (old != node_ids_.end()) {
    auto it = nodes_.find(old->second);
    if (it != nodes_.end()) {
      DropNodePresenceLocked(it->first, it->second);
      nodes_.erase(it);
    }
  }
  const NodeHandle handle = next_handle_++;
  nodes_[handle] = Node{node_id, address, std::move(sink), {}};
  node_ids_[node_id] = handle;
  return handle;
}

void PresenceTable::RemoveNode(NodeHandle handle) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(handle);
  if (it == nodes_.end()) return;
  DropNodePresenceLocked(handle, it->second);
  auto id = node_ids_.find(it->second.node_id);
  if (id != node_ids_.end() && id->second == handle) node_ids_.erase(id);
  nodes_.erase(it);
}

void PresenceTable::DropNodePresenceLocked(NodeHandle handle, Node& node) {
  for (std::int64_t uid : node.uids) {
    auto u = users_.find(uid);
    if (u == users_.end()) continue;
    auto& devices = u->second;
    const std::size_t before = devices.size();
    devices.erase(std::remove_if(devices.begin(), devices.end(), [&](const Device& d) { return d.node == handle; }),
                  devices.end());
    devices_ -= before - devices.size();
    if (devices.empty()) users_.erase(u);
  }
  node.uids.clear();
}

void PresenceTable::SetOnlineLocked(NodeHandle handle, Node& node, const rpc::DevicePresence& p) {
  auto& devices = users_[p.uid()];
  auto it = std::find_if(devices.begin(), devices.end(),
                         [&](const Device& d) { return d.node == handle && d.device_id == p.device_id(); });
  if (p.online()) {
    if (it == devices.end()) {
      devices.push_back(Device{p.device_id(), p.platform(), handle});
      ++devices_;
    } else {
      it->platform = p.platform();
    }
    node.uids.insert(p.uid());
  } else if (it != devices.end()) {
    devices.erase(it);
    --devices_;
    const bool still_here = std::any_of(devices.begin(), devices.end(), [&](const Device& d) { return d.node == handle; });
    if (!still_here) node.uids.erase(p.uid());
  }
  if (devices.empty()) users_.erase(p.uid());
}

void PresenceTable::Apply(NodeHandle handle, const rpc::NotifyToRoute& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(handle);
  if (it == nodes_.end()) return;
  if (message.snapshot()) DropNodePresenceLocked(handle, it->second);
  for (const auto& p : message.presence()) SetOnlineLocked(handle, it->second, p);
}

int PresenceTable::Route(const rpc::PublishRequest& request) {
  std::map<NodeHandle, rpc::RouteToNotify> out;
  std::vector<std::shared_ptr<NodeSink>> sinks;
  int devices = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<NodeHandle, std::vector<std::int64_t>> per_node;
    for (const auto& n : request.notifications()) {
      per_node.clear();
      for (std::int64_t uid : n.uids()) {
        auto u = users_.find(uid);
        if (u == users_.end()) continue;
        for (const Device& d : u->second) {
          ++devices;
          auto& uids = per_node[d.node];
          if (uids.empty() || uids.back() != uid) uids.push_back(uid);
        }
      }
      for (auto& [node, uids] : per_node) {
        rpc::Notification* copy = out[node].add_notifications();
        *copy->mutable_seq() = n.seq();
        copy->set_offset(n.offset());
        copy->set_msgid(n.msgid());
        copy->set_pre_msgid(n.pre_msgid());
        *copy->mutable_payload() = n.payload();
        copy->set_has_data(n.has_data());
        copy->set_skip_device_id(n.skip_device_id());
        copy->mutable_uids()->Add(uids.begin(), uids.end());
      }
    }
    for (auto& [node, message] : out) sinks.push_back(nodes_.at(node).sink);
  }
  std::size_t i = 0;
  for (auto& [node, message] : out) sinks[i++]->Deliver(std::move(message));
  return devices;
}

void PresenceTable::Kick(const std::vector<std::int64_t>& uids) {
  std::map<NodeHandle, rpc::RouteToNotify> out;
  std::vector<std::shared_ptr<NodeSink>> sinks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::int64_t uid : uids) {
      auto u = users_.find(uid);
      if (u == users_.end()) continue;
      for (const Device& d : u->second) {
        auto& m = out[d.node];
        if (m.kick_uids_size() == 0 || m.kick_uids(m.kick_uids_size() - 1) != uid) m.add_kick_uids(uid);
      }
    }
    for (auto& [node, message] : out) sinks.push_back(nodes_.at(node).sink);
  }
  std::size_t i = 0;
  for (auto& [node, message] : out) sinks[i++]->Deliver(std::move(message));
}

rpc::QueryOnlineReply PresenceTable::Query(const std::vector<std::int64_t>& uids) const {
  rpc::QueryOnlineReply reply;
  std::lock_guard<std::mutex> lock(mu_);
  for (std::int64_t uid : uids) {
    rpc::UserOnline* user = reply.add_users();
    user->set_uid(uid);
    auto u = users_.find(uid);
    if (u == users_.end()) continue;
    for (const Device& d : u->second) {
      const Node& node = nodes_.at(d.node);
      rpc::OnlineDevice* device = user->add_devices();
      device->set_device_id(d.device_id);
      device->set_platform(d.platform);
      device->set_notify_node(node.node_id);
      device->set_notify_address(node.address);
    }
  }
  return reply;
}

std::size_t PresenceTable::online_users() const {
  std::lock_guard<std::mutex> lock(mu_);
  return users_.size();
}

std::size_t PresenceTable::online_devices() const {
  std::lock_guard<std::mutex> lock(mu_);
  return devices_;
}

std::size_t PresenceTable::nodes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nodes_.size();
}

}  // namespace im::route
