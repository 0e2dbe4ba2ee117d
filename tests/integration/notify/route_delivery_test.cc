// route_server and notify_server together: presence, delivery of published
// notifications to every device of a user across notify_servers, restarts,
// dead nodes, kicks, online queries and slow readers.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "common/net/client_protocol.h"
#include "common/rpc/grpc_util.h"
#include "proto/im_client.pb.h"
#include "proto/route.grpc.pb.h"
#include "tests/integration/notify/notify_test_support.h"

namespace im::testing {
namespace {

using namespace std::chrono_literals;

rpc::Notification PeerNotification(std::int64_t owner, std::int64_t from, std::int64_t offset, std::int64_t msgid,
                                   const std::string& content, std::int64_t skip_device = 0) {
  rpc::Notification n;
  n.mutable_seq()->set_kind(rpc::SEQ_PEER);
  n.mutable_seq()->set_id(owner);
  n.add_uids(owner);
  n.set_offset(offset);
  n.set_msgid(msgid);
  n.set_pre_msgid(msgid - 1);
  n.set_has_data(true);
  n.set_skip_device_id(skip_device);
  rpc::ChatPayload* p = n.mutable_payload();
  p->set_from_uid(from);
  p->set_to_uid(owner == from ? 9999 : owner);
  p->set_timestamp(1700000000);
  p->set_msg_type(1);
  p->set_msg_flag(0);
  p->set_content(content);
  return n;
}

class RouteDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    ASSERT_TRUE(access_.Start());
    route_ = std::make_unique<RouteProcess>(dir_.path());
    ASSERT_TRUE(route_->Start()) << route_->log();
    stub_ = rpc::RouteService::NewStub(rpc::MakeChannel(route_->address()));
  }

  std::unique_ptr<NotifyProcess> StartNotify(const std::string& name, std::vector<std::string> extra = {}) {
    NotifyOptions o;
    o.route_addresses = {route_->address()};
    o.redis_address = redis_.address();
    o.access_address = access_.address();
    o.extra_flags = std::move(extra);
    auto n = std::make_unique<NotifyProcess>(dir_.path(), name, o);
    EXPECT_TRUE(n->Start()) << n->log();
    return n;
  }

  RawClient LoggedIn(NotifyProcess& notify, std::int64_t uid, std::int64_t device) {
    RawClient c;
    EXPECT_TRUE(c.Connect(notify.port()));
    EXPECT_EQ(c.Login(uid, IssueToken(redis_.port(), uid), device), 200) << notify.log();
    return c;
  }

  int OnlineDevices(std::int64_t uid) {
    rpc::QueryOnlineRequest request;
    request.add_uids(uid);
    rpc::QueryOnlineReply reply;
    grpc::ClientContext context;
    context.set_deadline(rpc::DeadlineAfter(2000));
    if (!stub_->QueryOnline(&context, request, &reply).ok() || reply.users_size() != 1) return -1;
    return reply.users(0).devices_size();
  }

  int Publish(const std::vector<rpc::Notification>& notifications) {
    rpc::PublishRequest request;
    for (const auto& n : notifications) *request.add_notifications() = n;
    rpc::PublishReply reply;
    grpc::ClientContext context;
    context.set_deadline(rpc::DeadlineAfter(5000));
    grpc::Status s = stub_->Publish(&context, request, &reply);
    return s.ok() ? reply.delivered_devices() : -1;
  }

  TempDir dir_;
  PrivateRedis redis_;
  FakeAccess access_;
  std::unique_ptr<RouteProcess> route_;
  std::unique_ptr<rpc::RouteService::Stub> stub_;
};

TEST_F(RouteDeliveryTest, PeerNotificationReachesEveryDeviceOnTwoNotifyServers) {
  auto a = StartNotify("notify_a");
  auto b = StartNotify("notify_b");
  RawClient a1 = LoggedIn(*a, 1001, 1);
  RawClient a3 = LoggedIn(*a, 1001, 3);
  RawClient b2 = LoggedIn(*b, 1001, 2);
  RawClient other = LoggedIn(*b, 1002, 1);
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1001) == 3; }, 10s)) << route_->log();

  const std::int64_t msgid = (7LL << 40) + 123;
  EXPECT_EQ(Publish({PeerNotification(1001, 1002, 5, msgid, "hello")}), 3);
  for (RawClient* c : {&a1, &a3, &b2}) {
    auto f = c->ReadCmd(net::kCmdNotifySyncHasChatData, 5s);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->header.imuid, 1001);
    EXPECT_EQ(f->header.seq, 0);
    client::ImSyncNotifyWithData m;
    ASSERT_TRUE(m.ParseFromString(f->body));
    EXPECT_EQ(m.offset(), 5);
    EXPECT_EQ(m.nextsynckey(), msgid);
    EXPECT_EQ(m.synckey(), static_cast<std::int32_t>(msgid & 0xffffffff));
    EXPECT_EQ(m.presynckey(), msgid - 1);
    EXPECT_EQ(m.fromuid(), 1002);
    EXPECT_EQ(m.touid(), 1001);
    EXPECT_EQ(m.timestamp(), 1700000000);
    EXPECT_EQ(m.len(), 5);
    EXPECT_EQ(m.msgtype(), 1);
    EXPECT_EQ(m.content(), "hello");
  }
  EXPECT_FALSE(other.Read(300ms).has_value());  // not addressed
}

