// imsdk against an in-test fake of notify_server / sync_server / admin_qim.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "imsdk/imsdk.h"
#include "tests/unit/imsdk/fake_server.h"
#include "tests/unit/imsdk/test_client.h"

namespace im::sdk::testing {
namespace {

using std::chrono::milliseconds;

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

// Checks that a sequence was delivered as offsets 1..n exactly once, in order.
void ExpectInOrder(const std::vector<Message>& msgs, std::int64_t first, std::int64_t n) {
  ASSERT_EQ(static_cast<std::int64_t>(msgs.size()), n);
  for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(msgs[i].offset, first + i) << "index " << i;
}

class TempState {
 public:
  TempState() {
    char tmpl[] = "/tmp/imsdk_test_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempState() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ImSdkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.AddUser(707, "t707");
    cluster_.AddUser(708, "t708");
    cluster_.AddUser(709, "t709");
    notify_ = std::make_unique<FakeServer>(&cluster_, true);
    sync_ = std::make_unique<FakeServer>(&cluster_, false);
  }

  Options Direct() {
    Options o = TestClient::FastOptions();
    o.notify_addr = Addr(notify_->port());
    o.sync_addr = Addr(sync_->port());
    return o;
  }

  // A client logged in on the notify link and every sync link.
  std::unique_ptr<TestClient> Online(std::int64_t uid, Options o) {
    int links = 1 + o.sync_pool_size;
    int before = cluster_.logins;
    auto c = std::make_unique<TestClient>(std::move(o));
    c->sdk->SetToken(uid, "t" + std::to_string(uid));
    EXPECT_EQ(c->sdk->Startup(), kOk);
    EXPECT_TRUE(c->WaitOnline()) << c->logs();
    EXPECT_TRUE(WaitFor([&] { return cluster_.logins.load() >= before + links; })) << c->logs();
    return c;
  }

  FakeCluster cluster_;
  std::unique_ptr<FakeServer> notify_;
  std::unique_ptr<FakeServer> sync_;
};

TEST_F(ImSdkTest, TwoClientsExchangeMessages) {
  auto a = Online(707, Direct());
  auto b = Online(708, Direct());
  std::int32_t id = a->sdk->SendPeerMsg(1, 708, 0, "hi");
  ASSERT_GT(id, 0);
  ASSERT_TRUE(b->WaitMessages(0, 1)) << b->logs();
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == 1; }));
  auto r = a->results()[0];
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.msgid, id);
  EXPECT_EQ(r.app_msg_id, 1);
  EXPECT_EQ(r.offset, 1);
  auto got = b->messages(0)[0];
  EXPECT_EQ(got.from_uid, 707);
  EXPECT_EQ(got.to_uid, 708);
  EXPECT_EQ(got.offset, 1);
  EXPECT_EQ(got.content, "hi");
  // The sender copy is delivered to the sender too, at the 316 offset.
  ASSERT_TRUE(a->WaitMessages(0, 1));
  EXPECT_EQ(a->messages(0)[0].content, "hi");
  EXPECT_EQ(a->messages(0)[0].offset, 1);

  for (int i = 0; i < 20; ++i) b->sdk->SendPeerMsg(100 + i, 707, 0, "r" + std::to_string(i));
  ASSERT_TRUE(a->WaitMessages(0, 21)) << a->logs();
  ASSERT_TRUE(WaitFor([&] { return b->results().size() == 20; }));
  for (auto& res : b->results()) EXPECT_EQ(res.code, 200);
  // Every offset once, in order, on both sides.
  ExpectInOrder(a->messages(0), 1, 21);
  ASSERT_TRUE(b->WaitMessages(0, 21));
  ExpectInOrder(b->messages(0), 1, 21);
  EXPECT_EQ(a->sdk->Offsets()[0], 21);
}

