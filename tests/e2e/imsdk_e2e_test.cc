// imsdk against the real cluster: SDK clients (the C++ class, and the C ABI in
// one test) discover the servers with GET /v1/nodes from admin_qim, log in to
// real notify_server / sync_server processes and chat. One cluster (two notify
// servers, registered in node_list) serves the whole suite; every test uses
// its own accounts. Fault tests kill and restart daemons and leave the
// cluster whole again.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imsdk/imsdk.h"
#include "imsdk/imsdk_c.h"
#include "tests/support/local_cluster.h"
#include "tests/unit/imsdk/test_client.h"

namespace im {
namespace {

using sdk::ImSdk;
using sdk::Message;
using sdk::Options;
using sdk::SendResult;
using sdk::State;
using sdk::testing::TestClient;
using sdk::testing::WaitFor;
using testing::LocalCluster;

constexpr auto kWait = std::chrono::seconds(15);  // generous: the suite may run beside others (ctest -j4)

std::vector<std::string> Texts(const std::vector<Message>& messages, std::int64_t from_uid = 0) {
  std::vector<std::string> out;
  for (const auto& m : messages) {
    if (from_uid == 0 || m.from_uid == from_uid) out.push_back(m.content);
  }
  return out;
}

std::vector<std::string> Numbered(const std::string& prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// Every offset of the sequence once, in order, with no hole.
void ExpectContiguous(const std::vector<Message>& seq, std::int64_t first) {
  for (std::size_t i = 0; i < seq.size(); ++i) {
    EXPECT_EQ(seq[i].offset, first + static_cast<std::int64_t>(i)) << "message " << i << ": " << seq[i].content;
  }
}

class ImSdkE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(setup_ok_) << "cluster set-up failed; see the first test's output"; }

  static void SetUpTestSuite() {
    cluster_ = new LocalCluster();
    testing::ClusterOptions options;
    options.notify_servers = 2;
    options.admin = true;
    // Senders here send as fast as answers come back, and clients fetch
    // tokens with a password many times a second from one address.
    // Content up to 60 KB is pushed with the message, so a few sends fill a
    // slow reader's buffers.
    options.extra_flags["access0"] = {"--limits.rate_limit_per_s", "0", "--limits.push_max_data_bytes", "65000"};
    options.extra_flags["sync0"] = {"--server.max_requests_per_second", "100000"};
    options.extra_flags["admin"] = {"--auth.login_rate_per_s", "1000", "--auth.login_burst", "1000"};
    // A client that stops reading is dropped once 128 KiB wait for it (beyond
    // what the kernel buffers).
    for (const char* notify : {"notify0", "notify1"}) {
      options.extra_flags[notify] = {"--server.max_output_bytes", "131072", "--push.max_data_bytes", "65000"};
    }
    absl::Status s = cluster_->Start(options);
    ASSERT_TRUE(s.ok()) << s;
    s = cluster_->RegisterNodes();
    ASSERT_TRUE(s.ok()) << s;
    for (const char* no : {"ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal", "ivy", "jay", "kim", "lea",
                           "max", "ned", "oli", "pam", "quinn", "rex", "sam", "tom"}) {
      auto uid = cluster_->CreateAccount(no, kPassword);
      ASSERT_TRUE(uid.ok()) << uid.status();
      uids_[no] = *uid;
    }
    setup_ok_ = true;
  }
  static void TearDownTestSuite() { delete cluster_; }

  static std::string AdminUrl() { return "http://127.0.0.1:" + std::to_string(cluster_->admin_http_port()); }

  // Short timers: reconnects in 50–400 ms, heartbeat every 2 s.
  static Options Fast() {
    Options o = TestClient::FastOptions();
    o.admin_url = AdminUrl();
    o.heartbeat_interval_ms = 2000;
    o.send_retry_ms = 2000;
    o.send_give_up_ms = 30000;
    return o;
  }

  // A client for account `no` (password login, discovery through admin_qim), started.
  static std::unique_ptr<TestClient> Start(const std::string& no, Options options = Fast()) {
    auto c = std::make_unique<TestClient>(std::move(options));
    c->sdk->SetAccount(no, kPassword);
    EXPECT_EQ(c->sdk->Startup(), sdk::kOk);
    return c;
  }

