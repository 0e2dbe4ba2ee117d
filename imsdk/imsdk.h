#pragma once
// imsdk: the C++ client SDK of qim (docs/protocol.md is the wire reference).
//
// Structure (original design, section 6.2):
//   - the sync module holds the long-lived notify_server connection: login,
//     heartbeat PING carrying the local peer offset, PONG comparison, pushes
//     321/336/337/338, acks;
//   - a pool of sync_server connections for sends and downlink pulls;
//   - the message module keeps the last offset of every sequence (peer and
//     each group), detects gaps and pulls until caught up, so every message
//     reaches the application exactly once and in offset order.
// Server discovery (GET /v1/nodes), tokens (POST /v1/tokens) and the buffered
// node config come from admin_qim's HTTP API (docs/protocol.md §7). Offsets,
// the device id, the next msgid, unanswered sends and the buffered config are
// kept in a local SQLite store (Options::state_dir), so a restarted app resumes
// where it was.
//
// Threading: the SDK runs one internal thread (the SDK thread). Every public
// method is thread safe and returns without waiting for the network. Callbacks
// run on the SDK thread, or through Options::executor when the application
// supplies one. Callbacks may call back into the SDK. This header includes no
// Asio (pimpl).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace im::sdk {

/// One chat message of a sequence. group_id 0 is the user's peer sequence.
struct Message {
  std::int64_t group_id = 0;   // 0 = peer message
  std::int64_t offset = 0;     // position in its sequence (1, 2, 3, …)
  std::int64_t from_uid = 0;
  std::int64_t to_uid = 0;     // peer: the receiver of the original send; group: this user
  std::int32_t timestamp = 0;  // Unix seconds, as sent
  std::int32_t msgid = 0;      // the sender's client msgid
  std::int32_t msg_type = 0;
  std::int32_t msg_flag = 0;
  std::string content;
};

/// The final outcome of one send, reported exactly once per send.
struct SendResult {
  std::int64_t app_msg_id = 0;  // as given by the application
  std::int32_t msgid = 0;       // the client msgid the SDK assigned
  std::int64_t to = 0;          // receiver uid or group id
  bool is_group = false;
  int code = 0;                 // protocol code (docs/protocol.md §6); kSendTimedOut when given up
  std::int64_t offset = 0;      // sender copy offset (peer) or group offset; 0 unless code 200
  std::string desp;
};

/// Code of a send given up after Options::send_give_up_ms without an answer.
inline constexpr int kSendTimedOut = 408;

enum class State {
  kStopped,       // not started, or stopped
  kConnecting,    // discovering, connecting or logging in
  kOnline,        // logged in on notify_server
  kAuthFailed,    // the token was refused and no new one could be had; SDK idle
  kNoNetwork,     // SetNetworkCurMode(0): waiting for a network
};

const char* StateName(State state);

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

/// Where a sequence the SDK has no local state for starts (docs/protocol.md §5.7).
enum class StartPolicy { kAll, kAcked, kLatest };

struct Callbacks {
  /// A new message, in offset order per sequence, exactly once.
  std::function<void(const Message&)> on_message;
  /// The outcome of a send.
  std::function<void(const SendResult&)> on_send_result;
  /// The connection state of the notify connection changed. `code`/`desp`
  /// give the reason of a failure (e.g. 401), 0/"" otherwise.
  std::function<void(State, int code, const std::string& desp)> on_state;
  /// SDK log lines (the AppLogsDebug/Info/Warn/Error hooks). Without it,
  /// warnings and errors go to stderr.
  std::function<void(LogLevel, const std::string&)> on_log;
};

struct Options {
  /// admin_qim base URL, e.g. "http://127.0.0.1:8080": discovery and tokens.
  std::string admin_url;
  /// "host:port" of a notify_server / sync_server; both set: discovery is skipped.
  std::string notify_addr;
  std::string sync_addr;
  /// Directory of the local store ("" = in memory, nothing persists).
  std::string state_dir;
  /// Stable installation id; 0 = generate one and keep it in the store.
  std::int64_t device_id = 0;
  std::int32_t platform = 0;
  std::string client_version = "imsdk-cpp/1.0";
  int heartbeat_interval_ms = 30000;   // PING period; PONG awaited this long
  int reconnect_initial_ms = 1000;     // first backoff delay (§9), doubling…
  int reconnect_max_ms = 60000;        // …up to this
  int connect_timeout_ms = 5000;
  int http_timeout_ms = 5000;
  int send_retry_ms = 5000;            // resend (same msgid) when unanswered this long
  int send_give_up_ms = 60000;         // then report kSendTimedOut
  int pull_limit = 100;                // messages per pull; halved after a sync link is lost mid-pull
  int sync_pool_size = 1;              // sync_server connections (sends and pulls spread over them)
  StartPolicy start_policy = StartPolicy::kAll;
  bool keep_history = true;            // store delivered messages for History()
  /// Runs callbacks; empty = call them on the SDK thread.
  std::function<void(std::function<void()>)> executor;
};