TEST_F(ImSdkTest, ThroughputOfPipelinedSends) {
  auto a = Online(707, Direct());
  auto b = Online(708, Direct());
  constexpr int kCount = 2000;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; ++i) a->sdk->SendPeerMsg(i, 708, 0, "load " + std::to_string(i));
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == kCount; }, std::chrono::seconds(30)));
  ASSERT_TRUE(b->WaitMessages(0, kCount, std::chrono::seconds(30)));
  auto ms = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  std::printf("%d sends answered and delivered in %lld ms (%.0f msgs/s)\n", kCount,
              static_cast<long long>(ms.count()), kCount * 1000.0 / std::max<long long>(1, ms.count()));
  ExpectInOrder(b->messages(0), 1, kCount);
  ASSERT_TRUE(a->WaitMessages(0, kCount));
  ExpectInOrder(a->messages(0), 1, kCount);
}

TEST_F(ImSdkTest, SendErrorsAreReportedOnce) {
  auto a = Online(707, Direct());
  a->sdk->SendPeerMsg(1, 999, 0, "to nobody");  // the fake answers 404
  a->sdk->SendGroupMsg(2, 55, 0, "no group");   // 404
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == 2; }));
  std::this_thread::sleep_for(milliseconds(400));  // a retry would report again
  ASSERT_EQ(a->results().size(), 2u);
  EXPECT_EQ(a->results()[0].code, 404);
  EXPECT_EQ(a->results()[1].code, 404);
  EXPECT_EQ(a->sdk->SendPeerMsg(3, 0, 0, "x"), kErrBadArgument);
  EXPECT_EQ(a->sdk->SendPeerMsg(3, 708, 0, ""), kErrBadArgument);
}