TEST_F(RouteDeliveryTest, GroupOffsetsOnlyAndSkippedSenderDevice) {
  auto a = StartNotify("notify_a", {"--push.max_data_bytes", "10"});
  RawClient m1 = LoggedIn(*a, 1001, 1);
  RawClient m1b = LoggedIn(*a, 1001, 2);
  RawClient m2 = LoggedIn(*a, 1002, 1);
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1002) == 1 && OnlineDevices(1001) == 2; }, 10s));

  // A group message from 1001's device 1: members 1001 and 1002; the sending device is skipped.
  rpc::Notification g = PeerNotification(0, 1001, 8, 555, "hi all", /*skip_device=*/1);
  g.mutable_seq()->set_kind(rpc::SEQ_GROUP);
  g.mutable_seq()->set_id(77);
  g.clear_uids();
  g.add_uids(1001);
  g.add_uids(1002);
  g.mutable_payload()->set_gid(77);
  EXPECT_EQ(Publish({g}), 3);
  for (RawClient* c : {&m1b, &m2}) {
    auto f = c->ReadCmd(net::kCmdGroupNotifySyncHasChatData, 5s);
    ASSERT_TRUE(f.has_value());
    client::ImGroupSyncNotifyWithData m;
    ASSERT_TRUE(m.ParseFromString(f->body));
    EXPECT_EQ(m.togroupid(), 77);
    EXPECT_EQ(m.offset(), 8);
    EXPECT_EQ(m.synckey(), 555);
    EXPECT_EQ(m.nextsynckey(), 555);
    EXPECT_EQ(m.fromuid(), 1001);
    EXPECT_EQ(m.content(), "hi all");
  }
  EXPECT_FALSE(m1.Read(300ms).has_value());  // the sender's device

  // Content above push.max_data_bytes: offsets only (336 for groups, 321 for peers).
  g.mutable_payload()->set_content(std::string(100, 'x'));
  g.set_offset(9);
  g.set_skip_device_id(0);
  Publish({g});
  auto f = m2.ReadCmd(net::kCmdGroupNotifySync, 5s);
  ASSERT_TRUE(f.has_value());
  client::UserMsgSyncInfo info;
  ASSERT_TRUE(info.ParseFromString(f->body));
  EXPECT_EQ(info.groupid(), 77);
  EXPECT_EQ(info.offset(), 9);
  EXPECT_EQ(info.synckey(), 555);

  rpc::Notification p = PeerNotification(1002, 1001, 4, 444, "short");
  p.set_has_data(false);
  Publish({p});
  f = m2.ReadCmd(net::kCmdNotifySync, 5s);
  ASSERT_TRUE(f.has_value());
  ASSERT_TRUE(info.ParseFromString(f->body));
  EXPECT_EQ(info.groupid(), 0);
  EXPECT_EQ(info.offset(), 4);
  EXPECT_EQ(info.synckey(), 444);
}

TEST_F(RouteDeliveryTest, RouteRestartThenDeliveryWorksWithoutClientAction) {
  auto a = StartNotify("notify_a");
  auto b = StartNotify("notify_b");
  RawClient a1 = LoggedIn(*a, 1001, 1);
  RawClient b2 = LoggedIn(*b, 1001, 2);
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1001) == 2; }, 10s));

  const int port = route_->port();
  route_->Kill();
  route_ = std::make_unique<RouteProcess>(dir_.path(), port);
  ASSERT_TRUE(route_->Start()) << route_->log();
  // The notify_servers reconnect and re-announce everyone.
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1001) == 2; }, 10s)) << a->log();
  EXPECT_EQ(Publish({PeerNotification(1001, 1002, 6, 600, "after restart")}), 2);
  for (RawClient* c : {&a1, &b2}) {
    auto f = c->ReadCmd(net::kCmdNotifySyncHasChatData, 5s);
    ASSERT_TRUE(f.has_value());
    client::ImSyncNotifyWithData m;
    ASSERT_TRUE(m.ParseFromString(f->body));
    EXPECT_EQ(m.content(), "after restart");
  }
}

