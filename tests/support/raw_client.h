#pragma once
// A blocking client of the raw wire protocol (docs/protocol.md) for tests:
// it speaks frames directly, so tests see exactly what a server sends.
// Not thread safe.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "common/net/frame_codec.h"

namespace google::protobuf {
class MessageLite;
}

namespace im::testing {

struct RawFrame {
  net::FrameHeader header;
  std::string body;

  /// Parses the body as T; fails the calling test when it does not parse.
  template <typename T>
  T As() const {
    T message;
    message.ParseFromString(body);
    return message;
  }
};

class RawClient {
 public:
  RawClient() = default;
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  /// Connects to 127.0.0.1:port (or host:port).
  bool Connect(int port, const std::string& host = "127.0.0.1");
  void Close();
  bool connected() const { return fd_ >= 0; }
  /// True once a read found the connection closed by the server.
  bool peer_closed() const { return closed_by_peer_; }

  /// Sends one frame; `uid` goes in the header.
  bool Send(std::int64_t uid, std::int16_t cmdid, std::int32_t seq, const google::protobuf::MessageLite& body);
  /// Sends raw bytes (malformed-input tests).
  bool SendBytes(const std::string& bytes);

  /// The next frame, or nullopt on timeout or when the server closed.
  std::optional<RawFrame> Read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// The next frame with `cmdid`, keeping the others for later Read() calls.
  std::optional<RawFrame> WaitFor(std::int16_t cmdid, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// True once the server has closed the connection (within `timeout`);
  /// frames still in flight are read and discarded.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  /// IM_CMD_LOGIN with `token`; returns the LOGIN_RES code (0 when none came).
  int Login(std::int64_t uid, const std::string& token, std::int64_t device_id = 1);

  std::int64_t uid() const { return uid_; }
  int fd() const { return fd_; }  // for poll() over many clients
  std::int32_t NextSeq() { return ++seq_; }

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::int64_t uid_ = 0;
  std::int32_t seq_ = 0;
  net::FrameDecoder decoder_;
  std::deque<RawFrame> pending_;
  bool closed_by_peer_ = false;
};

}  // namespace im::testing
