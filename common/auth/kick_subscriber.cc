#include "common/auth/kick_subscriber.h"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <chrono>
#include <string>

#include "common/auth/token_store.h"
#include "common/log/log.h"

namespace im::auth {
namespace {

redisContext* ConnectAndSubscribe(const redis::RedisOptions& o) {
  timeval timeout{o.connect_timeout_ms / 1000, (o.connect_timeout_ms % 1000) * 1000};
  redisContext* c = o.unix_socket.empty() ? redisConnectWithTimeout(o.host.c_str(), o.port, timeout)
                                          : redisConnectUnixWithTimeout(o.unix_socket.c_str(), timeout);
  if (c == nullptr) return nullptr;
  if (c->err) {
    redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, timeout);
  if (!o.password.empty()) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "AUTH %s", o.password.c_str()));
    const bool ok = r != nullptr && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    if (!ok) {
      redisFree(c);
      return nullptr;
    }
  }
  auto* r = static_cast<redisReply*>(redisCommand(c, "SUBSCRIBE %s", auth::kKickChannel));
  const bool ok = r != nullptr && r->type == REDIS_REPLY_ARRAY;
  if (r) freeReplyObject(r);
  if (!ok) {
    redisFree(c);
    return nullptr;
  }
  return c;
}

}  // namespace

KickSubscriber::KickSubscriber(redis::RedisOptions options, std::function<void(std::int64_t)> on_kick)
    : options_(std::move(options)), on_kick_(std::move(on_kick)) {}

KickSubscriber::~KickSubscriber() { Stop(); }

void KickSubscriber::Start() { thread_ = std::thread([this] { Run(); }); }

void KickSubscriber::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void KickSubscriber::Run() {
  int backoff_ms = options_.backoff_initial_ms;
  bool warned = false;
  while (!stopping_) {
    redisContext* c = ConnectAndSubscribe(options_);
    if (c == nullptr) {
      if (!warned) {
        IM_LOG_WARN(log::Db(), "redis {}:{}: cannot subscribe to {}; retrying", options_.host, options_.port,
                    auth::kKickChannel);
        warned = true;
      }
      for (int waited = 0; waited < backoff_ms && !stopping_; waited += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      backoff_ms = std::min(backoff_ms * 2, options_.backoff_max_ms);
      continue;
    }
    warned = false;
    backoff_ms = options_.backoff_initial_ms;
    subscribed_ = true;
    IM_LOG_INFO(log::Db(), "subscribed to redis channel {}", auth::kKickChannel);
    while (!stopping_) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(c, &raw) != REDIS_OK) break;
      if (raw != nullptr) {
        auto* r = static_cast<redisReply*>(raw);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING) {
          const std::string payload(r->element[2]->str, r->element[2]->len);
          char* end = nullptr;
          const long long uid = std::strtoll(payload.c_str(), &end, 10);
          if (end != payload.c_str() && *end == '\0' && uid > 0) on_kick_(uid);
        }
        freeReplyObject(r);
        continue;
      }
      pollfd p{c->fd, POLLIN, 0};
      const int n = ::poll(&p, 1, 200);
      if (n < 0 && errno != EINTR) break;
      if (n > 0 && redisBufferRead(c) != REDIS_OK) break;
    }
    subscribed_ = false;
    redisFree(c);
    if (!stopping_) IM_LOG_WARN(log::Db(), "redis subscription to {} lost; reconnecting", auth::kKickChannel);
  }
}

}  // namespace im::auth
