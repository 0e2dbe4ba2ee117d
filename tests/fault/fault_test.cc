// The fault suite: the whole cluster as real processes under a continuous
// load of raw-protocol clients, while one component at a time is killed
// (SIGKILL) and restarted, paused (SIGSTOP) or — for Redis and MariaDB —
// stopped, restarted or flushed. After each fault it checks the promise of
// docs/protocol.md §6 for every message answered 200: it is in the receiver's
// and the sender's sequences exactly once, offsets are continuous, each
// sender's order is kept, and the receiving client (pushes, heartbeat gap
// checks and pulls, as an SDK does) got every one of them, once and in order.
//
// Senders retry a send whose answer did not come (timeout, disconnect, 5xx)
// with the same client msgid, as the SDK does; the server deduplicates, so a
// message is either answered 200 once or given up after a bound. A summary
// table is printed at the end.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "proto/im_client.pb.h"
#include "tests/support/local_cluster.h"
#include "tests/support/raw_client.h"

namespace im {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using testing::LocalCluster;
using testing::RawClient;

constexpr int kPairs = 4;                // sender → receiver pairs
constexpr auto kAnswerTimeout = 3s;      // a send unanswered this long is retried
constexpr auto kGiveUpAfter = 60s;       // a send still failing this long is given up
constexpr auto kCatchUpBound = 30s;      // receivers must have everything this soon after load stops

std::int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// One message a sender tried to send.
struct Attempted {
  std::int64_t from = 0;
  std::int64_t to = 0;
  int n = 0;                   // the sender's counter: its client msgid, and the order
  std::string content;         // "<from>:<n>", unique
  bool acked = false;          // answered 200
  std::int64_t sender_offset = 0;  // the 316's offset (the sender copy)
  int phase = 0;
};

struct PhaseRow {
  std::string fault;
  int sent = 0, acked = 0, given_up = 0, lost = 0, duplicated = 0, reordered = 0, unexpected = 0;
  std::int64_t recovery_ms = 0;  // repair → every sender answered 200 again
  std::int64_t catch_up_ms = 0;  // load stopped → every receiver has everything
  std::map<int, int> codes;      // non-200 answers by code
};

// Shared state of the load. Every method is thread safe.
class Ledger {
 public:
  void Add(Attempted a) {
    std::lock_guard<std::mutex> lock(mu_);
    all_.push_back(std::move(a));
  }
  void Code(int code) {
    std::lock_guard<std::mutex> lock(mu_);
    ++codes_[code];
  }
  std::vector<Attempted> All() const {
    std::lock_guard<std::mutex> lock(mu_);
    return all_;
  }
  std::map<int, int> TakeCodes() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(codes_, {});
  }

 private:
  mutable std::mutex mu_;
  std::vector<Attempted> all_;
  std::map<int, int> codes_;
};

class FaultSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new LocalCluster();
    testing::ClusterOptions options;
    options.access_servers = 2;
    options.notify_servers = 2;
    options.sync_servers = 2;
    options.extra_flags["access0"] = {"--limits.rate_limit_per_s", "0"};
    options.extra_flags["access1"] = {"--limits.rate_limit_per_s", "0"};
    if (absl::Status s = cluster_->Start(options); !s.ok()) {
      setup_error_ = s.ToString();
      return;
    }
    for (int i = 0; i < kPairs; ++i) {
      for (const char* role : {"s", "r"}) {
        auto uid = cluster_->CreateAccount(std::string("fault") + role + std::to_string(i));
        if (!uid.ok()) {
          setup_error_ = uid.status().ToString();
          return;
        }
        (role[0] == 's' ? senders_ : receivers_).push_back(*uid);
      }
    }
  }
  static void TearDownTestSuite() {
    PrintSummary();
    // A clean stop, then no sanitizer report in any daemon's log (only ever
    // found when the daemons are built with IM_SANITIZE; deploy/test.sh runs
    // this suite so once more, and LeakSanitizer reports at a clean exit).
    cluster_->Stop();
    for (const std::string& report : cluster_->SanitizerReports()) ADD_FAILURE() << report;
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << "cluster set-up failed: " << setup_error_; }

  // ---- tokens (re-issued when a login is refused, e.g. after Redis lost them) ----

  static std::string Token(std::int64_t uid, bool fresh) {
    std::lock_guard<std::mutex> lock(tokens_mu_);
    auto it = tokens_.find(uid);
    if (it != tokens_.end() && !fresh) return it->second;
    auto token = cluster_->IssueToken(uid);
    if (!token.ok()) return "";
    tokens_[uid] = *token;
    return *token;
  }

  // Connects and logs in to the sync or notify server `*index` (mod 2);
  // moves on to the other one when that fails.
  static bool ConnectLogin(RawClient& c, std::int64_t uid, bool notify, int* index, std::int64_t device) {
    const int port = notify ? cluster_->notify_port(*index % 2) : cluster_->sync_port(*index % 2);
    if (!c.Connect(port)) {
      ++*index;
      return false;
    }
    int code = c.Login(uid, Token(uid, false), device);
    if (code == 401) code = c.Login(uid, Token(uid, true), device);
    if (code == 200) return true;
    c.Close();
    ++*index;
    return false;
  }

  // ---- the load ----

  static void SenderLoop(int pair) {
    const std::int64_t uid = senders_[pair];
    const std::int64_t to = receivers_[pair];
    RawClient sync;
    int index = pair;
    int n = 0;
    while (!stop_) {
      if (!sending_) {
        idle_[pair] = true;
        std::this_thread::sleep_for(5ms);
        continue;
      }
      idle_[pair] = false;
      Attempted a;
      a.from = uid;
      a.to = to;
      a.n = ++n;
      a.content = std::to_string(uid) + ":" + std::to_string(n);
      a.phase = phase_;
      const auto give_up = Clock::now() + kGiveUpAfter;
      while (!a.acked && Clock::now() < give_up && !stop_) {
        if (!sync.connected() || sync.peer_closed()) {
          sync.Close();
          if (!ConnectLogin(sync, uid, false, &index, 1)) {
            std::this_thread::sleep_for(100ms);
            continue;
          }
        }
        client::ImClientSendMsg m;
        m.set_fromuid(uid);
        m.set_touid(to);
        m.set_msgid(n);
        m.set_timestamp(1700000000);
        m.set_msgtype(1);
        m.set_len(static_cast<std::int32_t>(a.content.size()));
        m.set_content(a.content);
        const std::int32_t seq = sync.NextSeq();
        if (!sync.Send(uid, client::IM_CMD_CLIENT_SEND_IM, seq, m)) {
          sync.Close();
          continue;
        }
        auto res = sync.WaitFor(client::IM_CMD_CLIENT_SEND_IM_RES, kAnswerTimeout);
        if (!res || res->header.seq != seq) {
          sync.Close();  // no answer: a new connection, the same msgid
          ++index;
          continue;
        }
        const auto answer = res->As<client::ImClientSendMsgRes>();
        if (answer.code() == 200) {
          a.acked = true;
          a.sender_offset = answer.offset();
          const auto now = Clock::now();
          std::lock_guard<std::mutex> lock(recovery_mu_);
          if (now >= repaired_at_ && first_ok_after_repair_[pair] == Clock::time_point{}) {
            first_ok_after_repair_[pair] = now;
          }
          break;
        }
        ledger_.Code(answer.code());
        if (answer.code() == 429 || answer.code() >= 500) {
          std::this_thread::sleep_for(100ms);
          continue;
        }
        ADD_FAILURE() << "send " << a.content << " refused with " << answer.code();
        break;
      }
      ledger_.Add(a);
    }
  }

  // What a receiving app sees: pushes, gap checks by heartbeat, pulls.
  struct Received {
    std::mutex mu;
    std::vector<std::string> contents;  // in delivery order
    std::int64_t last = 0;              // last contiguous offset
  };

  // Pulls the peer sequence after `*last` until caught up, delivering each
  // message once and in order. False when the pull failed.
  static bool PullInto(RawClient& sync, std::int64_t uid, Received& got) {
    for (int page = 0; page < 1000; ++page) {
      std::int64_t from;
      {
        std::lock_guard<std::mutex> lock(got.mu);
        from = got.last;
      }
      client::ImSyncPull pull;
      pull.set_groupid(0);
      pull.set_offset(from);
      pull.set_limit(500);
      const std::int32_t seq = sync.NextSeq();
      if (!sync.Send(uid, client::IM_CMD_SYNC_PULL, seq, pull)) return false;
      std::int64_t expect = from + 1;
      for (;;) {
        auto f = sync.Read(kAnswerTimeout);
        if (!f) return false;
        if (f->header.seq != seq) continue;
        if (f->header.cmdid == client::IM_CMD_SYNC_PULL_RES) {
          const auto res = f->As<client::ImSyncPullRes>();
          if (res.code() != 200) return false;
          if (!res.hasmore()) return true;
          break;
        }
        const auto m = f->As<client::ImClientSendMsgSync>();
        if (m.offset() != expect) return false;  // the next page starts at `last`
        std::lock_guard<std::mutex> lock(got.mu);
        got.contents.push_back(m.content());
        got.last = m.offset();
        ++expect;
      }
    }
    return false;
  }

  static void ReceiverLoop(int pair) {
    const std::int64_t uid = receivers_[pair];
    Received& got = *received_[pair];
    RawClient notify, sync;
    int notify_index = pair, sync_index = pair;
    bool need_pull = true;
    auto next_ping = Clock::now();
    while (!stop_) {
      if (!notify.connected() || notify.peer_closed()) {
        notify.Close();
        if (!ConnectLogin(notify, uid, true, &notify_index, 1)) {
          std::this_thread::sleep_for(100ms);
          continue;
        }
        need_pull = true;  // pushes may have been missed while away
      }
      if (need_pull) {
        if (!sync.connected() || sync.peer_closed()) {
          sync.Close();
          ConnectLogin(sync, uid, false, &sync_index, 2);
        }
        if (sync.connected() && PullInto(sync, uid, got)) {
          need_pull = false;
        } else {
          sync.Close();
          ++sync_index;
        }
      }
      if (Clock::now() >= next_ping) {
        client::UserMsgSyncInfo ping;
        {
          std::lock_guard<std::mutex> lock(got.mu);
          ping.set_offset(got.last);
        }
        notify.Send(uid, client::IM_CMD_HEART_PING, notify.NextSeq(), ping);
        next_ping = Clock::now() + 300ms;
      }
      auto f = notify.Read(50ms);
      if (!f) continue;
      std::lock_guard<std::mutex> lock(got.mu);
      if (f->header.cmdid == client::IM_CMD_NOTIFY_SYNC_HAS_CHATDATA) {
        const auto m = f->As<client::ImSyncNotifyWithData>();
        if (m.offset() == got.last + 1) {
          got.contents.push_back(m.content());
          got.last = m.offset();
        } else if (m.offset() > got.last + 1) {
          need_pull = true;  // a gap
        }
      } else if (f->header.cmdid == client::IM_CMD_NOTIFY_SYNC ||
                 f->header.cmdid == client::IM_CMD_HEART_PONG) {
        if (f->As<client::UserMsgSyncInfo>().offset() > got.last) need_pull = true;
      }
    }
  }

  // ---- checks ----

  // The whole peer sequence of uid, by a fresh client: contents by offset.
  static std::vector<client::ImClientSendMsgSync> ReadSequence(std::int64_t uid) {
    std::vector<client::ImClientSendMsgSync> out;
    for (int attempt = 0; attempt < 50; ++attempt) {
      RawClient c;
      int index = attempt;
      if (!ConnectLogin(c, uid, false, &index, 3)) {
        std::this_thread::sleep_for(200ms);
        continue;
      }
      out.clear();
      bool ok = true, more = true;
      while (ok && more) {
        client::ImSyncPull pull;
        pull.set_offset(out.empty() ? 0 : out.back().offset());
        pull.set_limit(500);
        const std::int32_t seq = c.NextSeq();
        ok = c.Send(uid, client::IM_CMD_SYNC_PULL, seq, pull);
        while (ok) {
          auto f = c.Read(5s);
          if (!f) {
            ok = false;
            break;
          }
          if (f->header.cmdid == client::IM_CMD_SYNC_PULL_RES) {
            const auto res = f->As<client::ImSyncPullRes>();
            ok = res.code() == 200;
            more = res.hasmore();
            break;
          }
          out.push_back(f->As<client::ImClientSendMsgSync>());
        }
      }
      if (ok) return out;
      std::this_thread::sleep_for(200ms);
    }
    ADD_FAILURE() << "cannot pull the sequence of " << uid;
    return out;
  }

  // Checks one sequence against what was sent; adds to the row.
  static void CheckSequence(const std::vector<client::ImClientSendMsgSync>& seq,
                            const std::map<std::string, const Attempted*>& sent, bool sender_copy, PhaseRow* row,
                            const std::string& whose) {
    std::map<std::string, int> seen;
    std::map<std::int64_t, int> last_n;  // per sender
    for (std::size_t i = 0; i < seq.size(); ++i) {
      EXPECT_EQ(seq[i].offset(), static_cast<std::int64_t>(i + 1)) << whose << ": offsets not continuous";
      const std::string& content = seq[i].content();
      auto it = sent.find(content);
      if (it == sent.end()) {
        ++row->unexpected;
        ADD_FAILURE() << whose << ": a message nobody sent: " << content;
        continue;
      }
      if (++seen[content] > 1) ++row->duplicated;
      const Attempted& a = *it->second;
      if (sender_copy && a.acked) {
        EXPECT_EQ(seq[i].offset(), a.sender_offset) << whose << ": " << content;
      }
      int& previous = last_n[a.from];
      if (a.n <= previous) ++row->reordered;
      previous = std::max(previous, a.n);
    }
    for (const auto& [content, a] : sent) {
      if (a->acked && seen.count(content) == 0) {
        ++row->lost;
        ADD_FAILURE() << whose << ": lost " << content << " (answered 200)";
      }
    }
  }

  // One fault under load: load, fault, repair, load, then the checks.
  void RunFault(const std::string& name, const std::function<void()>& fault, const std::function<void()>& repair) {
    StartLoad();
    ++phase_;
    const int phase = phase_;
    sending_ = true;
    std::this_thread::sleep_for(1500ms);
    fault();
    repair();
    const auto repaired = Clock::now();
    {
      std::lock_guard<std::mutex> lock(recovery_mu_);
      repaired_at_ = repaired;
      for (auto& t : first_ok_after_repair_) t = {};
    }
    // Load until every sender was answered 200 again (bounded), and a bit more.
    const auto recovered_deadline = repaired + kGiveUpAfter;
    Clock::time_point recovered{};
    while (Clock::now() < recovered_deadline) {
      std::lock_guard<std::mutex> lock(recovery_mu_);
      if (std::all_of(first_ok_after_repair_.begin(), first_ok_after_repair_.end(),
                      [](auto t) { return t != Clock::time_point{}; })) {
        recovered = *std::max_element(first_ok_after_repair_.begin(), first_ok_after_repair_.end());
        break;
      }
      recovery_mu_.unlock();
      std::this_thread::sleep_for(20ms);
      recovery_mu_.lock();
    }
    std::this_thread::sleep_for(1s);
    sending_ = false;
    const auto drain_deadline = Clock::now() + kGiveUpAfter + 10s;
    while (Clock::now() < drain_deadline &&
           !std::all_of(std::begin(idle_), std::end(idle_), [](const std::atomic<bool>& i) { return i.load(); })) {
      std::this_thread::sleep_for(10ms);
    }
    const auto stopped = Clock::now();

    PhaseRow row;
    row.fault = name;
    row.recovery_ms = recovered == Clock::time_point{} ? -1 : Ms(recovered - repaired);
    EXPECT_NE(row.recovery_ms, -1) << name << ": some sender was never answered 200 after the repair";
    const std::vector<Attempted> all = ledger_.All();
    std::map<std::int64_t, std::map<std::string, const Attempted*>> by_receiver, by_sender;
    for (const Attempted& a : all) {
      by_receiver[a.to][a.content] = &a;
      by_sender[a.from][a.content] = &a;
      if (a.phase != phase) continue;
      ++row.sent;
      if (a.acked) ++row.acked;
      if (!a.acked) ++row.given_up;
    }
    EXPECT_GT(row.acked, 0) << name;
    EXPECT_EQ(row.given_up, 0) << name << ": sends still failing after " << Ms(kGiveUpAfter) << " ms";
    row.codes = ledger_.TakeCodes();

    // Receivers: everything acked arrives, once and in order, within the bound.
    std::int64_t catch_up = 0;
    for (int pair = 0; pair < kPairs; ++pair) {
      const auto& expected = by_receiver[receivers_[pair]];
      std::size_t acked = 0;
      for (const auto& [content, a] : expected) acked += a->acked ? 1 : 0;
      const auto deadline = stopped + kCatchUpBound;
      for (;;) {
        std::size_t have = 0;
        {
          std::lock_guard<std::mutex> lock(received_[pair]->mu);
          std::set<std::string> got(received_[pair]->contents.begin(), received_[pair]->contents.end());
          for (const auto& [content, a] : expected) have += a->acked && got.count(content) ? 1 : 0;
        }
        if (have == acked) break;
        if (Clock::now() > deadline) {
          ADD_FAILURE() << name << ": receiver " << pair << " has " << have << " of " << acked << " after "
                        << Ms(kCatchUpBound) << " ms";
          break;
        }
        std::this_thread::sleep_for(20ms);
      }
      catch_up = std::max(catch_up, Ms(Clock::now() - stopped));
    }
    row.catch_up_ms = catch_up;

    // The stored sequences, and what each receiving client delivered.
    for (int pair = 0; pair < kPairs; ++pair) {
      const auto receiver_seq = ReadSequence(receivers_[pair]);
      CheckSequence(receiver_seq, by_receiver[receivers_[pair]], false, &row, "receiver " + std::to_string(pair));
      CheckSequence(ReadSequence(senders_[pair]), by_sender[senders_[pair]], true, &row,
                    "sender " + std::to_string(pair));
      std::vector<std::string> stored;
      for (const auto& m : receiver_seq) stored.push_back(m.content());
      std::lock_guard<std::mutex> lock(received_[pair]->mu);
      const auto& delivered = received_[pair]->contents;
      // The client may be behind by what arrived after the checks began; what it has is a prefix.
      ASSERT_LE(delivered.size(), stored.size()) << name << ": receiver " << pair << " delivered too much";
      EXPECT_TRUE(std::equal(delivered.begin(), delivered.end(), stored.begin()))
          << name << ": receiver " << pair << " delivered something other than its sequence, in that order";
    }
    EXPECT_EQ(row.lost, 0) << name;
    EXPECT_EQ(row.duplicated, 0) << name;
    EXPECT_EQ(row.reordered, 0) << name;
    rows_.push_back(row);
  }

  static void StartLoad() {
    if (!threads_.empty()) return;
    for (int pair = 0; pair < kPairs; ++pair) {
      received_.push_back(std::make_unique<Received>());
      idle_[pair] = true;
    }
    for (int pair = 0; pair < kPairs; ++pair) {
      threads_.emplace_back(ReceiverLoop, pair);
      threads_.emplace_back(SenderLoop, pair);
    }
  }
  static void StopLoad() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  // The summary goes to stdout and to fault_summary.txt in the working
  // directory (deploy/test.sh prints that file, since ctest shows the output
  // of failed tests only).
  static void PrintSummary() {
    StopLoad();
    if (rows_.empty()) return;
    std::string text;
    auto line = [&text](const char* format, auto... args) {
      char buf[512];
      std::snprintf(buf, sizeof buf, format, args...);
      text += buf;
    };
    line("fault suite summary (%d sender/receiver pairs; recovery = repair until every sender is answered 200 "
         "again; catch-up = load stopped until every receiver has everything)\n",
         kPairs);
    line("%-34s %6s %6s %8s %5s %5s %9s %11s %10s  %s\n", "fault", "sent", "200", "gave_up", "lost", "dup",
         "reordered", "recovery_ms", "catchup_ms", "other answers");
    for (const PhaseRow& r : rows_) {
      std::string codes;
      for (const auto& [code, count] : r.codes) codes += std::to_string(code) + "x" + std::to_string(count) + " ";
      line("%-34s %6d %6d %8d %5d %5d %9d %11lld %10lld  %s\n", r.fault.c_str(), r.sent, r.acked, r.given_up, r.lost,
           r.duplicated, r.reordered, static_cast<long long>(r.recovery_ms), static_cast<long long>(r.catch_up_ms),
           codes.empty() ? "-" : codes.c_str());
    }
    std::printf("\n%s", text.c_str());
    std::fflush(stdout);
    if (FILE* f = std::fopen("fault_summary.txt", "w")) {
      std::fputs(text.c_str(), f);
      std::fclose(f);
    }
  }

  // A daemon killed with SIGKILL, restarted after `down`.
  void KillAndRestart(const std::string& name, std::chrono::milliseconds down = 1000ms) {
    RunFault(
        "kill -9 " + name,
        [&] {
          cluster_->Kill(name);
          std::this_thread::sleep_for(down);
        },
        [&] { ASSERT_TRUE(cluster_->Restart(name).ok()) << name; });
  }

  static inline LocalCluster* cluster_ = nullptr;
  static inline std::string setup_error_;
  static inline std::vector<std::int64_t> senders_, receivers_;
  static inline std::mutex tokens_mu_;
  static inline std::map<std::int64_t, std::string> tokens_;
  static inline Ledger ledger_;
  static inline std::vector<std::unique_ptr<Received>> received_;
  static inline std::vector<std::thread> threads_;
  static inline std::atomic<bool> stop_{false}, sending_{false};
  static inline std::atomic<bool> idle_[kPairs];
  static inline std::atomic<int> phase_{0};
  static inline std::mutex recovery_mu_;
  static inline Clock::time_point repaired_at_;
  static inline std::array<Clock::time_point, kPairs> first_ok_after_repair_{};
  static inline std::vector<PhaseRow> rows_;
};

