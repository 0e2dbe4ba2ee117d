// notify_server through real processes: a private Redis, a real route_server,
// an in-test fake AccessService, and raw-protocol clients.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/net/client_protocol.h"
#include "proto/im_client.pb.h"
#include "tests/integration/notify/notify_test_support.h"

namespace im::testing {
namespace {

using namespace std::chrono_literals;

class NotifyServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    ASSERT_TRUE(access_.Start());
    route_ = std::make_unique<RouteProcess>(dir_.path());
    ASSERT_TRUE(route_->Start()) << route_->log();
  }

  void StartNotify(std::vector<std::string> extra = {}, int fd_limit = 0) {
    NotifyOptions o;
    o.route_addresses = {route_->address()};
    o.redis_address = redis_.address();
    o.access_address = access_.address();
    o.extra_flags = std::move(extra);
    o.fd_limit = fd_limit;
    notify_ = std::make_unique<NotifyProcess>(dir_.path(), "notify", o);
    ASSERT_TRUE(notify_->Start()) << notify_->log();
  }

  RawClient LoggedIn(std::int64_t uid, std::int64_t device = 1) {
    RawClient c;
    EXPECT_TRUE(c.Connect(notify_->port()));
    EXPECT_EQ(c.Login(uid, IssueToken(redis_.port(), uid), device), 200) << notify_->log();
    return c;
  }

  static client::ImError ErrorOf(const ReceivedFrame& f) {
    client::ImError e;
    e.ParseFromString(f.body);
    return e;
  }

  TempDir dir_;
  PrivateRedis redis_;
  FakeAccess access_;
  std::unique_ptr<RouteProcess> route_;
  std::unique_ptr<NotifyProcess> notify_;
};

TEST_F(NotifyServerTest, LoginOkAnswers200WithUidAndSeq) {
  StartNotify();
  RawClient c;
  ASSERT_TRUE(c.Connect(notify_->port()));
  ASSERT_TRUE(c.SendLogin(1001, IssueToken(redis_.port(), 1001), 7));
  auto f = c.Read(5s);
  ASSERT_TRUE(f.has_value()) << notify_->log();
  EXPECT_EQ(f->header.cmdid, net::kCmdLoginRes);
  EXPECT_EQ(f->header.imuid, 1001);
  EXPECT_EQ(f->header.seq, 1);
  client::ImLoginRes res;
  ASSERT_TRUE(res.ParseFromString(f->body));
  EXPECT_EQ(res.code(), 200);
  EXPECT_EQ(res.uid(), 1001);
  EXPECT_GT(res.server_time(), 1600000000);
}

TEST_F(NotifyServerTest, BadTokenGets401AndClose) {
  StartNotify();
  RawClient c;
  ASSERT_TRUE(c.Connect(notify_->port()));
  EXPECT_EQ(c.Login(1001, "deadbeef", 1), 401);
  EXPECT_TRUE(c.WaitClosed(5s));
}

TEST_F(NotifyServerTest, TokenOfAnotherUidGets401AndClose) {
  StartNotify();
  RawClient c;
  ASSERT_TRUE(c.Connect(notify_->port()));
  EXPECT_EQ(c.Login(1002, IssueToken(redis_.port(), 1001), 1), 401);
  EXPECT_TRUE(c.WaitClosed(5s));
}

TEST_F(NotifyServerTest, CommandBeforeLoginGetsError401AndClose) {
  StartNotify();
  RawClient c;
  ASSERT_TRUE(c.Connect(notify_->port()));
  client::UserMsgSyncInfo ping;
  ASSERT_TRUE(c.Send(1001, net::kCmdHeartPing, 5, ping));
  auto f = c.Read(5s);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->header.cmdid, net::kCmdError);
  EXPECT_EQ(f->header.seq, 5);
  EXPECT_EQ(ErrorOf(*f).code(), 401);
  EXPECT_TRUE(c.WaitClosed(5s));
}

TEST_F(NotifyServerTest, NoLoginWithinTimeoutCloses) {
  StartNotify({"--server.login_timeout_ms", "500"});
  RawClient c;
  ASSERT_TRUE(c.Connect(notify_->port()));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.WaitClosed(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 400ms);
  RawClient ok = LoggedIn(1001);  // the server still serves
}

