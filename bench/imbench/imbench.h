#pragma once
// imbench: an end-to-end load generator for the qim cluster. One process,
// Boost.Asio, thousands of client connections speaking the wire protocol
// (docs/protocol.md) to notify_server (logins, pushes, heartbeats, offsets)
// and sync_server (sends, pulls). It proves delivery: every message answered
// 200 must reach every addressed device exactly once (pushes, gap pulls,
// pulls after notices and reconnects, and a final sweep).

#include <cstdint>
#include <string>
#include <vector>

namespace im::bench {

struct Options {
  std::string mode = "peer";  // peer | group | idle | mixed | setup
  std::vector<std::string> notify = {"127.0.0.1:21983"};
  std::vector<std::string> sync = {"127.0.0.1:31983"};
  std::string admin = "127.0.0.1:8080";
  std::string admin_secret;
  std::string accounts_file;    // "uid token" per line; else created through admin_qim
  int accounts_offset = 0;      // first line of accounts_file used
  std::string write_accounts;   // write the accounts used ("uid token" lines)
  std::string account_prefix;   // account numbers prefix+index; default derived from the time
  int admin_concurrency = 8;
  int users = 1000;
  int senders = 0;              // peer/mixed: users that send (0: all)
  double rate = 0;              // open loop: messages/s in total; 0: closed loop
  int inflight = 1;             // closed loop: sends in flight per sender
  int max_inflight = 256;       // open loop: a sender with this many unanswered sends skips its turn
  double duration_s = 10;
  std::int64_t count = 0;       // stop after this many sends (0: duration only)
  int size = 32;                // content bytes
  int groups = 1;
  int group_size = 100;
  int group_senders = 1;        // senders per group
  int heartbeat_ms = 20000;
  double reconnect_per_s = 0.02;  // mixed: fraction of users reconnecting each second
  int offline_ms = 1000;        // mixed: how long a reconnecting user stays offline
  int threads = 1;
  int conn_rate = 150;          // frames/s per sync connection at most (server caps at 200); 0: no cap
  int connect_concurrency = 256;
  double steady_after_s = 0;    // latency also summarised without the first seconds of load (0: off)
  int warmup_ms = 1000;         // after logins, before sending (presence reaches route_server)
  int gap_grace_ms = 200;       // a gap older than this is pulled
  int settle_s = 15;            // after the load: wait this long for answers and deliveries
  std::string json;             // write the report here
  std::vector<std::string> watch;  // name=pid: report the process's CPU and RSS
  bool verbose = false;
};

/// Parses argv (boost program_options; IMBENCH_* environment variables give
/// defaults for addresses, secret and watch list). Returns false with a
/// message in *error (or the help text, *help set) on bad usage.
bool ParseOptions(int argc, char** argv, Options* options, std::string* error, bool* help);

/// Runs the configured workload and prints the report; returns the exit code
/// (0 ok, 1 messages lost or duplicated or the run failed, 2 bad usage).
int Run(const Options& options);

}  // namespace im::bench
