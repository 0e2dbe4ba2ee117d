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
      const double seconds = std::chrono::duration<double>(now - it->second.last).count();
      it = it->second.tokens + seconds * rate_ >= burst_ ? shard.buckets.erase(it) : std::next(it);
    }
    shard.last_sweep = now;
  }
  auto [it, inserted] = shard.buckets.try_emplace(uid, Bucket{burst_, now});
  Bucket& bucket = it->second;
  if (!inserted) {
    const double seconds = std::chrono::duration<double>(now - bucket.last).count();
    bucket.tokens = std::min(burst_, bucket.tokens + seconds * rate_);
    bucket.last = now;
  }
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

}  // namespace im::access
