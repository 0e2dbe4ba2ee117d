#pragma once
// Login tokens, shared by admin_qim (issues, revokes) and the client-facing
// daemons (validate on login). Stored in Redis so that every daemon sees
// them and they expire by themselves:
//
//   imtoken:<token>   STRING  "<uid>"          EX lifetime
//   imtokens:<uid>    SET     tokens of a uid  (for revocation), EX lifetime
//   imban:<uid>       STRING  "1"              while the user is banned
//
// After a revocation or a ban, the uid is published on the channel
// `im:kick`; notify_server and sync_server disconnect that user's sessions.
// Tokens are 32 random bytes (libsodium), hex-encoded; never logged.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"

namespace im::auth {

inline constexpr char kKickChannel[] = "im:kick";

enum class TokenCheck { kValid, kInvalid, kBanned };

/// Not thread safe (it uses the caller's RedisClient, which is not).
class TokenStore {
 public:
  explicit TokenStore(redis::RedisClient* redis) : redis_(redis) {}

  /// A new random token for uid, valid for `lifetime_s` seconds.
  absl::StatusOr<std::string> Issue(std::int64_t uid, std::int64_t lifetime_s);

  /// kValid when `token` was issued for `uid`, has not expired or been
  /// revoked, and the user is not banned. UNAVAILABLE when Redis is down.
  absl::StatusOr<TokenCheck> Check(std::int64_t uid, const std::string& token);

  /// Revokes every token of uid and publishes a kick.
  absl::Status RevokeAll(std::int64_t uid);

  /// Bans (revoking every token, publishing a kick) or unbans a user.
  absl::Status SetBanned(std::int64_t uid, bool banned);

 private:
  redis::RedisClient* redis_;
};

}  // namespace im::auth
