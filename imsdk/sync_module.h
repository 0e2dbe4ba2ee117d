#pragma once
// The SDK engine, run on the SDK's io thread:
//   - bootstrap: token (POST /v1/tokens) and node list (GET /v1/nodes, else the
//     buffered config), on the blocking-work thread;
//   - the notify link: login, PING with the local peer offset every interval,
//     PONG comparison, pushes 321/336/337/338, GET_SYNC_OFFSETS after login, acks;
//   - a pool of sync links: sends (315/328 → 316/329) and pulls (317 → data + 318);
//   - the message module: last offset per sequence, gap detection, pulls until
//     caught up, delivery exactly once in offset order, persisted in the store;
//   - reconnect with backoff and jitter, failover to another node.
// SDK-internal (includes Asio). Every method except the constructor runs on the
// io thread (ImSdk posts to it).

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "imsdk/imsdk.h"
#include "imsdk/message_store.h"
#include "imsdk/node_selector.h"

namespace im::client {
class ImSyncOffsets;
}

namespace im::sdk {

class Connection;

/// State shared between the public API (any thread) and the io thread.
struct SharedState {
  std::atomic<std::int64_t> uid{0};
  std::atomic<int> state{static_cast<int>(State::kStopped)};
  /// Bumped on every account switch; callbacks of an older generation are dropped.
  std::atomic<std::uint64_t> account_gen{0};
  /// Online, starting offsets received, no pull running or waiting, no send unanswered.
  std::atomic<bool> synced{false};
};

class SyncModule {
 public:
  /// `run_blocking` runs a job on a thread that may block (HTTP).
  /// `emit` hands a callback invocation to the app (SDK thread or executor),
  /// dropping it if the account generation changed in between.
  SyncModule(boost::asio::io_context& io, Options options, Callbacks callbacks,
             MessageStore* store, std::shared_ptr<SharedState> shared,
             std::function<void(std::function<void()>)> run_blocking);
  ~SyncModule();

  void SetAccount(const std::string& no, const std::string& password, std::int64_t uid_hint);
  void SetToken(std::int64_t uid, const std::string& token);
  void Startup();
  void Stop();
  void Shutdown();  // Stop() for good: no timers re-armed
  void SetNetworkMode(int mode);
  void QueueSend(PendingSend send);
  void Ack(std::int64_t group_id, std::int64_t offset);
  /// The buffered config changed (new node list source).
  void OnBufferedConfig();

  void Log(LogLevel level, const std::string& line);

 private:
  struct Link {
    int type = 0;  // kNotifyServer / kSyncServer
    int index = 0;
    std::shared_ptr<Connection> conn;
    bool ready = false;
    bool connecting = false;
    std::int64_t node_id = 0;
    std::unique_ptr<Backoff> backoff;
    std::unique_ptr<boost::asio::steady_timer> retry_timer;
    std::int64_t ping_sent_ms = 0;  // 0 = no PONG outstanding
    std::int64_t last_ping_ms = 0;
  };
  struct Sequence {
    std::int64_t last = 0;
    bool pulling = false;
    bool pull_again = false;
    bool want_pull = false;  // waiting for a sync link, or for retry_at_ms
    int pull_link = -1;      // index of the sync link the running pull is on
    std::int64_t retry_at_ms = 0;  // steady; after a failed (5xx) pull
  };
  struct InflightSend {
    PendingSend send;
    bool inflight = false;
    std::int64_t last_try_ms = 0;  // steady
    int retry_delay_ms = 0;        // after 5xx/429
    int attempts = 0;
  };

  template <typename... Args>
  void Logf(LogLevel level, const char* fmt, Args&&... args);
  void Emit(std::function<void()> fn);
  void SetState(State state, int code = 0, const std::string& desp = "");

  void Bootstrap();
  void OnBootstrapDone(std::uint64_t gen, bool token_ok, int token_status, std::string token_error,
                       std::int64_t uid, std::string token, std::string nodes_json,
                       std::string nodes_error);
  void LoadAccount(std::int64_t uid);
  void ConnectAll();
  void ConnectLink(Link& link);
  void ScheduleReconnect(Link& link, int delay_ms);
  void OnLoginResult(Link& link, std::shared_ptr<Connection> conn, int code,
                     const std::string& desp);
  void OnLinkDown(Link& link, const std::string& reason);
  void CloseAllLinks();
  /// A refused token (login 401, IM_CMD_ERROR 401) or, with `password_refused`,
  /// a refused password: get a new token if possible, else stop (§9).
  void OnAuthFailure(int code, const std::string& desp, bool password_refused = false);

  void OnNotifyFrame(std::int16_t cmd, std::string_view body);
  void SendPing(Link& link);
  void RequestOffsets();
  void OnOffsets(const im::client::ImSyncOffsets& offsets);
  Sequence* Track(std::int64_t group_id, std::int64_t start);

  Link* ReadySync();
  void StartPull(std::int64_t group_id);
  void IssuePull(std::int64_t group_id, Link& link);
  void OnPushedMessage(Message m, std::int64_t sync_key);
  void Deliver(const Message& m);

  void TrySend(InflightSend& s);
  void OnSendAnswer(std::int32_t msgid, int code, std::int64_t offset, const std::string& desp);
  void ResendAll();

  void UpdateSynced();
  void ArmTick();
  void Tick();

  boost::asio::io_context& io_;
  Options options_;
  Callbacks callbacks_;
  MessageStore* store_;
  std::shared_ptr<SharedState> shared_;
  std::function<void(std::function<void()>)> run_blocking_;

  std::string no_;
  std::string password_;
  std::int64_t uid_ = 0;
  std::string token_;
  std::int64_t device_id_ = 0;

  bool running_ = false;
  bool shutdown_ = false;
  bool bootstrapping_ = false;
  int network_mode_ = 1;
  std::uint64_t gen_ = 0;  // bumped by Stop/switch: stale async results are ignored
  NodeSelector selector_;
  bool have_nodes_ = false;
  std::unique_ptr<Backoff> bootstrap_backoff_;
  boost::asio::steady_timer bootstrap_timer_;

  Link notify_;
  std::vector<Link> sync_;
  std::size_t next_sync_ = 0;

  /// Messages asked per pull: options_.pull_limit, halved each time a sync
  /// link is lost while a pull runs on it (a server may drop a client whose
  /// answer is too large), so a backlog of big messages still gets through.
  int pull_limit_ = 100;
  std::map<std::int64_t, Sequence> seqs_;
  std::int64_t peer_sync_key_ = 0;
  std::map<std::int32_t, InflightSend> sends_;
  std::map<std::int64_t, std::int64_t> unsent_acks_;
  bool offsets_received_ = false;  // 341 answered since the notify login
  boost::asio::steady_timer tick_timer_;
};

}  // namespace im::sdk