  // Online on notify_server, starting offsets fetched, nothing pending.
  static bool Ready(TestClient& c) {
    return WaitFor([&] { return c.sdk->state() == State::kOnline && c.sdk->synced(); }, kWait);
  }

  // Sends and waits for the result (one at a time keeps a conversation in
  // send order: docs/protocol.md §5.5). Returns the result; code 0 = none.
  static SendResult Send(TestClient& c, std::int64_t to, const std::string& text, bool group = false) {
    const std::int32_t msgid =
        group ? c.sdk->SendGroupMsg(0, to, 1, text) : c.sdk->SendPeerMsg(0, to, 1, text);
    EXPECT_GT(msgid, 0);
    SendResult out;
    WaitFor(
        [&] {
          for (const auto& r : c.results()) {
            if (r.msgid == msgid) {
              out = r;
              return true;
            }
          }
          return false;
        },
        kWait);
    EXPECT_EQ(out.code, 200) << "send of '" << text << "': " << out.desp;
    return out;
  }

  static void SendAll(TestClient& c, std::int64_t to, const std::vector<std::string>& texts, bool group = false) {
    for (const auto& t : texts) Send(c, to, t, group);
  }

  // The notify index ("notify<i>") the client's latest notify login went to, or -1.
  static int NotifyIndexOf(TestClient& c) {
    const std::string logs = c.logs();
    const auto at = logs.rfind(" connecting notify#");
    if (at == std::string::npos) return -1;
    const auto colon = logs.find(':', at);
    const int port = std::atoi(logs.c_str() + colon + 1);
    for (int i = 0; i < 2; ++i) {
      if (cluster_->notify_port(i) == port) return i;
    }
    return -1;
  }

  // Logins to a notify_server so far (the SDK logs "uid=… notify#<id> logged in").
  static std::size_t NotifyLogins(TestClient& c) {
    std::size_t n = 0;
    const std::string logs = c.logs();
    for (std::size_t start = 0, end; start < logs.size(); start = end + 1) {
      end = logs.find('\n', start);
      if (end == std::string::npos) end = logs.size();
      const std::string line = logs.substr(start, end - start);
      n += line.find(" notify#") != std::string::npos && line.find(" logged in") != std::string::npos;
    }
    return n;
  }