TEST_F(ImSdkTest, GapRepairDeliversEachMessageOnceInOrder) {
  auto b = Online(708, Direct());
  // Pushes 2, 4 and 5 are lost: the SDK sees offset 3 > last + 1 and pulls.
  cluster_.InjectPeer(707, 708, "m1");
  ASSERT_TRUE(b->WaitMessages(0, 1));
  cluster_.drop_pushes = 1;
  cluster_.InjectPeer(707, 708, "m2");
  cluster_.InjectPeer(707, 708, "m3");
  ASSERT_TRUE(b->WaitMessages(0, 3)) << b->logs();
  int pulls_before = cluster_.pulls;
  EXPECT_GE(pulls_before, 1);
  // Pushes without data (321) also lead to a pull.
  cluster_.push_data = false;
  for (int i = 4; i <= 8; ++i) cluster_.InjectPeer(707, 708, "m" + std::to_string(i));
  ASSERT_TRUE(b->WaitMessages(0, 8)) << b->logs();
  std::this_thread::sleep_for(milliseconds(200));
  auto msgs = b->messages(0);
  ExpectInOrder(msgs, 1, 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(msgs[i].content, "m" + std::to_string(i + 1));
  EXPECT_GT(cluster_.pulls.load(), pulls_before);
}

TEST_F(ImSdkTest, FailedPullIsRetried) {
  auto b = Online(708, Direct());
  cluster_.fail_pulls = 2;
  cluster_.push_data = false;  // 321: the SDK must pull
  cluster_.InjectPeer(707, 708, "needs a pull");
  ASSERT_TRUE(b->WaitMessages(0, 1)) << b->logs();
  EXPECT_EQ(cluster_.fail_pulls.load(), 0);
  EXPECT_NE(b->logs().find("failed: 503"), std::string::npos);
}

TEST_F(ImSdkTest, PongAheadOfLocalOffsetTriggersPull) {
  Options o = Direct();
  o.heartbeat_interval_ms = 200;
  auto b = Online(708, o);
  cluster_.drop_all_pushes = true;
  for (int i = 1; i <= 3; ++i) cluster_.InjectPeer(707, 708, "p" + std::to_string(i));
  // No push arrives; the next PONG reports offset 3 and the SDK pulls.
  ASSERT_TRUE(b->WaitMessages(0, 3, milliseconds(3000))) << b->logs();
  ExpectInOrder(b->messages(0), 1, 3);
}

TEST_F(ImSdkTest, LargeBacklogIsPulledInPages) {
  for (int i = 1; i <= 250; ++i) cluster_.InjectPeer(707, 708, "b" + std::to_string(i));
  Options o = Direct();
  o.pull_limit = 100;
  auto b = Online(708, o);
  ASSERT_TRUE(b->WaitMessages(0, 250)) << b->logs();
  ExpectInOrder(b->messages(0), 1, 250);
  EXPECT_GE(cluster_.pulls.load(), 3);
}

// A server that drops the connection whenever a pull asks for more than 10
// messages (e.g. an answer too large for its output queue): the SDK asks for
// fewer after each such loss and still catches up.
TEST_F(ImSdkTest, PullLimitShrinksWhenPullsLoseTheConnection) {
  for (int i = 1; i <= 60; ++i) cluster_.InjectPeer(707, 708, "b" + std::to_string(i));
  cluster_.drop_pulls_over = 10;
  Options o = Direct();
  o.pull_limit = 100;
  auto b = Online(708, o);
  ASSERT_TRUE(b->WaitMessages(0, 60, milliseconds(10000))) << b->logs();
  ExpectInOrder(b->messages(0), 1, 60);
}

TEST_F(ImSdkTest, GroupMessagesAndGroupGaps) {
  cluster_.AddGroup(9001, {707, 708});
  auto a = Online(707, Direct());
  auto b = Online(708, Direct());
  a->sdk->SendGroupMsg(1, 9001, 0, "g1");
  ASSERT_TRUE(b->WaitMessages(9001, 1)) << b->logs();
  EXPECT_EQ(b->messages(9001)[0].from_uid, 707);
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == 1; }));
  EXPECT_EQ(a->results()[0].code, 200);
  EXPECT_EQ(a->results()[0].offset, 1);
  cluster_.drop_pushes = 1;  // b misses g2's push
  cluster_.InjectGroup(707, 9001, "g2");
  cluster_.InjectGroup(707, 9001, "g3");
  ASSERT_TRUE(b->WaitMessages(9001, 3)) << b->logs();
  ExpectInOrder(b->messages(9001), 1, 3);
  // A member that is not in the group gets 403.
  auto c = Online(709, Direct());
  c->sdk->SendGroupMsg(5, 9001, 0, "intruder");
  ASSERT_TRUE(WaitFor([&] { return c->results().size() == 1; }));
  EXPECT_EQ(c->results()[0].code, 403);
  // Acks reach the server.
  b->sdk->AckGroupOffset(9001, 3);
  ASSERT_TRUE(WaitFor([&] { return cluster_.Acked(708, 9001) == 3; }));
}

TEST_F(ImSdkTest, UnansweredSendIsRetriedWithSameMsgid) {
  auto a = Online(707, Direct());
  auto b = Online(708, Direct());
  cluster_.drop_send_answers = 1;  // stored, but the 316 is lost
  std::int32_t id = a->sdk->SendPeerMsg(7, 708, 0, "once");
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == 1; }, milliseconds(3000))) << a->logs();
  EXPECT_EQ(a->results()[0].code, 200);
  EXPECT_EQ(a->results()[0].msgid, id);
  EXPECT_GE(cluster_.sends.load(), 2);             // sent twice…
  EXPECT_EQ(cluster_.Peer(708).size(), 1u);        // …stored once (dedupe by msgid)
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(a->results().size(), 1u);              // reported once
  ASSERT_TRUE(b->WaitMessages(0, 1));
  EXPECT_EQ(b->messages(0).size(), 1u);
}

