// The cluster spread over hosts: every component in its own network
// namespace with its own address on a private bridge (tests/support/netns_lab.h)
// — storage ×2 shards, route, access ×2, notify ×2, sync, admin_qim, Redis,
// MariaDB — and two SDK clients on two more hosts. The notify and sync nodes
// are registered in node_list through the qim console; the SDKs find them
// with GET /v1/nodes. The clients chat both ways; then the link of the
// notify host the first client is on is cut. She must fail over to the other
// notify node (and so must the second client if he was on the same node),
// and every message sent before the cut, during the failover and after it
// must reach its receiver exactly once. The outcome is also written as a row
// of the fault suite's table (fault_summary_netns.txt in the working
// directory; deploy/test.sh prints it with tests/fault's table).
//
// Needs root and iproute2; skipped with the reason otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"

#include "imsdk/imsdk.h"
#include "tests/support/local_cluster.h"
#include "tests/support/netns_lab.h"
#include "tests/unit/imsdk/test_client.h"

namespace im {
namespace {

using testing::ClusterOptions;
using testing::LocalCluster;
using testing::NetnsLab;
using testing::RunCommand;
using testing::ScopedNetns;
using sdk::testing::TestClient;
using sdk::testing::WaitFor;
using Clock = std::chrono::steady_clock;

constexpr int kMessagesPerPhase = 20;
constexpr auto kWait = std::chrono::seconds(30);  // generous bound for every wait

// The cluster's hosts, each a namespace named after its component.
const std::vector<std::string> kClusterHosts = {"redis",   "mysql",   "admin",   "storage0", "storage1",
                                                "route0",  "access0", "access1", "notify0",  "notify1",
                                                "sync0"};

// An SDK client on a client host: the TestClient is created on a thread that
// has entered the host's namespace, so the SDK's threads, and all sockets
// they open, live on that host. Logs in with `no` through admin_qim.
std::unique_ptr<TestClient> ClientOn(const std::string& netns, const std::string& admin_url, const std::string& no,
                                     absl::Status* status) {
  sdk::Options options = TestClient::FastOptions();
  options.admin_url = admin_url;
  options.heartbeat_interval_ms = 1000;  // a cut link is noticed within ~2 s
  options.http_timeout_ms = 3000;
  options.send_retry_ms = 2000;
  options.send_give_up_ms = 30000;
  std::unique_ptr<TestClient> client;
  std::thread([&] {
    ScopedNetns on_host(netns);
    *status = on_host.status();
    if (status->ok()) client = std::make_unique<TestClient>(options);
  }).join();
  if (client) {
    client->sdk->SetAccount(no, "password1");
    client->sdk->Startup();
  }
  return client;
}

// Contents of the peer messages received from `from`, in delivery order.
std::vector<std::string> ReceivedFrom(TestClient& c, std::int64_t from) {
  std::vector<std::string> out;
  for (const auto& m : c.messages(0)) {
    if (m.from_uid == from) out.push_back(m.content);
  }
  return out;
}

// The notify node ids the client logged in to, in order (from the SDK log).
std::vector<std::int64_t> NotifyLogins(TestClient& c) {
  static const std::regex kLoggedIn("notify#(\\d+) logged in");
  std::vector<std::int64_t> ids;
  const std::string logs = c.logs();
  for (std::sregex_iterator it(logs.begin(), logs.end(), kLoggedIn), end; it != end; ++it) {
    ids.push_back(std::stoll((*it)[1]));
  }
  return ids;
}

std::size_t Answered(TestClient& c, int code) {
  std::size_t n = 0;
  for (const auto& r : c.results()) n += r.code == code ? 1 : 0;
  return n;
}

bool WaitSynced(TestClient& c) {
  return WaitFor([&] { return c.sdk->state() == sdk::State::kOnline && c.sdk->synced(); }, kWait);
}

// `count` messages "<tag> <i>" from one client to another.
void SendBatch(TestClient& from, std::int64_t to, const std::string& tag, int count) {
  for (int i = 0; i < count; ++i) {
    EXPECT_GT(from.sdk->SendPeerMsg(i, to, 1, tag + " " + std::to_string(i)), 0);
  }
}

std::vector<std::string> Expected(const std::vector<std::string>& tags, int count) {
  std::vector<std::string> out;
  for (const auto& tag : tags) {
    for (int i = 0; i < count; ++i) out.push_back(tag + " " + std::to_string(i));
  }
  return out;
}

// The link cut as a row of the fault suite's table (tests/fault/fault_test.cc,
// same columns): what was sent, answered 200, never answered, lost (expected
// and never received), duplicated, and reordered: delivered to the receiving
// application out of its sequence's order (a lower offset after a higher
// one). The clients send each batch without waiting for answers, so the
// order among those sends is the server's (docs/protocol.md §5.5), not the
// order of the calls. Recovery = cut until the first client had what was
// sent to it during the cut (it had to fail over for that); catch-up = cut
// until everything was delivered.
struct CutRow {
  int sent = 0, acked = 0, lost = 0, duplicated = 0, reordered = 0;
  double recovery_s = 0, catch_up_s = 0;

