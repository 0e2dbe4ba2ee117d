// The cluster spread over hosts: every component in its own network
// namespace with its own address on a private bridge (tests/support/netns_lab.h)
// — storage ×2 shards, route, access ×2, notify ×2, sync, admin_qim, Redis,
// MariaDB — and two SDK clients on two more hosts. The notify and sync nodes
// are registered in node_list through the qim console; the SDKs find them
// with GET /v1/nodes. The clients chat both ways; then the link of the
// notify host the first client is on is cut. She must fail over to the other
// notify node (and so must the second client if he was on the same node),
// and every message sent before the cut, during the failover and after it
// must reach its receiver exactly once.
//
// Needs root and iproute2; skipped with the reason otherwise.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"

#include "imsdk/imsdk.h"
#include "tests/support/local_cluster.h"
#include "tests/support/netns_lab.h"

namespace im {
namespace {

using testing::ClusterOptions;
using testing::LocalCluster;
using testing::NetnsLab;
using testing::RunCommand;
using testing::ScopedNetns;
using Clock = std::chrono::steady_clock;

constexpr int kMessagesPerPhase = 5;
constexpr auto kWait = std::chrono::seconds(30);  // generous bound for every wait

// The cluster's hosts, each a namespace named after its component.
const std::vector<std::string> kClusterHosts = {"redis",   "mysql",   "admin",   "storage0", "storage1",
                                                "route0",  "access0", "access1", "notify0",  "notify1",
                                                "sync0"};

// One SDK client and everything it reported, guarded by mu.
class Client {
 public:
  // Creates the SDK on a thread that has entered `netns`: the SDK's threads,
  // and so all of its sockets, live on that host.
  Client(const std::string& netns, const std::string& admin_url, const std::string& no) {
    sdk::Options options;
    options.admin_url = admin_url;
    options.heartbeat_interval_ms = 1000;  // a cut link is noticed within ~2 s
    options.reconnect_initial_ms = 200;
    options.reconnect_max_ms = 1000;
    options.connect_timeout_ms = 1000;
    options.http_timeout_ms = 3000;
    options.send_retry_ms = 2000;
    options.send_give_up_ms = 30000;
    sdk::Callbacks callbacks;
    callbacks.on_message = [this](const sdk::Message& m) {
      std::lock_guard<std::mutex> lock(mu_);
      messages_.push_back(m);
      changed_.notify_all();
    };
    callbacks.on_send_result = [this](const sdk::SendResult& r) {
      std::lock_guard<std::mutex> lock(mu_);
      results_.push_back(r);
      changed_.notify_all();
    };
    callbacks.on_log = [this](sdk::LogLevel, const std::string& line) {
      static const std::regex kLoggedIn("notify#(\\d+) logged in");
      std::smatch m;
      std::lock_guard<std::mutex> lock(mu_);
      log_ += line + "\n";
      if (std::regex_search(line, m, kLoggedIn)) notify_logins_.push_back(std::stoll(m[1]));
      changed_.notify_all();
    };
    std::thread([&] {
      ScopedNetns on_host(netns);
      status_ = on_host.status();
      if (!status_.ok()) return;
      sdk_ = std::make_unique<sdk::ImSdk>(options, callbacks);
    }).join();
    if (sdk_) {
      sdk_->SetAccount(no, "password1");
      sdk_->Startup();
    }
  }
  ~Client() { sdk_.reset(); }  // joins the SDK threads before the members go

  const absl::Status& status() const { return status_; }
  sdk::ImSdk& sdk() { return *sdk_; }

