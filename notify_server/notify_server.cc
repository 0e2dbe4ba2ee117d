#include "notify_server/notify_server.h"

#include <spdlog/spdlog.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/net/host_port.h"
#include "common/auth/token_check_pool.h"
#include "common/log/log.h"
#include "common/net/client_protocol.h"
#include "common/net/tcp_server.h"
#include "notify_server/access_client.h"
#include "common/auth/kick_subscriber.h"
#include "notify_server/push_frames.h"
#include "notify_server/route_client.h"
#include "notify_server/session_registry.h"
#include "proto/im_client.pb.h"

namespace im::notify {
namespace {

using net::SessionPtr;

redis::RedisOptions RedisOptionsFrom(const NotifyConfig& c) {
  redis::RedisOptions o;
  o.host = c.redis_host;
  o.port = c.redis_port;
  o.password = c.redis_password;
  o.db = c.redis_db;
  o.connect_timeout_ms = c.redis_timeout_ms;
  o.command_timeout_ms = c.redis_timeout_ms;
  return o;
}

client::UserMsgSyncInfo ToSyncInfo(const rpc::SyncPoint& p) {
  client::UserMsgSyncInfo info;
  info.set_groupid(p.gid());
  info.set_synckey(p.msgid());
  info.set_offset(p.offset());
  return info;
}

class NotifyServer final : public daemon::Daemon, public net::SessionHandler {
 public:
  NotifyServer(NotifyConfig config, const daemon::DaemonContext& context)
      : config_(std::move(config)),
        start_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count()) {
    net::TcpServerOptions tcp;
    tcp.listen = config_.listen;
    tcp.threads = config_.threads;
    tcp.max_connections = config_.max_connections;
    tcp.accept_retry_ms = config_.accept_retry_ms;
    tcp.limits.max_body = static_cast<std::size_t>(config_.max_body_bytes);
    tcp.limits.login_timeout_ms = config_.login_timeout_ms;
    tcp.limits.idle_timeout_ms = 3 * config_.heartbeat_interval_ms;
    tcp.limits.max_output_bytes = static_cast<std::size_t>(config_.max_output_bytes);
    tcp.limits.max_requests_per_second = config_.max_requests_per_second;
    tcp.tls = config_.tls;
    tcp.tls.handshake_timeout_ms = config_.login_timeout_ms;
    tcp_ = std::make_unique<net::TcpServer>(tcp, this);

    auth::TokenCheckPoolOptions pool;
    pool.redis = RedisOptionsFrom(config_);
    pool.threads = config_.token_check_threads;
    tokens_ = std::make_unique<auth::TokenCheckPool>(pool);

    AccessClientOptions access;
    access.address = config_.access_address;
    access.timeout_ms = config_.access_timeout_ms;
    access.max_ping_batch = static_cast<std::size_t>(config_.ping_batch_max);
    access.max_ping_calls = config_.ping_calls_max;
    access_ = std::make_unique<AccessClient>(access);

    push_.data_enabled = config_.push_data;
    push_.max_data_bytes = static_cast<std::size_t>(config_.push_max_data_bytes);

    auto& counters = prometheus::BuildCounter()
                         .Name("im_notify_events_total")
                         .Help("notify_server events")
                         .Register(*context.registry);
    pushes_counter_ = &counters.Add({{"event", "push"}});
    logins_ok_counter_ = &counters.Add({{"event", "login_ok"}});
    logins_refused_counter_ = &counters.Add({{"event", "login_refused"}});
    kicks_counter_ = &counters.Add({{"event", "kick"}});
    auto& gauges = prometheus::BuildGauge()
                       .Name("im_notify_state")
                       .Help("notify_server state: connections, sessions, route shards attached, ...")
                       .Register(*context.registry);
    connections_gauge_ = &gauges.Add({{"what", "connections"}});
    sessions_gauge_ = &gauges.Add({{"what", "sessions"}});
    route_gauge_ = &gauges.Add({{"what", "route_shards_attached"}});
    fd_exhausted_gauge_ = &gauges.Add({{"what", "accept_fd_exhausted_total"}});
    dropped_gauge_ = &gauges.Add({{"what", "dropped_slow_clients_total"}});
    protocol_errors_gauge_ = &gauges.Add({{"what", "protocol_errors_total"}});
  }

