#pragma once
// admin_qim's use of Redis: login tokens (common/auth/token_store.h) and the
// directory change channel.
//
// Channel `im:directory`: after every change to groups, members, friends,
// blocks or bans admin_qim publishes one JSON message
//   {"kind":"group","id":9001}                    group created/deleted/muted, members changed
//   {"kind":"group","id":9001,"uids":[708]}       ... naming the members whose set of groups changed
//   {"kind":"friend","id":707}                    uid 707's friend list changed
//   {"kind":"block","id":708}                     uid 708's block list changed
//   {"kind":"ban","id":707}                       uid 707 banned or unbanned
// so that every access_server drops its cached copy within a second.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"

namespace im::admin {

inline constexpr char kDirectoryChannel[] = "im:directory";
// Incremented on every directory change; access_servers poll it and drop their cache when it moves.
inline constexpr char kDirectoryVersionKey[] = "im:directory:version";

/// Login tokens. Implementations are thread safe.
class SessionTokens {
 public:
  virtual ~SessionTokens() = default;
  virtual absl::StatusOr<std::string> Issue(std::int64_t uid, std::int64_t lifetime_s) = 0;
  /// Revokes every token of uid and publishes a kick (`im:kick`).
  virtual absl::Status RevokeAll(std::int64_t uid) = 0;
  /// Sets or clears the ban flag; banning also revokes and kicks.
  virtual absl::Status SetBanned(std::int64_t uid, bool banned) = 0;
};

/// Publishes directory changes on `im:directory`. Thread safe.
class DirectoryEvents {
 public:
  virtual ~DirectoryEvents() = default;
  virtual absl::Status Publish(const std::string& kind, std::int64_t id,
                               const std::vector<std::int64_t>& uids = {}) = 0;
};

/// Both over one RedisClient behind a mutex (RedisClient is not thread safe;
/// admin traffic is light). Thread safe.
class RedisBackend final : public SessionTokens, public DirectoryEvents {
 public:
  explicit RedisBackend(redis::RedisOptions options);
  ~RedisBackend() override;

  absl::StatusOr<std::string> Issue(std::int64_t uid, std::int64_t lifetime_s) override;
  absl::Status RevokeAll(std::int64_t uid) override;
  absl::Status SetBanned(std::int64_t uid, bool banned) override;
  absl::Status Publish(const std::string& kind, std::int64_t id, const std::vector<std::int64_t>& uids) override;

  /// The JSON message Publish() sends.
  static std::string EventJson(const std::string& kind, std::int64_t id, const std::vector<std::int64_t>& uids);

 private:
  std::mutex mu_;
  std::unique_ptr<redis::RedisClient> client_;  // guarded by mu_
};

}  // namespace im::admin