/// Status codes of the synchronous part of the API.
enum ApiResult : int {
  kOk = 0,
  kErrNotStarted = -1,
  kErrBadArgument = -2,
  kErrStopped = -3,
  kErrStore = -4,
};

class ImSdk {
 public:
  /// Opens the local store; does not connect. Thread safe afterwards.
  ImSdk(Options options, Callbacks callbacks);
  /// Stops (Stop()) and joins the SDK thread. Must not run on the SDK thread.
  ~ImSdk();
  ImSdk(const ImSdk&) = delete;
  ImSdk& operator=(const ImSdk&) = delete;

  /// 0 on success; otherwise a negative ApiResult. A store that cannot be
  /// opened is reported here (the SDK then runs without persistence).
  int init_status() const;

  /// Account to log in with: account number + password (token via admin_qim)…
  void SetAccount(const std::string& no, const std::string& password);
  /// …or a uid and a token obtained elsewhere. Thread safe.
  void SetToken(std::int64_t uid, const std::string& token);

  /// IMSdkSetBufferedServerNodeInfo: the buffered config JSON ({confgiinfo,
  /// confgiinfo_timestamp, im_account_info_array}) used when GET /v1/nodes
  /// fails. Returns kOk or kErrBadArgument (not that shape). Thread safe.
  int SetBufferedServerNodeInfo(const std::string& json);
  /// IMSdkGetServerNodeInfo: the current config JSON for the app to cache ("" if none).
  std::string GetServerNodeInfo() const;

  /// SetNetworkCurMode: 0 none, 1 WIFI, 2 mobile. A change of mode closes the
  /// connections and reconnects at once; 0 disconnects until a network is back.
  void SetNetworkCurMode(int mode, const std::string& carrier);

  /// IMSdkStartup: discovers servers, logs in, syncs. kOk or kErrBadArgument
  /// (no account set). Idempotent while running.
  int Startup();

  /// IMSdkChangeNo: switches account: clean logout, new login. No message or
  /// send result of the old account is delivered after this returns.
  /// `uid` is a hint (0 = unknown); the token comes from POST /v1/tokens.
  int ChangeNo(const std::string& no, const std::string& password, std::int64_t uid);
  /// Same with a uid + token.
  int ChangeToken(std::int64_t uid, const std::string& token);

  /// IMSendPeeerMsg / IMSendPeeerMsgWithFlag: queues a peer message; returns
  /// the client msgid (> 0) or a negative ApiResult. The result arrives once
  /// through on_send_result; unanswered sends are retried with the same msgid.
  std::int32_t SendPeerMsg(std::int64_t app_msg_id, std::int64_t recv_uid, std::int32_t msg_type,
                           const std::string& data, std::int32_t msg_flag = 0);
  /// Group send; same contract.
  std::int32_t SendGroupMsg(std::int64_t app_msg_id, std::int64_t group_id,
                            std::int32_t msg_type, const std::string& data,
                            std::int32_t msg_flag = 0);

  /// IMAckGroupOffset: tells the server the app has read `group_id` (0 = peer)
  /// up to `offset`. Fire and forget (sent when online).
  void AckGroupOffset(std::int64_t group_id, std::int64_t offset);

  /// Closes the connections; state is kept. Startup() may be called again.
  void Stop();

  /// Last delivered offset per sequence (0 = peer) of the current account.
  std::map<std::int64_t, std::int64_t> Offsets() const;
  /// Up to `limit` newest stored messages of a sequence, oldest first.
  std::vector<Message> History(std::int64_t group_id, int limit) const;
  /// The logged-in (or last) uid; 0 before the first login.
  std::int64_t uid() const;
  State state() const;
  /// True when online, the starting offsets were fetched, no pull is running or
  /// due and no send is unanswered (updated every ~50 ms). For tests and tools.
  bool synced() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace im::sdk