TEST_F(NotifyServerTest, IdleConnectionClosedAfterThreeHeartbeatIntervals) {
  StartNotify({"--server.heartbeat_interval_ms", "300"});
  RawClient c = LoggedIn(1001);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.WaitClosed(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 800ms);
}

TEST_F(NotifyServerTest, PingGetsPongWithServerOffsets) {
  access_.SetPeer(1001, 987654321012LL, 42);
  StartNotify();
  RawClient c = LoggedIn(1001);
  client::UserMsgSyncInfo ping;
  ping.set_synckey(5);
  ping.set_offset(3);
  for (int seq = 10; seq < 13; ++seq) {
    ASSERT_TRUE(c.Send(1001, net::kCmdHeartPing, seq, ping));
    auto f = c.Read(5s);
    ASSERT_TRUE(f.has_value()) << notify_->log();
    EXPECT_EQ(f->header.cmdid, net::kCmdHeartPong);
    EXPECT_EQ(f->header.seq, seq);
    EXPECT_EQ(f->header.imuid, 1001);
    client::UserMsgSyncInfo pong;
    ASSERT_TRUE(pong.ParseFromString(f->body));
    EXPECT_EQ(pong.groupid(), 0);
    EXPECT_EQ(pong.synckey(), 987654321012LL);
    EXPECT_EQ(pong.offset(), 42);
  }
}

TEST_F(NotifyServerTest, ConcurrentPingsAreBatchedIntoFewGetSyncInfoCalls) {
  StartNotify({"--access.ping_calls_max", "1"});
  std::vector<RawClient> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(LoggedIn(5000 + i));
  for (int i = 0; i < 200; ++i) access_.SetPeer(5000 + i, 100 + i, i + 1);
  client::UserMsgSyncInfo ping;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(clients[i].Send(5000 + i, net::kCmdHeartPing, i, ping));
  for (int i = 0; i < 200; ++i) {
    auto f = clients[i].ReadCmd(net::kCmdHeartPong, 10s);
    ASSERT_TRUE(f.has_value());
    client::UserMsgSyncInfo pong;
    ASSERT_TRUE(pong.ParseFromString(f->body));
    EXPECT_EQ(pong.offset(), i + 1);
    EXPECT_EQ(pong.synckey(), 100 + i);
  }
  EXPECT_EQ(access_.sync_info_uids(), 200);
  EXPECT_LT(access_.sync_info_calls(), 200);  // batched
}

TEST_F(NotifyServerTest, AckOffsetAndGetSyncOffsets) {
  access_.SetPeer(1001, 900, 9);
  access_.SetGroup(1001, 77, 700, 7);
  StartNotify();
  RawClient c = LoggedIn(1001);
  client::ImAckOffset ack;
  ack.set_groupid(77);
  ack.set_offset(5);
  ASSERT_TRUE(c.Send(1001, net::kCmdAckOffset, 3, ack));
  ASSERT_TRUE(WaitUntil([&] { return access_.acks().count({1001, 77}) == 1; }, 5s));
  EXPECT_EQ(access_.acks().at({1001, 77}), 5);

  client::ImGetSyncOffsets get;
  ASSERT_TRUE(c.Send(1001, net::kCmdGetSyncOffsets, 4, get));
  auto f = c.ReadCmd(net::kCmdGetSyncOffsetsRes, 5s);
  ASSERT_TRUE(f.has_value()) << notify_->log();
  EXPECT_EQ(f->header.seq, 4);
  client::ImSyncOffsets offsets;
  ASSERT_TRUE(offsets.ParseFromString(f->body));
  ASSERT_EQ(offsets.latest_size(), 2);
  EXPECT_EQ(offsets.latest(0).groupid(), 0);
  EXPECT_EQ(offsets.latest(0).offset(), 9);
  EXPECT_EQ(offsets.latest(0).synckey(), 900);
  EXPECT_EQ(offsets.latest(1).groupid(), 77);
  EXPECT_EQ(offsets.latest(1).offset(), 7);
  ASSERT_EQ(offsets.acked_size(), 1);
  EXPECT_EQ(offsets.acked(0).groupid(), 77);
  EXPECT_EQ(offsets.acked(0).offset(), 5);
}