TEST_F(ImSdkTest, ReconnectsAfterServerClosesConnections) {
  auto b = Online(708, Direct());
  int logins = cluster_.logins;
  notify_->CloseAll();
  sync_->CloseAll();
  // Messages stored while b is away arrive after the reconnect (340 → pull).
  cluster_.InjectPeer(707, 708, "while away 1");
  cluster_.InjectPeer(707, 708, "while away 2");
  ASSERT_TRUE(WaitFor([&] { return cluster_.logins.load() >= logins + 2; })) << b->logs();
  ASSERT_TRUE(b->WaitOnline());
  ASSERT_TRUE(b->WaitMessages(0, 2)) << b->logs();
  ExpectInOrder(b->messages(0), 1, 2);
  // And sending works on the new connection.
  b->sdk->SendPeerMsg(1, 707, 0, "back");
  ASSERT_TRUE(WaitFor([&] { return b->results().size() == 1; }));
  EXPECT_EQ(b->results()[0].code, 200);
}

TEST(ImSdkFailover, FailsOverToAnotherNode) {
  FakeCluster cluster;
  cluster.AddUser(708, "t708");
  cluster.AddUser(707, "t707");
  FakeServer n1(&cluster, true), n2(&cluster, true);
  FakeServer s1(&cluster, false), s2(&cluster, false);
  FakeAdmin admin;
  admin.SetNodes(NodesJson({n1.port(), n2.port()}, {s1.port(), s2.port()}));
  Options o = TestClient::FastOptions();
  o.admin_url = admin.url();
  TestClient b(o);
  b.sdk->SetToken(708, "t708");
  b.sdk->Startup();
  ASSERT_TRUE(b.WaitOnline()) << b.logs();
  ASSERT_TRUE(WaitFor([&] { return n1.sessions() + n2.sessions() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return s1.sessions() + s2.sessions() == 1; }));
  FakeServer& on_notify = n1.sessions() == 1 ? n1 : n2;
  FakeServer& other_notify = n1.sessions() == 1 ? n2 : n1;
  FakeServer& on_sync = s1.sessions() == 1 ? s1 : s2;
  FakeServer& other_sync = s1.sessions() == 1 ? s2 : s1;
  on_notify.Stop();  // both nodes the client uses die
  on_sync.Stop();
  ASSERT_TRUE(WaitFor([&] { return other_notify.sessions() == 1; })) << b.logs();
  ASSERT_TRUE(WaitFor([&] { return other_sync.sessions() == 1; })) << b.logs();
  ASSERT_TRUE(b.WaitOnline());
  cluster.InjectPeer(707, 708, "after failover");
  ASSERT_TRUE(b.WaitMessages(0, 1)) << b.logs();
  b.sdk->SendPeerMsg(1, 707, 0, "via the other sync node");
  ASSERT_TRUE(WaitFor([&] { return b.results().size() == 1; })) << b.logs();
  EXPECT_EQ(b.results()[0].code, 200);
}

TEST(ImSdkBootstrap, TokenAndNodesFromAdminAndBufferedConfigWhenAdminIsDown) {
  FakeCluster cluster;
  cluster.AddUser(707, "tok-a");
  FakeServer n(&cluster, true), s(&cluster, false);
  TempState state;
  std::string cached;
  {
    FakeAdmin admin;
    admin.SetNodes(NodesJson({n.port()}, {s.port()}));
    admin.AddAccount("zxt77", "pw", 707, "tok-a");
    Options o = TestClient::FastOptions();
    o.admin_url = admin.url();
    o.state_dir = state.path();
    TestClient a(o);
    a.sdk->SetAccount("zxt77", "pw");
    a.sdk->Startup();
    ASSERT_TRUE(a.WaitOnline()) << a.logs();
    EXPECT_EQ(a.sdk->uid(), 707);
    EXPECT_EQ(admin.node_requests.load(), 1);
    EXPECT_EQ(admin.token_requests.load(), 1);
    cached = a.sdk->GetServerNodeInfo();
    EXPECT_NE(cached.find("confgiinfo"), std::string::npos);
    EXPECT_NE(cached.find("\"im_account_info_array\""), std::string::npos);
    EXPECT_NE(cached.find("zxt77"), std::string::npos);
  }
  // admin_qim is down now (its port is closed). A fresh install gets the
  // buffered config from the app and a token from elsewhere.
  Options o = TestClient::FastOptions();
  o.admin_url = "http://127.0.0.1:1";
  TestClient b(o);
  EXPECT_EQ(b.sdk->SetBufferedServerNodeInfo("{\"not\":\"nodes\"}"), kErrBadArgument);
  ASSERT_EQ(b.sdk->SetBufferedServerNodeInfo(cached), kOk);
  b.sdk->SetToken(707, "tok-a");
  b.sdk->Startup();
  ASSERT_TRUE(b.WaitOnline()) << b.logs();
  EXPECT_EQ(b.sdk->GetServerNodeInfo(), cached);
}

