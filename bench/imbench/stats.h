#pragma once
// imbench measurements: counters, latency samples per second and in total,
// errors by code, and the message ledger that proves every message answered
// 200 reached every addressed device exactly once.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace im::bench {

enum class Counter : int {
  kSent = 0,          // sends written (315/328)
  kAnsweredOk,        // 316/329 with code 200
  kAnsweredError,     // 316/329 with another code
  kDelivered,         // messages received by every addressed device
  kReceipts,          // first receipts by one device (push or pull)
  kReceiptsByPull,    // ... of them arriving in a pull
  kReceiptsByCatchUp, // ... of them pulled after a (re)connect
  kRedundantFrames,   // data frames for an offset the device already had (dropped by protocol)
  kPulls,             // 317 requests
  kPulledMessages,    // data frames answering pulls
  kPongs,             // 302 answers
  kLogins,            // successful logins (303 code 200)
  kReconnects,        // planned disconnect/reconnect cycles (mixed)
  kCount
};

const char* CounterName(Counter c);

/// Latency kinds recorded (microseconds).
enum class Latency : int {
  kAnswer = 0,  // send -> 316/329
  kDelivery,    // send -> received by every addressed device (live, not the final sweep)
  kPong,        // 301 -> 302
  kCount
};

const char* LatencyName(Latency l);

/// Percentile summary of a sample set.
struct Summary {
  std::size_t n = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
  nlohmann::json ToJson() const;
};
Summary Summarize(std::vector<std::uint32_t>* samples_us);

/// Counters and samples. Thread safe (one mutex; events are cheap).
class Stats {
 public:
  void Add(Counter c, std::int64_t n = 1);
  void Record(Latency l, std::int64_t us);
  /// An error, keyed like "316:429", "399:400", "login:401", "closed:notify".
  void Error(const std::string& key, std::int64_t n = 1);

  /// Closes the current one-second window: appends it to the per-second list
  /// and returns its progress line. `elapsed_s` is the window's end.
  std::string Rotate(double elapsed_s, const std::string& extra);

  /// Latency samples of every window starting at or after `elapsed_s` are
  /// also summarised apart (Report()'s "steady"): the figures without the
  /// warm-up of a cold cluster. Never called: no "steady" summary.
  void SteadyFrom(double elapsed_s);

  std::int64_t Total(Counter c) const;
  std::int64_t TotalErrors() const;
  /// Totals as JSON: counters, latency summaries, errors, per-second windows,
  /// and "steady" latency summaries when SteadyFrom() was called.
  nlohmann::json Report();

 private:
  struct Window {
    std::array<std::int64_t, static_cast<int>(Counter::kCount)> counters{};
    std::array<std::vector<std::uint32_t>, static_cast<int>(Latency::kCount)> samples;
    std::int64_t errors = 0;
  };
  mutable std::mutex mu_;
  Window current_;
  Window total_;
  Window steady_;
  double steady_from_s_ = -1;  // < 0: off
  double window_start_s_ = 0;
  std::map<std::string, std::int64_t> errors_;
  nlohmann::json seconds_ = nlohmann::json::array();
};

/// Where a device got a message from.
// kPush: 337/338; kPull: a pull after a gap or a 321/336 notice; kCatchUp: a
// pull after (re)connecting, for messages sent while the device was offline
// (no delivery latency); kSweep: the final check after the load.
enum class Via { kPush, kPull, kCatchUp, kSweep };

/// Every message sent, keyed by (sender uid, client msgid): its send time,
/// answer, how many devices must receive it and how many did, at which
/// offset. Thread safe (sharded mutexes).
class Ledger {
 public:
  explicit Ledger(Stats* stats) : stats_(stats) {}

  static std::uint64_t Key(std::int64_t from_uid, std::int32_t msgid) {
    return (static_cast<std::uint64_t>(from_uid) << 32) | static_cast<std::uint32_t>(msgid);
  }

  /// A send is about to be written; `expected` devices must receive it.
  void OnSend(std::uint64_t key, std::int64_t now_ns, int expected);
  /// Its 316/329 answer. `group_offset` is the group offset (group sends) or 0.
  void OnAnswer(std::uint64_t key, int code, std::int64_t group_offset, std::int64_t now_ns);
  /// A device received the message for the first time at `offset` of the
  /// sequence it was delivered in (the receiver's peer sequence or the group).
  void OnReceive(std::uint64_t key, std::int64_t offset, bool group, Via via, std::int64_t now_ns);

  struct Totals {
    std::int64_t messages = 0;       // sends recorded
    std::int64_t answered_ok = 0;    // answered 200
    std::int64_t answered_error = 0;
    std::int64_t unanswered = 0;
    std::int64_t expected_receipts = 0;  // over messages answered 200
    std::int64_t receipts = 0;
    std::int64_t lost = 0;        // expected receipts that never came (messages answered 200)
    std::int64_t lost_messages = 0;
    std::int64_t duplicated = 0;  // receipts beyond the expected count, or at a second offset
    std::int64_t unknown = 0;     // receipts of messages this run did not send
    std::int64_t delivered_unanswered = 0;  // receipts of messages not answered 200
    std::int64_t by_sweep = 0;    // receipts only obtained by the final sweep
    nlohmann::json ToJson() const;
  };
  Totals Finish() const;
  /// Messages answered 200 and not yet received by every addressed device.
  std::int64_t Incomplete() const;

 private:
  struct Entry {
    std::int64_t send_ns = 0;
    std::int64_t offset = 0;  // group offset (from the answer) or first receipt's offset
    std::int32_t code = 0;    // 0: unanswered
    std::int32_t expected = 0;
    std::int32_t received = 0;
    std::int32_t duplicated = 0;
    std::int32_t by_sweep = 0;
    std::int32_t late = 0;  // receipts by catch-up after a reconnect
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::uint64_t, Entry> entries;
    std::int64_t unknown = 0;
  };
  Shard& ShardOf(std::uint64_t key) { return shards_[(key * 0x9E3779B97F4A7C15ull) >> 58]; }
  Stats* stats_;
  std::array<Shard, 64> shards_;
};

}  // namespace im::bench