TEST_F(NotifyServerTest, WrongUidInHeaderAfterLoginGetsErrorAndClose) {
  StartNotify();
  RawClient c = LoggedIn(1001);
  client::UserMsgSyncInfo ping;
  ASSERT_TRUE(c.Send(1002, net::kCmdHeartPing, 9, ping));
  auto f = c.Read(5s);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->header.cmdid, net::kCmdError);
  EXPECT_EQ(ErrorOf(*f).code(), 400);
  EXPECT_TRUE(c.WaitClosed(5s));
}

TEST_F(NotifyServerTest, RevokedTokenKicksWithinASecond) {
  StartNotify();
  RawClient a = LoggedIn(1001, 1);
  RawClient b = LoggedIn(1001, 2);
  RawClient other = LoggedIn(1002, 1);
  ASSERT_TRUE(WaitUntil([&] { return notify_->log().find("subscribed to redis channel") != std::string::npos; }, 5s));
  ASSERT_TRUE(RevokeTokens(redis_.port(), 1001));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(a.WaitClosed(3s));
  EXPECT_TRUE(b.WaitClosed(3s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  client::UserMsgSyncInfo ping;
  ASSERT_TRUE(other.Send(1002, net::kCmdHeartPing, 1, ping));
  EXPECT_TRUE(other.ReadCmd(net::kCmdHeartPong, 5s).has_value());
}

TEST_F(NotifyServerTest, NewLoginOfSameDeviceReplacesOldConnection) {
  StartNotify();
  RawClient first = LoggedIn(1001, 5);
  RawClient second = LoggedIn(1001, 5);
  EXPECT_TRUE(first.WaitClosed(5s)) << notify_->log();
  client::UserMsgSyncInfo ping;
  ASSERT_TRUE(second.Send(1001, net::kCmdHeartPing, 1, ping));
  EXPECT_TRUE(second.ReadCmd(net::kCmdHeartPong, 5s).has_value());
}

TEST_F(NotifyServerTest, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  StartNotify({"--server.max_connections", "3"});
  std::vector<RawClient> held;
  for (int i = 0; i < 3; ++i) held.push_back(LoggedIn(4000 + i));
  RawClient extra;
  ASSERT_TRUE(extra.Connect(notify_->port()));
  EXPECT_TRUE(extra.WaitClosed(5s));
  held.pop_back();  // frees a slot
  ASSERT_TRUE(WaitUntil(
      [&] {
        RawClient again;
        return again.Connect(notify_->port()) && again.Login(4100, IssueToken(redis_.port(), 4100), 1) == 200;
      },
      5s));
}

// ---- malformed input: each bad stream gets IM_CMD_ERROR or a close; others keep being served ----

class MalformedInputTest : public NotifyServerTest {
 protected:
  void ExpectErrorOrClose(RawClient& c) {
    auto f = c.Read(5s);
    if (f.has_value()) {
      EXPECT_EQ(f->header.cmdid, net::kCmdError);
    }
    EXPECT_TRUE(c.WaitClosed(5s));
  }
  void ExpectBystanderServed(RawClient& bystander, std::int64_t uid) {
    client::UserMsgSyncInfo ping;
    ASSERT_TRUE(bystander.Send(uid, net::kCmdHeartPing, 77, ping));
    auto f = bystander.ReadCmd(net::kCmdHeartPong, 5s);
    ASSERT_TRUE(f.has_value()) << notify_->log();
    EXPECT_EQ(f->header.seq, 77);
  }
};

TEST_F(MalformedInputTest, EveryKindOfBadInput) {
  StartNotify({"--server.max_body_bytes", "4096"});
  RawClient bystander = LoggedIn(2000);
  const std::string login_body = [&] {
    client::ImLogin l;
    l.set_token(IssueToken(redis_.port(), 2001));
    return l.SerializeAsString();
  }();

  {  // short length: body_len < 14
    RawClient c;
    ASSERT_TRUE(c.Connect(notify_->port()));
    ASSERT_TRUE(c.SendRaw(std::string("\x00\x05", 2) + std::string(20, 'x')));
    ExpectErrorOrClose(c);
    ExpectBystanderServed(bystander, 2000);
  }
  {  // oversized length (above the configured max body)
    RawClient c;
    ASSERT_TRUE(c.Connect(notify_->port()));
    std::string frame = net::EncodeRawFrame(2001, net::kCmdLogin, 1, std::string(8000, 'a'));
    ASSERT_TRUE(c.SendRaw(frame.substr(0, 16)));
    auto f = c.Read(5s);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->header.cmdid, net::kCmdError);
    client::ImError e;
    e.ParseFromString(f->body);
    EXPECT_EQ(e.code(), 400);
    EXPECT_TRUE(c.WaitClosed(5s));
    ExpectBystanderServed(bystander, 2000);
  }
  {  // garbage bytes
    RawClient c;
    ASSERT_TRUE(c.Connect(notify_->port()));
    std::string garbage;
    for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 131 + 7) & 0xff));
    c.SendRaw(garbage);
    ExpectErrorOrClose(c);
    ExpectBystanderServed(bystander, 2000);
  }
  {  // undecodable login body
    RawClient c;
    ASSERT_TRUE(c.Connect(notify_->port()));
    ASSERT_TRUE(c.SendRaw(net::EncodeRawFrame(2001, net::kCmdLogin, 1, std::string("\xff\xff\xff\xff", 4))));
    ExpectErrorOrClose(c);
  }
  {  // unknown command after login
    RawClient c = LoggedIn(2001);
    ASSERT_TRUE(c.SendRaw(net::EncodeRawFrame(2001, 4242, 8, "")));
    auto f = c.Read(5s);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->header.cmdid, net::kCmdError);
    EXPECT_EQ(f->header.seq, 8);
    EXPECT_TRUE(c.WaitClosed(5s));
    ExpectBystanderServed(bystander, 2000);
  }
  {  // a sync_server command sent to notify_server
    RawClient c = LoggedIn(2001);
    client::ImSyncPull pull;
    ASSERT_TRUE(c.Send(2001, net::kCmdSyncPull, 9, pull));
    ExpectErrorOrClose(c);
  }
  {  // half a frame, then close
    RawClient c;
    ASSERT_TRUE(c.Connect(notify_->port()));
    std::string frame = net::EncodeRawFrame(2001, net::kCmdLogin, 1, login_body);
    ASSERT_TRUE(c.SendRaw(frame.substr(0, frame.size() / 2)));
    c.Close();
    ExpectBystanderServed(bystander, 2000);
  }
  {  // a login split byte by byte still works
    RawClient c;
    ASSERT_TRUE(c.Connect(notify_->port()));
    std::string frame = net::EncodeRawFrame(2001, net::kCmdLogin, 1, login_body);
    for (char ch : frame) ASSERT_TRUE(c.SendRaw(std::string_view(&ch, 1)));
    auto f = c.Read(5s);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->header.cmdid, net::kCmdLoginRes);
  }
  {  // request rate above the limit
    RawClient c = LoggedIn(2002);
    std::string burst;
    client::UserMsgSyncInfo ping;
    for (int i = 0; i < 1000; ++i) burst += net::EncodeFrame(2002, net::kCmdHeartPing, i, ping);
    c.SendRaw(burst);
    auto f = c.ReadCmd(net::kCmdError, 5s);
    ASSERT_TRUE(f.has_value());
    client::ImError e;
    e.ParseFromString(f->body);
    EXPECT_EQ(e.code(), 429);
    EXPECT_TRUE(c.WaitClosed(5s));
  }
  ExpectBystanderServed(bystander, 2000);
  EXPECT_EQ(notify_->Stop(), 0) << notify_->log();
}