TEST(ImSdkBootstrap, BadPasswordReportsAuthFailed) {
  FakeAdmin admin;
  admin.AddAccount("zxt77", "pw", 707, "tok-a");
  Options o = TestClient::FastOptions();
  o.admin_url = admin.url();
  TestClient a(o);
  a.sdk->SetAccount("zxt77", "wrong");
  a.sdk->Startup();
  ASSERT_TRUE(WaitFor([&] { return a.sdk->state() == State::kAuthFailed; })) << a.logs();
}

TEST_F(ImSdkTest, RefusedTokenIsNotRetried) {
  Options o = Direct();
  TestClient a(o);
  a.sdk->SetToken(707, "wrong-token");
  a.sdk->Startup();
  ASSERT_TRUE(WaitFor([&] { return a.sdk->state() == State::kAuthFailed; })) << a.logs();
  int logins = cluster_.logins;
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(cluster_.logins.load(), logins);
}

TEST(ImSdkAccount, SwitchAccountDeliversNothingOfTheOldAccount) {
  FakeCluster cluster;
  cluster.AddUser(707, "tok-a");
  cluster.AddUser(709, "tok-c");
  cluster.AddUser(708, "tok-b");
  FakeServer n(&cluster, true), s(&cluster, false);
  FakeAdmin admin;
  admin.SetNodes(NodesJson({n.port()}, {s.port()}));
  admin.AddAccount("alice", "pa", 707, "tok-a");
  admin.AddAccount("carol", "pc", 709, "tok-c");
  Options o = TestClient::FastOptions();
  o.admin_url = admin.url();
  TestClient c(o);
  c.sdk->SetAccount("alice", "pa");
  c.sdk->Startup();
  ASSERT_TRUE(c.WaitOnline()) << c.logs();
  cluster.InjectPeer(708, 707, "for alice");
  ASSERT_TRUE(c.WaitMessages(0, 1));
  ASSERT_EQ(c.sdk->ChangeNo("carol", "pc", 0), kOk);
  c.ClearMessages();
  cluster.InjectPeer(708, 707, "for alice, after the switch");
  cluster.InjectPeer(708, 709, "for carol 1");
  cluster.InjectPeer(708, 709, "for carol 2");
  ASSERT_TRUE(WaitFor([&] { return c.sdk->uid() == 709 && c.sdk->state() == State::kOnline; }))
      << c.logs();
  ASSERT_TRUE(c.WaitMessages(0, 2)) << c.logs();
  std::this_thread::sleep_for(milliseconds(200));
  auto msgs = c.messages();
  ASSERT_EQ(msgs.size(), 2u);
  for (auto& m : msgs) {
    EXPECT_EQ(m.to_uid, 709);
    EXPECT_NE(m.content.find("carol"), std::string::npos);
  }
  EXPECT_EQ(c.sdk->Offsets()[0], 2);
  // The old account's session is gone: only one session (carol's) on notify.
  ASSERT_TRUE(WaitFor([&] { return n.sessions() == 1; }));
}

