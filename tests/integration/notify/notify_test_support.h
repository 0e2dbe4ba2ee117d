#pragma once
// Shared pieces of the notify/route integration tests: a raw-protocol test
// client, an in-process fake AccessService (a real gRPC server answering from
// maps), and launchers for real route_server and notify_server processes.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "common/net/frame_codec.h"
#include "proto/access.pb.h"
#include "tests/support/test_services.h"

namespace google::protobuf {
class MessageLite;
}
namespace grpc {
class Server;
}

namespace im::testing {

struct ReceivedFrame {
  net::FrameHeader header;
  std::string body;
};

/// A blocking client speaking the raw frame protocol. Not thread safe.
class RawClient {
 public:
  RawClient() = default;
  ~RawClient();
  RawClient(RawClient&& other) noexcept;
  RawClient(const RawClient&) = delete;

  /// Connects to 127.0.0.1:port, from `source_ip` when given.
  bool Connect(int port, const std::string& source_ip = "");
  bool SendRaw(std::string_view bytes);
  bool Send(std::int64_t uid, std::int16_t cmdid, std::int32_t seq, const google::protobuf::MessageLite& body);
  /// The next frame, or nullopt on timeout, close or a bad stream.
  std::optional<ReceivedFrame> Read(std::chrono::milliseconds timeout);
  /// The next frame with `cmdid`, skipping others.
  std::optional<ReceivedFrame> ReadCmd(std::int16_t cmdid, std::chrono::milliseconds timeout);
  /// True when the server closes the connection within `timeout` (frames before the close are skipped).
  bool WaitClosed(std::chrono::milliseconds timeout);
  /// Sends IM_CMD_LOGIN and returns LOGIN_RES code (-1: no answer).
  int Login(std::int64_t uid, const std::string& token, std::int64_t device_id, std::int32_t platform = 1);
  /// Sends the login without waiting.
  bool SendLogin(std::int64_t uid, const std::string& token, std::int64_t device_id, std::int32_t platform = 1);
  void Close();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  net::FrameDecoder decoder_;
};

/// An AccessService answering from maps; a real gRPC server on a free port.
/// Thread safe.
class FakeAccess {
 public:
  FakeAccess();
  ~FakeAccess();
  bool Start();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  void SetPeer(std::int64_t uid, std::int64_t msgid, std::int64_t offset);
  void SetGroup(std::int64_t uid, std::int64_t gid, std::int64_t msgid, std::int64_t offset);
  /// (uid, gid) → offset acked.
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> acks() const;
  std::int64_t sync_info_calls() const;
  std::int64_t sync_info_uids() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::unique_ptr<grpc::Server> server_;
  struct Service;
  std::unique_ptr<Service> service_;
  int port_ = 0;
};

/// A real route_server process.
class RouteProcess {
 public:
  explicit RouteProcess(std::string dir, int port = 0);
  bool Start();
  void Kill() { process_.Kill(); }
  void Stop();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const;

 private:
  std::string dir_;
  int port_;
  ChildProcess process_;
};

struct NotifyOptions {
  std::vector<std::string> route_addresses;
  std::string redis_address;
  std::string access_address;
  std::vector<std::string> extra_flags;  // "--key", "value", ...
  int fd_limit = 0;                      // > 0: run under `ulimit -n`
};

/// A real notify_server process.
class NotifyProcess {
 public:
  NotifyProcess(std::string dir, std::string name, NotifyOptions options);
  bool Start();
  void Kill() { process_.Kill(); }
  /// SIGTERM; returns the exit code.
  int Stop();
  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  pid_t pid() { return process_.pid(); }
  std::string log() const;
  /// /metrics text.
  std::string Metrics() const;

 private:
  std::string dir_, name_;
  NotifyOptions options_;
  int port_ = 0, admin_port_ = 0;
  ChildProcess process_;
};

/// Issues a login token in Redis (as admin_qim does).
std::string IssueToken(int redis_port, std::int64_t uid, std::int64_t lifetime_s = 3600);
/// Revokes every token of uid (publishes a kick).
bool RevokeTokens(int redis_port, std::int64_t uid);

/// Polls `predicate` every 20 ms until true or timeout.
template <typename F>
bool WaitUntil(F predicate, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return predicate();
}

}  // namespace im::testing
