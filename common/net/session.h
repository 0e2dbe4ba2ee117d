#pragma once
// One authenticated client connection of a TcpServer (tcp_server.h), as the
// daemon built on it sees it. No Asio here: the socket lives in tcp_server.cc.
//
// Life of a session: accepted → the first frame must be IM_CMD_LOGIN (else
// IM_CMD_ERROR 401 and close) → SessionHandler::OnLogin decides, from any
// thread, through FinishLogin() → SessionHandler::OnLoggedIn → LOGIN_RES →
// frames go to SessionHandler::OnFrame → SessionHandler::OnClose once.
// Every handler callback runs on the session's io thread.

#include <cstdint>
#include <memory>
#include <string>

#include "common/net/frame_codec.h"

namespace im::client {
class ImLogin;
}

namespace im::net {

/// Per-connection limits, enforced by the session itself.
struct SessionLimits {
  std::size_t max_body = 65521;            // larger frames: IM_CMD_ERROR 400 and close
  int login_timeout_ms = 10000;            // no successful login by then: close
  int idle_timeout_ms = 90000;             // nothing received for this long: close (0: never)
  // Queued, unsent bytes above this: drop the client. One frame larger than
  // this is still accepted when nothing else is queued.
  std::size_t max_output_bytes = 256 << 10;
  int max_requests_per_second = 200;       // frames per second above this: IM_CMD_ERROR 429 and close
};

class Session;
using SessionPtr = std::shared_ptr<Session>;

/// What a daemon implements on top of TcpServer. Every method is called on the
/// session's io thread and must not block it.
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  /// The first frame was a decodable IM_CMD_LOGIN (header uid in
  /// session->uid()). Decide (e.g. check the token off this thread) and call
  /// session->FinishLogin() exactly once, from any thread.
  virtual void OnLogin(const SessionPtr& session, const client::ImLogin& login) = 0;
  /// The login succeeded; LOGIN_RES 200 is queued right after this returns
  /// (anything sent from here on, on this thread, follows it).
  virtual void OnLoggedIn(const SessionPtr& session) = 0;
  /// A frame from a logged-in session whose header uid matches. Returns false
  /// for a command this daemon does not serve (the session then answers
  /// IM_CMD_ERROR 400 and closes).
  virtual bool OnFrame(const SessionPtr& session, const Frame& frame) = 0;
  /// The connection of a session that reached OnLoggedIn is gone. Called once.
  virtual void OnClose(const SessionPtr& session) = 0;
};

/// Thread safety: the accessors are fixed once the session is logged in and
/// may be read from any thread after that; the methods say where they may be
/// called.
class Session : public std::enable_shared_from_this<Session> {
 public:
  virtual ~Session() = default;

  std::uint64_t id() const { return id_; }
  std::int64_t uid() const { return uid_; }
  std::int64_t device_id() const { return device_id_; }
  std::int32_t platform() const { return platform_; }
  /// Which io thread of the server owns this session (TcpServer::Post target).
  int thread_index() const { return thread_index_; }

  /// Queues an encoded frame. Thread safe (posts to the session's thread when
  /// called elsewhere). A session whose queue exceeds max_output_bytes is
  /// dropped; frames for a closed session are discarded.
  virtual void Send(std::string frame) = 0;
  /// Like Send() but only on the session's own thread (no post).
  virtual void SendInLoop(std::string frame) = 0;
  /// Queues `frame` (may be empty), then closes once it is written. Thread safe.
  virtual void SendAndClose(std::string frame) = 0;
  /// Closes at once, discarding queued output. Thread safe.
  virtual void Close() = 0;
  /// Answers the pending login with LOGIN_RES {code, desp}; on 200 the
  /// session becomes logged in, otherwise it closes after the answer. Call
  /// once per OnLogin. Thread safe.
  virtual void FinishLogin(std::int32_t code, std::string desp) = 0;

 protected:
  std::uint64_t id_ = 0;
  std::int64_t uid_ = 0;
  std::int64_t device_id_ = 0;
  std::int32_t platform_ = 0;
  std::int16_t thread_index_ = 0;
};

}  // namespace im::net