  void Count(TestClient& receiver, std::int64_t from, const std::vector<std::string>& expected) {
    std::map<std::string, int> counts;
    std::int64_t highest = 0;
    for (const auto& m : receiver.messages(0)) {
      if (m.from_uid != from) continue;
      if (++counts[m.content] > 1) ++duplicated;
      if (m.offset <= highest) ++reordered;
      highest = std::max(highest, m.offset);
    }
    for (const auto& c : expected) lost += counts.count(c) ? 0 : 1;
  }

  void Write(const std::string& fault) const {
    char line[512];
    std::snprintf(line, sizeof line, "%-34s %6d %6d %8d %5d %5d %9d %11lld %10lld  %s\n", fault.c_str(), sent, acked,
                  sent - acked, lost, duplicated, reordered, static_cast<long long>(recovery_s * 1000),
                  static_cast<long long>(catch_up_s * 1000), "(multihost_e2e_test, SDK clients)");
    std::printf("\n%s", line);
    if (FILE* f = std::fopen("fault_summary_netns.txt", "w")) {
      std::fputs(line, f);
      std::fclose(f);
    }
  }
};

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
  absl::Status alice_ok, bob_ok;
  std::unique_ptr<TestClient> alice_client = ClientOn(lab->netns("clienta"), admin_url, "alice", &alice_ok);
  std::unique_ptr<TestClient> bob_client = ClientOn(lab->netns("clientb"), admin_url, "bob", &bob_ok);
  ASSERT_TRUE(alice_ok.ok()) << alice_ok;
  ASSERT_TRUE(bob_ok.ok()) << bob_ok;
  TestClient& alice = *alice_client;
  TestClient& bob = *bob_client;
  // On any failure (also an ASSERT returning early) the logs say why.
  absl::Cleanup dump_on_failure = [&] {
    if (!::testing::Test::HasFailure()) return;
    std::printf("--- alice SDK log\n%s--- bob SDK log\n%s", alice.logs().c_str(), bob.logs().c_str());
    for (const char* name : {"notify0", "notify1", "sync0", "access0"}) {
      std::printf("--- %s log\n%s", name, cluster.log(name).c_str());
    }
  };
  ASSERT_TRUE(WaitSynced(alice)) << "alice not online: " << alice.logs();
  ASSERT_TRUE(WaitSynced(bob)) << "bob not online: " << bob.logs();

  // Both ways, before the cut.
  SendBatch(alice, bob_id, "a->b before", kMessagesPerPhase);
  SendBatch(bob, alice_id, "b->a before", kMessagesPerPhase);
  const auto before = Clock::now();
  EXPECT_TRUE(WaitFor([&] { return ReceivedFrom(bob, alice_id).size() >= kMessagesPerPhase; }, kWait));
  EXPECT_TRUE(WaitFor([&] { return ReceivedFrom(alice, bob_id).size() >= kMessagesPerPhase; }, kWait));
  std::printf("before the cut: %d messages each way delivered in %.2f s\n", kMessagesPerPhase,
              std::chrono::duration<double>(Clock::now() - before).count());
  ASSERT_TRUE(WaitSynced(alice));
  ASSERT_TRUE(WaitSynced(bob));