TEST_F(ImSdkTest, NetworkModeChangeReconnectsWithinOneSecond) {
  auto b = Online(708, Direct());
  int logins = cluster_.logins;
  auto start = std::chrono::steady_clock::now();
  b->sdk->SetNetworkCurMode(2, "mobile");
  ASSERT_TRUE(WaitFor([&] { return cluster_.logins.load() >= logins + 2; }, milliseconds(1000)))
      << b->logs();
  ASSERT_TRUE(b->WaitOnline(milliseconds(1000)));
  auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  std::printf("network change: online again after %lld ms\n",
              static_cast<long long>(took.count()));
  EXPECT_LT(took.count(), 1000);
  // No network: disconnected; network back: reconnected.
  b->sdk->SetNetworkCurMode(0, "");
  ASSERT_TRUE(WaitFor([&] { return b->sdk->state() == State::kNoNetwork; }));
  ASSERT_TRUE(WaitFor([&] { return notify_->sessions() == 0; }));
  b->sdk->SetNetworkCurMode(1, "wifi");
  ASSERT_TRUE(b->WaitOnline(milliseconds(1000)));
}

TEST_F(ImSdkTest, OffsetsPersistAcrossRestart) {
  TempState state;
  Options o = Direct();
  o.state_dir = state.path();
  {
    auto b = Online(708, o);
    for (int i = 1; i <= 3; ++i) cluster_.InjectPeer(707, 708, "before " + std::to_string(i));
    ASSERT_TRUE(b->WaitMessages(0, 3));
    EXPECT_EQ(b->sdk->Offsets()[0], 3);
  }
  for (int i = 4; i <= 5; ++i) cluster_.InjectPeer(707, 708, "after " + std::to_string(i));
  auto b = Online(708, o);
  ASSERT_TRUE(b->WaitMessages(0, 2)) << b->logs();
  std::this_thread::sleep_for(milliseconds(200));
  ExpectInOrder(b->messages(0), 4, 2);  // only the new ones
  EXPECT_EQ(b->sdk->Offsets()[0], 5);
  auto history = b->sdk->History(0, 10);
  ASSERT_EQ(history.size(), 5u);
  EXPECT_EQ(history.front().content, "before 1");
  EXPECT_EQ(history.back().content, "after 5");
}

TEST_F(ImSdkTest, UnansweredSendSurvivesRestart) {
  TempState state;
  Options o = Direct();
  o.state_dir = state.path();
  std::int32_t id = 0;
  {
    auto a = Online(707, o);
    cluster_.drop_send_answers = 1000;
    id = a->sdk->SendPeerMsg(1, 708, 0, "pending");
    ASSERT_TRUE(WaitFor([&] { return cluster_.sends.load() >= 1; }));
  }
  cluster_.drop_send_answers = 0;
  auto a = Online(707, o);
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == 1; })) << a->logs();
  EXPECT_EQ(a->results()[0].msgid, id);
  EXPECT_EQ(a->results()[0].code, 200);
  EXPECT_EQ(cluster_.Peer(708).size(), 1u);
  // The next msgid continues after the persisted one.
  EXPECT_GT(a->sdk->SendPeerMsg(2, 708, 0, "next"), id);
}

TEST_F(ImSdkTest, MissingPongMeansDeadConnection) {
  Options o = Direct();
  o.heartbeat_interval_ms = 150;
  auto b = Online(708, o);
  int logins = cluster_.logins;
  cluster_.drop_pongs = true;
  // No PONG one interval after a PING: the SDK drops the link and logs in again.
  ASSERT_TRUE(WaitFor([&] { return cluster_.logins.load() > logins; }, milliseconds(3000)))
      << b->logs();
  cluster_.drop_pongs = false;
  ASSERT_TRUE(b->WaitOnline());
  EXPECT_NE(b->logs().find("no PONG"), std::string::npos);
}