TEST_F(FaultSuite, NoFaultBaseline) {
  RunFault("none (baseline)", [] {}, [] {});
}

TEST_F(FaultSuite, StorageServerKilled) { KillAndRestart("storage0"); }

TEST_F(FaultSuite, OneOfTwoAccessServersKilled) { KillAndRestart("access1"); }

TEST_F(FaultSuite, RouteServerKilled) { KillAndRestart("route0"); }

TEST_F(FaultSuite, NotifyServerKilled) { KillAndRestart("notify0"); }

TEST_F(FaultSuite, SyncServerKilled) { KillAndRestart("sync0"); }

TEST_F(FaultSuite, StorageServerPausedTenSeconds) {
  RunFault(
      "SIGSTOP storage0 10 s",
      [] {
        cluster_->Signal("storage0", SIGSTOP);
        std::this_thread::sleep_for(10s);
      },
      [] { cluster_->Signal("storage0", SIGCONT); });
}

TEST_F(FaultSuite, RedisStoppedAndRestarted) {
  RunFault(
      "redis stop + restart",
      [] {
        cluster_->redis().Stop();
        std::this_thread::sleep_for(1s);
      },
      [] { ASSERT_TRUE(cluster_->redis().Start().ok()); });
}

TEST_F(FaultSuite, RedisFlushed) {
  RunFault(
      "redis FLUSHALL",
      [] {
        ASSERT_EQ(testing::RunCommand({"redis-cli", "-p", std::to_string(cluster_->redis().port()), "FLUSHALL"}), 0);
      },
      [] {});
}

TEST_F(FaultSuite, MariaDbStoppedAndRestarted) {
  RunFault(
      "mariadb stop + restart",
      [] {
        cluster_->mysql().Stop();
        std::this_thread::sleep_for(1s);
      },
      [] { ASSERT_TRUE(cluster_->mysql().Start().ok()); });
}

}  // namespace
}  // namespace im
