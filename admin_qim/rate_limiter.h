#pragma once
// A token bucket per key (the remote address of a user call), in memory.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/base/token_bucket.h"

namespace im::admin {

/// Thread safe.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  /// `rate_per_s` tokens are added per second, up to `burst`.
  RateLimiter(double rate_per_s, double burst, std::size_t max_keys = 100000);

  /// Takes one token from `key`'s bucket; false when it is empty.
  bool Allow(const std::string& key, Clock::time_point now = Clock::now());

 private:
  const double rate_per_s_;
  const double burst_;
  const std::size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, base::TokenBucket> buckets_;  // guarded by mu_
};

}  // namespace im::admin
