// The whole cluster, through the client protocol only: raw-protocol clients
// against real notify_server and sync_server processes, with admin_qim,
// route_server, access_server, storage_server, Redis and MariaDB behind them.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <thread>

#include "proto/im_client.pb.h"
#include "tests/support/local_cluster.h"
#include "tests/support/raw_client.h"

namespace im {
namespace {

using client::ImClientSendMsg;
using client::ImClientSendMsgRes;
using client::ImClientSendMsgSync;
using client::ImGroupSendMsg;
using client::ImGroupSendMsgRes;
using client::ImGroupSendMsgSync;
using client::ImGroupSyncNotifyWithData;
using client::ImSyncNotifyWithData;
using client::ImSyncPull;
using client::ImSyncPullRes;
using testing::LocalCluster;
using testing::RawClient;
using testing::RawFrame;

class ChatE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(setup_ok_) << "cluster set-up failed; see the first test's output"; }

  static void SetUpTestSuite() {
    cluster_ = new LocalCluster();
    testing::ClusterOptions options;
    options.notify_servers = 2;
    // The ordering test sends 4,000 messages as fast as answers come back,
    // above the per-user and per-connection limits meant for people.
    options.extra_flags["access0"] = {"--limits.rate_limit_per_s", "0"};
    options.extra_flags["sync0"] = {"--server.max_requests_per_second", "100000"};
    absl::Status s = cluster_->Start(options);
    ASSERT_TRUE(s.ok()) << s;
    for (const char* no : {"ann", "ben", "cat", "dan", "eve", "fox", "gil"}) {
      auto uid = cluster_->CreateAccount(no);
      ASSERT_TRUE(uid.ok()) << uid.status();
      uids_[no] = *uid;
      auto token = cluster_->IssueToken(*uid);
      ASSERT_TRUE(token.ok()) << token.status();
      tokens_[*uid] = *token;
    }
    setup_ok_ = true;
  }
  static void TearDownTestSuite() { delete cluster_; }

  // A client logged in to notify_server `notify_index` (pushes) or to sync_server.
  std::unique_ptr<RawClient> Notify(std::int64_t uid, std::int64_t device = 1, int notify_index = 0) {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->Connect(cluster_->notify_port(notify_index)));
    EXPECT_EQ(c->Login(uid, tokens_[uid], device), 200);
    return c;
  }
  std::unique_ptr<RawClient> Sync(std::int64_t uid, std::int64_t device = 1) {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->Connect(cluster_->sync_port()));
    EXPECT_EQ(c->Login(uid, tokens_[uid], device), 200);
    return c;
  }

  static ImClientSendMsgRes SendPeer(RawClient& c, std::int64_t to, const std::string& content, std::int32_t msgid,
                                     std::int32_t flag = 0) {
    ImClientSendMsg m;
    m.set_fromuid(c.uid());
    m.set_touid(to);
    m.set_msgid(msgid);
    m.set_timestamp(1700000000);
    m.set_msgtype(1);
    m.set_msgflag(flag);
    m.set_len(static_cast<std::int32_t>(content.size()));
    m.set_content(content);
    const std::int32_t seq = c.NextSeq();
    EXPECT_TRUE(c.Send(c.uid(), client::IM_CMD_CLIENT_SEND_IM, seq, m));
    auto res = c.WaitFor(client::IM_CMD_CLIENT_SEND_IM_RES, std::chrono::seconds(10));
    EXPECT_TRUE(res.has_value());
    if (!res) return {};
    EXPECT_EQ(res->header.seq, seq);
    return res->As<ImClientSendMsgRes>();
  }

  // Pulls a sequence; returns the data frames and the summary.
  static std::pair<std::vector<RawFrame>, ImSyncPullRes> Pull(RawClient& c, std::int64_t gid, std::int64_t after,
                                                               int limit = 0) {
    ImSyncPull pull;
    pull.set_groupid(gid);
    pull.set_offset(after);
    pull.set_limit(limit);
    const std::int32_t seq = c.NextSeq();
    EXPECT_TRUE(c.Send(c.uid(), client::IM_CMD_SYNC_PULL, seq, pull));
    std::vector<RawFrame> frames;
    while (auto f = c.Read(std::chrono::seconds(10))) {
      EXPECT_EQ(f->header.seq, seq);
      if (f->header.cmdid == client::IM_CMD_SYNC_PULL_RES) return {frames, f->As<ImSyncPullRes>()};
      frames.push_back(*f);
    }
    ADD_FAILURE() << "no IM_CMD_SYNC_PULL_RES";
    return {frames, {}};
  }

  // The operators' console against the cluster's admin_qim; returns its exit code.
  static int Qim(std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), {testing::BinaryPath("qim"), "--endpoint",
                               "127.0.0.1:" + std::to_string(cluster_->admin_grpc_port()), "--secret",
                               "test-admin-secret"});
    return testing::RunCommand(args, out);
  }

  static inline bool setup_ok_ = false;
  static inline LocalCluster* cluster_ = nullptr;
  static inline std::map<std::string, std::int64_t> uids_;
  static inline std::map<std::int64_t, std::string> tokens_;
};

