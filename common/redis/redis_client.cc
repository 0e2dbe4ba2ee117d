#include "common/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>

#include "common/log/log.h"

namespace im::redis {
namespace {

timeval ToTimeval(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

void AppendCommand(redisContext* context, const Command& command) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(command.size());
  lens.reserve(command.size());
  for (const std::string& arg : command) {
    argv.push_back(arg.data());
    lens.push_back(arg.size());
  }
  redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lens.data());
}

}  // namespace

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

RedisClient::~RedisClient() { Disconnect(); }

void RedisClient::Disconnect() {
  if (context_) {
    redisFree(context_);
    context_ = nullptr;
  }
}

absl::Status RedisClient::EnsureConnected() {
  if (context_) return absl::OkStatus();
  const auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) return absl::UnavailableError("redis: reconnect backoff");
  const timeval connect_timeout = ToTimeval(options_.connect_timeout_ms);
  redisContext* context =
      options_.unix_socket.empty()
          ? redisConnectWithTimeout(options_.host.c_str(), options_.port, connect_timeout)
          : redisConnectUnixWithTimeout(options_.unix_socket.c_str(), connect_timeout);
  auto fail = [&](const std::string& why) {
    if (context) redisFree(context);
    backoff_ms_ = backoff_ms_ == 0 ? options_.backoff_initial_ms
                                   : std::min(backoff_ms_ * 2, options_.backoff_max_ms);
    next_attempt_ = now + std::chrono::milliseconds(backoff_ms_);
    return absl::UnavailableError("redis " + options_.host + ":" + std::to_string(options_.port) +
                                  ": " + why);
  };
  if (!context) return fail("cannot allocate context");
  if (context->err) return fail(context->errstr);
  redisSetTimeout(context, ToTimeval(options_.command_timeout_ms));
  auto setup = [&](const Command& command) -> std::string {
    AppendCommand(context, command);
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK) return context->errstr;
    auto* reply = static_cast<redisReply*>(raw);
    std::string error = reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "";
    freeReplyObject(reply);
    return error;
  };
  if (!options_.password.empty()) {
    if (std::string e = setup({"AUTH", options_.password}); !e.empty()) return fail("AUTH: " + e);
  }
  if (options_.db != 0) {
    if (std::string e = setup({"SELECT", std::to_string(options_.db)}); !e.empty()) {
      return fail("SELECT: " + e);
    }
  }
  if (backoff_ms_ != 0) {
    IM_LOG_INFO(log::Db(), "redis {}:{} reconnected", options_.host, options_.port);
  }
  context_ = context;
  backoff_ms_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<RedisReply> RedisClient::Run(const Command& command) {
  auto replies = Pipeline({command});
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Pipeline(const std::vector<Command>& commands) {
  if (absl::Status s = EnsureConnected(); !s.ok()) return s;
  for (const Command& command : commands) AppendCommand(context_, command);
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      std::string why = context_->errstr[0] ? context_->errstr : "connection lost";
      // The connection's state is unknown (replies may be pending): drop it.
      Disconnect();
      return absl::UnavailableError("redis " + options_.host + ":" + std::to_string(options_.port) +
                                    ": " + why);
    }
    auto* reply = static_cast<redisReply*>(raw);
    replies.push_back(Convert(reply));
    freeReplyObject(reply);
  }
  return replies;
}

}  // namespace im::redis