TEST_F(ImSdkTest, UnansweredLoginTimesOutAndIsRetried) {
  cluster_.ignore_logins = 1;
  Options o = Direct();
  o.connect_timeout_ms = 300;
  auto b = Online(708, o);
  // One of the two links (notify or sync) waited in vain, timed out and logged in again.
  ASSERT_TRUE(WaitFor([&] { return b->logs().find("login timeout") != std::string::npos; }))
      << b->logs();
  ASSERT_TRUE(WaitFor([&] { return notify_->sessions() == 1 && sync_->sessions() == 1; }));
  EXPECT_EQ(cluster_.logins.load(), 2);
}

TEST_F(ImSdkTest, Send503IsRetriedAndReportedOnce) {
  auto a = Online(707, Direct());
  cluster_.fail_sends = 2;
  a->sdk->SendPeerMsg(1, 708, 0, "after two 503s");
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == 1; }, milliseconds(3000))) << a->logs();
  EXPECT_EQ(a->results()[0].code, 200);
  EXPECT_EQ(cluster_.fail_sends.load(), 0);  // both 503s were used up
  EXPECT_NE(a->logs().find("answered 503"), std::string::npos);
  EXPECT_EQ(cluster_.Peer(708).size(), 1u);
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(a->results().size(), 1u);
}

TEST_F(ImSdkTest, GivesUpOnASendAfterTheDeadline) {
  Options o = Direct();
  o.send_give_up_ms = 500;
  auto a = Online(707, o);
  cluster_.drop_send_answers = 1000;
  a->sdk->SendPeerMsg(1, 708, 0, "into the void");
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == 1; }, milliseconds(3000)));
  EXPECT_EQ(a->results()[0].code, kSendTimedOut);
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(a->results().size(), 1u);
}

TEST_F(ImSdkTest, SendRefusedWithError400IsNotResent) {
  auto a = Online(707, Direct());
  int logins = cluster_.logins;
  cluster_.reject_sends = 1;
  a->sdk->SendPeerMsg(1, 708, 0, "refused frame");
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == 1; })) << a->logs();
  EXPECT_EQ(a->results()[0].code, 400);
  // The connection was closed by the server; the SDK reconnects, and does not resend.
  ASSERT_TRUE(WaitFor([&] { return cluster_.logins.load() > logins; })) << a->logs();
  a->sdk->SendPeerMsg(2, 708, 0, "fine");
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == 2; })) << a->logs();
  EXPECT_EQ(a->results()[1].code, 200);
  ASSERT_EQ(cluster_.Peer(708).size(), 1u);
  EXPECT_EQ(cluster_.Peer(708)[0].content, "fine");
}

TEST_F(ImSdkTest, RevokedSessionWithoutPasswordStops) {
  auto b = Online(708, Direct());
  int logins = cluster_.logins;
  notify_->Kick(708, 401, "session revoked");
  ASSERT_TRUE(WaitFor([&] { return b->sdk->state() == State::kAuthFailed; })) << b->logs();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(cluster_.logins.load(), logins);  // never retried with the same token
}

TEST(ImSdkAccount, RevokedSessionWithPasswordGetsANewToken) {
  FakeCluster cluster;
  cluster.AddUser(707, "tok-a");
  FakeServer n(&cluster, true), s(&cluster, false);
  FakeAdmin admin;
  admin.SetNodes(NodesJson({n.port()}, {s.port()}));
  admin.AddAccount("alice", "pa", 707, "tok-a");
  Options o = TestClient::FastOptions();
  o.admin_url = admin.url();
  TestClient c(o);
  c.sdk->SetAccount("alice", "pa");
  c.sdk->Startup();
  ASSERT_TRUE(c.WaitOnline()) << c.logs();
  int logins = cluster.logins;
  n.Kick(707, 401, "session revoked");
  ASSERT_TRUE(WaitFor([&] { return admin.token_requests.load() == 2; })) << c.logs();
  ASSERT_TRUE(WaitFor([&] { return cluster.logins.load() >= logins + 2; })) << c.logs();
  ASSERT_TRUE(c.WaitOnline());
}

