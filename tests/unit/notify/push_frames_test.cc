#include "notify_server/push_frames.h"

#include <gtest/gtest.h>

#include "common/net/client_protocol.h"
#include "proto/im_client.pb.h"

namespace im::notify {
namespace {

rpc::Notification Peer(const std::string& content) {
  rpc::Notification n;
  n.mutable_seq()->set_kind(rpc::SEQ_PEER);
  n.mutable_seq()->set_id(1001);
  n.set_offset(12);
  n.set_msgid((5LL << 33) + 77);
  n.set_pre_msgid(66);
  n.set_has_data(true);
  auto* p = n.mutable_payload();
  p->set_from_uid(1002);
  p->set_to_uid(1001);
  p->set_timestamp(1700000001);
  p->set_msg_type(3);
  p->set_msg_flag(1);
  p->set_content(content);
  return n;
}

TEST(PushFramesTest, PeerWithData337) {
  const auto n = Peer("hello");
  const PushBody push = BuildPush(n, PushOptions{});
  EXPECT_EQ(push.cmdid, net::kCmdNotifySyncHasChatData);
  client::ImSyncNotifyWithData m;
  ASSERT_TRUE(m.ParseFromString(push.body));
  EXPECT_EQ(m.offset(), 12);
  EXPECT_EQ(m.nextsynckey(), n.msgid());
  EXPECT_EQ(m.synckey(), 77 + 0);  // low 32 bits of msgid ((5 << 33) has none)
  EXPECT_EQ(m.presynckey(), 66);
  EXPECT_EQ(m.fromuid(), 1002);
  EXPECT_EQ(m.touid(), 1001);
  EXPECT_EQ(m.timestamp(), 1700000001);
  EXPECT_EQ(m.len(), 5);
  EXPECT_EQ(m.msgtype(), 3);
  EXPECT_EQ(m.msgflag(), 1);
  EXPECT_EQ(m.content(), "hello");
}

TEST(PushFramesTest, OffsetsOnly321WhenTooBigNoDataOrDisabled) {
  PushOptions small;
  small.max_data_bytes = 4;
  PushOptions off;
  off.data_enabled = false;
  auto no_data = Peer("hi");
  no_data.set_has_data(false);
  for (const auto& [n, o] : {std::make_pair(Peer("hello"), small), std::make_pair(Peer("hi"), off),
                             std::make_pair(no_data, PushOptions{})}) {
    const PushBody push = BuildPush(n, o);
    EXPECT_EQ(push.cmdid, net::kCmdNotifySync);
    client::UserMsgSyncInfo info;
    ASSERT_TRUE(info.ParseFromString(push.body));
    EXPECT_EQ(info.groupid(), 0);
    EXPECT_EQ(info.synckey(), n.msgid());
    EXPECT_EQ(info.offset(), 12);
  }
}

TEST(PushFramesTest, Group338And336) {
  auto n = Peer("group hello");
  n.mutable_seq()->set_kind(rpc::SEQ_GROUP);
  n.mutable_seq()->set_id(9001);
  n.mutable_payload()->set_to_uid(0);
  n.mutable_payload()->set_gid(9001);
  PushBody push = BuildPush(n, PushOptions{});
  EXPECT_EQ(push.cmdid, net::kCmdGroupNotifySyncHasChatData);
  client::ImGroupSyncNotifyWithData m;
  ASSERT_TRUE(m.ParseFromString(push.body));
  EXPECT_EQ(m.togroupid(), 9001);
  EXPECT_EQ(m.synckey(), n.msgid());  // int64 in the group message
  EXPECT_EQ(m.nextsynckey(), n.msgid());
  EXPECT_EQ(m.len(), 11);
  EXPECT_EQ(m.content(), "group hello");

  n.set_has_data(false);
  push = BuildPush(n, PushOptions{});
  EXPECT_EQ(push.cmdid, net::kCmdGroupNotifySync);
  client::UserMsgSyncInfo info;
  ASSERT_TRUE(info.ParseFromString(push.body));
  EXPECT_EQ(info.groupid(), 9001);
  EXPECT_EQ(info.offset(), 12);
}

}  // namespace
}  // namespace im::notify
