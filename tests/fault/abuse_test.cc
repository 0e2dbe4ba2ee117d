// The abuse suite: hostile clients against live notify_server and
// sync_server (the whole cluster as real processes) while a few well-behaved
// clients keep sending (sync) and receiving pushes (notify). Each test is one
// kind of abuse: connections that never log in, forged/expired/foreign
// tokens, a header uid other than the logged-in one, garbage bytes, oversized
// body lengths, partial frames then a stall (slowloris, before and after
// login), ping and send floods (rate limits), 10,000 connections from one
// address. Then the summary test checks that every well-behaved send was
// answered 200 and pushed, that the daemons' memory (VmRSS) stayed bounded
// and came back near the baseline, that every daemon is still running, and
// that no daemon log holds a sanitizer report (the suite also runs against
// ASan/UBSan daemons, see deploy/test.sh). Latencies are printed, never
// asserted.
//
// Tests run in declaration order and share the cluster and the load; run the
// whole binary (a --gtest_filter run still works, with fewer checks).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/net/frame_codec.h"
#include "proto/im_client.pb.h"
#include "tests/support/local_cluster.h"
#include "tests/support/raw_client.h"

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

namespace im {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using testing::LocalCluster;
using testing::RawClient;

constexpr int kGoodPairs = 3;              // well-behaved sender → receiver pairs
constexpr auto kSendEvery = 100ms;         // each well-behaved sender: 10 sends/s
constexpr auto kAnswerBound = 10s;         // a well-behaved send unanswered this long fails the suite
// Daemon settings for the suite (flags): short timeouts keep it fast.
constexpr int kNotifyLoginTimeoutMs = 4000;
constexpr int kNotifyHeartbeatMs = 1000;   // idle close after 3 intervals
constexpr int kNotifyMaxConnections = 5000;
constexpr int kNotifyMaxBody = 4096;
constexpr int kSyncLoginTimeoutMs = 2000;
constexpr int kSyncIdleMs = 3000;
constexpr int kSyncMaxBody = 8192;
constexpr int kSmallOutput = 1024;         // notify1/sync1: max_output_bytes below one big frame
// A connection the server must close is given this much longer than its timeout.
constexpr auto kCloseSlack = 15s;
// Memory: VmRSS during the abuse may grow by at most kPeakCapMb over the
// baseline and must come back within kAfterCapMb of it once the abusers are
// gone. ASan's quarantine keeps up to 256 MB of freed memory mapped.
constexpr std::int64_t kPeakCapMb = kSanitized ? 1536 : 512;
constexpr std::int64_t kAfterCapMb = kSanitized ? 400 : 64;

std::int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

std::int64_t RssKb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

std::int64_t Percentile(std::vector<std::int64_t> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// A frame header (and `body`) with any body_len, for malformed input.
std::string RawHeader(std::uint16_t body_len, std::int64_t uid, std::int16_t cmdid, std::int32_t seq) {
  std::string out(net::kHeaderSize, '\0');
  const std::uint64_t u = static_cast<std::uint64_t>(uid);
  out[0] = static_cast<char>(body_len >> 8);
  out[1] = static_cast<char>(body_len & 0xff);
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<char>((u >> (56 - 8 * i)) & 0xff);
  out[10] = static_cast<char>((static_cast<std::uint16_t>(cmdid) >> 8) & 0xff);
  out[11] = static_cast<char>(cmdid & 0xff);
  for (int i = 0; i < 4; ++i) out[12 + i] = static_cast<char>((static_cast<std::uint32_t>(seq) >> (24 - 8 * i)) & 0xff);
  return out;
}

std::string LoginFrame(std::int64_t uid, const std::string& token, std::int32_t seq) {
  client::ImLogin login;
  login.set_token(token);
  login.set_device_id(7);
  std::string body = login.SerializeAsString();
  return RawHeader(static_cast<std::uint16_t>(14 + body.size()), uid, client::IM_CMD_LOGIN, seq) + body;
}

// A peer chat message (315 body) from `from` to `to`.
client::ImClientSendMsg PeerMessage(std::int64_t from, std::int64_t to, std::int64_t msgid, const std::string& content) {
  client::ImClientSendMsg m;
  m.set_fromuid(from);
  m.set_touid(to);
  m.set_msgid(msgid);
  m.set_timestamp(1700000000);
  m.set_msgtype(1);
  m.set_len(static_cast<std::int32_t>(content.size()));
  m.set_content(content);
  return m;
}

int ConnectFd(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Polls `fds` (without waiting) and marks those the server closed (EOF or reset).
int MarkClosed(const std::vector<int>& fds, std::vector<bool>* closed) {
  std::vector<pollfd> p;
  std::vector<std::size_t> index;
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if ((*closed)[i]) continue;
    p.push_back({fds[i], POLLIN, 0});
    index.push_back(i);
  }
  if (!p.empty()) ::poll(p.data(), p.size(), 0);
  char buf[256];
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (p[k].revents == 0) continue;
    const ssize_t n = ::recv(p[k].fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0 || (p[k].revents & (POLLHUP | POLLERR))) (*closed)[index[k]] = true;
  }
  return static_cast<int>(std::count(closed->begin(), closed->end(), true));
}

class AbuseSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // 10,000 client sockets in this process (and up to as many in a daemon,
    // which inherits the limit).
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    cluster_ = new LocalCluster();
    testing::ClusterOptions options;
    options.notify_servers = 2;
    options.sync_servers = 2;
    auto ms = [](int v) { return std::to_string(v); };
    options.extra_flags["notify0"] = {"--server.login_timeout_ms", ms(kNotifyLoginTimeoutMs),
                                      "--server.heartbeat_interval_ms", ms(kNotifyHeartbeatMs),
                                      "--server.max_connections", ms(kNotifyMaxConnections),
                                      "--server.max_body_bytes", ms(kNotifyMaxBody)};
    options.extra_flags["notify1"] = {"--server.max_output_bytes", ms(kSmallOutput)};
    options.extra_flags["sync0"] = {"--server.login_timeout_ms", ms(kSyncLoginTimeoutMs),
                                    "--server.idle_timeout_ms", ms(kSyncIdleMs),
                                    "--server.max_body_bytes", ms(kSyncMaxBody)};
    options.extra_flags["sync1"] = {"--server.max_output_bytes", ms(kSmallOutput)};
    // Per-user send rate: the flooder sees 429s, the well-behaved (10/s) never.
    options.extra_flags["access0"] = {"--limits.rate_limit_per_s", "20", "--limits.rate_limit_burst", "20"};
    if (absl::Status s = cluster_->Start(options); !s.ok()) {
      setup_error_ = s.ToString();
      return;
    }
    for (const char* no : {"g_s0", "g_s1", "g_s2", "g_r0", "g_r1", "g_r2", "abuser", "victim", "big_s", "big_r"}) {
      auto uid = cluster_->CreateAccount(std::string("abuse_") + no);
      if (!uid.ok()) {
        setup_error_ = uid.status().ToString();
        return;
      }
      auto token = cluster_->IssueToken(*uid);
      if (!token.ok()) {
        setup_error_ = token.status().ToString();
        return;
      }
      uids_[no] = *uid;
      tokens_[*uid] = *token;
    }
    rss_base_ = {{"notify0", -1}, {"sync0", -1}};
    for (int i = 0; i < kGoodPairs; ++i) {
      received_.push_back(std::make_unique<Received>());
      threads_.emplace_back(ReceiverLoop, i);
    }
    // Receivers are logged in before the first send (pushes go to online clients).
    const auto until = Clock::now() + 20s;
    while (logged_in_receivers_ < kGoodPairs && Clock::now() < until) std::this_thread::sleep_for(10ms);
    if (logged_in_receivers_ < kGoodPairs) {
      setup_error_ = "well-behaved receivers could not log in";
      return;
    }
    for (int i = 0; i < kGoodPairs; ++i) threads_.emplace_back(SenderLoop, i);
    threads_.emplace_back(MemoryLoop);
  }

  static void TearDownTestSuite() {
    StopLoad();
    delete cluster_;
    cluster_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << "cluster set-up failed: " << setup_error_; }

  static void StopLoad() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  static std::int64_t Uid(const std::string& no) { return uids_.at(no); }
  static const std::string& Token(std::int64_t uid) { return tokens_.at(uid); }
  static int NotifyPort() { return cluster_->notify_port(0); }
  static int SyncPort() { return cluster_->sync_port(0); }

  // ---- the well-behaved load ----

  struct Received {
    std::mutex mu;
    std::set<std::string> contents;
  };

  // One sender on sync0: a message to its receiver every kSendEvery, each
  // answered 200 within kAnswerBound (else a failure is recorded).
  static void SenderLoop(int pair) {
    const std::int64_t uid = Uid("g_s" + std::to_string(pair));
    const std::int64_t to = Uid("g_r" + std::to_string(pair));
    RawClient sync;
    if (!sync.Connect(SyncPort()) || sync.Login(uid, Token(uid), 1) != 200) {
      Fail("sender " + std::to_string(pair) + " could not log in");
      return;
    }
    for (int n = 1; !stop_; ++n) {
      const std::string content = std::to_string(uid) + ":" + std::to_string(n);
      const client::ImClientSendMsg m = PeerMessage(uid, to, n, content);
      const std::int32_t seq = sync.NextSeq();
      const auto sent_at = Clock::now();
      {
        std::lock_guard<std::mutex> lock(mu_);
        sent_at_[content] = sent_at;
      }
      if (!sync.Send(uid, client::IM_CMD_CLIENT_SEND_IM, seq, m)) {
        Fail("sender " + std::to_string(pair) + ": send failed (connection lost)");
        return;
      }
      auto res = sync.WaitFor(client::IM_CMD_CLIENT_SEND_IM_RES, kAnswerBound);
      const int phase = phase_;
      if (!res || res->header.seq != seq) {
        Fail("sender " + std::to_string(pair) + ": no answer to send " + content);
        return;
      }
      const int code = res->As<client::ImClientSendMsgRes>().code();
      {
        std::lock_guard<std::mutex> lock(mu_);
        send_ms_[phase].push_back(Ms(Clock::now() - sent_at));
        if (code == 200) {
          acked_[pair].push_back(content);
        } else {
          failures_.push_back("send " + content + " answered " + std::to_string(code));
        }
      }
      std::this_thread::sleep_for(kSendEvery);
    }
  }

  // One receiver on notify0: heartbeats, collects pushed contents; it must
  // never be disconnected.
  static void ReceiverLoop(int pair) {
    const std::int64_t uid = Uid("g_r" + std::to_string(pair));
    Received& got = *received_[pair];
    RawClient notify;
    if (!notify.Connect(NotifyPort()) || notify.Login(uid, Token(uid), 1) != 200) {
      Fail("receiver " + std::to_string(pair) + " could not log in");
      ++logged_in_receivers_;
      return;
    }
    ++logged_in_receivers_;
    auto next_ping = Clock::now();
    while (!stop_) {
      if (Clock::now() >= next_ping) {
        client::UserMsgSyncInfo ping;
        notify.Send(uid, client::IM_CMD_HEART_PING, notify.NextSeq(), ping);
        next_ping = Clock::now() + 300ms;
      }
      auto f = notify.Read(50ms);
      if (notify.peer_closed()) {
        Fail("receiver " + std::to_string(pair) + " was disconnected by notify0");
        return;
      }
      if (!f || f->header.cmdid != client::IM_CMD_NOTIFY_SYNC_HAS_CHATDATA) continue;
      const std::string content = f->As<client::ImSyncNotifyWithData>().content();
      const auto now = Clock::now();
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sent_at_.find(content);
      if (it != sent_at_.end()) push_ms_[phase_].push_back(Ms(now - it->second));
      std::lock_guard<std::mutex> lock2(got.mu);
      got.contents.insert(content);
    }
  }

  // Samples the client-facing daemons' VmRSS; keeps the peak.
  static void MemoryLoop() {
    while (!stop_) {
      for (const char* name : {"notify0", "sync0"}) {
        const std::int64_t kb = RssKb(cluster_->pid(name));
        std::lock_guard<std::mutex> lock(mu_);
        rss_peak_[name] = std::max(rss_peak_[name], kb);
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  static void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.push_back(what);
  }

  // ---- helpers for the abusers ----

  // A logged-in raw client of the abuser account.
  static bool AbuserLogin(RawClient& c, int port, std::int64_t device = 9) {
    const std::int64_t uid = Uid("abuser");
    return c.Connect(port) && c.Login(uid, Token(uid), device) == 200;
  }

  // Expects IM_CMD_ERROR `code` next, then the close.
  static void ExpectErrorThenClose(RawClient& c, int code, const std::string& what) {
    auto f = c.WaitFor(client::IM_CMD_ERROR, 10s);
    ASSERT_TRUE(f.has_value()) << what << ": no IM_CMD_ERROR";
    EXPECT_EQ(f->As<client::ImError>().code(), code) << what << ": " << f->As<client::ImError>().desp();
    EXPECT_TRUE(c.WaitClosed(10s)) << what << ": not closed after the error";
  }

  static void ExpectLoginRefused(int port, std::int64_t uid, const std::string& token, const std::string& what) {
    RawClient c;
    ASSERT_TRUE(c.Connect(port)) << what;
    EXPECT_EQ(c.Login(uid, token, 5), 401) << what;
    EXPECT_TRUE(c.WaitClosed(10s)) << what << ": not closed after 401";
  }

  static LocalCluster* cluster_;
  static std::string setup_error_;
  static std::map<std::string, std::int64_t> uids_;
  static std::map<std::int64_t, std::string> tokens_;
  static std::vector<std::thread> threads_;
  static std::atomic<bool> stop_;
  static std::atomic<int> phase_;  // 0: baseline, 1: abuse, 2: after
  static std::atomic<int> logged_in_receivers_;
  static std::vector<std::unique_ptr<Received>> received_;
  static std::mutex mu_;  // guards everything below
  static std::map<std::string, Clock::time_point> sent_at_;
  static std::map<int, std::vector<std::int64_t>> send_ms_, push_ms_;  // by phase
  static std::map<int, std::vector<std::string>> acked_;                 // by pair
  static std::vector<std::string> failures_;
  static std::map<std::string, std::int64_t> rss_base_, rss_peak_;
};

LocalCluster* AbuseSuite::cluster_ = nullptr;
std::string AbuseSuite::setup_error_;
std::map<std::string, std::int64_t> AbuseSuite::uids_;
std::map<std::int64_t, std::string> AbuseSuite::tokens_;
std::vector<std::thread> AbuseSuite::threads_;
std::atomic<bool> AbuseSuite::stop_{false};
std::atomic<int> AbuseSuite::phase_{0};
std::atomic<int> AbuseSuite::logged_in_receivers_{0};
std::vector<std::unique_ptr<AbuseSuite::Received>> AbuseSuite::received_;
std::mutex AbuseSuite::mu_;
std::map<std::string, Clock::time_point> AbuseSuite::sent_at_;
std::map<int, std::vector<std::int64_t>> AbuseSuite::send_ms_, AbuseSuite::push_ms_;
std::map<int, std::vector<std::string>> AbuseSuite::acked_;
std::vector<std::string> AbuseSuite::failures_;
std::map<std::string, std::int64_t> AbuseSuite::rss_base_, AbuseSuite::rss_peak_;

// ---- the baseline: the load alone ----

TEST_F(AbuseSuite, Baseline) {
  std::this_thread::sleep_for(3s);  // latency sample of the load alone (no synchronization intended)
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, kb] : rss_base_) kb = RssKb(cluster_->pid(name));
  for (auto& [name, kb] : rss_peak_) kb = 0;
  EXPECT_FALSE(send_ms_[0].empty()) << "no well-behaved send was answered";
  phase_ = 1;
}