  // Waits until `done()` holds (evaluated under the lock); false on timeout.
  template <typename Pred>
  bool WaitUntil(Pred done) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_until(lock, Clock::now() + kWait, [&] { return done(); });
  }
  bool WaitSynced() {
    const auto deadline = Clock::now() + kWait;
    while (Clock::now() < deadline) {
      if (sdk_->state() == sdk::State::kOnline && sdk_->synced()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Contents of the messages received from `from`, in delivery order.
  std::vector<std::string> ReceivedFrom(std::int64_t from) {
    std::lock_guard<std::mutex> lock(mu_);
    return ReceivedFromLocked(from);
  }
  std::vector<std::string> ReceivedFromLocked(std::int64_t from) const {
    std::vector<std::string> out;
    for (const auto& m : messages_) {
      if (m.group_id == 0 && m.from_uid == from) out.push_back(m.content);
    }
    return out;
  }
  std::size_t AnsweredLocked(int code) const {
    std::size_t n = 0;
    for (const auto& r : results_) n += r.code == code ? 1 : 0;
    return n;
  }
  std::size_t ResultCount() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_.size();
  }
  std::size_t Answered(int code) {
    std::lock_guard<std::mutex> lock(mu_);
    return AnsweredLocked(code);
  }
  std::vector<std::int64_t> NotifyLogins() {
    std::lock_guard<std::mutex> lock(mu_);
    return notify_logins_;
  }
  std::size_t NotifyLoginCountLocked() const { return notify_logins_.size(); }
  std::string Log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

 private:
  absl::Status status_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<sdk::Message> messages_;
  std::vector<sdk::SendResult> results_;
  std::vector<std::int64_t> notify_logins_;  // node ids, in login order
  std::string log_;
  std::unique_ptr<sdk::ImSdk> sdk_;  // last: destroyed first
};

// `count` messages "<tag> <i>" from one client to another.
void SendBatch(Client& from, std::int64_t to, const std::string& tag, int count) {
  for (int i = 0; i < count; ++i) {
    EXPECT_GT(from.sdk().SendPeerMsg(i, to, 1, tag + " " + std::to_string(i)), 0);
  }
}

std::vector<std::string> Expected(const std::vector<std::string>& tags, int count) {
  std::vector<std::string> out;
  for (const auto& tag : tags) {
    for (int i = 0; i < count; ++i) out.push_back(tag + " " + std::to_string(i));
  }
  return out;
}

// Every expected content received exactly once, nothing else.
void ExpectExactlyOnce(std::vector<std::string> received, std::vector<std::string> expected,
                       const std::string& who) {
  std::map<std::string, int> counts;
  for (const auto& c : received) ++counts[c];
  for (const auto& c : expected) EXPECT_EQ(counts[c], 1) << who << " received \"" << c << "\" that many times";
  EXPECT_EQ(received.size(), expected.size()) << who << " received other or duplicate messages";
}

TEST(MultihostE2eTest, ChatAcrossHostsSurvivesACutNotifyLink) {
  auto lab_or = NetnsLab::Create("qimlab");
  if (!lab_or.ok()) {
    GTEST_SKIP() << "cannot create network namespaces, the multi-host test needs root and iproute2: "
                 << lab_or.status();
  }
  std::unique_ptr<NetnsLab> lab = std::move(*lab_or);
  // The cluster's temp dirs go into the lab's directory: removed with it, and
  // by the next run if this one is killed.
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string saved_tmpdir = tmpdir ? tmpdir : "";
  const bool had_tmpdir = tmpdir != nullptr;
  ::setenv("TMPDIR", lab->dir().c_str(), 1);
  absl::Cleanup restore_tmpdir = [&] {
    if (had_tmpdir) {
      ::setenv("TMPDIR", saved_tmpdir.c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  };
  const auto started = Clock::now();
  ClusterOptions options;
  options.storage_shards = 2;
  options.access_servers = 2;
  options.notify_servers = 2;
  for (const auto& name : kClusterHosts) {
    auto address = lab->AddHost(name);
    ASSERT_TRUE(address.ok()) << address.status();
    options.hosts[name] = lab->host(name);
  }
  for (const char* name : {"ctl", "clienta", "clientb"}) {
    auto address = lab->AddHost(name);
    ASSERT_TRUE(address.ok()) << address.status();
  }

  // The test's own thread works from the "ctl" host: health checks, admin
  // calls and the qim console all cross the bridge.
  ScopedNetns on_ctl(lab->netns("ctl"));
  ASSERT_TRUE(on_ctl.status().ok()) << on_ctl.status();
  LocalCluster cluster;
  absl::Status started_ok = cluster.Start(options);
  ASSERT_TRUE(started_ok.ok()) << started_ok;
  for (const auto& name : {"storage0", "storage1", "route0", "access0", "access1", "notify0", "notify1", "sync0"}) {
    EXPECT_EQ(cluster.host(name), lab->address(name)) << name << " runs on its own host";
  }
  std::printf("cluster up on %zu hosts in %.1f s\n", kClusterHosts.size(),
              std::chrono::duration<double>(Clock::now() - started).count());

  // node_list, as an operator does it (deploy/README.md): qim node add.
  const std::string admin_grpc = cluster.host("admin") + ":" + std::to_string(cluster.admin_grpc_port());
  for (const auto& [name, type] : std::vector<std::pair<std::string, std::string>>{
           {"notify0", "notify"}, {"notify1", "notify"}, {"sync0", "sync"}}) {
    std::string out;
    const int rc = RunCommand({testing::BinaryPath("qim"), "--endpoint", admin_grpc, "--secret", "test-admin-secret",
                               "node", "add", "--address", cluster.host(name), "--tcp-port",
                               std::to_string(cluster.port(name)), "--type", type},
                              &out);
    ASSERT_EQ(rc, 0) << "qim node add " << name << ": " << out;
  }
  // GET /v1/nodes: node id -> the notify host it names.
  std::string nodes_body;
  ASSERT_EQ(RunCommand({"curl", "-s", "-m", "5", "http://" + cluster.address("admin") + "/v1/nodes"}, &nodes_body), 0);
  const auto nodes = nlohmann::json::parse(nodes_body, nullptr, false);
  ASSERT_FALSE(nodes.is_discarded()) << nodes_body;
  std::map<std::int64_t, std::string> notify_by_id;
  for (const auto& node : nodes["confgiinfo"]["node_array"]) {
    for (const char* name : {"notify0", "notify1"}) {
      if (node.value("address", "") == cluster.host(name) && node.value("tcp_port", 0) == cluster.port(name)) {
        notify_by_id[node.value("id", std::int64_t{0})] = name;
      }
    }
  }
  ASSERT_EQ(notify_by_id.size(), 2u) << nodes_body;

  auto alice_uid = cluster.CreateAccount("alice");
  auto bob_uid = cluster.CreateAccount("bob");
  ASSERT_TRUE(alice_uid.ok()) << alice_uid.status();
  ASSERT_TRUE(bob_uid.ok()) << bob_uid.status();
  const std::int64_t alice_id = *alice_uid, bob_id = *bob_uid;

  const std::string admin_url = "http://" + cluster.address("admin");
  Client alice(lab->netns("clienta"), admin_url, "alice");
  Client bob(lab->netns("clientb"), admin_url, "bob");
  ASSERT_TRUE(alice.status().ok()) << alice.status();
  ASSERT_TRUE(bob.status().ok()) << bob.status();
  // On any failure (also an ASSERT returning early) the logs say why.
  absl::Cleanup dump_on_failure = [&] {
    if (!::testing::Test::HasFailure()) return;
    std::printf("--- alice SDK log\n%s--- bob SDK log\n%s", alice.Log().c_str(), bob.Log().c_str());
    for (const char* name : {"notify0", "notify1", "sync0", "access0"}) {
      std::printf("--- %s log\n%s", name, cluster.log(name).c_str());
    }
  };
  ASSERT_TRUE(alice.WaitSynced()) << "alice not online: " << alice.Log();
  ASSERT_TRUE(bob.WaitSynced()) << "bob not online: " << bob.Log();

  // Both ways, before the cut.
  SendBatch(alice, bob_id, "a->b before", kMessagesPerPhase);
  SendBatch(bob, alice_id, "b->a before", kMessagesPerPhase);
  const auto before = Clock::now();
  EXPECT_TRUE(bob.WaitUntil([&] { return bob.ReceivedFromLocked(alice_id).size() >= kMessagesPerPhase; }));
  EXPECT_TRUE(alice.WaitUntil([&] { return alice.ReceivedFromLocked(bob_id).size() >= kMessagesPerPhase; }));
  std::printf("before the cut: %d messages each way delivered in %.2f s\n", kMessagesPerPhase,
              std::chrono::duration<double>(Clock::now() - before).count());
  ASSERT_TRUE(alice.WaitSynced());
  ASSERT_TRUE(bob.WaitSynced());

  // Cut the cable of the notify host alice is on.
  const auto alice_logins = alice.NotifyLogins();
  ASSERT_FALSE(alice_logins.empty()) << alice.Log();
  const std::string victim = notify_by_id.at(alice_logins.back());
  const std::string survivor = victim == "notify0" ? "notify1" : "notify0";
  const auto bob_logins = bob.NotifyLogins();
  ASSERT_FALSE(bob_logins.empty()) << bob.Log();
  const bool bob_on_victim = notify_by_id.at(bob_logins.back()) == victim;
  std::printf("alice on %s, bob on %s; cutting %s's link\n", victim.c_str(),
              notify_by_id.at(bob_logins.back()).c_str(), victim.c_str());
  const std::size_t alice_logins_before = alice_logins.size(), bob_logins_before = bob_logins.size();
  const auto cut = Clock::now();
  ASSERT_TRUE(lab->SetLink(victim, false).ok());

  const auto since_cut = [&] { return std::chrono::duration<double>(Clock::now() - cut).count(); };

  // Right after the cut bob writes to alice, who sends nothing: she can only
  // learn of these through a notify link, so only by failing over to the
  // other notify node (login there, GET_SYNC_OFFSETS, pull).
  SendBatch(bob, alice_id, "b->a during", kMessagesPerPhase);
  EXPECT_TRUE(alice.WaitUntil([&] { return alice.ReceivedFromLocked(bob_id).size() >= 2 * kMessagesPerPhase; }))
      << "alice did not get bob's messages sent during the cut";
  EXPECT_GT(alice.NotifyLogins().size(), alice_logins_before) << "alice did not log in again after the cut";
  EXPECT_EQ(notify_by_id.at(alice.NotifyLogins().back()), survivor) << "alice is not on the other notify node";
  std::printf("alice failed over to %s and had bob's messages %.2f s after the cut\n", survivor.c_str(), since_cut());
  if (bob_on_victim) {
    EXPECT_TRUE(bob.WaitUntil([&] { return bob.NotifyLoginCountLocked() > bob_logins_before; }))
        << "bob did not log in again after the cut";
    EXPECT_EQ(notify_by_id.at(bob.NotifyLogins().back()), survivor) << "bob is not on the other notify node";
  }

  // After the failover, each way in turn (the receiver idle, so pushes on
  // the new notify link or its heartbeat bring the messages).
  SendBatch(alice, bob_id, "a->b after", kMessagesPerPhase);
  EXPECT_TRUE(bob.WaitUntil([&] { return bob.ReceivedFromLocked(alice_id).size() >= 2 * kMessagesPerPhase; }));
  SendBatch(bob, alice_id, "b->a after", kMessagesPerPhase);
  EXPECT_TRUE(alice.WaitUntil([&] { return alice.ReceivedFromLocked(bob_id).size() >= 3 * kMessagesPerPhase; }));
  EXPECT_TRUE(alice.WaitUntil([&] { return alice.AnsweredLocked(200) >= 2 * kMessagesPerPhase; }));
  EXPECT_TRUE(bob.WaitUntil([&] { return bob.AnsweredLocked(200) >= 3 * kMessagesPerPhase; }));
  EXPECT_TRUE(alice.WaitSynced());
  EXPECT_TRUE(bob.WaitSynced());
  std::printf("after the failover: everything delivered %.2f s after the cut\n", since_cut());

  // Nothing lost, nothing doubled: every message of every phase once, every
  // send answered 200 once, and both still on the surviving node.
  ExpectExactlyOnce(bob.ReceivedFrom(alice_id), Expected({"a->b before", "a->b after"}, kMessagesPerPhase), "bob");
  ExpectExactlyOnce(alice.ReceivedFrom(bob_id), Expected({"b->a before", "b->a during", "b->a after"}, kMessagesPerPhase),
                    "alice");
  EXPECT_EQ(alice.ResultCount(), 2u * kMessagesPerPhase);
  EXPECT_EQ(alice.Answered(200), 2u * kMessagesPerPhase);
  EXPECT_EQ(bob.ResultCount(), 3u * kMessagesPerPhase);
  EXPECT_EQ(bob.Answered(200), 3u * kMessagesPerPhase);
  EXPECT_EQ(notify_by_id.at(alice.NotifyLogins().back()), survivor);
}

}  // namespace
}  // namespace im
