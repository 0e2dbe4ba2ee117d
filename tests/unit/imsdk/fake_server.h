#pragma once
// An in-test fake of the remote end of the client protocol (docs/protocol.md):
// FakeCluster holds the users, sequences and groups; FakeServer is one
// notify or sync node over loopback TCP (port 0); FakeAdmin serves
// GET /v1/nodes and POST /v1/tokens. Enough of the servers' behaviour for SDK
// tests: login → 303, ping → pong, 315/328 → 316/329 with dedupe, pull 317 →
// data frames + 318, pushes 337/321/338/336, ack 319, 340 → 341. Knobs drop
// pushes and send answers. Thread safe.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace im::sdk::testing {

struct StoredMsg {
  std::int64_t offset = 0;
  std::int64_t server_msgid = 0;
  std::int64_t from = 0;
  std::int64_t to = 0;        // peer receiver
  std::int64_t group = 0;
  std::int32_t timestamp = 0;
  std::int32_t client_msgid = 0;
  std::int32_t msg_type = 0;
  std::int32_t msg_flag = 0;
  std::string content;
};

class FakeServer;

class FakeCluster {
 public:
  void AddUser(std::int64_t uid, const std::string& token);
  void AddGroup(std::int64_t gid, std::vector<std::int64_t> members);

  /// Stores a peer message from `from` to `to` as a server would (both copies)
  /// and pushes it. Returns the receiver's offset.
  std::int64_t InjectPeer(std::int64_t from, std::int64_t to, const std::string& content);
  std::int64_t InjectGroup(std::int64_t from, std::int64_t gid, const std::string& content);

  std::vector<StoredMsg> Peer(std::int64_t uid);
  std::vector<StoredMsg> Group(std::int64_t gid);
  std::int64_t Acked(std::int64_t uid, std::int64_t gid);

  // Knobs.
  std::atomic<int> drop_pushes{0};        // the next N pushes are dropped
  std::atomic<bool> drop_all_pushes{false};
  std::atomic<bool> push_data{true};      // 337/338 (true) or 321/336
  std::atomic<int> drop_send_answers{0};  // the next N sends are stored but not answered
  std::atomic<int> fail_sends{0};         // the next N sends are answered 503, not stored
  std::atomic<bool> drop_pongs{false};    // PINGs go unanswered
  std::atomic<int> fail_pulls{0};         // the next N pulls are answered 503
  std::atomic<int> drop_pulls_over{0};    // >0: a pull asking more messages closes the connection
  std::atomic<int> ignore_logins{0};      // the next N logins get no answer
  std::atomic<int> reject_sends{0};       // the next N sends get IM_CMD_ERROR 400 + close

  // Counters.
  std::atomic<int> logins{0};
  std::atomic<int> pulls{0};
  std::atomic<int> sends{0};

  // Used by FakeServer.
  void Register(FakeServer* server);
  void Unregister(FakeServer* server);
  std::int64_t UidForToken(const std::string& token);
  /// Send: returns {code, offset}; `duplicate` set when deduped.
  std::pair<int, std::int64_t> Send(std::int64_t from, std::int64_t device, std::int32_t msgid,
                                    bool group, std::int64_t to, std::int32_t ts, std::int32_t type,
                                    std::int32_t flag, const std::string& content);
  std::vector<StoredMsg> Range(std::int64_t uid, std::int64_t gid, std::int64_t after, int limit,
                               int* code, std::int64_t* newest);
  std::pair<std::int64_t, std::int64_t> PeerNewest(std::int64_t uid);  // {msgid, offset}
  std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> Latest(std::int64_t uid);
  std::map<std::int64_t, std::int64_t> Acks(std::int64_t uid);
  void Ack(std::int64_t uid, std::int64_t gid, std::int64_t offset);

 private:
  void PushPeer(std::int64_t uid, std::int64_t except_device, const StoredMsg& m);
  void PushGroup(std::int64_t gid, std::int64_t except_uid, std::int64_t except_device,
                 const StoredMsg& m);
  std::int64_t AppendPeer(std::int64_t owner, StoredMsg m);  // under mu_

  std::mutex mu_;
  std::map<std::string, std::int64_t> tokens_;
  std::map<std::int64_t, std::vector<StoredMsg>> peer_;
  std::map<std::int64_t, std::set<std::int64_t>> members_;
  std::map<std::int64_t, std::vector<StoredMsg>> groups_;
  std::map<std::tuple<std::int64_t, std::int64_t, std::int32_t>, std::pair<int, std::int64_t>>
      dedupe_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> acks_;
  std::int64_t next_msgid_ = 1000;
  std::set<FakeServer*> servers_;
};

class FakeServer {
 public:
  FakeServer(FakeCluster* cluster, bool notify);
  ~FakeServer();
  int port() const { return port_; }
  bool notify() const { return notify_; }
  /// Closes every client connection (the server keeps listening).
  void CloseAll();
  /// Stops listening and closes every connection (a dead node).
  void Stop();
  int sessions();
  /// Sends IM_CMD_ERROR `code` to every session of `uid` and closes them
  /// (an operator revoking a session).
  void Kick(std::int64_t uid, int code, const std::string& desp);
  /// Sends a frame to every logged-in session of `uid` except device `except_device`.
  void PushTo(std::int64_t uid, std::int64_t except_device, std::int16_t cmd,
              const std::string& body);

  class Impl;

 private:
  FakeCluster* cluster_;
  bool notify_;
  int port_ = 0;
  std::shared_ptr<Impl> impl_;
};

/// admin_qim's bootstrap API: GET /v1/nodes → nodes_json; POST /v1/tokens
/// {"no","password"} → the registered account, else 401.
class FakeAdmin {
 public:
  FakeAdmin();
  ~FakeAdmin();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void SetNodes(const std::string& json);
  void AddAccount(const std::string& no, const std::string& password, std::int64_t uid,
                  const std::string& token);
  std::atomic<int> node_requests{0};
  std::atomic<int> token_requests{0};

  class Impl;

 private:
  int port_ = 0;
  std::shared_ptr<Impl> impl_;
};

/// The node-list JSON of §7 for the given notify and sync ports (ids 1.., weight 100).
std::string NodesJson(const std::vector<int>& notify_ports, const std::vector<int>& sync_ports);

}  // namespace im::sdk::testing
