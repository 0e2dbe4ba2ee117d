#include "common/auth/token_store.h"

#include <sodium.h>

namespace im::auth {
namespace {

std::string TokenKey(const std::string& token) { return "imtoken:" + token; }
std::string UserTokensKey(std::int64_t uid) { return "imtokens:" + std::to_string(uid); }
std::string BanKey(std::int64_t uid) { return "imban:" + std::to_string(uid); }

absl::Status FirstError(const absl::StatusOr<std::vector<redis::RedisReply>>& replies) {
  if (!replies.ok()) return replies.status();
  for (const auto& reply : *replies) {
    if (reply.is_error()) return absl::InternalError("redis: " + reply.str);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> TokenStore::Issue(std::int64_t uid, std::int64_t lifetime_s) {
  if (sodium_init() < 0) return absl::InternalError("libsodium cannot initialise");
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char hex[2 * sizeof raw + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  const std::string token(hex);
  const std::string ttl = std::to_string(lifetime_s);
  auto replies = redis_->Pipeline({
      {"SET", TokenKey(token), std::to_string(uid), "EX", ttl},
      {"SADD", UserTokensKey(uid), token},
      {"EXPIRE", UserTokensKey(uid), ttl},
  });
  if (absl::Status s = FirstError(replies); !s.ok()) return s;
  return token;
}

absl::StatusOr<TokenCheck> TokenStore::Check(std::int64_t uid, const std::string& token) {
  if (token.empty() || token.size() > 128) return TokenCheck::kInvalid;
  auto replies = redis_->Pipeline({{"GET", TokenKey(token)}, {"EXISTS", BanKey(uid)}});
  if (absl::Status s = FirstError(replies); !s.ok()) return s;
  const redis::RedisReply& owner = (*replies)[0];
  if (owner.is_nil() || owner.str != std::to_string(uid)) return TokenCheck::kInvalid;
  if ((*replies)[1].integer != 0) return TokenCheck::kBanned;
  return TokenCheck::kValid;
}

absl::Status TokenStore::RevokeAll(std::int64_t uid) {
  auto tokens = redis_->Run({"SMEMBERS", UserTokensKey(uid)});
  if (!tokens.ok()) return tokens.status();
  std::vector<redis::Command> commands;
  for (const auto& token : tokens->elements) commands.push_back({"DEL", TokenKey(token.str)});
  commands.push_back({"DEL", UserTokensKey(uid)});
  commands.push_back({"PUBLISH", kKickChannel, std::to_string(uid)});
  return FirstError(redis_->Pipeline(commands));
}

absl::Status TokenStore::SetBanned(std::int64_t uid, bool banned) {
  if (!banned) return FirstError(redis_->Pipeline({{"DEL", BanKey(uid)}}));
  if (absl::Status s = FirstError(redis_->Pipeline({{"SET", BanKey(uid), "1"}})); !s.ok()) return s;
  return RevokeAll(uid);
}

}  // namespace im::auth