  static std::size_t Count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  static constexpr const char* kPassword = "password1";
  static inline bool setup_ok_ = false;
  static inline LocalCluster* cluster_ = nullptr;
  static inline std::map<std::string, std::int64_t> uids_;
};

// 1. Two clients chat both ways: each receives exactly what the other sent,
// in order, and its own sent copies in the same peer sequence.
TEST_F(ImSdkE2eTest, TwoClientsChatBothWays) {
  const auto ann = uids_["ann"], ben = uids_["ben"];
  auto a = Start("ann");
  auto b = Start("ben");
  ASSERT_TRUE(Ready(*a)) << a->logs();
  ASSERT_TRUE(Ready(*b)) << b->logs();
  EXPECT_EQ(a->sdk->uid(), ann);
  EXPECT_EQ(b->sdk->uid(), ben);

  constexpr int kEach = 15;
  for (int i = 0; i < kEach; ++i) {
    Send(*a, ben, "a2b-" + std::to_string(i));
    Send(*b, ann, "b2a-" + std::to_string(i));
  }
  ASSERT_TRUE(WaitFor([&] { return a->messages(0).size() >= 2 * kEach && b->messages(0).size() >= 2 * kEach; },
                      kWait));
  ASSERT_TRUE(Ready(*a));
  ASSERT_TRUE(Ready(*b));
  EXPECT_EQ(Texts(b->messages(0), ann), Numbered("a2b-", 0, kEach));
  EXPECT_EQ(Texts(a->messages(0), ben), Numbered("b2a-", 0, kEach));
  EXPECT_EQ(Texts(a->messages(0), ann), Numbered("a2b-", 0, kEach));  // sender copies
  EXPECT_EQ(Texts(b->messages(0), ben), Numbered("b2a-", 0, kEach));
  EXPECT_EQ(a->messages(0).size(), 2u * kEach);
  EXPECT_EQ(b->messages(0).size(), 2u * kEach);
  ExpectContiguous(a->messages(0), 1);
  ExpectContiguous(b->messages(0), 1);
  for (const auto& m : b->messages(0)) {
    if (m.from_uid == ann) {
      EXPECT_EQ(m.to_uid, ben);
    }
  }
  EXPECT_EQ(a->sdk->Offsets()[0], 2 * kEach);
}

// 2. A group of three made through the admin API: every member receives each
// message once, all in the same order.
TEST_F(ImSdkE2eTest, GroupOfThreeChats) {
  const std::vector<std::int64_t> uids = {uids_["cat"], uids_["dan"], uids_["eve"]};
  std::vector<std::unique_ptr<TestClient>> members;
  for (const char* no : {"cat", "dan", "eve"}) members.push_back(Start(no));
  for (auto& m : members) ASSERT_TRUE(Ready(*m)) << m->logs();
  auto created = cluster_->AdminPost(
      "/v1/groups", nlohmann::json({{"name", "trio"}, {"owner", uids[0]}, {"members", uids}}).dump());
  ASSERT_TRUE(created.ok()) << created.status();
  const std::int64_t gid = nlohmann::json::parse(*created).at("gid").get<std::int64_t>();

  constexpr int kRounds = 6;
  std::vector<std::string> sent;
  for (int r = 0; r < kRounds; ++r) {
    for (std::size_t i = 0; i < members.size(); ++i) {
      sent.push_back("m" + std::to_string(i) + "-" + std::to_string(r));
      Send(*members[i], gid, sent.back(), /*group=*/true);
    }
  }
  for (auto& m : members) {
    ASSERT_TRUE(m->WaitMessages(gid, sent.size(), kWait)) << m->logs();
    ASSERT_TRUE(Ready(*m));
  }
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto seq = members[i]->messages(gid);
    EXPECT_EQ(Texts(seq), sent) << "member " << i;
    ExpectContiguous(seq, 1);
    for (std::size_t k = 0; k < seq.size(); ++k) EXPECT_EQ(seq[k].from_uid, uids[k % uids.size()]);
    EXPECT_EQ(members[i]->sdk->Offsets()[gid], static_cast<std::int64_t>(sent.size()));
  }
}

// 3. A client stopped while 50 messages are sent gets all 50 once, in order,
// when it starts again from its local store (nothing seen before repeats).
TEST_F(ImSdkE2eTest, OfflineClientGetsEveryMessageOnceAfterRestart) {
  const auto ivy = uids_["ivy"], jay = uids_["jay"];
  testing::TempDir state("imsdk-ivy");
  Options o = Fast();
  o.state_dir = state.path();
  auto sender = Start("jay");
  auto receiver = Start("ivy", o);
  ASSERT_TRUE(Ready(*sender)) << sender->logs();
  ASSERT_TRUE(Ready(*receiver)) << receiver->logs();
  SendAll(*sender, ivy, {"before-0", "before-1"});
  ASSERT_TRUE(receiver->WaitMessages(0, 2, kWait));
  ASSERT_TRUE(Ready(*receiver));
  receiver.reset();  // the app exits

  const auto offline = Numbered("off-", 0, 50);
  SendAll(*sender, ivy, offline);

  receiver = Start("ivy", o);
  ASSERT_TRUE(receiver->WaitMessages(0, 50, kWait)) << receiver->logs();
  ASSERT_TRUE(Ready(*receiver));
  EXPECT_EQ(receiver->sdk->uid(), ivy);
  EXPECT_EQ(Texts(receiver->messages(0), jay), offline);
  EXPECT_EQ(receiver->messages(0).size(), 50u);
  ExpectContiguous(receiver->messages(0), 3);
  EXPECT_EQ(receiver->sdk->Offsets()[0], 52);
}

