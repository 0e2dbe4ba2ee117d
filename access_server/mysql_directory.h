#pragma once
// Directory over admin_qim's MySQL schema (see admin_qim/schema.cc), with an
// in-process cache. Every entry lives at most `cache_ms`; besides, a
// background thread polls the Redis counter `im:directory:version`, which
// admin_qim increments on every change to groups, members, friends, blocks
// or bans, and drops the whole cache when it moves — so admin changes reach
// every access_server within the poll interval (200 ms). Thread safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "access_server/directory.h"
#include "common/db/mysql_pool.h"
#include "common/redis/redis_client.h"

namespace im::access {

inline constexpr char kDirectoryVersionKey[] = "im:directory:version";

class MysqlDirectory final : public Directory {
 public:
  MysqlDirectory(db::MysqlOptions mysql, redis::RedisOptions redis, int cache_ms);
  ~MysqlDirectory() override;

  /// Starts the invalidation poller.
  void Start();
  void Stop();

  absl::StatusOr<bool> UserExists(std::int64_t uid) override;
  absl::StatusOr<bool> IsBanned(std::int64_t uid) override;
  absl::StatusOr<bool> IsBlocked(std::int64_t owner, std::int64_t sender) override;
  absl::StatusOr<bool> IsFriend(std::int64_t owner, std::int64_t other) override;
  absl::StatusOr<std::shared_ptr<const GroupInfo>> GetGroup(std::int64_t gid) override;
  absl::StatusOr<std::vector<std::int64_t>> GroupsOfUser(std::int64_t uid) override;
  absl::Status SaveAck(std::int64_t uid, std::int64_t gid, std::int64_t offset) override;
  absl::StatusOr<std::vector<std::pair<std::int64_t, std::int64_t>>> GetAcks(std::int64_t uid) override;

  /// Drops every cached entry.
  void Invalidate();

 private:
  using Clock = std::chrono::steady_clock;
  template <typename V>
  struct Entry {
    V value;
    Clock::time_point expires;
  };

  // Looks `key` up in `cache`, or loads it with `load` (outside the lock).
  template <typename K, typename V, typename Load>
  absl::StatusOr<V> Cached(std::unordered_map<K, Entry<V>>& cache, const K& key, Load load);

  absl::StatusOr<bool> QueryExists(const std::string& sql, std::int64_t a, std::int64_t b);
  // The second column of every row whose first is `owner` (a user's block or
  // friend list): one query and one cache entry per user, not per pair, so
  // a user writing to many others costs one load each, not one per pair.
  using UidSet = std::shared_ptr<const std::unordered_set<std::int64_t>>;
  absl::StatusOr<UidSet> ListOf(std::unordered_map<std::int64_t, Entry<UidSet>>& cache, const std::string& sql,
                                std::int64_t owner);
  void PollLoop();

  db::MysqlPool pool_;
  redis::RedisOptions redis_options_;
  const std::chrono::milliseconds cache_ttl_;

  std::mutex mu_;
  std::uint64_t generation_ = 0;  // guarded by mu_; bumped by Invalidate()
  std::unordered_map<std::int64_t, Entry<bool>> users_;                            // guarded by mu_
  std::unordered_map<std::int64_t, Entry<bool>> banned_;                           // guarded by mu_
  std::unordered_map<std::int64_t, Entry<UidSet>> blocked_;                        // guarded by mu_; by owner
  std::unordered_map<std::int64_t, Entry<UidSet>> friends_;                        // guarded by mu_; by owner
  std::unordered_map<std::int64_t, Entry<std::shared_ptr<const GroupInfo>>> groups_;  // guarded by mu_
  std::unordered_map<std::int64_t, Entry<std::vector<std::int64_t>>> user_groups_;   // guarded by mu_

  std::thread poller_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stopping_ = false;  // guarded by poll_mu_
};

}  // namespace im::access