TEST_F(ChatE2eTest, PeerMessageIsAnsweredPushedToEveryDeviceAndPulled) {
  const auto ann = uids_["ann"], ben = uids_["ben"];
  auto ben_phone = Notify(ben, 1, 0);
  auto ben_desktop = Notify(ben, 2, 1);  // another device on the other notify_server
  auto ann_desktop = Notify(ann, 2, 1);  // the sender's other device
  auto ann_sync = Sync(ann, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // presence reaches route_server

  ImClientSendMsgRes res = SendPeer(*ann_sync, ben, "hello ben", 501);
  ASSERT_EQ(res.code(), 200);
  EXPECT_EQ(res.msgid(), 501);
  EXPECT_EQ(res.touid(), ben);
  EXPECT_EQ(res.len(), 9);
  EXPECT_EQ(res.offset(), 1);  // ann's first message: sender copy at offset 1

  for (RawClient* device : {ben_phone.get(), ben_desktop.get()}) {
    auto push = device->WaitFor(client::IM_CMD_NOTIFY_SYNC_HAS_CHATDATA, std::chrono::seconds(5));
    ASSERT_TRUE(push.has_value());
    EXPECT_EQ(push->header.imuid, ben);
    EXPECT_EQ(push->header.seq, 0);
    auto n = push->As<ImSyncNotifyWithData>();
    EXPECT_EQ(n.offset(), 1);
    EXPECT_EQ(n.fromuid(), ann);
    EXPECT_EQ(n.touid(), ben);
    EXPECT_EQ(n.timestamp(), 1700000000);
    EXPECT_EQ(n.len(), 9);
    EXPECT_EQ(n.msgtype(), 1);
    EXPECT_EQ(n.content(), "hello ben");
    EXPECT_GT(n.nextsynckey(), 0);
    EXPECT_EQ(n.synckey(), static_cast<std::int32_t>(n.nextsynckey() & 0xffffffff));
    EXPECT_EQ(n.presynckey(), 0);  // first message of ben's sequence
  }
  auto copy = ann_desktop->WaitFor(client::IM_CMD_NOTIFY_SYNC_HAS_CHATDATA, std::chrono::seconds(5));
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(copy->As<ImSyncNotifyWithData>().offset(), res.offset());
  EXPECT_EQ(copy->As<ImSyncNotifyWithData>().content(), "hello ben");

  auto ben_sync = Sync(ben, 1);
  auto [frames, summary] = Pull(*ben_sync, 0, 0);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].header.cmdid, client::IM_CMD_CLIENT_SEND_IM);
  auto m = frames[0].As<ImClientSendMsgSync>();
  EXPECT_EQ(m.offset(), 1);
  EXPECT_EQ(m.preoffset(), 0);
  EXPECT_EQ(m.nextoffset(), 2);
  EXPECT_EQ(m.fromuid(), ann);
  EXPECT_EQ(m.touid(), ben);
  EXPECT_EQ(m.msgid(), 501);
  EXPECT_EQ(m.content(), "hello ben");
  EXPECT_EQ(summary.code(), 200);
  EXPECT_EQ(summary.lastoffset(), 1);
  EXPECT_EQ(summary.serveroffset(), 1);
  EXPECT_FALSE(summary.hasmore());
}

