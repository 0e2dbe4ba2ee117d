#include "imsdk/sync_module.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <random>

#include "imsdk/connection.h"
#include "common/http/http_client.h"
#include "proto/im_client.pb.h"

namespace im::sdk {
namespace asio = boost::asio;
namespace pb = im::client;

namespace {

std::int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <typename M>
bool Parse(M* m, std::string_view body) {
  return m->ParseFromArray(body.data(), static_cast<int>(body.size()));
}

constexpr int kTickMs = 50;

}  // namespace

const char* StateName(State state) {
  switch (state) {
    case State::kStopped: return "stopped";
    case State::kConnecting: return "connecting";
    case State::kOnline: return "online";
    case State::kAuthFailed: return "auth_failed";
    case State::kNoNetwork: return "no_network";
  }
  return "?";
}

SyncModule::SyncModule(asio::io_context& io, Options options, Callbacks callbacks,
                       MessageStore* store, std::shared_ptr<SharedState> shared,
                       std::function<void(std::function<void()>)> run_blocking)
    : io_(io),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      store_(store),
      shared_(std::move(shared)),
      run_blocking_(std::move(run_blocking)),
      bootstrap_timer_(io),
      tick_timer_(io) {
  if (options_.sync_pool_size < 1) options_.sync_pool_size = 1;
  if (options_.pull_limit < 1) options_.pull_limit = 100;
  pull_limit_ = options_.pull_limit;
  auto init_link = [&](Link& l, int type, int index) {
    l.type = type;
    l.index = index;
    l.backoff = std::make_unique<Backoff>(options_.reconnect_initial_ms, options_.reconnect_max_ms);
    l.retry_timer = std::make_unique<asio::steady_timer>(io_);
  };
  init_link(notify_, kNotifyServer, 0);
  sync_.resize(options_.sync_pool_size);
  for (int i = 0; i < options_.sync_pool_size; ++i) init_link(sync_[i], kSyncServer, i);
  bootstrap_backoff_ =
      std::make_unique<Backoff>(options_.reconnect_initial_ms, options_.reconnect_max_ms);
  device_id_ = options_.device_id;
  if (device_id_ == 0) {
    std::string stored = store_->GetKv("device_id");
    if (!stored.empty()) device_id_ = std::strtoll(stored.c_str(), nullptr, 10);
    if (device_id_ == 0) {
      std::random_device rd;
      device_id_ = static_cast<std::int64_t>((static_cast<std::uint64_t>(rd()) << 31) ^ rd()) & 0x7fffffffffffLL;
      if (device_id_ == 0) device_id_ = 1;
      store_->SetKv("device_id", std::to_string(device_id_));
    }
  }
}

SyncModule::~SyncModule() = default;

// ---------------------------------------------------------------- logging

void SyncModule::Log(LogLevel level, const std::string& line) {
  if (shutdown_) return;  // the SDK is being destroyed: no more callbacks
  if (callbacks_.on_log) {
    callbacks_.on_log(level, line);
  } else if (level >= LogLevel::kWarn) {
    std::fprintf(stderr, "imsdk %s: %s\n", level == LogLevel::kWarn ? "warn" : "error",
                 line.c_str());
  }
}

template <typename... Args>
void SyncModule::Logf(LogLevel level, const char* f, Args&&... args) {
  if (shutdown_ || (!callbacks_.on_log && level < LogLevel::kWarn)) return;
  Log(level, fmt::format(fmt::runtime(f), std::forward<Args>(args)...));
}

void SyncModule::Emit(std::function<void()> fn) {
  if (shutdown_) return;
  std::uint64_t gen = shared_->account_gen.load();
  std::shared_ptr<SharedState> shared = shared_;  // outlives the SDK in an app executor
  auto guarded = [shared, gen, fn = std::move(fn)] {
    if (shared->account_gen.load() == gen) fn();
  };
  if (options_.executor) {
    options_.executor(std::move(guarded));
  } else {
    guarded();
  }
}

void SyncModule::SetState(State state, int code, const std::string& desp) {
  int old = shared_->state.exchange(static_cast<int>(state));
  if (old == static_cast<int>(state) && code == 0) return;
  Logf(LogLevel::kInfo, "uid={} state {} code={} {}", uid_, StateName(state), code, desp);
  if (callbacks_.on_state) {
    auto cb = callbacks_.on_state;
    Emit([cb, state, code, desp] { cb(state, code, desp); });
  }
}

// ---------------------------------------------------------------- account

void SyncModule::SetAccount(const std::string& no, const std::string& password,
                            std::int64_t uid_hint) {
  no_ = no;
  password_ = password;
  token_.clear();
  std::int64_t uid = uid_hint;
  if (uid == 0) {
    // The buffered config remembers which uid an account number had.
    auto doc = nlohmann::json::parse(store_->GetKv("buffered_config"), nullptr, false);
    if (doc.is_object() && doc.contains("im_account_info_array") &&
        doc["im_account_info_array"].is_array()) {
      for (const auto& a : doc["im_account_info_array"]) {
        if (a.is_object() && a.value("no", "") == no && a.contains("uid") &&
            a["uid"].is_number_integer()) {
          uid = a["uid"].get<std::int64_t>();
        }
      }
    }
  }
  LoadAccount(uid);
}

void SyncModule::SetToken(std::int64_t uid, const std::string& token) {
  no_.clear();
  password_.clear();
  token_ = token;
  LoadAccount(uid);
}

void SyncModule::LoadAccount(std::int64_t uid) {
  if (uid == uid_ && uid != 0) return;
  uid_ = uid;
  shared_->uid.store(uid);
  seqs_.clear();
  sends_.clear();
  unsent_acks_.clear();
  peer_sync_key_ = 0;
  if (uid == 0) return;
  for (const auto& [gid, off] : store_->Offsets(uid)) seqs_[gid].last = off;
  peer_sync_key_ = store_->PeerSyncKey(uid);
  for (auto& p : store_->Pending(uid)) {
    InflightSend s;
    std::int32_t id = p.msgid;
    s.send = std::move(p);
    sends_.emplace(id, std::move(s));
  }
  Logf(LogLevel::kInfo, "uid={} loaded {} sequences, {} unanswered sends", uid, seqs_.size(),
       sends_.size());
}

// ---------------------------------------------------------------- lifecycle

void SyncModule::Startup() {
  if (shutdown_) return;
  if (running_) return;
  running_ = true;
  ArmTick();
  if (network_mode_ == 0) {
    SetState(State::kNoNetwork);
    return;
  }
  SetState(State::kConnecting);
  Bootstrap();
}

void SyncModule::Stop() {
  running_ = false;
  shared_->synced.store(false);
  ++gen_;
  bootstrapping_ = false;
  bootstrap_timer_.cancel();
  tick_timer_.cancel();
  CloseAllLinks();
  for (auto& [id, s] : sends_) s.inflight = false;
  SetState(State::kStopped);
}

void SyncModule::Shutdown() {
  shutdown_ = true;
  Stop();
}

void SyncModule::SetNetworkMode(int mode) {
  if (mode == network_mode_) return;
  int old = network_mode_;
  network_mode_ = mode;
  Logf(LogLevel::kInfo, "network mode {} -> {}", old, mode);
  if (!running_) return;
  ++gen_;
  bootstrapping_ = false;
  bootstrap_timer_.cancel();
  CloseAllLinks();
  if (mode == 0) {
    SetState(State::kNoNetwork);
    return;
  }
  // A new network: reconnect at once (jitter only), backoff reset.
  SetState(State::kConnecting);
  notify_.backoff->Reset();
  for (auto& l : sync_) l.backoff->Reset();
  if (!have_nodes_ || token_.empty()) {
    Bootstrap();
    return;
  }
  std::uniform_int_distribution<int> jitter(0, 100);
  static thread_local std::mt19937 rng(std::random_device{}());
  ScheduleReconnect(notify_, jitter(rng));
  for (auto& l : sync_) ScheduleReconnect(l, jitter(rng));
}

void SyncModule::OnBufferedConfig() {
  if (running_ && !have_nodes_ && !bootstrapping_) Bootstrap();
}

// ---------------------------------------------------------------- bootstrap

void SyncModule::Bootstrap() {
  if (!running_ || bootstrapping_ || network_mode_ == 0) return;
  if (token_.empty() && no_.empty()) {
    SetState(State::kAuthFailed, 401, "no account: set no+password or uid+token");
    return;
  }
  bootstrapping_ = true;
  std::uint64_t gen = gen_;
  bool need_token = token_.empty();
  bool static_nodes = !options_.notify_addr.empty() && !options_.sync_addr.empty();
  std::string admin = options_.admin_url;
  std::string no = no_, password = password_;
  int timeout = options_.http_timeout_ms;
  run_blocking_([this, gen, need_token, static_nodes, admin, no, password, timeout] {
    bool token_ok = !need_token;
    int token_status = 0;
    std::string token_error, token, nodes_json, nodes_error;
    std::int64_t uid = 0;
    if (need_token) {
      if (admin.empty()) {
        token_error = "no admin url to get a token from";
      } else {
        nlohmann::json req = {{"no", no}, {"password", password}};
        http::FetchResult res;
        if (!http::Fetch(admin, "POST", "/v1/tokens", req.dump(), timeout, &res, &token_error)) {
          // transport failure: retry later
        } else if (res.status != 200) {
          token_status = res.status;
          token_error = "POST /v1/tokens: HTTP " + std::to_string(res.status) + " " + res.body;
        } else {
          auto doc = nlohmann::json::parse(res.body, nullptr, false);
          if (doc.is_object() && doc.contains("uid") && doc["uid"].is_number_integer() &&
              doc.contains("token") && doc["token"].is_string()) {
            uid = doc["uid"].get<std::int64_t>();
            token = doc["token"].get<std::string>();
            token_ok = true;
          } else {
            token_error = "POST /v1/tokens: unexpected answer";
          }
        }
      }
    }
    if (!static_nodes && !admin.empty()) {
      http::FetchResult res;
      if (http::Fetch(admin, "GET", "/v1/nodes", "", timeout, &res, &nodes_error)) {
        if (res.status == 200) {
          nodes_json = res.body;
        } else {
          nodes_error = "GET /v1/nodes: HTTP " + std::to_string(res.status);
        }
      }
    } else if (!static_nodes) {
      nodes_error = "no admin url";
    }
    asio::post(io_, [this, gen, token_ok, token_status, token_error, uid, token, nodes_json,
                     nodes_error]() mutable {
      OnBootstrapDone(gen, token_ok, token_status, std::move(token_error), uid, std::move(token),
                      std::move(nodes_json), std::move(nodes_error));
    });
  });
}

void SyncModule::OnBootstrapDone(std::uint64_t gen, bool token_ok, int token_status,
                                 std::string token_error, std::int64_t uid, std::string token,
                                 std::string nodes_json, std::string nodes_error) {
  if (gen != gen_ || !running_) return;
  bootstrapping_ = false;
  // Nodes: static addresses, the fresh list, or the buffered config.
  if (!options_.notify_addr.empty() && !options_.sync_addr.empty()) {
    std::vector<ServerNode> nodes;
    ServerNode n;
    if (SplitHostPort(options_.notify_addr, &n.address, &n.tcp_port)) {
      n.id = 1;
      n.weight = 1;
      n.server_type = kNotifyServer;
      nodes.push_back(n);
    }
    ServerNode s;
    if (SplitHostPort(options_.sync_addr, &s.address, &s.tcp_port)) {
      s.id = 2;
      s.weight = 1;
      s.server_type = kSyncServer;
      nodes.push_back(s);
    }
    selector_.SetNodes(std::move(nodes));
    have_nodes_ = true;
  } else {
    std::vector<ServerNode> nodes;
    std::int64_t ts = 0;
    std::string err;
    if (!nodes_json.empty() && ParseNodeConfig(nodes_json, &nodes, &ts, &err)) {
      // Keep the fresh list as the buffered config, with the known accounts.
      auto fresh = nlohmann::json::parse(nodes_json, nullptr, false);
      auto old = nlohmann::json::parse(store_->GetKv("buffered_config"), nullptr, false);
      if (old.is_object() && old.contains("im_account_info_array")) {
        fresh["im_account_info_array"] = old["im_account_info_array"];
      }
      store_->SetKv("buffered_config", fresh.dump());
      selector_.SetNodes(std::move(nodes));
      have_nodes_ = true;
      Logf(LogLevel::kInfo, "discovery: {} nodes (timestamp {})", selector_.nodes().size(), ts);
    } else {
      if (!nodes_json.empty()) nodes_error = err;
      std::string buffered = store_->GetKv("buffered_config");
      if (!buffered.empty() && ParseNodeConfig(buffered, &nodes, &ts, &err)) {
        Logf(LogLevel::kWarn, "discovery failed ({}); using the buffered config ({} nodes)",
             nodes_error, nodes.size());
        selector_.SetNodes(std::move(nodes));
        have_nodes_ = true;
      } else if (!have_nodes_) {
        Logf(LogLevel::kWarn, "discovery failed ({}) and no buffered config", nodes_error);
      }
    }
  }
  if (token_ok && !token.empty()) {
    token_ = token;
    if (uid != uid_) LoadAccount(uid);
    // Remember no → uid in the buffered config.
    auto doc = nlohmann::json::parse(store_->GetKv("buffered_config"), nullptr, false);
    if (!doc.is_object()) doc = nlohmann::json::object();
    auto& arr = doc["im_account_info_array"];
    if (!arr.is_array()) arr = nlohmann::json::array();
    bool found = false;
    for (auto& a : arr) {
      if (a.is_object() && a.value("no", "") == no_) {
        a["uid"] = uid;
        found = true;
      }
    }
    if (!found) arr.push_back({{"no", no_}, {"uid", uid}});
    store_->SetKv("buffered_config", doc.dump());
  }
  if (!token_ok) {
    if (token_status == 401 || token_status == 400 || token_status == 404) {
      OnAuthFailure(401, token_error, /*password_refused=*/true);
      return;
    }
    Logf(LogLevel::kWarn, "cannot get a token: {}", token_error);
  }
  if (!token_ok || !have_nodes_) {
    int delay = bootstrap_backoff_->NextDelayMs();
    bootstrap_timer_.expires_after(std::chrono::milliseconds(delay));
    bootstrap_timer_.async_wait([this, gen](boost::system::error_code ec) {
      if (!ec && gen == gen_) Bootstrap();
    });
    return;
  }
  bootstrap_backoff_->Reset();
  ConnectAll();
}

void SyncModule::OnAuthFailure(int code, const std::string& desp, bool password_refused) {
  token_.clear();
  if (!no_.empty() && !password_.empty() && !password_refused) {
    // Get a new token; never retry with the refused one.
    CloseAllLinks();
    ++gen_;
    bootstrapping_ = false;
    int delay = bootstrap_backoff_->NextDelayMs();
    std::uint64_t gen = gen_;
    Logf(LogLevel::kWarn, "uid={} auth failure {} ({}); new token in {} ms", uid_, code, desp,
         delay);
    bootstrap_timer_.expires_after(std::chrono::milliseconds(delay));
    bootstrap_timer_.async_wait([this, gen](boost::system::error_code ec) {
      if (!ec && gen == gen_) Bootstrap();
    });
    return;
  }
  ++gen_;
  CloseAllLinks();
  running_ = false;
  SetState(State::kAuthFailed, code, desp);
}

// ---------------------------------------------------------------- links

void SyncModule::ConnectAll() {
  if (!notify_.conn && !notify_.connecting) ConnectLink(notify_);
  for (auto& l : sync_) {
    if (!l.conn && !l.connecting) ConnectLink(l);
  }
}

void SyncModule::ConnectLink(Link& link) {
  if (!running_ || network_mode_ == 0 || token_.empty()) return;
  const ServerNode* node = selector_.Choose(link.type);
  if (node == nullptr) {
    Logf(LogLevel::kWarn, "no enabled {} node", link.type == kNotifyServer ? "notify" : "sync");
    ScheduleReconnect(link, link.backoff->NextDelayMs());
    return;
  }
  link.node_id = node->id;
  link.connecting = true;
  std::string name = fmt::format("{}#{}", link.type == kNotifyServer ? "notify" : "sync", node->id);
  auto conn = std::make_shared<Connection>(io_, name);
  link.conn = conn;
  pb::ImLogin login;
  login.set_token(token_);
  login.set_device_id(device_id_);
  login.set_platform(options_.platform);
  login.set_client_version(options_.client_version);
  Logf(LogLevel::kDebug, "uid={} connecting {} {}:{}", uid_, name, node->address, node->tcp_port);
  Link* lp = &link;
  conn->Start(node->address, node->tcp_port, options_.connect_timeout_ms, uid_,
              login.SerializeAsString(), [this, lp, conn](int code, const std::string& desp) {
                OnLoginResult(*lp, conn, code, desp);
              });
}

void SyncModule::ScheduleReconnect(Link& link, int delay_ms) {
  if (!running_) return;
  std::uint64_t gen = gen_;
  Link* lp = &link;
  link.retry_timer->expires_after(std::chrono::milliseconds(delay_ms));
  link.retry_timer->async_wait([this, lp, gen](boost::system::error_code ec) {
    if (ec || gen != gen_ || !running_) return;
    if (!lp->conn && !lp->connecting) ConnectLink(*lp);
  });
}

void SyncModule::OnLoginResult(Link& link, std::shared_ptr<Connection> conn, int code,
                               const std::string& desp) {
  if (link.conn != conn) return;  // a stale connection
  link.connecting = false;
  if (code != 200) {
    conn->Close();
    link.conn.reset();
    link.ready = false;
    Logf(LogLevel::kWarn, "uid={} {} login failed: {} {}", uid_, conn->name(), code, desp);
    if (code == 401) {
      OnAuthFailure(401, desp);
      return;
    }
    selector_.MarkFailed(link.node_id);
    ScheduleReconnect(link, link.backoff->NextDelayMs());
    return;
  }
  link.ready = true;
  link.backoff->Reset();
  selector_.MarkGood(link.node_id);
  link.ping_sent_ms = 0;
  link.last_ping_ms = SteadyMs();
  Link* lp = &link;
  conn->set_close_handler([this, lp, conn](const std::string& reason) {
    if (lp->conn == conn) OnLinkDown(*lp, reason);
  });
  Logf(LogLevel::kInfo, "uid={} {} logged in", uid_, conn->name());
  if (link.type == kNotifyServer) {
    conn->set_frame_handler([this](const net::FrameHeader& h, std::string_view body) {
      OnNotifyFrame(h.cmdid, body);
    });
    offsets_received_ = false;
    SetState(State::kOnline);
    SendPing(link);
    RequestOffsets();
    for (auto& [gid, off] : unsent_acks_) Ack(gid, off);
    unsent_acks_.clear();
  } else {
    conn->set_frame_handler([this, conn](const net::FrameHeader& h, std::string_view body) {
      if (h.cmdid == pb::IM_CMD_ERROR) {
        pb::ImError err;
        Parse(&err, body);
        Logf(LogLevel::kWarn, "uid={} {} error {} {}", uid_, conn->name(), err.code(), err.desp());
        if (err.code() == 401) OnAuthFailure(401, err.desp());
      }
      // Sync links have no pushes; other frames with unknown seq are ignored.
    });
    for (auto& [gid, seq] : seqs_) {
      if (seq.want_pull) {
        seq.want_pull = false;
        StartPull(gid);
      }
    }
    ResendAll();
  }
}

void SyncModule::OnLinkDown(Link& link, const std::string& reason) {
  Logf(LogLevel::kWarn, "uid={} {} down: {}", uid_, link.conn ? link.conn->name() : "?", reason);
  if (link.conn) link.conn->Close();
  link.conn.reset();
  link.ready = false;
  link.connecting = false;
  link.ping_sent_ms = 0;
  selector_.MarkFailed(link.node_id);
  if (link.type == kNotifyServer) {
    if (running_) SetState(State::kConnecting);
  } else {
    bool lost_pull = false;
    for (auto& [gid, seq] : seqs_) {
      if (seq.pulling && seq.pull_link == link.index) {  // pulls on other links go on
        seq.pulling = false;
        seq.want_pull = true;
        lost_pull = true;
      }
    }
    if (lost_pull && pull_limit_ > 1) {
      pull_limit_ = std::max(1, pull_limit_ / 2);
      Logf(LogLevel::kInfo, "uid={} sync link lost during a pull; pulling {} at a time", uid_, pull_limit_);
    }
    for (auto& [id, s] : sends_) s.inflight = false;
  }
  ScheduleReconnect(link, link.backoff->NextDelayMs());
}

void SyncModule::CloseAllLinks() {
  auto close = [](Link& l) {
    if (l.conn) l.conn->Close();
    l.conn.reset();
    l.ready = false;
    l.connecting = false;
    l.ping_sent_ms = 0;
    l.retry_timer->cancel();
  };
  close(notify_);
  for (auto& l : sync_) close(l);
  for (auto& [gid, seq] : seqs_) {
    if (seq.pulling) {
      seq.pulling = false;
      seq.want_pull = true;
    }
  }
  for (auto& [id, s] : sends_) s.inflight = false;
}

// ---------------------------------------------------------------- notify

void SyncModule::SendPing(Link& link) {
  if (!link.ready || !link.conn) return;
  pb::UserMsgSyncInfo ping;
  ping.set_groupid(0);
  ping.set_synckey(peer_sync_key_);
  auto it = seqs_.find(0);
  ping.set_offset(it == seqs_.end() ? 0 : it->second.last);
  link.last_ping_ms = SteadyMs();
  if (link.ping_sent_ms == 0) link.ping_sent_ms = link.last_ping_ms;
  Link* lp = &link;
  auto conn = link.conn;
  conn->Request(pb::IM_CMD_HEART_PING, ping,
                [this, lp, conn](const net::FrameHeader& h, std::string_view body) {
                  if (h.cmdid != pb::IM_CMD_HEART_PONG) return true;
                  lp->ping_sent_ms = 0;
                  pb::UserMsgSyncInfo pong;
                  if (!Parse(&pong, body)) return true;
                  if (lp->type != kNotifyServer) return true;
                  auto it = seqs_.find(0);
                  if (it == seqs_.end()) return true;  // no local state yet: 341 decides (§5.7)
                  auto& seq = it->second;
                  if (pong.offset() > seq.last) {
                    Logf(LogLevel::kDebug, "uid={} PONG offset {} ahead of {}: pull", uid_,
                         pong.offset(), seq.last);
                    StartPull(0);
                  } else if (pong.offset() == seq.last && pong.synckey() != 0) {
                    peer_sync_key_ = pong.synckey();
                  }
                  return true;
                });
}

void SyncModule::RequestOffsets() {
  if (!notify_.ready) return;
  pb::ImGetSyncOffsets req;
  notify_.conn->Request(pb::IM_CMD_GET_SYNC_OFFSETS, req,
                        [this](const net::FrameHeader& h, std::string_view body) {
                          if (h.cmdid != pb::IM_CMD_GET_SYNC_OFFSETS_RES) return true;
                          pb::ImSyncOffsets offsets;
                          if (Parse(&offsets, body)) OnOffsets(offsets);
                          offsets_received_ = true;
                          UpdateSynced();
                          return true;
                        });
}

SyncModule::Sequence* SyncModule::Track(std::int64_t group_id, std::int64_t start) {
  auto it = seqs_.find(group_id);
  if (it != seqs_.end()) return &it->second;
  Sequence& seq = seqs_[group_id];
  seq.last = start;
  store_->SetOffset(uid_, group_id, start);
  Logf(LogLevel::kInfo, "uid={} tracking sequence {} from offset {}", uid_, group_id, start);
  return &seq;
}

void SyncModule::OnOffsets(const pb::ImSyncOffsets& offsets) {
  std::map<std::int64_t, std::int64_t> acked;
  for (const auto& a : offsets.acked()) acked[a.groupid()] = a.offset();
  std::map<std::int64_t, bool> present;
  for (const auto& l : offsets.latest()) {
    std::int64_t gid = l.groupid();
    present[gid] = true;
    if (seqs_.find(gid) == seqs_.end()) {
      std::int64_t start = 0;
      switch (options_.start_policy) {
        case StartPolicy::kAll: start = 0; break;
        case StartPolicy::kAcked: start = acked.count(gid) ? acked[gid] : 0; break;
        case StartPolicy::kLatest: start = l.offset(); break;
      }
      Track(gid, start);
    }
    if (l.offset() > seqs_[gid].last) StartPull(gid);
  }
  // A tracked group missing from `latest` was left: stop tracking it.
  for (auto it = seqs_.begin(); it != seqs_.end();) {
    if (it->first != 0 && !present.count(it->first) && !it->second.pulling) {
      Logf(LogLevel::kInfo, "uid={} left group {}", uid_, it->first);
      store_->RemoveSequence(uid_, it->first);
      it = seqs_.erase(it);
    } else {
      ++it;
    }
  }
}

void SyncModule::OnNotifyFrame(std::int16_t cmd, std::string_view body) {
  switch (cmd) {
    case pb::IM_CMD_NOTIFY_SYNC_HAS_CHATDATA: {
      pb::ImSyncNotifyWithData n;
      if (!Parse(&n, body)) return;
      Message m;
      m.group_id = 0;
      m.offset = n.offset();
      m.from_uid = n.fromuid();
      m.to_uid = n.touid();
      m.timestamp = n.timestamp();
      m.msgid = 0;  // 337 carries the server msgid, not the client one
      m.msg_type = n.msgtype();
      m.msg_flag = n.msgflag();
      m.content = n.content();
      OnPushedMessage(std::move(m), n.nextsynckey());
      return;
    }
    case pb::IM_CMD_GROUP_NOTIFY_SYNC_HAS_CHATDATA: {
      pb::ImGroupSyncNotifyWithData n;
      if (!Parse(&n, body)) return;
      if (n.togroupid() <= 0) return;
      Message m;
      m.group_id = n.togroupid();
      m.offset = n.offset();
      m.from_uid = n.fromuid();
      m.to_uid = uid_;
      m.timestamp = n.timestamp();
      m.msg_type = n.msgtype();
      m.msg_flag = n.msgflag();
      m.content = n.content();
      OnPushedMessage(std::move(m), 0);
      return;
    }
    case pb::IM_CMD_NOTIFY_SYNC:
    case pb::IM_CMD_GROUP_NOTIFY_SYNC: {
      pb::UserMsgSyncInfo n;
      if (!Parse(&n, body)) return;
      std::int64_t gid = cmd == pb::IM_CMD_NOTIFY_SYNC ? 0 : n.groupid();
      if (gid < 0) return;
      if (seqs_.find(gid) == seqs_.end()) {
        if (options_.start_policy != StartPolicy::kAll) {
          RequestOffsets();  // §5.7 decides where a new group starts
          return;
        }
        Track(gid, 0);
      }
      if (n.offset() > seqs_[gid].last) StartPull(gid);
      return;
    }
    case pb::IM_CMD_ERROR: {
      pb::ImError err;
      Parse(&err, body);
      Logf(LogLevel::kWarn, "uid={} notify error {} {}", uid_, err.code(), err.desp());
      if (err.code() == 401) OnAuthFailure(401, err.desp());
      return;
    }
    default:
      return;  // unknown S→C commands are ignored (§1.2)
  }
}

void SyncModule::OnPushedMessage(Message m, std::int64_t sync_key) {
  std::int64_t gid = m.group_id;
  auto it = seqs_.find(gid);
  if (it == seqs_.end()) {
    if (options_.start_policy != StartPolicy::kAll) {
      RequestOffsets();  // §5.7 decides where a new sequence starts
      return;
    }
    Track(gid, 0);
    it = seqs_.find(gid);
  }
  Sequence& seq = it->second;
  if (m.offset <= seq.last) return;  // duplicate
  if (m.offset == seq.last + 1 && !seq.pulling) {
    if (gid == 0 && sync_key != 0) {
      peer_sync_key_ = sync_key;
      store_->SetPeerSyncKey(uid_, sync_key);
    }
    Deliver(m);
    return;
  }
  StartPull(gid);  // a gap (or a pull already running: it will return this message)
}

void SyncModule::Ack(std::int64_t group_id, std::int64_t offset) {
  if (group_id < 0 || offset < 0) return;
  if (!notify_.ready) {
    auto& v = unsent_acks_[group_id];
    if (offset > v) v = offset;
    return;
  }
  pb::ImAckOffset ack;
  ack.set_groupid(group_id);
  ack.set_offset(offset);
  notify_.conn->Send(pb::IM_CMD_ACK_OFFSET, ack);
}

// ---------------------------------------------------------------- pulls

SyncModule::Link* SyncModule::ReadySync() {
  for (std::size_t i = 0; i < sync_.size(); ++i) {
    Link& l = sync_[(next_sync_ + i) % sync_.size()];
    if (l.ready && l.conn) {
      next_sync_ = (next_sync_ + i + 1) % sync_.size();
      return &l;
    }
  }
  return nullptr;
}

void SyncModule::StartPull(std::int64_t group_id) {
  Sequence& seq = seqs_[group_id];
  if (seq.pulling) {
    seq.pull_again = true;
    return;
  }
  // Pulls are spread over the pool. A sequence has one pull at a time, and
  // its follow-up pages stay on that pull's link, so its order holds.
  Link* link = ReadySync();
  if (link == nullptr) {
    seq.want_pull = true;
    return;
  }
  IssuePull(group_id, *link);
}

void SyncModule::IssuePull(std::int64_t group_id, Link& link) {
  Sequence& seq = seqs_[group_id];
  seq.pulling = true;
  seq.pull_again = false;
  seq.want_pull = false;
  seq.pull_link = link.index;
  std::int64_t from = seq.last;
  pb::ImSyncPull req;
  req.set_groupid(group_id);
  req.set_offset(from);
  req.set_limit(pull_limit_);
  auto first = std::make_shared<bool>(true);
  auto conn = link.conn;
  Link* lp = &link;
  Logf(LogLevel::kDebug, "uid={} pull sequence {} from {}", uid_, group_id, from);
  conn->Request(pb::IM_CMD_SYNC_PULL, req, [this, group_id, from, first, lp, conn](
                                               const net::FrameHeader& h, std::string_view body) {
    auto it = seqs_.find(group_id);
    if (h.cmdid == pb::IM_CMD_CLIENT_SEND_IM || h.cmdid == pb::IM_CMD_GROUP_SEND_IM) {
      if (it == seqs_.end()) return false;
      Message m;
      if (h.cmdid == pb::IM_CMD_CLIENT_SEND_IM) {
        pb::ImClientSendMsgSync d;
        if (!Parse(&d, body)) return false;
        m.group_id = 0;
        m.offset = d.offset();
        m.from_uid = d.fromuid();
        m.to_uid = d.touid();
        m.timestamp = d.timestamp();
        m.msgid = d.msgid();
        m.msg_type = d.msgtype();
        m.msg_flag = d.msgflag();
        m.content = d.content();
      } else {
        pb::ImGroupSendMsgSync d;
        if (!Parse(&d, body)) return false;
        m.group_id = d.togroupid();
        m.offset = d.offset();
        m.from_uid = d.fromuid();
        m.to_uid = d.touid();
        m.timestamp = d.timestamp();
        m.msgid = d.msgid();
        m.msg_type = d.msgtype();
        m.msg_flag = d.msgflag();
        m.content = d.content();
      }
      if (m.group_id != group_id) return false;
      Sequence& seq = it->second;
      bool is_first = *first;
      *first = false;
      if (m.offset <= seq.last) return false;  // already delivered (e.g. by a push)
      if (m.offset == seq.last + 1 || (is_first && seq.last == from)) {
        // The second case: history before m.offset has expired (§4, retention).
        Deliver(m);
      } else {
        seq.pull_again = true;  // an unexpected hole: pull again from the last offset
      }
      return false;
    }
    if (h.cmdid != pb::IM_CMD_SYNC_PULL_RES) return h.cmdid == pb::IM_CMD_ERROR;
    pb::ImSyncPullRes res;
    Parse(&res, body);
    if (it == seqs_.end()) return true;
    Sequence& seq = it->second;
    seq.pulling = false;
    if (res.code() != 200) {
      Logf(LogLevel::kWarn, "uid={} pull of sequence {} failed: {} {}", uid_, group_id,
           res.code(), res.desp());
      if (group_id != 0 && (res.code() == 403 || res.code() == 404)) {
        store_->RemoveSequence(uid_, group_id);
        seqs_.erase(it);
      } else if (res.code() >= 500) {
        seq.want_pull = true;  // retried by Tick()
        seq.retry_at_ms = SteadyMs() + std::max(100, options_.send_retry_ms / 5);
      }
      return true;
    }
    if (res.lastoffset() > seq.last && !*first) {
      // Data frames were sent but some did not fit: pull again from our last.
      seq.pull_again = true;
    } else if (res.lastoffset() > seq.last && *first) {
      // No data but a higher lastOffset: the range expired.
      seq.last = res.lastoffset();
      store_->SetOffset(uid_, group_id, seq.last);
    }
    if ((res.hasmore() || seq.pull_again) && lp->conn == conn && lp->ready) {
      IssuePull(group_id, *lp);
    } else if (res.hasmore() || seq.pull_again) {
      StartPull(group_id);
    }
    return true;
  });
}

void SyncModule::Deliver(const Message& m) {
  Sequence& seq = seqs_[m.group_id];
  seq.last = m.offset;
  store_->Deliver(uid_, m, options_.keep_history);
  if (callbacks_.on_message) {
    auto cb = callbacks_.on_message;
    Emit([cb, m] { cb(m); });
  }
}

// ---------------------------------------------------------------- sends

void SyncModule::QueueSend(PendingSend send) {
  InflightSend s;
  std::int32_t id = send.msgid;
  s.send = std::move(send);
  auto [it, inserted] = sends_.emplace(id, std::move(s));
  if (inserted) TrySend(it->second);
}

void SyncModule::TrySend(InflightSend& s) {
  Link* link = ReadySync();
  if (link == nullptr) return;
  s.inflight = true;
  s.last_try_ms = SteadyMs();
  ++s.attempts;
  std::int32_t msgid = s.send.msgid;
  auto handler = [this, msgid](const net::FrameHeader& h, std::string_view body) {
    if (h.cmdid == pb::IM_CMD_CLIENT_SEND_IM_RES) {
      pb::ImClientSendMsgRes res;
      if (!Parse(&res, body)) return true;
      OnSendAnswer(msgid, res.code(), res.offset(), "");
    } else if (h.cmdid == pb::IM_CMD_GROUP_SEND_IM_RES) {
      pb::ImGroupSendMsgRes res;
      if (!Parse(&res, body)) return true;
      OnSendAnswer(msgid, res.code(), res.offset(), res.desp());
    } else if (h.cmdid == pb::IM_CMD_ERROR) {
      // The frame itself was refused (§9: a client bug): never resend it.
      pb::ImError err;
      Parse(&err, body);
      if (err.code() == 400) OnSendAnswer(msgid, 400, 0, err.desp());
    }
    return true;
  };
  if (s.send.is_group) {
    pb::ImGroupSendMsg req;
    req.set_fromuid(uid_);
    req.set_togroupid(s.send.to);
    req.set_timestamp(s.send.timestamp);
    req.set_msgid(msgid);
    req.set_len(static_cast<std::int32_t>(s.send.content.size()));
    req.set_msgtype(s.send.msg_type);
    req.set_msgflag(s.send.msg_flag);
    req.set_content(s.send.content);
    link->conn->Request(pb::IM_CMD_GROUP_SEND_IM, req, handler);
  } else {
    pb::ImClientSendMsg req;
    req.set_fromuid(uid_);
    req.set_touid(s.send.to);
    req.set_timestamp(s.send.timestamp);
    req.set_msgid(msgid);
    req.set_len(static_cast<std::int32_t>(s.send.content.size()));
    req.set_msgtype(s.send.msg_type);
    req.set_msgflag(s.send.msg_flag);
    req.set_content(s.send.content);
    link->conn->Request(pb::IM_CMD_CLIENT_SEND_IM, req, handler);
  }
}

void SyncModule::OnSendAnswer(std::int32_t msgid, int code, std::int64_t offset,
                              const std::string& desp) {
  auto it = sends_.find(msgid);
  if (it == sends_.end()) return;  // already answered (a retry's duplicate answer)
  InflightSend& s = it->second;
  if (code == 500 || code == 503 || code == 429) {
    s.inflight = false;
    s.last_try_ms = SteadyMs();
    s.retry_delay_ms = std::min(options_.send_retry_ms,
                                std::max(100, s.retry_delay_ms == 0 ? 200 : s.retry_delay_ms * 2));
    Logf(LogLevel::kInfo, "uid={} send msgid={} answered {}; retry in {} ms", uid_, msgid, code,
         s.retry_delay_ms);
    return;
  }
  PendingSend send = std::move(s.send);
  sends_.erase(it);
  store_->RemovePending(uid_, msgid);
  // Record the sender copy / group message at its offset (§5.5) before the
  // result is reported, so the app sees its offsets already advanced.
  if (code == 200 && offset > 0) {
    std::int64_t gid = send.is_group ? send.to : 0;
    Sequence* seq = seqs_.count(gid) ? &seqs_[gid]
                    : Track(gid, options_.start_policy == StartPolicy::kAll ? 0 : offset - 1);
    if (offset == seq->last + 1 && !seq->pulling) {
      Message m;
      m.group_id = gid;
      m.offset = offset;
      m.from_uid = uid_;
      m.to_uid = send.is_group ? uid_ : send.to;
      m.timestamp = send.timestamp;
      m.msgid = msgid;
      m.msg_type = send.msg_type;
      m.msg_flag = send.msg_flag;
      m.content = send.content;
      Deliver(m);
    } else if (offset > seq->last) {
      StartPull(gid);
    }
  }
  SendResult r;
  r.app_msg_id = send.app_msg_id;
  r.msgid = msgid;
  r.to = send.to;
  r.is_group = send.is_group;
  r.code = code;
  r.offset = code == 200 ? offset : 0;
  r.desp = desp;
  if (callbacks_.on_send_result) {
    auto cb = callbacks_.on_send_result;
    Emit([cb, r] { cb(r); });
  }
}

void SyncModule::ResendAll() {
  for (auto& [id, s] : sends_) {
    if (!s.inflight) TrySend(s);
  }
}

// ---------------------------------------------------------------- timers

void SyncModule::UpdateSynced() {
  bool synced = running_ && notify_.ready && offsets_received_ && sends_.empty();
  for (const auto& [gid, seq] : seqs_) {
    if (seq.pulling || seq.want_pull || seq.pull_again) synced = false;
  }
  shared_->synced.store(synced);
}

void SyncModule::ArmTick() {
  tick_timer_.expires_after(std::chrono::milliseconds(kTickMs));
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !running_ || shutdown_) return;
    Tick();
    ArmTick();
  });
}