TEST_F(MalformedInputTest, RandomByteStormLeavesTheDaemonServing) {
  // Short timeouts: a random stream that looks like the start of a long frame
  // waits for the rest until the login or idle timeout closes it.
  StartNotify({"--server.login_timeout_ms", "1500", "--server.heartbeat_interval_ms", "500"});
  RawClient bystander = LoggedIn(2000);
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  std::vector<RawClient> waiting;
  for (int round = 0; round < 100; ++round) {
    RawClient c;
    ASSERT_TRUE(c.Connect(notify_->port()));
    std::string bytes;
    const int n = static_cast<int>(next() % 3000) + 1;
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<char>(next() & 0xff));
    if (round % 3 == 0) {  // a valid login first, then garbage
      client::ImLogin l;
      l.set_token(IssueToken(redis_.port(), 2100 + round));
      bytes = net::EncodeFrame(2100 + round, net::kCmdLogin, 1, l) + bytes;
    }
    c.SendRaw(bytes);
    if (round % 2 == 0) {
      c.Close();  // half leave at once
    } else {
      waiting.push_back(std::move(c));  // half wait for the verdict
    }
  }
  for (auto& c : waiting) EXPECT_TRUE(c.WaitClosed(10s));
  // The bystander kept its heartbeat going? It idled: log in afresh and check service.
  RawClient fresh = LoggedIn(2001);
  ExpectBystanderServed(fresh, 2001);
  EXPECT_EQ(notify_->Stop(), 0) << notify_->log();
}