// 4. kill -9 of the notify_server a client is on: the SDK logs in to the other
// notify node of node_list and misses nothing sent before, during or after.
TEST_F(ImSdkE2eTest, NotifyServerKilledFailsOverToTheOtherNode) {
  const auto kim = uids_["kim"];
  auto sender = Start("ned");
  auto receiver = Start("kim");
  ASSERT_TRUE(Ready(*sender)) << sender->logs();
  ASSERT_TRUE(Ready(*receiver)) << receiver->logs();
  const int victim = NotifyIndexOf(*receiver);
  ASSERT_GE(victim, 0) << receiver->logs();
  const std::string victim_name = "notify" + std::to_string(victim);

  SendAll(*sender, kim, Numbered("pre-", 0, 5));
  ASSERT_TRUE(receiver->WaitMessages(0, 5, kWait));
  const std::size_t logins = NotifyLogins(*receiver);

  cluster_->Kill(victim_name);
  SendAll(*sender, kim, Numbered("mid-", 0, 5));  // while the client fails over
  ASSERT_TRUE(WaitFor(
      [&] {
        return NotifyLogins(*receiver) > logins && NotifyIndexOf(*receiver) == 1 - victim &&
               receiver->sdk->state() == State::kOnline;
      },
      kWait))
      << receiver->logs();
  SendAll(*sender, kim, Numbered("post-", 0, 5));

  std::vector<std::string> expected = Numbered("pre-", 0, 5);
  for (const auto& t : Numbered("mid-", 0, 5)) expected.push_back(t);
  for (const auto& t : Numbered("post-", 0, 5)) expected.push_back(t);
  ASSERT_TRUE(receiver->WaitMessages(0, expected.size(), kWait)) << receiver->logs();
  ASSERT_TRUE(Ready(*receiver));
  EXPECT_EQ(Texts(receiver->messages(0)), expected);
  ExpectContiguous(receiver->messages(0), 1);
  EXPECT_EQ(NotifyIndexOf(*receiver), 1 - victim);

  absl::Status s = cluster_->Restart(victim_name);  // whole again for the next tests
  ASSERT_TRUE(s.ok()) << s;
}