TEST_F(ImSdkTest, SyncPoolOfTwoKeepsOffsetOrder) {
  Options o = Direct();
  o.sync_pool_size = 2;
  auto a = Online(707, o);
  auto b = Online(708, Direct());
  ASSERT_TRUE(WaitFor([&] { return sync_->sessions() == 3; }));
  for (int i = 0; i < 30; ++i) a->sdk->SendPeerMsg(i, 708, 0, "s" + std::to_string(i));
  ASSERT_TRUE(WaitFor([&] { return a->results().size() == 30; })) << a->logs();
  for (auto& r : a->results()) EXPECT_EQ(r.code, 200);
  ASSERT_TRUE(a->WaitMessages(0, 30)) << a->logs();
  ASSERT_TRUE(b->WaitMessages(0, 30)) << b->logs();
  std::this_thread::sleep_for(milliseconds(100));
  ExpectInOrder(a->messages(0), 1, 30);
  ExpectInOrder(b->messages(0), 1, 30);
}

TEST_F(ImSdkTest, StartPolicyForAFreshInstall) {
  for (int i = 1; i <= 3; ++i) cluster_.InjectPeer(707, 708, "old " + std::to_string(i));
  cluster_.Ack(708, 0, 2);
  {
    Options o = Direct();
    o.start_policy = StartPolicy::kLatest;  // show nothing old
    auto b = Online(708, o);
    ASSERT_TRUE(WaitFor([&] { return b->sdk->synced(); }));
    EXPECT_TRUE(b->messages().empty());
    EXPECT_EQ(b->sdk->Offsets()[0], 3);
    cluster_.InjectPeer(707, 708, "new 4");
    ASSERT_TRUE(b->WaitMessages(0, 1));
    EXPECT_EQ(b->messages(0)[0].offset, 4);
  }
  Options o = Direct();
  o.start_policy = StartPolicy::kAcked;  // show the unread ones
  auto b = Online(708, o);
  ASSERT_TRUE(b->WaitMessages(0, 2));
  ASSERT_TRUE(WaitFor([&] { return b->sdk->synced(); }));
  ExpectInOrder(b->messages(0), 3, 2);
}

TEST_F(ImSdkTest, LeftGroupIsNoLongerTracked) {
  cluster_.AddGroup(9001, {707, 708});
  auto b = Online(708, Direct());
  cluster_.InjectGroup(707, 9001, "hello group");
  ASSERT_TRUE(b->WaitMessages(9001, 1));
  EXPECT_EQ(b->sdk->Offsets().count(9001), 1u);
  cluster_.AddGroup(9001, {707});  // 708 removed
  notify_->CloseAll();             // next login's 341 no longer lists the group
  ASSERT_TRUE(WaitFor([&] { return b->sdk->Offsets().count(9001) == 0; })) << b->logs();
}

TEST_F(ImSdkTest, CallbacksRunOnTheAppExecutor) {
  std::mutex mu;
  std::vector<std::function<void()>> queue;
  Options o = Direct();
  o.executor = [&](std::function<void()> f) {
    std::lock_guard<std::mutex> lock(mu);
    queue.push_back(std::move(f));
  };
  auto b = std::make_unique<TestClient>(o);
  b->sdk->SetToken(708, "t708");
  b->sdk->Startup();
  cluster_.InjectPeer(707, 708, "x");
  // Nothing runs on the SDK thread: callbacks wait in the app's queue.
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return queue.size() >= 3;  // connecting, online, message
  }));
  EXPECT_TRUE(b->messages().empty());
  EXPECT_TRUE(b->states().empty());
  // The app drains its queue on its own thread.
  ASSERT_TRUE(WaitFor([&] {
    std::vector<std::function<void()>> run;
    {
      std::lock_guard<std::mutex> lock(mu);
      run.swap(queue);
    }
    for (auto& f : run) f();
    return b->messages().size() == 1;
  }));
}

}  // namespace
}  // namespace im::sdk::testing
