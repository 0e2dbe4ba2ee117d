#pragma once
// sync_server's client protocol: login (token check), send 315/328 →
// access_server → 316/329, pull 317 → downlink 315/328 frames → 318, and
// PING → PONG. Requests are asynchronous: many may be in flight per
// connection and answers carry their request's seq, in completion order.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/net/session.h"

namespace im::auth {
class TokenCheckPool;
}

namespace im::sync {

class AccessClient;

class SyncSessionHandler final : public net::SessionHandler {
 public:
  /// `max_pull_answer_bytes`: the data frames of one pull answer stop below
  /// this many bytes (at least one message is sent; the rest is left for the
  /// next pull: `hasMore`), so an answer never overflows a connection's output
  /// limit by itself. Pass about half of server.max_output_bytes.
  SyncSessionHandler(AccessClient* access, auth::TokenCheckPool* tokens,
                     std::size_t max_pull_answer_bytes = 128 << 10);

  void OnLogin(const net::SessionPtr& session, const client::ImLogin& login) override;
  void OnLoggedIn(const net::SessionPtr& session) override;
  bool OnFrame(const net::SessionPtr& session, const net::Frame& frame) override;
  void OnClose(const net::SessionPtr& session) override;

  /// Closes every session of `uid` with IM_CMD_ERROR 401 (token revoked or
  /// user banned: the `im:kick` channel). Thread safe.
  void Kick(std::int64_t uid);

  /// Requests whose answer is still being prepared. Thread safe.
  int in_flight() const { return in_flight_.load(); }
  std::uint64_t sends() const { return sends_.load(); }
  std::uint64_t pulls() const { return pulls_.load(); }

 private:
  void SendPeer(const net::SessionPtr& session, const net::Frame& frame);
  void SendGroup(const net::SessionPtr& session, const net::Frame& frame);
  void Pull(const net::SessionPtr& session, const net::Frame& frame);
  void Ping(const net::SessionPtr& session, const net::Frame& frame);
  void Undecodable(const net::SessionPtr& session, const net::Frame& frame);

  AccessClient* access_;
  auth::TokenCheckPool* tokens_;
  std::size_t max_pull_answer_bytes_;
  std::mutex sessions_mu_;
  std::unordered_multimap<std::int64_t, std::weak_ptr<net::Session>> sessions_;  // guarded by sessions_mu_
  std::atomic<int> in_flight_{0};
  std::atomic<std::uint64_t> sends_{0};
  std::atomic<std::uint64_t> pulls_{0};
};

}  // namespace im::sync
