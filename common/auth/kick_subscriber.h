#pragma once
// Listens on the Redis channel `im:kick` (common/auth/token_store.h) and
// reports each kicked uid. Reconnects with backoff; runs its own thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "common/redis/redis_client.h"

namespace im::auth {

class KickSubscriber {
 public:
  /// `on_kick` runs on the subscriber thread; it must not block.
  KickSubscriber(redis::RedisOptions options, std::function<void(std::int64_t uid)> on_kick);
  ~KickSubscriber();  // Stop()
  void Start();
  void Stop();
  /// True while subscribed (for tests and metrics). Thread safe.
  bool subscribed() const { return subscribed_.load(); }

 private:
  void Run();

  redis::RedisOptions options_;
  std::function<void(std::int64_t)> on_kick_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> subscribed_{false};
  std::thread thread_;
};

}  // namespace im::auth
