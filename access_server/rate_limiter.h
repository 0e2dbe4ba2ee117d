#pragma once
// Per-user token buckets: `rate` sends a second with bursts up to `burst`.
// Per access_server process (N instances allow N times the rate). Thread safe.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "common/base/token_bucket.h"

namespace im::access {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

  /// Takes one token for `uid` at `now`; false when the bucket is empty.
  bool Allow(std::int64_t uid, Clock::time_point now = Clock::now());

 private:
  static constexpr int kShards = 16;
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::int64_t, base::TokenBucket> buckets;  // guarded by mu
    Clock::time_point last_sweep{};
  };

  const double rate_;
  const double burst_;
  Shard shards_[kShards];
};

}  // namespace im::access
