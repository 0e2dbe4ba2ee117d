#pragma once
// A synchronous Redis client over hiredis with timeouts, pipelining and
// reconnection with exponential backoff. Not thread safe: one per thread (or
// behind the caller's lock).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct redisContext;

namespace im::redis {

struct RedisReply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;             // kString, kStatus, kError
  std::int64_t integer = 0;    // kInteger
  std::vector<RedisReply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_socket;  // used instead of host:port when set
  std::string password;
  int db = 0;
  int connect_timeout_ms = 500;
  int command_timeout_ms = 500;
  int backoff_initial_ms = 50;  // first wait after a failed connect
  int backoff_max_ms = 2000;
};

using Command = std::vector<std::string>;

class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  /// Runs one command. A Redis error reply (e.g. WRONGTYPE) is returned as a
  /// reply of type kError; a connection failure or timeout as UNAVAILABLE, after
  /// which the next call reconnects (not before the backoff has passed).
  absl::StatusOr<RedisReply> Run(const Command& command);

  /// Sends every command, then reads every reply: one round trip.
  absl::StatusOr<std::vector<RedisReply>> Pipeline(const std::vector<Command>& commands);

  bool connected() const { return context_ != nullptr; }
  const RedisOptions& options() const { return options_; }

 private:
  absl::Status EnsureConnected();
  void Disconnect();

  RedisOptions options_;
  redisContext* context_ = nullptr;
  int backoff_ms_ = 0;
  std::chrono::steady_clock::time_point next_attempt_{};
};

}  // namespace im::redis