// 5. Pushes lost on purpose: route_server (the push path from access_server
// to notify_server) is killed while messages are stored, so their pushes are
// dropped while the client stays connected. With heartbeats far apart (no
// PONG comparison within the test), only the SDK's gap check (a push whose
// offset is not last + 1) can repair the hole: every message arrives once, in
// order.
TEST_F(ImSdkE2eTest, DroppedPushesAreRepairedByTheGapCheck) {
  const auto lea = uids_["lea"];
  auto sender = Start("max");
  Options o = Fast();
  o.heartbeat_interval_ms = 120000;
  auto receiver = Start("lea", o);
  ASSERT_TRUE(Ready(*sender)) << sender->logs();
  ASSERT_TRUE(Ready(*receiver)) << receiver->logs();
  SendAll(*sender, lea, Numbered("pushed-", 0, 3));
  ASSERT_TRUE(receiver->WaitMessages(0, 3, kWait));

  cluster_->Kill("route0");
  const auto lost = Numbered("lost-", 0, 10);
  SendAll(*sender, lea, lost);  // stored and answered; no push reaches notify
  EXPECT_EQ(receiver->messages(0).size(), 3u) << "a push arrived without route_server";
  absl::Status s = cluster_->Restart("route0");
  ASSERT_TRUE(s.ok()) << s;

  // Pushes flow again once notify_server and access_server are reconnected
  // to route_server: send until one arrives.
  std::vector<std::string> expected = Numbered("pushed-", 0, 3);
  expected.insert(expected.end(), lost.begin(), lost.end());
  int after = 0;
  while (after < 40 && receiver->messages(0).size() <= 3) {
    expected.push_back("after-" + std::to_string(after));
    Send(*sender, lea, expected.back());
    ++after;
    WaitFor([&] { return receiver->messages(0).size() > 3; }, std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(receiver->WaitMessages(0, expected.size(), kWait)) << receiver->logs();
  ASSERT_TRUE(Ready(*receiver));
  EXPECT_EQ(Texts(receiver->messages(0)), expected);
  ExpectContiguous(receiver->messages(0), 1);
  EXPECT_EQ(receiver->states().back(), State::kOnline);
  EXPECT_EQ(Count(receiver->logs(), "down:"), 0u) << "the gap must be repaired without a reconnect\n"
                                                  << receiver->logs();
}

// 5b. A slow reader: the app blocks the SDK's callbacks, so the SDK stops
// reading its notify connection; notify_server drops it (output queue over
// its limit) and the pushes queued for it are lost. The SDK reconnects and
// pulls: every message arrives once, in order.
TEST_F(ImSdkE2eTest, SlowReaderDroppedByNotifyGetsEveryMessageOnce) {
  const auto sam = uids_["sam"];
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool closed = false;
    void Set(bool close) {
      std::lock_guard<std::mutex> lock(mu);
      closed = close;
      cv.notify_all();
    }
    void Pass() {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !closed; });
    }
  };
  auto gate = std::make_shared<Gate>();
  Options o = Fast();
  o.heartbeat_interval_ms = 120000;  // no PONG comparison within the test
  o.sync_pool_size = 2;              // pulls and sends over a pool of sync links
  // Callbacks run on the SDK thread through this executor: a closed gate
  // stalls the SDK thread, like an app that does not return from a callback.
  o.executor = [gate](std::function<void()> fn) {
    gate->Pass();
    fn();
  };
  auto sender = Start("tom");
  auto receiver = Start("sam", o);
  struct Reopen {
    std::shared_ptr<Gate> gate;
    ~Reopen() { gate->Set(false); }  // never leave the SDK thread stuck
  } reopen{gate};
  ASSERT_TRUE(Ready(*sender)) << sender->logs();
  ASSERT_TRUE(Ready(*receiver)) << receiver->logs();
  const int node = NotifyIndexOf(*receiver);
  ASSERT_GE(node, 0);
  const std::string node_name = "notify" + std::to_string(node);
  const std::string dropped = "uid=" + std::to_string(sam) + " output queue over";
  ASSERT_EQ(Count(cluster_->log(node_name), dropped), 0u);

  gate->Set(true);
  const std::string filler(60000, 'x');  // pushed with content (below push.max_data_bytes)
  std::vector<std::string> expected;
  while (expected.size() < 1000 && Count(cluster_->log(node_name), dropped) == 0) {
    for (int i = 0; i < 5; ++i) {
      expected.push_back(std::to_string(expected.size()) + ":" + filler);
      Send(*sender, sam, expected.back());
    }
  }
  ASSERT_EQ(Count(cluster_->log(node_name), dropped), 1u) << "notify_server never dropped the slow reader";
  std::printf("slow reader dropped after %zu messages\n", expected.size());
  gate->Set(false);

  ASSERT_TRUE(receiver->WaitMessages(0, expected.size(), kWait)) << receiver->logs();
  ASSERT_TRUE(Ready(*receiver));
  EXPECT_EQ(Texts(receiver->messages(0)), expected);
  ExpectContiguous(receiver->messages(0), 1);
  EXPECT_GE(NotifyLogins(*receiver), 2u) << "no new login after the drop\n" << receiver->logs();
}

