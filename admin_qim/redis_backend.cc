#include "admin_qim/redis_backend.h"

#include "common/auth/token_store.h"

namespace im::admin {

RedisBackend::RedisBackend(redis::RedisOptions options)
    : client_(std::make_unique<redis::RedisClient>(std::move(options))) {}

RedisBackend::~RedisBackend() = default;

absl::StatusOr<std::string> RedisBackend::Issue(std::int64_t uid, std::int64_t lifetime_s) {
  std::lock_guard<std::mutex> lock(mu_);
  return auth::TokenStore(client_.get()).Issue(uid, lifetime_s);
}

absl::Status RedisBackend::RevokeAll(std::int64_t uid) {
  std::lock_guard<std::mutex> lock(mu_);
  return auth::TokenStore(client_.get()).RevokeAll(uid);
}

absl::Status RedisBackend::SetBanned(std::int64_t uid, bool banned) {
  std::lock_guard<std::mutex> lock(mu_);
  return auth::TokenStore(client_.get()).SetBanned(uid, banned);
}

std::string RedisBackend::EventJson(const std::string& kind, std::int64_t id, const std::vector<std::int64_t>& uids) {
  // kind is one of a few fixed words: no escaping needed.
  std::string out = "{\"kind\":\"" + kind + "\",\"id\":" + std::to_string(id);
  if (!uids.empty()) {
    out += ",\"uids\":[";
    for (std::size_t i = 0; i < uids.size(); ++i) out += (i ? "," : "") + std::to_string(uids[i]);
    out += "]";
  }
  return out + "}";
}

absl::Status RedisBackend::Publish(const std::string& kind, std::int64_t id, const std::vector<std::int64_t>& uids) {
  std::lock_guard<std::mutex> lock(mu_);
  // The version counter is what access_servers poll (a missed PUBLISH cannot
  // leave them stale); the message is for listeners that want the details.
  auto replies = client_->Pipeline({{"INCR", kDirectoryVersionKey}, {"PUBLISH", kDirectoryChannel, EventJson(kind, id, uids)}});
  if (!replies.ok()) return replies.status();
  for (const auto& reply : *replies) {
    if (reply.is_error()) return absl::InternalError("redis: " + reply.str);
  }
  return absl::OkStatus();
}

}  // namespace im::admin