TEST_F(ChatE2eTest, GroupMessageReachesEveryOnlineMemberAndPullsByGroup) {
  const auto ann = uids_["ann"], ben = uids_["ben"], cat = uids_["cat"];
  auto body = cluster_->AdminPost("/v1/groups", "{\"name\":\"trio\",\"owner\":" + std::to_string(ann) +
                                                    ",\"members\":[" + std::to_string(ann) + "," +
                                                    std::to_string(ben) + "," + std::to_string(cat) + "]}");
  ASSERT_TRUE(body.ok()) << body.status();
  const std::int64_t gid = std::atoll(body->c_str() + body->find("\"gid\":") + 6);
  auto ben_n = Notify(ben, 1, 0);
  auto cat_n = Notify(cat, 1, 1);
  auto ann_n = Notify(ann, 3, 0);
  auto ann_sync = Sync(ann, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // presence + directory change

  ImGroupSendMsg m;
  m.set_fromuid(ann);
  m.set_togroupid(gid);
  m.set_msgid(77);
  m.set_len(5);
  m.set_content("hi yo");
  const std::int32_t seq = ann_sync->NextSeq();
  ASSERT_TRUE(ann_sync->Send(ann, client::IM_CMD_GROUP_SEND_IM, seq, m));
  auto res = ann_sync->WaitFor(client::IM_CMD_GROUP_SEND_IM_RES, std::chrono::seconds(10));
  ASSERT_TRUE(res.has_value());
  auto r = res->As<ImGroupSendMsgRes>();
  ASSERT_EQ(r.code(), 200) << r.desp();
  EXPECT_EQ(r.offset(), 1);
  EXPECT_EQ(r.togroupid(), gid);

  for (RawClient* member : {ben_n.get(), cat_n.get(), ann_n.get()}) {
    auto push = member->WaitFor(client::IM_CMD_GROUP_NOTIFY_SYNC_HAS_CHATDATA, std::chrono::seconds(5));
    ASSERT_TRUE(push.has_value()) << "member " << member->uid();
    auto n = push->As<ImGroupSyncNotifyWithData>();
    EXPECT_EQ(n.togroupid(), gid);
    EXPECT_EQ(n.offset(), 1);
    EXPECT_EQ(n.fromuid(), ann);
    EXPECT_EQ(n.content(), "hi yo");
  }
  auto cat_sync = Sync(cat, 1);
  auto [frames, summary] = Pull(*cat_sync, gid, 0);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].header.cmdid, client::IM_CMD_GROUP_SEND_IM);
  auto g = frames[0].As<ImGroupSendMsgSync>();
  EXPECT_EQ(g.togroupid(), gid);
  EXPECT_EQ(g.touid(), cat);
  EXPECT_EQ(g.content(), "hi yo");
  EXPECT_EQ(summary.code(), 200);
  auto dan_sync = Sync(uids_["dan"], 1);
  EXPECT_EQ(Pull(*dan_sync, gid, 0).second.code(), 403);
}

