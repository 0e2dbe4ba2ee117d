#pragma once
// Login token checks off the io threads: a queue served by a few threads, each
// with its own Redis connection, running TokenStore::Check. A burst of logins
// waits in the queue instead of failing; a thread drains the queue in batches
// so one wake-up serves many logins.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth/token_store.h"
#include "common/redis/redis_client.h"

namespace im::auth {

struct TokenCheckPoolOptions {
  redis::RedisOptions redis;
  int threads = 2;             // Redis connections checking tokens in parallel
  std::size_t max_queue = 100000;  // checks waiting beyond this fail with RESOURCE_EXHAUSTED
};

class TokenCheckPool {
 public:
  using Callback = std::function<void(absl::StatusOr<TokenCheck>)>;

  explicit TokenCheckPool(TokenCheckPoolOptions options);
  ~TokenCheckPool();  // Stop()
  TokenCheckPool(const TokenCheckPool&) = delete;
  TokenCheckPool& operator=(const TokenCheckPool&) = delete;

  /// Starts the threads. Call once.
  void Start();
  /// Queues a check; `done` runs on a pool thread with the result (UNAVAILABLE
  /// when Redis is down, RESOURCE_EXHAUSTED when the queue is full, CANCELLED
  /// after Stop()). Thread safe; never blocks on Redis.
  void Check(std::int64_t uid, std::string token, Callback done);
  /// Fails the waiting checks with CANCELLED and joins the threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace im::auth
