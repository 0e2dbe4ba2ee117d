#pragma once
// imbench's simulated devices: a User holds one notify connection (login,
// heartbeats, pushes, offsets) and, when it sends or must pull, one sync
// connection; both carry the same device_id, as a real client's do. Each
// User lives on one io thread (its Loop); everything a User does runs there.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/imbench/stats.h"
#include "common/net/frame_codec.h"

namespace google::protobuf {
class MessageLite;
}

namespace im::bench {

inline std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class User;
struct Loop;
class Engine;

enum class Role { kNotify, kSync };

/// One TCP connection speaking the client protocol. Not thread safe: used on
/// its User's loop only.
class Conn {
 public:
  Conn(User* user, Role role);
  ~Conn();

  /// Connects to `endpoint` and logs in; the User hears OnLogin / OnClosed.
  void Open(const boost::asio::ip::tcp::endpoint& endpoint);
  /// Closes without notifying the User (planned disconnect).
  void Close();
  /// Queues a request; returns its seq (0 when not connected).
  std::int32_t Send(std::int16_t cmd, const google::protobuf::MessageLite& body);
  /// True when a send fits the per-connection frame rate cap now.
  bool MayStartSend(std::int64_t now_ns);

  bool ready() const { return state_ == State::kReady; }
  bool closed() const { return state_ == State::kClosed; }
  std::int64_t last_send_ns() const { return last_send_ns_; }

 private:
  enum class State { kClosed, kConnecting, kLoggingIn, kReady };
  void WaitReadable(std::uint32_t gen);
  void OnReadable(std::uint32_t gen);
  void Flush();
  void Fail(const std::string& why);

  User* user_;
  Role role_;
  std::unique_ptr<boost::asio::ip::tcp::socket> socket_;
  std::unique_ptr<net::FrameDecoder> decoder_;
  State state_ = State::kClosed;
  std::uint32_t gen_ = 0;  // bumped on every open/close; stale callbacks compare it
  std::int32_t seq_ = 0;
  std::string out_;
  std::string writing_;
  bool write_active_ = false;
  std::int64_t last_send_ns_ = 0;
  double tokens_ = 0;
  std::int64_t tokens_ns_ = 0;
};

/// What a device knows about one sequence (peer = group 0, or a group).
struct SeqState {
  bool known = false;            // starting offset set (from 341)
  std::int64_t last = 0;         // every offset <= last has been received
  std::set<std::int64_t> ahead;  // received offsets above last + 1
  std::int64_t gap_since_ns = 0;
  bool pulling = false;
  bool pull_again = false;
  Via pull_via = Via::kPull;
};

/// A simulated user with one device. Not thread safe: runs on its Loop.
class User {
 public:
  User(Engine* engine, Loop* loop, int index, std::int64_t uid, std::string token);

  void Connect();                    // notify (and sync if a sender)
  /// A device with no local state that wants all retained history (cold pull).
  void StartFromZero() { seqs_[0].known = true; }
  void Disconnect();                 // planned: closes both
  void OnLogin(Role role, int code);
  void OnClosed(Role role, const std::string& why);
  void OnFrame(Role role, const net::Frame& frame);

  /// Sends one message if the sync connection allows; false when it cannot now.
  bool TrySend(std::int64_t now_ns);
  void Ping(std::int64_t now_ns);
  /// Asks for 340 and pulls every sequence above the local offset, counting
  /// what arrives as `via`.
  void CatchUp(Via via);
  void RetryCatchUp();
  /// Pulls sequences whose gap is older than the grace period.
  void CheckGaps(std::int64_t now_ns);

  int index() const { return index_; }
  std::int64_t uid() const { return uid_; }
  Loop* loop() const { return loop_; }
  Engine* engine() const { return engine_; }
  bool ready() const;
  int inflight() const { return inflight_; }

  bool sender = false;
  std::int64_t group = 0;       // group mode: the user's group
  bool draining = false;        // mixed: no new sends, disconnect when none in flight
  std::int64_t offline_until_ns = 0;
  bool in_gap_list = false;
  bool catch_up_pending = false;
  std::int64_t catch_up_retry_ns = 0;  // 340 to ask again at this time (after a 503)

 private:
  void Receive(std::int64_t gid, std::int64_t offset, std::int64_t from, std::uint64_t key, Via via);
  void MarkOwn(std::int64_t gid, std::int64_t offset);
  void Advance(SeqState* s);
  void RequestPull(std::int64_t gid, Via via);
  void SendPull(std::int64_t gid);
  void OpenSync();
  void MaybeCloseSync();
  void OnAnswered();
  void ReportReady();

  Engine* engine_;
  Loop* loop_;
  int index_;
  std::int64_t uid_;
  std::string token_;
  Conn notify_;
  Conn sync_;
  std::unordered_map<std::int64_t, SeqState> seqs_;
  bool offsets_known_ = false;
  bool initial_ = true;  // the first connect, counted by the engine's connect phase
  std::int32_t next_msgid_ = 0;
  int inflight_ = 0;
  std::unordered_map<std::int32_t, std::int64_t> pulls_;  // pull seq -> group
  std::vector<std::int64_t> wanted_pulls_;                // waiting for the sync connection
  std::unordered_map<std::int32_t, std::int64_t> pings_;  // ping seq -> send time
  Via catch_up_via_ = Via::kPull;
  friend class Conn;
};

/// One io thread and the users on it.
struct Loop {
  boost::asio::io_context io;
  std::vector<User*> users;
  std::vector<User*> senders;
  std::vector<User*> gapped;
  std::vector<User*> stalled;  // closed loop: senders waiting for the rate cap
  std::vector<char> read_buffer = std::vector<char>(64 * 1024);
  std::size_t next_sender = 0;
  double credit = 0;
  int connecting = 0;
  std::vector<User*> connect_queue;
  std::size_t connect_next = 0;
  std::thread thread;
};

}  // namespace im::bench
