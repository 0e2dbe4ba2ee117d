#pragma once
// imbench's engine: builds users and loops, drives the phases (connect,
// warm-up, load, settle, sweep) and writes the report.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/imbench/client.h"
#include "bench/imbench/imbench.h"
#include "bench/imbench/stats.h"

namespace im::bench {

class Engine {
 public:
  explicit Engine(const Options& options);
  ~Engine();

  /// Runs everything; returns the exit code.
  int Run();

  // ---- used by User and Conn (any loop thread) ----
  const Options& options() const { return options_; }
  Stats* stats() { return &stats_; }
  Ledger* ledger() { return &ledger_; }
  const boost::asio::ip::tcp::endpoint& notify_endpoint(int index) const {
    return notify_endpoints_[static_cast<std::size_t>(index) % notify_endpoints_.size()];
  }
  const boost::asio::ip::tcp::endpoint& sync_endpoint(int index) const {
    return sync_endpoints_[static_cast<std::size_t>(index) % sync_endpoints_.size()];
  }
  std::int64_t device_id() const { return device_id_; }
  bool loading() const { return loading_.load(std::memory_order_relaxed); }
  bool sweeping() const { return sweeping_.load(std::memory_order_relaxed); }
  /// A receiver for a peer message from `sender` (uniform over the other users).
  std::int64_t PickReceiver(const User* sender, std::mt19937_64* rng) const;
  /// Devices that must receive a message to `gid` from one of its members.
  int GroupReceivers(std::int64_t gid) const;
  /// Counts a send against --count; false once the count is reached.
  bool ClaimSend();
  const std::string& padding() const { return padding_; }

  void OnUserReady() { ++ready_users_; }
  void OnUserFailed() { ++failed_users_; }
  void OnConnectDone(Loop* loop);

  std::atomic<std::int64_t> inflight{0};
  std::atomic<std::int64_t> pulls_in_flight{0};
  std::atomic<std::int64_t> catch_ups_pending{0};
  std::atomic<std::int64_t> notify_connections{0};
  std::atomic<std::int64_t> sync_connections{0};

 private:
  bool PrepareAccounts();
  bool PrepareGroups();
  void BuildUsers();
  void StartLoops();
  void StopLoops();
  bool ConnectAll();
  void StartLoad(Loop* loop);
  void Tick(Loop* loop, std::shared_ptr<boost::asio::steady_timer> timer, std::int64_t last_ns);
  void Heartbeats(Loop* loop, std::shared_ptr<boost::asio::steady_timer> timer, std::int64_t second);
  void Reconnects(Loop* loop, std::shared_ptr<boost::asio::steady_timer> timer, std::mt19937_64 rng);
  void PumpConnects(Loop* loop);
  /// Prints one progress line per second until `done` returns true or
  /// `max_s` passes; returns done().
  template <typename Done>
  bool Progress(double max_s, Done done);
  std::string ProcessLine();
  nlohmann::json Processes();
  int Report();
  void ColdPull();

  struct Watched {
    std::string name;
    int pid = 0;
    double cpu_s_last = 0;
    double cpu_s_start = 0;
    double rss_before_mb = 0;
    double rss_mb = 0;
    double cpu_pct_last = 0;
  };
  void SampleProcesses(bool baseline);

  Options options_;
  Stats stats_;
  Ledger ledger_;
  std::vector<boost::asio::ip::tcp::endpoint> notify_endpoints_;
  std::vector<boost::asio::ip::tcp::endpoint> sync_endpoints_;
  std::vector<std::pair<std::int64_t, std::string>> accounts_;
  std::vector<std::int64_t> uids_;
  std::unordered_map<std::int64_t, int> group_size_;
  std::vector<std::int64_t> group_ids_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::unique_ptr<User>> users_;
  std::vector<Watched> watched_;
  std::int64_t device_id_ = 0;
  User* cold_ = nullptr;  // coldpull: the offline receiver
  nlohmann::json cold_pull_ = nlohmann::json::object();
  std::string padding_;
  std::atomic<bool> loading_{false};
  std::atomic<bool> sweeping_{false};
  std::atomic<std::int64_t> claimed_{0};
  std::atomic<std::int64_t> skipped_sends_{0};
  std::map<std::string, double> load_cpu_;
  std::map<std::string, double> load_rss_;
  std::atomic<int> ready_users_{0};
  std::atomic<int> failed_users_{0};
  std::int64_t start_ns_ = 0;
  double connect_s_ = 0;
  double load_s_ = 0;
  double progress_t_ = 0;
  std::int64_t last_progress_ns_ = 0;
};

}  // namespace im::bench
