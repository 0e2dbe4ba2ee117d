#include "admin_qim/rate_limiter.h"

#include <algorithm>

namespace im::admin {

RateLimiter::RateLimiter(double rate_per_s, double burst, std::size_t max_keys)
    : rate_per_s_(rate_per_s), burst_(std::max(1.0, burst)), max_keys_(max_keys) {}

bool RateLimiter::Allow(const std::string& key, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() >= max_keys_ && buckets_.find(key) == buckets_.end()) {
    // Forget buckets that have refilled completely: they hold no state.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      it = it->second.FullAt(rate_per_s_, burst_, now) ? buckets_.erase(it) : std::next(it);
    }
    if (buckets_.size() >= max_keys_) return false;  // under attack from many addresses: refuse new ones
  }
  auto it = buckets_.try_emplace(key, base::TokenBucket::Full(burst_, now)).first;
  return it->second.Take(rate_per_s_, burst_, now);
}

}  // namespace im::admin