void SyncModule::Tick() {
  std::int64_t now = SteadyMs();
  std::int64_t wall = WallMs();
  // Sends: give up, retry unanswered, retry after 5xx/429.
  std::vector<std::int32_t> expired;
  for (auto& [id, s] : sends_) {
    if (wall - s.send.created_ms > options_.send_give_up_ms) {
      expired.push_back(id);
    } else if (s.inflight && now - s.last_try_ms >= options_.send_retry_ms) {
      Logf(LogLevel::kInfo, "uid={} send msgid={} unanswered; resending", uid_, id);
      TrySend(s);
    } else if (!s.inflight && s.retry_delay_ms > 0 && now - s.last_try_ms >= s.retry_delay_ms) {
      TrySend(s);
    } else if (!s.inflight && s.retry_delay_ms == 0) {
      TrySend(s);
    }
  }
  for (std::int32_t id : expired) OnSendAnswer(id, kSendTimedOut, 0, "no answer");
  // Heartbeats: notify every interval; sync links when idle. A PONG missing for
  // one interval means the connection is dead (§5.2).
  auto heartbeat = [&](Link& l, bool only_idle) {
    if (!l.ready || !l.conn) return;
    if (l.ping_sent_ms != 0 && now - l.ping_sent_ms > options_.heartbeat_interval_ms) {
      OnLinkDown(l, "no PONG within the heartbeat interval");
      return;
    }
    bool due = now - l.last_ping_ms >= options_.heartbeat_interval_ms;
    if (only_idle) due = due && now - l.conn->last_send_ms() >= options_.heartbeat_interval_ms;
    if (due) SendPing(l);
  };
  heartbeat(notify_, false);
  for (auto& l : sync_) heartbeat(l, true);
  // Pulls that failed with 5xx (or waited for a link) are retried.
  for (auto& [gid, seq] : seqs_) {
    if (seq.want_pull && !seq.pulling && now >= seq.retry_at_ms && ReadySync() != nullptr) {
      seq.want_pull = false;
      StartPull(gid);
    }
  }
  UpdateSynced();
}

}  // namespace im::sdk
