#include "route_server/presence_table.h"

#include <gtest/gtest.h>

namespace im::route {
namespace {

struct FakeSink final : NodeSink {
  void Deliver(rpc::RouteToNotify message) override { received.push_back(std::move(message)); }
  std::vector<rpc::RouteToNotify> received;
};

rpc::NotifyToRoute Presence(std::vector<std::tuple<std::int64_t, std::int64_t, bool>> devices, bool snapshot) {
  rpc::NotifyToRoute m;
  m.set_snapshot(snapshot);
  for (auto [uid, device, online] : devices) {
    auto* p = m.add_presence();
    p->set_uid(uid);
    p->set_device_id(device);
    p->set_platform(2);
    p->set_online(online);
  }
  return m;
}

rpc::PublishRequest OneNotification(std::vector<std::int64_t> uids) {
  rpc::PublishRequest r;
  auto* n = r.add_notifications();
  n->set_offset(3);
  n->set_msgid(30);
  n->mutable_payload()->set_content("x");
  for (auto u : uids) n->add_uids(u);
  return r;
}

int Devices(const PresenceTable& t, std::int64_t uid) { return t.Query({uid}).users(0).devices_size(); }

TEST(PresenceTableTest, ChangesSnapshotsAndNodeRemoval) {
  PresenceTable t;
  auto sink = std::make_shared<FakeSink>();
  auto a = t.AddNode("a", "127.0.0.1:1", sink);
  t.Apply(a, Presence({{1, 10, true}, {1, 11, true}, {2, 20, true}}, true));
  EXPECT_EQ(t.online_devices(), 3u);
  EXPECT_EQ(t.online_users(), 2u);
  EXPECT_EQ(Devices(t, 1), 2);
  t.Apply(a, Presence({{1, 10, false}}, false));
  EXPECT_EQ(Devices(t, 1), 1);
  t.Apply(a, Presence({{2, 20, false}}, false));
  EXPECT_EQ(t.online_users(), 1u);
  // A snapshot replaces everything the node said before.
  t.Apply(a, Presence({{3, 30, true}}, true));
  EXPECT_EQ(Devices(t, 1), 0);
  EXPECT_EQ(Devices(t, 2), 0);
  EXPECT_EQ(Devices(t, 3), 1);
  t.RemoveNode(a);
  EXPECT_EQ(t.online_devices(), 0u);
  EXPECT_EQ(t.online_users(), 0u);
  EXPECT_EQ(t.nodes(), 0u);
}

TEST(PresenceTableTest, ReattachUnderSameNodeIdReplacesTheOldStream) {
  PresenceTable t;
  auto old_sink = std::make_shared<FakeSink>();
  auto new_sink = std::make_shared<FakeSink>();
  auto old_handle = t.AddNode("a", "x:1", old_sink);
  t.Apply(old_handle, Presence({{1, 10, true}}, true));
  auto new_handle = t.AddNode("a", "x:1", new_sink);
  t.Apply(new_handle, Presence({{1, 10, true}}, true));
  t.RemoveNode(old_handle);  // the old stream ends late: must not drop the new presence
  EXPECT_EQ(Devices(t, 1), 1);
  EXPECT_EQ(t.Route(OneNotification({1})), 1);
  EXPECT_TRUE(old_sink->received.empty());
  ASSERT_EQ(new_sink->received.size(), 1u);
}

TEST(PresenceTableTest, RouteNarrowsUidsPerNodeAndCountsDevices) {
  PresenceTable t;
  auto sa = std::make_shared<FakeSink>();
  auto sb = std::make_shared<FakeSink>();
  auto a = t.AddNode("a", "a:1", sa);
  auto b = t.AddNode("b", "b:1", sb);
  t.Apply(a, Presence({{1, 10, true}, {1, 11, true}, {2, 20, true}}, true));
  t.Apply(b, Presence({{1, 12, true}, {3, 30, true}}, true));
  EXPECT_EQ(t.Route(OneNotification({1, 2, 3, 4})), 5);
  ASSERT_EQ(sa->received.size(), 1u);
  ASSERT_EQ(sb->received.size(), 1u);
  const auto& na = sa->received[0].notifications(0);
  EXPECT_EQ(std::vector<std::int64_t>(na.uids().begin(), na.uids().end()), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(na.offset(), 3);
  EXPECT_EQ(na.payload().content(), "x");
  const auto& nb = sb->received[0].notifications(0);
  EXPECT_EQ(std::vector<std::int64_t>(nb.uids().begin(), nb.uids().end()), (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(t.Route(OneNotification({99})), 0);
  EXPECT_EQ(sa->received.size(), 1u);
}

TEST(PresenceTableTest, KickGoesToNodesHoldingTheUser) {
  PresenceTable t;
  auto sa = std::make_shared<FakeSink>();
  auto sb = std::make_shared<FakeSink>();
  auto a = t.AddNode("a", "a:1", sa);
  auto b = t.AddNode("b", "b:1", sb);
  t.Apply(a, Presence({{1, 10, true}, {1, 11, true}}, true));
  t.Apply(b, Presence({{2, 20, true}}, true));
  t.Kick({1});
  ASSERT_EQ(sa->received.size(), 1u);
  EXPECT_EQ(sa->received[0].kick_uids_size(), 1);
  EXPECT_EQ(sa->received[0].kick_uids(0), 1);
  EXPECT_TRUE(sb->received.empty());
}

TEST(PresenceTableTest, QueryNamesNodeAndAddress) {
  PresenceTable t;
  auto a = t.AddNode("node-a", "10.0.0.1:21983", std::make_shared<FakeSink>());
  t.Apply(a, Presence({{1, 10, true}}, true));
  auto reply = t.Query({1, 2});
  ASSERT_EQ(reply.users_size(), 2);
  ASSERT_EQ(reply.users(0).devices_size(), 1);
  EXPECT_EQ(reply.users(0).devices(0).device_id(), 10);
  EXPECT_EQ(reply.users(0).devices(0).platform(), 2);
  EXPECT_EQ(reply.users(0).devices(0).notify_node(), "node-a");
  EXPECT_EQ(reply.users(0).devices(0).notify_address(), "10.0.0.1:21983");
  EXPECT_EQ(reply.users(1).devices_size(), 0);
}

}  // namespace
}  // namespace im::route