  // Cut the cable of the notify host alice is on.
  const auto alice_logins = NotifyLogins(alice);
  ASSERT_FALSE(alice_logins.empty()) << alice.logs();
  const std::string victim = notify_by_id.at(alice_logins.back());
  const std::string survivor = victim == "notify0" ? "notify1" : "notify0";
  const auto bob_logins = NotifyLogins(bob);
  ASSERT_FALSE(bob_logins.empty()) << bob.logs();
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
  EXPECT_TRUE(WaitFor([&] { return ReceivedFrom(alice, bob_id).size() >= 2 * kMessagesPerPhase; }, kWait))
      << "alice did not get bob's messages sent during the cut";
  EXPECT_GT(NotifyLogins(alice).size(), alice_logins_before) << "alice did not log in again after the cut";
  EXPECT_EQ(notify_by_id.at(NotifyLogins(alice).back()), survivor) << "alice is not on the other notify node";
  CutRow row;
  row.recovery_s = since_cut();
  std::printf("alice failed over to %s and had bob's messages %.2f s after the cut\n", survivor.c_str(), row.recovery_s);
  if (bob_on_victim) {
    EXPECT_TRUE(WaitFor([&] { return NotifyLogins(bob).size() > bob_logins_before; }, kWait))
        << "bob did not log in again after the cut";
    EXPECT_EQ(notify_by_id.at(NotifyLogins(bob).back()), survivor) << "bob is not on the other notify node";
  }

  // After the failover, each way in turn (the receiver idle, so pushes on
  // the new notify link or its heartbeat bring the messages).
  SendBatch(alice, bob_id, "a->b after", kMessagesPerPhase);
  EXPECT_TRUE(WaitFor([&] { return ReceivedFrom(bob, alice_id).size() >= 2 * kMessagesPerPhase; }, kWait));
  SendBatch(bob, alice_id, "b->a after", kMessagesPerPhase);
  EXPECT_TRUE(WaitFor([&] { return ReceivedFrom(alice, bob_id).size() >= 3 * kMessagesPerPhase; }, kWait));
  EXPECT_TRUE(WaitFor([&] { return Answered(alice, 200) >= 2 * kMessagesPerPhase; }, kWait));
  EXPECT_TRUE(WaitFor([&] { return Answered(bob, 200) >= 3 * kMessagesPerPhase; }, kWait));
  EXPECT_TRUE(WaitSynced(alice));
  EXPECT_TRUE(WaitSynced(bob));
  row.catch_up_s = since_cut();
  std::printf("after the failover: everything delivered %.2f s after the cut\n", row.catch_up_s);

  // Nothing lost, nothing doubled: every message of every phase once, every
  // send answered 200 once, and alice still on the surviving node.
  ExpectExactlyOnce(ReceivedFrom(bob, alice_id), Expected({"a->b before", "a->b after"}, kMessagesPerPhase), "bob");
  ExpectExactlyOnce(ReceivedFrom(alice, bob_id), Expected({"b->a before", "b->a during", "b->a after"}, kMessagesPerPhase),
                    "alice");
  EXPECT_EQ(alice.results().size(), 2u * kMessagesPerPhase);
  EXPECT_EQ(Answered(alice, 200), 2u * kMessagesPerPhase);
  EXPECT_EQ(bob.results().size(), 3u * kMessagesPerPhase);
  EXPECT_EQ(Answered(bob, 200), 3u * kMessagesPerPhase);
  EXPECT_EQ(notify_by_id.at(NotifyLogins(alice).back()), survivor);
  row.sent = 5 * kMessagesPerPhase;  // alice sent two batches, bob three
  row.acked = static_cast<int>(Answered(alice, 200) + Answered(bob, 200));
  row.Count(bob, alice_id, Expected({"a->b before", "a->b after"}, kMessagesPerPhase));
  row.Count(alice, bob_id, Expected({"b->a before", "b->a during", "b->a after"}, kMessagesPerPhase));
  row.Write("cut link of notify host (netns)");
  EXPECT_EQ(row.reordered, 0) << "a client delivered messages out of their offsets' order";
  // Mend the cable: the daemons then stop without waiting on a peer that
  // cannot answer (shorter teardown).
  EXPECT_TRUE(lab->SetLink(victim, true).ok());
}

}  // namespace
}  // namespace im