TEST_F(ChatE2eTest, SendErrorsAndRetryDedupe) {
  const auto cat = uids_["cat"], dan = uids_["dan"];
  auto c = Sync(cat, 1);
  ImClientSendMsgRes first = SendPeer(*c, dan, "retry me", 9001);
  ASSERT_EQ(first.code(), 200);
  ImClientSendMsgRes again = SendPeer(*c, dan, "retry me", 9001);
  EXPECT_EQ(again.code(), 200);
  EXPECT_EQ(again.offset(), first.offset());
  EXPECT_EQ(SendPeer(*c, 99999999, "nobody", 1).code(), 404);
  EXPECT_EQ(SendPeer(*c, dan, "friends?", 2, /*flag=*/1).code(), 201);

  // fromUID other than the logged-in uid: 400 in the answer, connection stays.
  ImClientSendMsg forged;
  forged.set_fromuid(dan);
  forged.set_touid(cat);
  forged.set_len(1);
  forged.set_content("x");
  ASSERT_TRUE(c->Send(cat, client::IM_CMD_CLIENT_SEND_IM, c->NextSeq(), forged));
  auto res = c->WaitFor(client::IM_CMD_CLIENT_SEND_IM_RES);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->As<ImClientSendMsgRes>().code(), 400);

  auto dan_sync = Sync(dan, 1);
  auto [frames, summary] = Pull(*dan_sync, 0, 0);
  EXPECT_EQ(frames.size(), 1u);  // the retried message once, nothing else
}

// A pull of large messages is cut by size (half of sync_server's output
// limit, 256 KiB by default), not only by `limit`: queued at once, the whole
// answer would exceed the output limit and drop even a client reading at
// full speed. The rest comes with the next pulls (hasMore).
TEST_F(ChatE2eTest, PullOfLargeMessagesIsCutBySizeAndContinues) {
  const auto fox = uids_["fox"], gil = uids_["gil"];
  auto sender = Sync(fox, 1);
  constexpr int kCount = 10;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(SendPeer(*sender, gil, std::to_string(i) + std::string(60000, 'x'), i + 1).code(), 200);
  }
  auto reader = Sync(gil, 1);
  auto [frames, summary] = Pull(*reader, 0, 0, kCount);
  ASSERT_EQ(summary.code(), 200);
  ASSERT_GE(frames.size(), 1u);
  EXPECT_LT(frames.size(), static_cast<std::size_t>(kCount));
  EXPECT_TRUE(summary.hasmore());
  EXPECT_EQ(summary.lastoffset(), frames.back().As<ImClientSendMsgSync>().offset());
  EXPECT_EQ(summary.serveroffset(), kCount);

  std::int64_t after = summary.lastoffset();
  int pulls = 1;
  while (summary.hasmore() && pulls < 3 * kCount) {
    std::tie(frames, summary) = Pull(*reader, 0, after, kCount);
    ASSERT_EQ(summary.code(), 200);
    for (const auto& f : frames) EXPECT_EQ(f.As<ImClientSendMsgSync>().offset(), ++after);
    EXPECT_EQ(summary.lastoffset(), after);
    ++pulls;
  }
  EXPECT_EQ(after, kCount);
  EXPECT_FALSE(summary.hasmore());
}

TEST_F(ChatE2eTest, ProtocolViolationsGetErrorAndClose) {
  const auto ben = uids_["ben"];
  for (int port : {cluster_->notify_port(), cluster_->sync_port()}) {
    // A command before login: 401 and close.
    RawClient early;
    ASSERT_TRUE(early.Connect(port));
    ASSERT_TRUE(early.Send(ben, client::IM_CMD_SYNC_PULL, 1, ImSyncPull()));
    auto error = early.WaitFor(client::IM_CMD_ERROR);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->As<client::ImError>().code(), 401);
    EXPECT_TRUE(early.WaitClosed());

    // A bad token: LOGIN_RES 401.
    RawClient forged;
    ASSERT_TRUE(forged.Connect(port));
    EXPECT_EQ(forged.Login(ben, "00ff"), 401);

    // Garbage length after login: 400 and close; the server keeps serving.
    RawClient bad;
    ASSERT_TRUE(bad.Connect(port));
    ASSERT_EQ(bad.Login(ben, tokens_[ben], 5), 200);
    ASSERT_TRUE(bad.SendBytes(std::string("\x00\x05garbage", 9)));
    auto bad_error = bad.WaitFor(client::IM_CMD_ERROR);
    ASSERT_TRUE(bad_error.has_value());
    EXPECT_EQ(bad_error->As<client::ImError>().code(), 400);
    EXPECT_TRUE(bad.WaitClosed());

    RawClient good;
    ASSERT_TRUE(good.Connect(port));
    EXPECT_EQ(good.Login(ben, tokens_[ben], 6), 200);
  }
}