// ---- connections that never log in ----

TEST_F(AbuseSuite, NeverLoggingInIsClosedByTheLoginTimeout) {
  for (const int port : {NotifyPort(), SyncPort()}) {
    std::vector<std::unique_ptr<RawClient>> idle;
    for (int i = 0; i < 50; ++i) {
      idle.push_back(std::make_unique<RawClient>());
      ASSERT_TRUE(idle.back()->Connect(port));
    }
    for (auto& c : idle) {
      // No frame, just the close.
      EXPECT_FALSE(c->Read(std::chrono::milliseconds(std::max(kNotifyLoginTimeoutMs, kSyncLoginTimeoutMs)) + kCloseSlack)
                       .has_value());
      EXPECT_TRUE(c->peer_closed()) << "port " << port;
    }
  }
}

// ---- tokens ----

TEST_F(AbuseSuite, ForgedExpiredAndForeignTokensGet401AndClose) {
  const std::int64_t uid = Uid("abuser");
  const std::int64_t victim = Uid("victim");
  // An expired token: a real one whose Redis key has expired.
  auto expired = cluster_->IssueToken(uid);
  ASSERT_TRUE(expired.ok()) << expired.status();
  ASSERT_EQ(testing::RunCommand({"redis-cli", "-h", cluster_->redis().host(), "-p",
                                 std::to_string(cluster_->redis().port()), "PEXPIRE", "imtoken:" + *expired, "1"}),
            0);
  const auto until = Clock::now() + 10s;
  std::string exists;
  while (Clock::now() < until) {
    exists.clear();
    testing::RunCommand({"redis-cli", "-h", cluster_->redis().host(), "-p", std::to_string(cluster_->redis().port()),
                         "EXISTS", "imtoken:" + *expired},
                        &exists);
    if (exists.find('0') != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  for (const int port : {NotifyPort(), SyncPort()}) {
    ExpectLoginRefused(port, uid, std::string(64, 'f'), "forged token");
    ExpectLoginRefused(port, uid, "", "empty token");
    ExpectLoginRefused(port, uid, std::string(2000, 'x'), "long forged token");
    ExpectLoginRefused(port, uid, *expired, "expired token");
    ExpectLoginRefused(port, victim, Token(uid), "the abuser's token claiming the victim's uid");
  }
}

// ---- a header uid other than the logged-in one ----

TEST_F(AbuseSuite, ClaimingAnotherUidIsRefused) {
  const std::int64_t victim = Uid("victim");
  {
    RawClient c;
    ASSERT_TRUE(AbuserLogin(c, NotifyPort()));
    client::UserMsgSyncInfo ping;
    ASSERT_TRUE(c.Send(victim, client::IM_CMD_HEART_PING, c.NextSeq(), ping));
    ExpectErrorThenClose(c, 400, "notify: ping with the victim's uid");
  }
  {
    RawClient c;
    ASSERT_TRUE(AbuserLogin(c, SyncPort()));
    client::ImSyncPull pull;
    ASSERT_TRUE(c.Send(victim, client::IM_CMD_SYNC_PULL, c.NextSeq(), pull));
    ExpectErrorThenClose(c, 400, "sync: pull of the victim's sequence");
  }
  {
    // The header is right, the body claims the victim as sender: 400 in the 316, connection stays.
    RawClient c;
    ASSERT_TRUE(AbuserLogin(c, SyncPort()));
    const client::ImClientSendMsg m = PeerMessage(victim, Uid("g_r0"), 1, "forged");
    const std::int32_t seq = c.NextSeq();
    ASSERT_TRUE(c.Send(Uid("abuser"), client::IM_CMD_CLIENT_SEND_IM, seq, m));
    auto res = c.WaitFor(client::IM_CMD_CLIENT_SEND_IM_RES, 10s);
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->As<client::ImClientSendMsgRes>().code(), 400);
    client::UserMsgSyncInfo ping;
    ASSERT_TRUE(c.Send(Uid("abuser"), client::IM_CMD_HEART_PING, c.NextSeq(), ping));
    EXPECT_TRUE(c.WaitFor(client::IM_CMD_HEART_PONG, 10s).has_value()) << "connection should stay open";
  }
}

// ---- garbage and malformed lengths ----

TEST_F(AbuseSuite, GarbageBytesAreClosed) {
  std::mt19937 rng(10);
  for (const int port : {NotifyPort(), SyncPort()}) {
    // body_len below 14: 400 at once.
    {
      RawClient c;
      ASSERT_TRUE(c.Connect(port));
      ASSERT_TRUE(c.SendBytes(std::string("\x00\x05hello garbage!!", 16)));
      ExpectErrorThenClose(c, 400, "body_len 5");
    }
    // A frame before login: 401.
    {
      RawClient c;
      ASSERT_TRUE(c.Connect(port));
      ASSERT_TRUE(c.SendBytes(RawHeader(14, 1, client::IM_CMD_HEART_PING, 1)));
      ExpectErrorThenClose(c, 401, "ping before login");
    }
    // A login whose body is not an ImLogin: 400.
    {
      RawClient c;
      ASSERT_TRUE(c.Connect(port));
      ASSERT_TRUE(c.SendBytes(RawHeader(14 + 4, 1, client::IM_CMD_LOGIN, 1) + std::string("\xff\xff\xff\xff", 4)));
      ExpectErrorThenClose(c, 400, "undecodable login");
    }
    // After login: an unknown command, an undecodable body.
    {
      RawClient c;
      ASSERT_TRUE(AbuserLogin(c, port));
      ASSERT_TRUE(c.SendBytes(RawHeader(14, Uid("abuser"), 999, c.NextSeq())));
      ExpectErrorThenClose(c, 400, "unknown command");
    }
    {
      RawClient c;
      ASSERT_TRUE(AbuserLogin(c, port));
      ASSERT_TRUE(c.SendBytes(RawHeader(14 + 3, Uid("abuser"), client::IM_CMD_HEART_PING, c.NextSeq()) +
                              std::string("\x0a\xff\x01", 3)));
      ExpectErrorThenClose(c, 400, "undecodable ping");
    }
    // Random bytes, 20 connections at once: whatever they parse as, each
    // ends with at most a 400/401 and a close (at the latest by the login
    // timeout).
    std::vector<std::unique_ptr<RawClient>> junk_clients;
    for (int round = 0; round < 20; ++round) {
      junk_clients.push_back(std::make_unique<RawClient>());
      ASSERT_TRUE(junk_clients.back()->Connect(port));
      std::string junk(1 + rng() % 3000, '\0');
      for (char& ch : junk) ch = static_cast<char>(rng());
      junk_clients.back()->SendBytes(junk);  // the server may close while we write
    }
    const auto until = Clock::now() + std::chrono::milliseconds(kNotifyLoginTimeoutMs) + kCloseSlack;
    for (auto& c : junk_clients) {
      while (!c->peer_closed() && Clock::now() < until) {
        auto f = c->Read(500ms);
        if (!f) continue;
        EXPECT_EQ(f->header.cmdid, client::IM_CMD_ERROR);
        const int code = f->As<client::ImError>().code();
        EXPECT_TRUE(code == 400 || code == 401) << code;
      }
      EXPECT_TRUE(c->peer_closed()) << "random bytes left open on port " << port;
    }
  }
}

TEST_F(AbuseSuite, OversizedBodyLengthIsRefusedWithoutReadingTheBody) {
  for (const auto& [port, max_body] : {std::pair{NotifyPort(), kNotifyMaxBody}, std::pair{SyncPort(), kSyncMaxBody}}) {
    // Before login: only the header is sent; the answer must not wait for the body.
    {
      RawClient c;
      ASSERT_TRUE(c.Connect(port));
      ASSERT_TRUE(c.SendBytes(RawHeader(65535, 1, client::IM_CMD_LOGIN, 1)));
      ExpectErrorThenClose(c, 400, "65535 before login");
    }
    // After login: one byte over the configured maximum.
    {
      RawClient c;
      ASSERT_TRUE(AbuserLogin(c, port));
      ASSERT_TRUE(c.SendBytes(
          RawHeader(static_cast<std::uint16_t>(14 + max_body + 1), Uid("abuser"), client::IM_CMD_HEART_PING, 2)));
      ExpectErrorThenClose(c, 400, "max_body + 1 after login");
    }
  }
}

// ---- slowloris ----

TEST_F(AbuseSuite, SlowlorisIsClosedByTheTimeouts) {
  const std::int64_t uid = Uid("abuser");
  struct Slow {
    std::unique_ptr<RawClient> c;
    std::string rest;  // bytes still to trickle
    int port;
  };
  std::vector<Slow> slow;
  for (const int port : {NotifyPort(), SyncPort()}) {
    // Before login: a login frame, one byte at a time, far too slowly.
    for (int i = 0; i < 100; ++i) {
      Slow s{std::make_unique<RawClient>(), LoginFrame(uid, Token(uid), 1), port};
      ASSERT_TRUE(s.c->Connect(port));
      slow.push_back(std::move(s));
    }
    // After login: half a frame, then nothing (the idle timeout).
    for (int i = 0; i < 20; ++i) {
      Slow s{std::make_unique<RawClient>(), "", port};
      ASSERT_TRUE(AbuserLogin(*s.c, port, 100 + i));
      ASSERT_TRUE(s.c->SendBytes(RawHeader(14 + 4, uid, client::IM_CMD_HEART_PING, 2).substr(0, 9)));
      slow.push_back(std::move(s));
    }
  }
  const auto until = Clock::now() + std::chrono::milliseconds(std::max(kNotifyLoginTimeoutMs, kNotifyHeartbeatMs * 3)) +
                     kCloseSlack;
  std::size_t open = slow.size();
  while (open > 0 && Clock::now() < until) {
    open = 0;
    for (Slow& s : slow) {
      if (s.c->peer_closed()) continue;
      if (!s.rest.empty()) {
        s.c->SendBytes(s.rest.substr(0, 1));
        s.rest.erase(0, 1);
      }
      s.c->Read(1ms);
      if (!s.c->peer_closed()) ++open;
    }
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(open, 0u) << "slowloris connections still open after the timeouts";
}

// ---- floods ----

TEST_F(AbuseSuite, PingFloodIsCutWith429) {
  RawClient c;
  ASSERT_TRUE(AbuserLogin(c, NotifyPort()));
  std::string flood;
  for (int i = 1; i <= 1000; ++i) flood += RawHeader(14, Uid("abuser"), client::IM_CMD_HEART_PING, i + 1);
  c.SendBytes(flood);
  ExpectErrorThenClose(c, 429, "ping flood");
}

TEST_F(AbuseSuite, SendFloodGets429ThenIsCut) {
  const std::int64_t uid = Uid("abuser");
  RawClient c;
  ASSERT_TRUE(AbuserLogin(c, SyncPort()));
  // 100 sends at once (under the connection's frame rate): access_server's
  // per-user rate limit answers the excess with 429 and stores nothing.
  std::map<int, int> codes;
  std::set<std::int32_t> seqs;
  for (int n = 1; n <= 100; ++n) {
    const client::ImClientSendMsg m = PeerMessage(uid, Uid("victim"), n, "flood");
    const std::int32_t seq = c.NextSeq();
    seqs.insert(seq);
    ASSERT_TRUE(c.Send(uid, client::IM_CMD_CLIENT_SEND_IM, seq, m));
  }
  for (int i = 0; i < 100; ++i) {
    auto f = c.WaitFor(client::IM_CMD_CLIENT_SEND_IM_RES, 10s);
    ASSERT_TRUE(f.has_value()) << "answers: " << i;
    EXPECT_EQ(seqs.erase(f->header.seq), 1u) << "an answer to no request, or a second one";
    ++codes[f->As<client::ImClientSendMsgRes>().code()];
  }
  EXPECT_GT(codes[429], 0);
  EXPECT_GT(codes[200], 0);
  EXPECT_EQ(codes[200] + codes[429], 100);
  // What the victim's sequence holds: exactly the sends answered 200 (not
  // the 429s, nor the forged send of ClaimingAnotherUidIsRefused).
  {
    const std::int64_t victim = Uid("victim");
    RawClient v;
    ASSERT_TRUE(v.Connect(SyncPort()));
    ASSERT_EQ(v.Login(victim, Token(victim), 1), 200);
    client::ImSyncPull pull;
    pull.set_limit(500);
    const std::int32_t seq = v.NextSeq();
    ASSERT_TRUE(v.Send(victim, client::IM_CMD_SYNC_PULL, seq, pull));
    int stored = 0;
    for (;;) {
      auto f = v.Read(10s);
      ASSERT_TRUE(f.has_value()) << "pull of the victim's sequence did not finish";
      if (f->header.cmdid == client::IM_CMD_SYNC_PULL_RES) {
        EXPECT_EQ(f->As<client::ImSyncPullRes>().code(), 200);
        break;
      }
      if (f->header.cmdid == client::IM_CMD_CLIENT_SEND_IM) {
        EXPECT_EQ(f->As<client::ImClientSendMsgSync>().content(), "flood");
        ++stored;
      }
    }
    EXPECT_EQ(stored, codes[200]);
  }
  std::printf("send flood: 100 sends at once -> %d x 200, %d x 429\n", codes[200], codes[429]);
  // Then far over the connection's frame rate: 429 and close.
  std::string flood;
  for (int n = 0; n < 1000; ++n) flood += RawHeader(14, uid, client::IM_CMD_HEART_PING, c.NextSeq());
  c.SendBytes(flood);
  ExpectErrorThenClose(c, 429, "frame flood on sync");
}

// ---- 10,000 connections from one address ----

TEST_F(AbuseSuite, TenThousandConnectionsFromOneAddress) {
  constexpr int kConnections = 10000;
  for (const bool notify : {true, false}) {
    const int port = notify ? NotifyPort() : SyncPort();
    const char* name = notify ? "notify0" : "sync0";
    const auto start = Clock::now();
    std::vector<int> fds;
    fds.reserve(kConnections);
    for (int i = 0; i < kConnections; ++i) {
      const int fd = ConnectFd(port);
      if (fd < 0) break;
      fds.push_back(fd);
    }
    const auto opened_ms = Ms(Clock::now() - start);
    ASSERT_EQ(static_cast<int>(fds.size()), kConnections) << "connect failed: " << std::strerror(errno);
    std::vector<bool> closed(fds.size(), false);
    // Refusals (over max_connections) are closed at once. Until the login
    // timeout has passed since the first connect, a closed connection can only
    // be a refusal: count them until all expected ones are seen or then.
    const int login_timeout = notify ? kNotifyLoginTimeoutMs : kSyncLoginTimeoutMs;
    const int expected = notify ? kConnections - kNotifyMaxConnections : 0;
    const auto cutoff = start + std::chrono::milliseconds(login_timeout - 300);
    int refused = MarkClosed(fds, &closed);
    while (refused < expected && Clock::now() < cutoff) {
      std::this_thread::sleep_for(50ms);
      refused = MarkClosed(fds, &closed);
    }
    if (Clock::now() < cutoff) refused = MarkClosed(fds, &closed);
    std::printf("%s: %d connections opened in %lld ms, %d refused at once (max_connections %s)%s\n", name,
                kConnections, static_cast<long long>(opened_ms), refused,
                notify ? std::to_string(kNotifyMaxConnections).c_str() : "100000",
                refused < expected ? " [the daemon was too slow to refuse all before the login timeout]" : "");
    if (notify) {
      EXPECT_GT(refused, 0) << "nothing refused over max_connections";
      EXPECT_LE(refused, expected + 50) << "refused below max_connections";
    }
    // The accepted ones are closed by the login timeout.
    const auto until = Clock::now() + std::chrono::milliseconds(login_timeout) + kCloseSlack;
    int n = refused;
    while (n < kConnections && Clock::now() < until) {
      std::this_thread::sleep_for(100ms);
      n = MarkClosed(fds, &closed);
    }
    EXPECT_EQ(n, kConnections) << name << ": connections never logged in were not all closed";
    for (int fd : fds) ::close(fd);
    EXPECT_TRUE(cluster_->Running(name));
    // A new client is served again.
    RawClient c;
    ASSERT_TRUE(AbuserLogin(c, port, 50)) << name << " does not serve a new client after the abuse";
  }
}

// ---- one frame bigger than max_output_bytes (notify1/sync1) ----

TEST_F(AbuseSuite, FrameBiggerThanOutputLimitReachesAPromptReader) {
  const std::int64_t from = Uid("big_s"), to = Uid("big_r");
  RawClient notify;
  ASSERT_TRUE(notify.Connect(cluster_->notify_port(1)));
  ASSERT_EQ(notify.Login(to, Token(to), 1), 200);
  RawClient sender;
  ASSERT_TRUE(sender.Connect(SyncPort()));
  ASSERT_EQ(sender.Login(from, Token(from), 1), 200);
  const std::string content(3000, 'b');  // its push frame is ~3 KB > notify1's 1024-byte limit
  const client::ImClientSendMsg m = PeerMessage(from, to, 1, content);
  ASSERT_TRUE(sender.Send(from, client::IM_CMD_CLIENT_SEND_IM, sender.NextSeq(), m));
  auto res = sender.WaitFor(client::IM_CMD_CLIENT_SEND_IM_RES, 10s);
  ASSERT_TRUE(res.has_value());
  ASSERT_EQ(res->As<client::ImClientSendMsgRes>().code(), 200);
  auto push = notify.WaitFor(client::IM_CMD_NOTIFY_SYNC_HAS_CHATDATA, 10s);
  ASSERT_TRUE(push.has_value()) << "the big push was not delivered (client dropped?)";
  EXPECT_EQ(push->As<client::ImSyncNotifyWithData>().content(), content);
  client::UserMsgSyncInfo ping;
  ASSERT_TRUE(notify.Send(to, client::IM_CMD_HEART_PING, notify.NextSeq(), ping));
  EXPECT_TRUE(notify.WaitFor(client::IM_CMD_HEART_PONG, 10s).has_value()) << "notify1 dropped the client";

  // The same message pulled from sync1 (max_output_bytes 1024): one frame over the limit.
  RawClient sync;
  ASSERT_TRUE(sync.Connect(cluster_->sync_port(1)));
  ASSERT_EQ(sync.Login(to, Token(to), 2), 200);
  client::ImSyncPull pull;
  pull.set_offset(0);
  pull.set_limit(10);
  const std::int32_t seq = sync.NextSeq();
  ASSERT_TRUE(sync.Send(to, client::IM_CMD_SYNC_PULL, seq, pull));
  auto data = sync.WaitFor(client::IM_CMD_CLIENT_SEND_IM, 10s);
  ASSERT_TRUE(data.has_value()) << "the pulled message was not delivered (client dropped?)";
  EXPECT_EQ(data->As<client::ImClientSendMsgSync>().content(), content);
  auto end = sync.WaitFor(client::IM_CMD_SYNC_PULL_RES, 10s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->As<client::ImSyncPullRes>().code(), 200);
}

// ---- the promise: well-behaved clients served, memory bounded, daemons alive ----

TEST_F(AbuseSuite, WellBehavedClientsServedMemoryBoundedNoSanitizerReport) {
  phase_ = 2;
  std::this_thread::sleep_for(2s);  // a latency sample after the abuse
  // Every abuser is gone: the daemons' memory must come back near the baseline.
  std::map<std::string, std::int64_t> after;
  for (const char* name : {"notify0", "sync0"}) after[name] = RssKb(cluster_->pid(name));
  StopLoad();
  // Every send answered 200 was pushed to its (never disconnected) receiver.
  const auto until = Clock::now() + 10s;
  std::vector<std::string> missing;
  for (;;) {
    missing.clear();
    for (int pair = 0; pair < kGoodPairs; ++pair) {
      std::lock_guard<std::mutex> lock(received_[pair]->mu);
      for (const std::string& content : acked_[pair]) {
        if (!received_[pair]->contents.count(content)) missing.push_back(content);
      }
    }
    if (missing.empty() || Clock::now() >= until) break;
    std::this_thread::sleep_for(100ms);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& f : failures_) ADD_FAILURE() << "well-behaved client: " << f;
  EXPECT_TRUE(missing.empty()) << missing.size() << " messages answered 200 were not pushed, e.g. " << missing[0];
  std::size_t acked = 0;
  for (auto& [pair, list] : acked_) acked += list.size();
  EXPECT_GT(acked, 100u);

  std::printf("\nwell-behaved clients (%d senders on sync0, %d receivers on notify0; %zu sends answered 200):\n",
              kGoodPairs, kGoodPairs, acked);
  std::printf("%-10s %8s %14s %14s %8s %14s %14s\n", "phase", "sends", "send p50 ms", "send p99 ms", "pushes",
              "push p50 ms", "push p99 ms");
  const char* phases[] = {"before", "during", "after"};
  for (int p = 0; p < 3; ++p) {
    std::printf("%-10s %8zu %14lld %14lld %8zu %14lld %14lld\n", phases[p], send_ms_[p].size(),
                static_cast<long long>(Percentile(send_ms_[p], 0.5)),
                static_cast<long long>(Percentile(send_ms_[p], 0.99)), push_ms_[p].size(),
                static_cast<long long>(Percentile(push_ms_[p], 0.5)),
                static_cast<long long>(Percentile(push_ms_[p], 0.99)));
  }
  std::printf("daemon VmRSS (MB)%s:\n%-10s %10s %10s %10s\n", kSanitized ? " [ASan]" : "", "daemon", "baseline",
              "peak", "after");
  for (const char* name : {"notify0", "sync0"}) {
    const std::int64_t base = rss_base_[name] / 1024, peak = rss_peak_[name] / 1024, end = after[name] / 1024;
    std::printf("%-10s %10lld %10lld %10lld\n", name, static_cast<long long>(base), static_cast<long long>(peak),
                static_cast<long long>(end));
    EXPECT_GT(base, 0);
    EXPECT_LT(peak, base + kPeakCapMb) << name << ": memory grew without bound under abuse";
    EXPECT_LT(end, base + kAfterCapMb) << name << ": memory did not come back after the abusers left";
  }
  std::fflush(stdout);

  // Every daemon survived; then a clean stop, and no sanitizer report in any log.
  for (const std::string& name : cluster_->components()) EXPECT_TRUE(cluster_->Running(name)) << name << " died";
  cluster_->Stop();
  for (const std::string& report : cluster_->SanitizerReports()) ADD_FAILURE() << report;
}

}  // namespace
}  // namespace im