  absl::Status Start() override {
    if (absl::Status s = tcp_->Start(); !s.ok()) return s;
    std::string advertise = config_.advertise_address;
    if (advertise.empty()) {
      std::string host;
      int port = 0;
      net::SplitHostPort(config_.listen, &host, &port);
      advertise = (host == "0.0.0.0" ? std::string("127.0.0.1") : host) + ":" + std::to_string(tcp_->port());
    }
    RouteClientOptions route;
    route.addresses = config_.route_addresses;
    route.node_id = config_.node_id.empty() ? advertise + "-" + std::to_string(start_ms_) : config_.node_id;
    route.client_address = advertise;
    route.reconnect_max_ms = config_.route_reconnect_max_ms;
    route_ = std::make_unique<RouteClient>(route, &registry_, [this](rpc::RouteToNotify& m) { Deliver(m); });
    registry_.SetListener(route_.get());
    tokens_->Start();
    route_->Start();
    kicks_ = std::make_unique<auth::KickSubscriber>(RedisOptionsFrom(config_), [this](std::int64_t uid) { KickUser(uid); });
    kicks_->Start();
    stats_thread_ = std::thread([this] { StatsLoop(); });
    IM_LOG_INFO(log::Main(), "notify_server node {} serving clients on port {}", route.node_id, tcp_->port());
    return absl::OkStatus();
  }