// ---- file descriptors, bursts ----

TEST_F(NotifyServerTest, OutOfFileDescriptorsKeepsServingAndRecovers) {
  StartNotify({}, /*fd_limit=*/64);
  std::vector<RawClient> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(LoggedIn(3000 + i));
  {  // Connect the daemon to access_server before descriptors run out.
    client::UserMsgSyncInfo ping;
    ASSERT_TRUE(clients[0].Send(3000, net::kCmdHeartPing, 1, ping));
    ASSERT_TRUE(clients[0].ReadCmd(net::kCmdHeartPong, 5s).has_value());
  }
  // Flood: connect far more than the daemon can hold. Sockets beyond the
  // limit sit in the backlog, unanswered.
  std::vector<RawClient> flood;
  for (int i = 0; i < 80; ++i) {
    RawClient c;
    if (c.Connect(notify_->port())) flood.push_back(std::move(c));
  }
  ASSERT_TRUE(WaitUntil([&] { return notify_->log().find("out of file descriptors") != std::string::npos; }, 10s))
      << notify_->log();
  // Existing clients unaffected.
  client::UserMsgSyncInfo ping;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(clients[i].Send(3000 + i, net::kCmdHeartPing, i, ping));
    ASSERT_TRUE(clients[i].ReadCmd(net::kCmdHeartPong, 5s).has_value()) << i;
  }
  // Free descriptors; new logins are accepted again.
  flood.clear();
  RawClient late;
  ASSERT_TRUE(late.Connect(notify_->port()));
  EXPECT_EQ(late.Login(3999, IssueToken(redis_.port(), 3999), 1), 200) << notify_->log();
  const std::string log = notify_->log();
  // Logged once per episode (a flood of failed accepts does not flood the log).
  int episodes = 0;
  for (auto pos = log.find("out of file descriptors"); pos != std::string::npos;
       pos = log.find("out of file descriptors", pos + 1)) {
    ++episodes;
  }
  EXPECT_GE(episodes, 1);
  EXPECT_LE(episodes, 10) << log;
  EXPECT_EQ(log.find("GetSyncInfo(1 uids) failed"), std::string::npos) << log;
  EXPECT_NE(log.find("accepting again"), std::string::npos);
}

TEST_F(NotifyServerTest, ThousandSimultaneousLoginsAllAnswered200) {
  StartNotify();
  constexpr int kClients = 1000;
  std::vector<std::string> tokens;
  for (int i = 0; i < kClients; ++i) tokens.push_back(IssueToken(redis_.port(), 100000 + i));
  std::vector<RawClient> clients(kClients);
  for (int i = 0; i < kClients; ++i) ASSERT_TRUE(clients[i].Connect(notify_->port())) << i;
  // All logins go out before any answer is read.
  for (int i = 0; i < kClients; ++i) ASSERT_TRUE(clients[i].SendLogin(100000 + i, tokens[i], 1));
  int ok = 0;
  for (int i = 0; i < kClients; ++i) {
    auto f = clients[i].Read(20s);
    ASSERT_TRUE(f.has_value()) << i;
    client::ImLoginRes res;
    ASSERT_TRUE(res.ParseFromString(f->body));
    if (res.code() == 200) ++ok;
  }
  EXPECT_EQ(ok, kClients);
}

}  // namespace
}  // namespace im::testing
