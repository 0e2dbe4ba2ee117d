#pragma once
// One client TCP connection to a notify_server or sync_server: connect with a
// timeout, frame codec (common/net/frame_codec.h), login (300 → 303), and
// request/response matching by `seq` (docs/protocol.md §1.2). SDK-internal:
// includes Asio. Not thread safe: every method runs on the SDK's io thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/net/frame_codec.h"

namespace google::protobuf {
class MessageLite;
}

namespace im::sdk {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  /// Called with every frame answering a request; return true when the
  /// request is complete (its handler is then dropped).
  using ResponseHandler = std::function<bool(const net::FrameHeader&, std::string_view body)>;
  /// Frames with seq 0 or an unknown seq (pushes, errors).
  using FrameHandler = std::function<void(const net::FrameHeader&, std::string_view body)>;
  /// Called once when the connection closes for any reason other than Close().
  using CloseHandler = std::function<void(const std::string& reason)>;
  /// Login result: 200 = ready; else the code (401, 503, or 0 for a transport failure).
  using LoginHandler = std::function<void(int code, const std::string& desp)>;

  Connection(boost::asio::io_context& io, std::string name);
  ~Connection();

  void set_frame_handler(FrameHandler h) { frame_handler_ = std::move(h); }
  void set_close_handler(CloseHandler h) { close_handler_ = std::move(h); }

  /// Connects to host:port, then logs in as `uid` with `login_body` (an encoded
  /// ImLogin). `done` runs once: 200, or a failure code with a reason (0 for a
  /// transport failure, or when connect + login took over `connect_timeout_ms`).
  void Start(const std::string& host, int port, int connect_timeout_ms, std::int64_t uid,
             std::string login_body, LoginHandler done);

  /// Sends a request with a fresh seq; `handler` (may be empty) gets its answers.
  /// Returns the seq, or 0 when the connection is not open.
  std::int32_t Request(std::int16_t cmd, const google::protobuf::MessageLite& body,
                       ResponseHandler handler);
  /// Sends a frame that has no answer (seq still fresh and non-zero).
  bool Send(std::int16_t cmd, const google::protobuf::MessageLite& body);

  /// Closes without calling the close handler; pending handlers are dropped.
  void Close();

  bool open() const { return open_; }
  bool logged_in() const { return logged_in_; }
  /// Milliseconds (steady clock) of the last frame sent.
  std::int64_t last_send_ms() const { return last_send_ms_; }
  const std::string& name() const { return name_; }

 private:
  void ReadLoop();
  void WriteFrame(std::int16_t cmd, std::int32_t seq, const std::string& body);
  void FlushWrites();
  void Fail(const std::string& reason);
  void OnFrame(const net::FrameHeader& header, std::string_view body);
  std::int32_t NextSeq();

  boost::asio::io_context& io_;
  std::string name_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer connect_timer_;
  net::FrameDecoder decoder_;
  char read_buf_[16384];
  std::deque<std::string> write_queue_;
  bool writing_ = false;
  bool open_ = false;
  bool closed_ = false;
  bool logged_in_ = false;
  std::int64_t uid_ = 0;
  std::int32_t seq_ = 0;
  std::int64_t last_send_ms_ = 0;
  std::unordered_map<std::int32_t, ResponseHandler> pending_;
  FrameHandler frame_handler_;
  CloseHandler close_handler_;
  LoginHandler login_handler_;
};

}  // namespace im::sdk