// 6. Switching account: after ChangeNo nothing of the old account is
// delivered; the new account's messages (sent while it was offline, and
// after) arrive.
TEST_F(ImSdkE2eTest, ChangeNoSwitchesAccountCleanly) {
  const auto fay = uids_["fay"], gus = uids_["gus"], hal = uids_["hal"];
  auto sender = Start("hal");
  auto app = Start("fay");
  ASSERT_TRUE(Ready(*sender)) << sender->logs();
  ASSERT_TRUE(Ready(*app)) << app->logs();
  SendAll(*sender, fay, Numbered("to-fay-", 0, 3));
  ASSERT_TRUE(app->WaitMessages(0, 3, kWait));
  SendAll(*sender, gus, Numbered("to-gus-offline-", 0, 3));

  // Messages to fay still on their way while the app switches.
  for (int i = 0; i < 5; ++i) sender->sdk->SendPeerMsg(0, fay, 1, "racing-" + std::to_string(i));
  ASSERT_EQ(app->sdk->ChangeNo("gus", kPassword, 0), sdk::kOk);
  ASSERT_TRUE(WaitFor([&] { return app->sdk->uid() == gus; }, kWait));
  ASSERT_TRUE(Ready(*app)) << app->logs();
  SendAll(*sender, fay, Numbered("to-fay-after-", 0, 3));
  SendAll(*sender, gus, Numbered("to-gus-", 0, 3));

  std::vector<std::string> expected_gus = Numbered("to-gus-offline-", 0, 3);
  for (const auto& t : Numbered("to-gus-", 0, 3)) expected_gus.push_back(t);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::size_t n = 0;
        for (const auto& m : app->messages()) n += m.to_uid == gus;
        return n >= expected_gus.size();
      },
      kWait))
      << app->logs();
  ASSERT_TRUE(Ready(*app));
  const auto all = app->messages();
  std::vector<Message> gus_messages;
  bool gus_started = false;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& m = all[i];
    if (m.to_uid == gus) {
      gus_started = true;
      gus_messages.push_back(m);
      continue;
    }
    EXPECT_EQ(m.to_uid, fay);
    EXPECT_FALSE(gus_started) << "old account's message after the new one's: " << m.content;
    EXPECT_EQ(m.content.rfind("to-fay-after-", 0), std::string::npos) << "delivered after the switch: " << m.content;
  }
  EXPECT_EQ(Texts(gus_messages, hal), expected_gus);
  ExpectContiguous(gus_messages, 1);
  EXPECT_EQ(app->sdk->Offsets()[0], static_cast<std::int64_t>(expected_gus.size()));
}