  void Drain(std::chrono::steady_clock::time_point) override { tcp_->StopAccepting(); }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      std::lock_guard<std::mutex> pending_lock(pending_mu_);
      stopping_ = true;
    }
    stats_cv_.notify_all();
    pending_cv_.notify_all();
    if (stats_thread_.joinable()) stats_thread_.join();
    // Order: nothing may post to the io threads once they are gone.
    if (kicks_) kicks_->Stop();
    if (route_) route_->Stop();  // no more deliveries; route_server drops this node's presence
    tokens_->Stop();             // pending logins answered 503 while the io threads still run
    tcp_->Stop();
    access_->Shutdown();
  }

  // ---- net::SessionHandler (io threads) ----

  void OnLogin(const SessionPtr& session, const client::ImLogin& login) override {
    if (session->uid() <= 0) {
      logins_refused_counter_->Increment();
      return session->FinishLogin(net::kCodeUnauthorized, "bad uid");
    }
    std::weak_ptr<net::Session> weak = session;
    tokens_->Check(session->uid(), login.token(), [this, weak](absl::StatusOr<auth::TokenCheck> result) {
      SessionPtr s = weak.lock();
      if (!s) return;
      if (!result.ok()) {
        IM_LOG_WARN(log::Net(), "conn={} uid={} token check failed: {}", s->id(), s->uid(),
                    result.status().message());
        logins_refused_counter_->Increment();
        return s->FinishLogin(net::kCodeUnavailable, "token check unavailable, retry");
      }
      switch (*result) {
        case auth::TokenCheck::kValid:
          logins_ok_counter_->Increment();
          return s->FinishLogin(net::kCodeOk, "ok");
        case auth::TokenCheck::kBanned:
          logins_refused_counter_->Increment();
          return s->FinishLogin(net::kCodeUnauthorized, "user banned");
        case auth::TokenCheck::kInvalid:
          logins_refused_counter_->Increment();
          return s->FinishLogin(net::kCodeUnauthorized, "invalid or expired token");
      }
    });
  }

  void OnLoggedIn(const SessionPtr& session) override {
    IM_LOG_DEBUG(log::Net(), "conn={} uid={} device={} logged in", session->id(), session->uid(),
                 session->device_id());
    if (SessionPtr replaced = registry_.Add(session)) {
      IM_LOG_INFO(log::Net(), "conn={} uid={} device={} replaced by conn={}", replaced->id(), replaced->uid(),
                  replaced->device_id(), session->id());
      replaced->Close();
    }
  }

  bool OnFrame(const SessionPtr& session, const net::Frame& frame) override {
    const std::int32_t seq = frame.header.seq;
    switch (frame.header.cmdid) {
      case net::kCmdHeartPing: {
        client::UserMsgSyncInfo mine;
        if (!mine.ParseFromArray(frame.body.data(), static_cast<int>(frame.body.size()))) {
          session->SendAndClose(net::ErrorFrame(session->uid(), seq, net::kCodeBadRequest, "undecodable PING"));
          return true;
        }
        std::weak_ptr<net::Session> weak = session;
        access_->GetSyncInfo(session->uid(), [weak, seq, mine](absl::StatusOr<rpc::SyncPoint> point) {
          SessionPtr s = weak.lock();
          if (!s) return;
          // access_server down: echo the client's own position so it does not pull for nothing.
          client::UserMsgSyncInfo pong = point.ok() ? ToSyncInfo(*point) : mine;
          pong.set_groupid(0);
          s->Send(net::EncodeFrame(s->uid(), net::kCmdHeartPong, seq, pong));
        });
        return true;
      }
      case net::kCmdAckOffset: {
        client::ImAckOffset ack;
        if (!ack.ParseFromArray(frame.body.data(), static_cast<int>(frame.body.size())) || ack.offset() < 0 ||
            ack.groupid() < 0) {
          session->SendAndClose(net::ErrorFrame(session->uid(), seq, net::kCodeBadRequest, "bad ImAckOffset"));
          return true;
        }
        access_->AckOffset(session->uid(), ack.groupid(), ack.offset());
        return true;
      }
      case net::kCmdGetSyncOffsets: {
        std::weak_ptr<net::Session> weak = session;
        access_->GetSyncOffsets(session->uid(), [weak, seq](absl::StatusOr<rpc::GetSyncOffsetsReply> reply) {
          SessionPtr s = weak.lock();
          if (!s) return;
          if (!reply.ok() || (reply->code() != 0 && reply->code() != net::kCodeOk)) {
            const int code = reply.ok() ? reply->code() : net::kCodeUnavailable;
            s->Send(net::ErrorFrame(s->uid(), seq, code, "sync offsets unavailable, retry"));
            return;
          }
          client::ImSyncOffsets out;
          for (const auto& p : reply->latest()) *out.add_latest() = ToSyncInfo(p);
          for (const auto& p : reply->acked()) *out.add_acked() = ToSyncInfo(p);
          s->Send(net::EncodeFrame(s->uid(), net::kCmdGetSyncOffsetsRes, seq, out));
        });
        return true;
      }
      default:
        return false;
    }
  }

  void OnClose(const SessionPtr& session) override { registry_.Remove(session); }

 private:
  // Route deliveries (gRPC threads): one encoded body per notification, one
  // frame per addressed uid, handed to each io thread in one batch.
  void Deliver(rpc::RouteToNotify& message) {
    for (std::int64_t uid : message.kick_uids()) KickUser(uid);
    if (message.notifications_size() == 0) return;
    const int threads = tcp_->threads();
    std::vector<std::shared_ptr<std::vector<std::pair<SessionPtr, std::string>>>> per_thread(threads);
    std::vector<SessionPtr> sessions;
    std::uint64_t pushes = 0;
    for (const rpc::Notification& n : message.notifications()) {
      const PushBody push = BuildPush(n, push_);
      for (std::int64_t uid : n.uids()) {
        sessions.clear();
        registry_.Lookup(uid, &sessions);
        if (sessions.empty()) continue;
        std::string frame = net::EncodeRawFrame(uid, push.cmdid, 0, push.body);
        if (frame.empty()) continue;
        for (std::size_t i = 0; i < sessions.size(); ++i) {
          SessionPtr& s = sessions[i];
          if (n.skip_device_id() != 0 && s->device_id() == n.skip_device_id() && uid == n.payload().from_uid()) {
            continue;
          }
          auto& batch = per_thread[s->thread_index()];
          if (!batch) batch = std::make_shared<std::vector<std::pair<SessionPtr, std::string>>>();
          // The last device takes the frame itself; the others get copies.
          batch->emplace_back(std::move(s), i + 1 == sessions.size() ? std::move(frame) : frame);
          ++pushes;
        }
      }
    }
    // Backpressure: while the io threads are behind by more than
    // push.max_pending_frames, stop reading from route_server (its stream
    // then fills up and it drops, best effort) instead of queueing without bound.
    {
      std::unique_lock<std::mutex> lock(pending_mu_);
      pending_cv_.wait_for(lock, std::chrono::seconds(2), [this] {
        return pending_frames_ <= static_cast<std::int64_t>(config_.push_max_pending_frames) || stopping_;
      });
      pending_frames_ += static_cast<std::int64_t>(pushes);
    }
    for (int i = 0; i < threads; ++i) {
      if (!per_thread[i]) continue;
      tcp_->Post(i, [this, batch = std::move(per_thread[i])] {
        for (auto& [session, frame] : *batch) session->SendInLoop(std::move(frame));
        std::lock_guard<std::mutex> lock(pending_mu_);
        pending_frames_ -= static_cast<std::int64_t>(batch->size());
        if (pending_frames_ <= static_cast<std::int64_t>(config_.push_max_pending_frames)) pending_cv_.notify_all();
      });
    }
    pushes_counter_->Increment(static_cast<double>(pushes));
  }

  void KickUser(std::int64_t uid) {
    std::vector<SessionPtr> sessions;
    registry_.Lookup(uid, &sessions);
    for (auto& s : sessions) {
      IM_LOG_INFO(log::Net(), "conn={} uid={} kicked (token revoked or user banned)", s->id(), uid);
      kicks_counter_->Increment();
      s->SendAndClose(net::ErrorFrame(uid, 0, net::kCodeUnauthorized, "session revoked"));
    }
  }

  void StatsLoop() {
    std::unique_lock<std::mutex> lock(stats_mu_);
    while (!stopping_) {
      const net::TcpServerStats s = tcp_->stats();
      connections_gauge_->Set(static_cast<double>(s.connections));
      sessions_gauge_->Set(static_cast<double>(registry_.sessions()));
      route_gauge_->Set(route_->connected_shards());
      fd_exhausted_gauge_->Set(static_cast<double>(s.fd_exhausted_total));
      dropped_gauge_->Set(static_cast<double>(s.dropped_slow_total));
      protocol_errors_gauge_->Set(static_cast<double>(s.protocol_errors_total));
      stats_cv_.wait_for(lock, std::chrono::milliseconds(500));
    }
  }

  NotifyConfig config_;
  std::int64_t start_ms_;
  PushOptions push_;
  SessionRegistry registry_;
  std::unique_ptr<net::TcpServer> tcp_;
  std::unique_ptr<auth::TokenCheckPool> tokens_;
  std::unique_ptr<AccessClient> access_;
  std::unique_ptr<RouteClient> route_;
  std::unique_ptr<auth::KickSubscriber> kicks_;
  prometheus::Counter* pushes_counter_;
  prometheus::Counter* logins_ok_counter_;
  prometheus::Counter* logins_refused_counter_;
  prometheus::Counter* kicks_counter_;
  prometheus::Gauge* connections_gauge_;
  prometheus::Gauge* sessions_gauge_;
  prometheus::Gauge* route_gauge_;
  prometheus::Gauge* fd_exhausted_gauge_;
  prometheus::Gauge* dropped_gauge_;
  prometheus::Gauge* protocol_errors_gauge_;
  std::mutex pending_mu_;
  std::condition_variable pending_cv_;
  std::int64_t pending_frames_ = 0;  // guarded by pending_mu_: pushes posted to io threads, not yet queued
  std::mutex stats_mu_;
  std::condition_variable stats_cv_;
  bool stopping_ = false;
  std::thread stats_thread_;
};


}  // namespace

