#include "access_server/rate_limiter.h"

namespace im::access {

bool RateLimiter::Allow(std::int64_t uid, Clock::time_point now) {
  if (rate_ <= 0) return true;
  Shard& shard = shards_[static_cast<std::uint64_t>(uid) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  // Full buckets carry no information: drop them now and then so the map
  // holds only users who sent recently.
  if (now - shard.last_sweep > std::chrono::seconds(10)) {
    for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
      it = it->second.FullAt(rate_, burst_, now) ? shard.buckets.erase(it) : std::next(it);
    }
    shard.last_sweep = now;
  }
  auto it = shard.buckets.try_emplace(uid, base::TokenBucket::Full(burst_, now)).first;
  return it->second.Take(rate_, burst_, now);
}

}  // namespace im::access