TEST_F(ChatE2eTest, FourSendersThousandMessagesEachKeepOrder) {
  const auto dan = uids_["dan"];
  const std::vector<std::int64_t> senders = {uids_["ann"], uids_["ben"], uids_["cat"], uids_["ann"]};
  auto dan_sync = Sync(dan, 7);
  const std::int64_t start = Pull(*dan_sync, 0, 0, 1).second.serveroffset();
  constexpr int kPerSender = 1000;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (std::size_t s = 0; s < senders.size(); ++s) {
    threads.emplace_back([&, s] {
      RawClient c;
      if (!c.Connect(cluster_->sync_port()) || c.Login(senders[s], tokens_[senders[s]], 100 + s) != 200) {
        failures += kPerSender;
        return;
      }
      for (int i = 0; i < kPerSender; ++i) {
        ImClientSendMsg m;
        m.set_fromuid(senders[s]);
        m.set_touid(dan);
        m.set_msgid(i + 1);
        const std::string content = std::to_string(s) + ":" + std::to_string(i);
        m.set_len(static_cast<std::int32_t>(content.size()));
        m.set_content(content);
        c.Send(senders[s], client::IM_CMD_CLIENT_SEND_IM, c.NextSeq(), m);
        // Per-sender order needs each send answered before the next one is
        // sent: a client that pipelines sends accepts that they may be
        // stored in any order.
        auto res = c.WaitFor(client::IM_CMD_CLIENT_SEND_IM_RES, std::chrono::seconds(10));
        if (!res || res->As<ImClientSendMsgRes>().code() != 200) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::map<std::string, int> next;  // sender index -> next expected i
  std::int64_t after = start, expect = start + 1;
  int total = 0;
  while (true) {
    auto [frames, summary] = Pull(*dan_sync, 0, after, 500);
    for (const auto& f : frames) {
      auto m = f.As<ImClientSendMsgSync>();
      EXPECT_EQ(m.offset(), expect++);
      const std::string& content = m.content();
      const std::string sender = content.substr(0, content.find(':'));
      EXPECT_EQ(std::stoi(content.substr(content.find(':') + 1)), next[sender]++);
      ++total;
    }
    after = summary.lastoffset();
    if (!summary.hasmore()) break;
  }
  EXPECT_EQ(total, 4 * kPerSender);
}

// qim stats: each node's health and client connections come from its own
// /healthz and /metrics, online users from route_server.
TEST_F(ChatE2eTest, StatsCountConnectionsAndOnlineUsersFromTheDaemons) {
  std::string out;
  for (const auto& [name, type] : {std::pair<std::string, std::string>{"notify1", "notify"}, {"sync0", "sync"}}) {
    ASSERT_EQ(Qim({"node", "add", "--address", "127.0.0.1", "--tcp-port", std::to_string(cluster_->port(name)),
                   "--type", type, "--admin", "127.0.0.1:" + std::to_string(cluster_->admin_port(name))},
                  &out),
              0)
        << out;
  }
  const auto dan = uids_["dan"];
  auto dan_phone = Notify(dan, 1, 1);
  auto dan_tablet = Notify(dan, 2, 1);
  auto dan_sync = Sync(dan, 1);
  // The daemons refresh their gauges every second: wait until stats shows them.
  auto field = [](const std::string& text, const std::string& key) -> std::int64_t {
    const auto at = text.find(key);
    return at == std::string::npos ? -1 : std::atoll(text.c_str() + at + key.size());
  };
  auto connections = [](const std::string& text, const std::string& endpoint) -> std::int64_t {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::vector<std::string> cells;
      for (std::string w; words >> w;) cells.push_back(w);
      if (cells.size() >= 7 && cells[2] == endpoint && cells[4] == "yes" && cells[5] == "healthz" &&
          cells[6] != "-") {
        return std::atoll(cells[6].c_str());
      }
    }
    return -1;
  };
  const std::string notify_endpoint = "127.0.0.1:" + std::to_string(cluster_->notify_port(1));
  const std::string sync_endpoint = "127.0.0.1:" + std::to_string(cluster_->sync_port());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    ASSERT_EQ(Qim({"stats"}, &out), 0) << out;
    if ((connections(out, notify_endpoint) >= 2 && connections(out, sync_endpoint) >= 1 &&
         field(out, "online users: ") >= 1 && field(out, "online devices: ") >= 2) ||
        std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_GE(connections(out, notify_endpoint), 2) << out;
  EXPECT_GE(connections(out, sync_endpoint), 1) << out;
  EXPECT_GE(field(out, "online users: "), 1) << out;
  EXPECT_GE(field(out, "online devices: "), 2) << out;

  // A killed node is reported unhealthy; back up, healthy again.
  cluster_->Kill("notify1");
  dan_phone.reset();
  dan_tablet.reset();
  ASSERT_EQ(Qim({"stats"}, &out), 0) << out;
  EXPECT_EQ(connections(out, notify_endpoint), -1) << out;
  EXPECT_NE(out.find(notify_endpoint), std::string::npos) << out;
  ASSERT_TRUE(cluster_->Restart("notify1").ok());
  ASSERT_EQ(Qim({"stats"}, &out), 0) << out;
  EXPECT_GE(connections(out, notify_endpoint), 0) << out;
}

TEST_F(ChatE2eTest, OperatorConsoleReachesLiveClients) {
  const auto eve = uids_["eve"];
  auto eve_n = Notify(eve, 1, 1);
  auto eve_s = Sync(eve, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string out;
  // Online status comes from route_server.
  ASSERT_EQ(Qim({"online", std::to_string(eve)}, &out), 0) << out;
  EXPECT_NE(out.find("127.0.0.1:" + std::to_string(cluster_->notify_port(1))), std::string::npos) << out;

  // A system message is stored and pushed like any message, from uid 1.
  ASSERT_EQ(Qim({"send", "--to", std::to_string(eve), "maintenance at noon"}, &out), 0) << out;
  auto push = eve_n->WaitFor(client::IM_CMD_NOTIFY_SYNC_HAS_CHATDATA, std::chrono::seconds(5));
  ASSERT_TRUE(push.has_value());
  auto n = push->As<ImSyncNotifyWithData>();
  EXPECT_EQ(n.fromuid(), 1);
  EXPECT_EQ(n.content(), "maintenance at noon");

  // A ban disconnects the live client within a second, and its token stops working.
  ASSERT_EQ(Qim({"ban", std::to_string(eve)}, &out), 0) << out;
  const auto banned_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(eve_n->WaitClosed(std::chrono::seconds(3)));
  EXPECT_TRUE(eve_s->WaitClosed(std::chrono::seconds(3)));
  EXPECT_LT(std::chrono::steady_clock::now() - banned_at, std::chrono::milliseconds(1500));
  RawClient again;
  ASSERT_TRUE(again.Connect(cluster_->notify_port()));
  EXPECT_EQ(again.Login(eve, tokens_[eve], 2), 401);
}

}  // namespace
}  // namespace im