void DeclareConfig(config::Schema& schema, NotifyConfig* c) {
  schema.Add("server.listen", &c->listen, "client TCP address (host:port)");
  schema.Add("server.advertise_address", &c->advertise_address,
             "host:port announced to route_server for clients; empty: derived from server.listen");
  schema.Add("server.node_id", &c->node_id, "unique node id; empty: advertise address + start time");
  schema.Add("server.threads", &c->threads, "io threads (one io_context each); 0: one per core", 0, 256);
  schema.Add("server.max_connections", &c->max_connections, "open client connections at most", 1, 10000000);
  schema.Add("server.max_body_bytes", &c->max_body_bytes, "largest accepted frame body", 64, 65521);
  schema.Add("server.login_timeout_ms", &c->login_timeout_ms, "close connections not logged in by then", 100,
             600000);
  schema.Add("server.heartbeat_interval_ms", &c->heartbeat_interval_ms,
             "client heartbeat interval; a connection silent for 3 intervals is closed", 100, 3600000);
  schema.Add("server.max_output_bytes", &c->max_output_bytes,
             "unsent bytes queued per connection; above it the client is dropped (it recovers by pull)", 1024,
             64 << 20);
  schema.Add("server.max_requests_per_second", &c->max_requests_per_second,
             "frames per second per connection; above it: IM_CMD_ERROR 429 and close", 1, 1000000);
  schema.Add("server.accept_retry_ms", &c->accept_retry_ms,
             "after accept() fails for lack of file descriptors, retry after this", 1, 60000);
  schema.Add("push.data", &c->push_data, "push message content (337/338); false: offsets only (321/336)");
  schema.Add("push.max_data_bytes", &c->push_max_data_bytes,
             "content larger than this is announced by offsets only (321/336)", 0, 65000);
  schema.Add("push.max_pending_frames", &c->push_max_pending_frames,
             "pushes handed to io threads and not yet queued on a connection; above it reading from "
             "route_server pauses (backpressure)",
             1000, 100000000);
  schema.Add("redis.host", &c->redis_host, "Redis holding login tokens and the im:kick channel");
  schema.Add("redis.port", &c->redis_port, "Redis port", 1, 65535);
  schema.Add("redis.password", &c->redis_password, "Redis AUTH password; empty: none");
  schema.Add("redis.db", &c->redis_db, "Redis database number", 0, 1000);
  schema.Add("redis.timeout_ms", &c->redis_timeout_ms, "Redis connect and command timeout", 10, 60000);
  schema.Add("redis.token_check_threads", &c->token_check_threads,
             "threads (each with a Redis connection) checking login tokens", 1, 64);
  schema.Add("access.address", &c->access_address, "access_server gRPC address (host:port)");
  schema.Add("access.timeout_ms", &c->access_timeout_ms, "deadline of calls to access_server", 10, 60000);
  schema.Add("access.ping_batch_max", &c->ping_batch_max, "uids per batched GetSyncInfo call", 1, 100000);
  schema.Add("access.ping_calls_max", &c->ping_calls_max,
             "GetSyncInfo calls in flight at once; PINGs arriving meanwhile wait for the next batch", 1, 1024);
  schema.Add("route.addresses", &c->route_addresses,
             "route_server shards (host:port), in shard order; a uid belongs to shard uid % count");
  schema.Add("route.reconnect_max_ms", &c->route_reconnect_max_ms, "longest wait between reconnect attempts", 10,
             60000);
  schema.AddCheck([c] { return net::CheckHostPort("server.listen", c->listen); });
  net::AddClientTlsKeys(schema, &c->tls);
  schema.AddCheck([c] { return net::CheckHostPort("access.address", c->access_address); });
  schema.AddCheck([c] {
    if (c->route_addresses.empty()) return std::string("route.addresses: at least one route_server is needed");
    for (const auto& a : c->route_addresses) {
      if (std::string e = net::CheckHostPort("route.addresses", a); !e.empty()) return e;
    }
    return std::string();
  });
}

absl::StatusOr<std::unique_ptr<daemon::Daemon>> CreateNotifyServer(const NotifyConfig& config,
                                                                    const daemon::DaemonContext& context) {
  return std::make_unique<NotifyServer>(config, context);
}

int Main(int argc, char** argv) {
  return daemon::RunDaemonWithConfig<NotifyConfig>(argc, argv, "notify_server", DeclareConfig, CreateNotifyServer);
}

}  // namespace im::notify
