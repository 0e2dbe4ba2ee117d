#pragma once
// One token bucket: `rate` tokens a second, at most `burst` held. The rate
// limiters of access_server (per uid) and admin_qim (per remote address) keep
// one per key; a bucket that has refilled completely carries no information
// and may be forgotten.

#include <algorithm>
#include <chrono>

namespace im::base {

struct TokenBucket {
  using Clock = std::chrono::steady_clock;

  double tokens;
  Clock::time_point updated;

  /// A full bucket at `now`.
  static TokenBucket Full(double burst, Clock::time_point now) { return {burst, now}; }

  /// Refills for the time since the last call, then takes one token; false
  /// (and nothing taken) when less than one is left. Not thread safe.
  bool Take(double rate, double burst, Clock::time_point now) {
    const double elapsed = std::chrono::duration<double>(now - updated).count();
    tokens = std::min(burst, tokens + std::max(0.0, elapsed) * rate);
    updated = now;
    if (tokens < 1.0) return false;
    tokens -= 1.0;
    return true;
  }

  /// Whether the bucket would be full at `now`.
  bool FullAt(double rate, double burst, Clock::time_point now) const {
    return tokens + std::chrono::duration<double>(now - updated).count() * rate >= burst;
  }
};

}  // namespace im::base