TEST_F(RouteDeliveryTest, DeadNotifyServerLeavesPresenceAndOfflineDevicesLeaveToo) {
  auto a = StartNotify("notify_a");
  auto b = StartNotify("notify_b");
  RawClient a1 = LoggedIn(*a, 1001, 1);
  RawClient b1 = LoggedIn(*b, 1002, 1);
  RawClient b2 = LoggedIn(*b, 1002, 2);
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1001) == 1 && OnlineDevices(1002) == 2; }, 10s));
  b2.Close();
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1002) == 1; }, 5s));
  a->Kill();
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1001) == 0; }, 10s));
  EXPECT_EQ(OnlineDevices(1002), 1);

  rpc::QueryOnlineRequest request;
  request.add_uids(1002);
  rpc::QueryOnlineReply reply;
  grpc::ClientContext context;
  context.set_deadline(rpc::DeadlineAfter(2000));
  ASSERT_TRUE(stub_->QueryOnline(&context, request, &reply).ok());
  ASSERT_EQ(reply.users(0).devices_size(), 1);
  EXPECT_EQ(reply.users(0).devices(0).device_id(), 1);
  EXPECT_EQ(reply.users(0).devices(0).notify_address(), "127.0.0.1:" + std::to_string(b->port()));
  EXPECT_FALSE(reply.users(0).devices(0).notify_node().empty());
}

TEST_F(RouteDeliveryTest, KickThroughRouteDisconnectsEveryDevice) {
  auto a = StartNotify("notify_a");
  auto b = StartNotify("notify_b");
  RawClient a1 = LoggedIn(*a, 1001, 1);
  RawClient b1 = LoggedIn(*b, 1001, 2);
  RawClient other = LoggedIn(*b, 1002, 1);
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1001) == 2; }, 10s));
  rpc::KickRequest request;
  request.add_uids(1001);
  rpc::KickReply reply;
  grpc::ClientContext context;
  context.set_deadline(rpc::DeadlineAfter(2000));
  ASSERT_TRUE(stub_->Kick(&context, request, &reply).ok());
  EXPECT_TRUE(a1.WaitClosed(2s));
  EXPECT_TRUE(b1.WaitClosed(2s));
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1001) == 0; }, 5s));
  EXPECT_EQ(OnlineDevices(1002), 1);
}

TEST_F(RouteDeliveryTest, SlowReaderIsDroppedWhileOthersKeepReceiving) {
  auto a = StartNotify("notify_a", {"--server.max_output_bytes", "65536", "--push.max_data_bytes", "8192"});
  RawClient slow;
  const int small = 4096;
  ASSERT_TRUE(slow.Connect(a->port()));
  ::setsockopt(slow.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_EQ(slow.Login(1001, IssueToken(redis_.port(), 1001), 1), 200);
  RawClient fast = LoggedIn(*a, 1002, 1);
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1001) == 1 && OnlineDevices(1002) == 1; }, 10s));

  const std::string content(6000, 'z');
  constexpr int kRounds = 40, kPerRound = 50;  // 2000 pushes of 6 KB each per user: 12 MB
  int received = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<rpc::Notification> batch;
    for (int i = 0; i < kPerRound; ++i) {
      const int offset = round * kPerRound + i + 1;
      batch.push_back(PeerNotification(1001, 7, offset, offset, content));
      batch.push_back(PeerNotification(1002, 7, offset, offset, content));
    }
    ASSERT_GE(Publish(batch), 0);
    for (int i = 0; i < kPerRound; ++i) {
      auto f = fast.ReadCmd(net::kCmdNotifySyncHasChatData, 10s);
      ASSERT_TRUE(f.has_value()) << "fast reader starved at " << received;
      client::ImSyncNotifyWithData m;
      ASSERT_TRUE(m.ParseFromString(f->body));
      EXPECT_EQ(m.offset(), ++received);
    }
  }
  EXPECT_EQ(received, kRounds * kPerRound);
  // The slow one was dropped: reading now hits the end of the stream.
  EXPECT_TRUE(slow.WaitClosed(10s)) << a->log().substr(a->log().size() > 3000 ? a->log().size() - 3000 : 0);
  EXPECT_NE(a->log().find("dropping the client"), std::string::npos);
  ASSERT_TRUE(WaitUntil([&] { return OnlineDevices(1001) == 0; }, 5s));
}

}  // namespace
}  // namespace im::testing