// 7. A network change (SetNetworkCurMode) reconnects at once: a new notify
// login well before either the heartbeat (30 s) or the reconnect backoff
// (≥ 10 s here) would bring one.
TEST_F(ImSdkE2eTest, NetworkModeChangeReconnectsAtOnce) {
  const auto oli = uids_["oli"];
  Options o = Fast();
  o.heartbeat_interval_ms = 30000;
  o.reconnect_initial_ms = 20000;
  o.reconnect_max_ms = 60000;
  auto sender = Start("pam");
  auto app = Start("oli", o);
  ASSERT_TRUE(Ready(*sender)) << sender->logs();
  ASSERT_TRUE(Ready(*app)) << app->logs();
  const std::size_t logins = NotifyLogins(*app);
  const std::size_t states = app->states().size();

  const auto changed_at = std::chrono::steady_clock::now();
  app->sdk->SetNetworkCurMode(2, "mobile");
  ASSERT_TRUE(WaitFor(
      [&] {
        return NotifyLogins(*app) > logins &&
               app->states().size() >= states + 2 && app->sdk->state() == State::kOnline;
      },
      std::chrono::seconds(5)))
      << app->logs();
  const auto took = std::chrono::steady_clock::now() - changed_at;
  std::printf("reconnected %lld ms after the network change\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  const auto seen = app->states();
  EXPECT_EQ(seen[states], State::kConnecting);
  EXPECT_EQ(seen.back(), State::kOnline);

  SendAll(*sender, oli, {"on mobile now"});
  ASSERT_TRUE(app->WaitMessages(0, 1, kWait));
  EXPECT_EQ(Texts(app->messages(0)), std::vector<std::string>{"on mobile now"});
}

// 8. The buffered config (C ABI): IMSdkGetServerNodeInfo from a first run is
// given to a new instance with IMSdkSetBufferedServerNodeInfo while admin_qim
// is down; it finds the servers from it, logs in and chats.
struct CApp {
  std::mutex mu;
  std::vector<std::string> received;
  std::vector<int> send_codes;
  int state = IMSDK_STATE_STOPPED;

  static void OnMessage(void* self, const IMSdkMessage* m) {
    auto* app = static_cast<CApp*>(self);
    std::lock_guard<std::mutex> lock(app->mu);
    app->received.emplace_back(m->data, m->len);
  }
  static void OnSendResult(void* self, int64_t, int32_t, int64_t, int, int code, int64_t) {
    auto* app = static_cast<CApp*>(self);
    std::lock_guard<std::mutex> lock(app->mu);
    app->send_codes.push_back(code);
  }
  static void OnState(void* self, int state, int, const char*) {
    auto* app = static_cast<CApp*>(self);
    std::lock_guard<std::mutex> lock(app->mu);
    app->state = state;
  }
  ~CApp() { IMSdkDestroy(); }  // the process-wide instance, if still there

  // IMSdkInit with discovery at `admin_url`, the store in `state_dir`, fast reconnects.
  int Init(const std::string& admin_url, const std::string& state_dir) {
    IMSdkConfig config{};
    config.admin_url = admin_url.c_str();
    config.state_dir = state_dir.c_str();
    config.reconnect_initial_ms = 100;
    config.reconnect_max_ms = 500;
    const IMSdkCallbacks cb = Callbacks();
    return IMSdkInit(&config, &cb);
  }
  IMSdkCallbacks Callbacks() {
    IMSdkCallbacks cb{};
    cb.user_data = this;
    cb.on_message = &OnMessage;
    cb.on_send_result = &OnSendResult;
    cb.on_state = &OnState;
    return cb;
  }
  template <typename F>
  auto With(F f) {
    std::lock_guard<std::mutex> lock(mu);
    return f();
  }
};

TEST_F(ImSdkE2eTest, BufferedConfigUsedWhenAdminIsDown) {
  const auto quinn = uids_["quinn"], rex = uids_["rex"];
  auto token = cluster_->IssueToken(quinn);
  ASSERT_TRUE(token.ok()) << token.status();
  auto peer = Start("rex");
  ASSERT_TRUE(Ready(*peer)) << peer->logs();
  const std::string admin = AdminUrl();

  // First run: discovery through admin_qim; the app caches the config.
  std::string cached;
  {
    testing::TempDir state("imsdk-quinn1");
    CApp app;
    ASSERT_EQ(app.Init(admin, state.path()), IMSDK_OK);
    ASSERT_EQ(IMSdkSetToken(quinn, token->c_str()), IMSDK_OK);
    ASSERT_EQ(IMSdkStartup(), IMSDK_OK);
    EXPECT_TRUE(WaitFor([&] { return app.With([&] { return app.state; }) == IMSDK_STATE_ONLINE; }, kWait));
    char* json = IMSdkGetServerNodeInfo();
    ASSERT_NE(json, nullptr);
    cached = json;
    IMSdkFreeString(json);
    IMSdkDestroy();
  }
  const auto doc = nlohmann::json::parse(cached, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << cached;
  ASSERT_EQ(doc.at("confgiinfo").at("node_array").size(), 3u) << cached;  // 2 notify + 1 sync
  EXPECT_TRUE(doc.contains("confgiinfo_timestamp")) << cached;

  cluster_->Kill("admin");
  {
    testing::TempDir state("imsdk-quinn2");  // a fresh install: nothing buffered in its store
    CApp app;
    ASSERT_EQ(app.Init(admin, state.path()), IMSDK_OK);
    ASSERT_EQ(IMSdkSetBufferedServerNodeInfo(cached.c_str()), IMSDK_OK);
    ASSERT_EQ(IMSdkSetToken(quinn, token->c_str()), IMSDK_OK);
    ASSERT_EQ(IMSdkStartup(), IMSDK_OK);
    EXPECT_TRUE(WaitFor([&] { return app.With([&] { return app.state; }) == IMSDK_STATE_ONLINE; }, kWait));
    const std::string hello = "hello from the buffered config";
    EXPECT_GT(IMSendPeeerMsg(1, rex, 1, static_cast<int32_t>(hello.size()), hello.data()), 0);
    EXPECT_TRUE(WaitFor([&] { return app.With([&] { return app.send_codes.size(); }) == 1; }, kWait));
    EXPECT_EQ(app.With([&] { return app.send_codes; }), std::vector<int>{200});
    EXPECT_TRUE(peer->WaitMessages(0, 1, kWait));
    EXPECT_EQ(Texts(peer->messages(0), quinn), std::vector<std::string>{hello});
    Send(*peer, quinn, "got it");
    EXPECT_TRUE(WaitFor([&] { return app.With([&] { return app.received.size(); }) == 2; }, kWait));
    EXPECT_EQ(app.With([&] { return app.received; }), (std::vector<std::string>{hello, "got it"}));
    EXPECT_EQ(IMSdkGetOffset(0), 2);
    IMSdkDestroy();
  }
  absl::Status s = cluster_->Restart("admin");
  ASSERT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace im
