#include "sync_server/sync_server.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/auth/kick_subscriber.h"
#include "common/auth/token_check_pool.h"
#include "common/log/log.h"
#include "common/net/tcp_server.h"
#include "sync_server/access_client.h"
#include "sync_server/sync_session_handler.h"

namespace im::sync {
namespace {

// Copies server and handler counters into Prometheus metrics once a second.
class SyncMetrics {
 public:
  SyncMetrics(prometheus::Registry& registry, net::TcpServer* server, SyncSessionHandler* handler)
      : server_(server),
        handler_(handler),
        connections_(Gauge(registry, "im_sync_connections", "open client connections")),
        accepted_(Gauge(registry, "im_sync_accepted", "client connections accepted since start")),
        protocol_errors_(Gauge(registry, "im_sync_protocol_errors", "connections closed for a protocol error")),
        dropped_slow_(Gauge(registry, "im_sync_dropped_slow", "clients dropped for not reading")),
        sends_(Gauge(registry, "im_sync_sends", "send requests (315, 328) since start")),
        pulls_(Gauge(registry, "im_sync_pulls", "pull requests (317) since start")),
        in_flight_(Gauge(registry, "im_sync_requests_in_flight", "requests waiting for access_server")),
        thread_([this] { Run(); }) {}

  ~SyncMetrics() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      const net::TcpServerStats stats = server_->stats();
      connections_.Set(static_cast<double>(stats.connections));
      accepted_.Set(static_cast<double>(stats.accepted_total));
      protocol_errors_.Set(static_cast<double>(stats.protocol_errors_total));
      dropped_slow_.Set(static_cast<double>(stats.dropped_slow_total));
      sends_.Set(static_cast<double>(handler_->sends()));
      pulls_.Set(static_cast<double>(handler_->pulls()));
      in_flight_.Set(handler_->in_flight());
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
  }

  static prometheus::Gauge& Gauge(prometheus::Registry& registry, const char* name, const char* help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
  }

  net::TcpServer* server_;
  SyncSessionHandler* handler_;
  prometheus::Gauge& connections_;
  prometheus::Gauge& accepted_;
  prometheus::Gauge& protocol_errors_;
  prometheus::Gauge& dropped_slow_;
  prometheus::Gauge& sends_;
  prometheus::Gauge& pulls_;
  prometheus::Gauge& in_flight_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

class SyncServer final : public daemon::Daemon {
 public:
  SyncServer(const SyncConfig& config, const daemon::DaemonContext& context) : config_(config), context_(context) {}

  absl::Status Start() override {
    access_ = std::make_unique<AccessClient>(AccessClient::Options{config_.access_addresses, config_.access_timeout_ms,
                                                                   config_.access_send_batch,
                                                                   config_.access_send_calls_in_flight});
    auth::TokenCheckPoolOptions token_options;
    token_options.redis.host = config_.redis_host;
    token_options.redis.port = config_.redis_port;
    token_options.threads = config_.token_check_threads;
    tokens_ = std::make_unique<auth::TokenCheckPool>(token_options);
    tokens_->Start();
    handler_ = std::make_unique<SyncSessionHandler>(access_.get(), tokens_.get(),
                                                    static_cast<std::size_t>(config_.max_output_bytes / 2));
    kicks_ = std::make_unique<auth::KickSubscriber>(token_options.redis,
                                                    [this](std::int64_t uid) { handler_->Kick(uid); });
    kicks_->Start();
    net::TcpServerOptions tcp = config_.tcp;
    tcp.limits.max_body = static_cast<std::size_t>(config_.max_body);
    tcp.limits.max_output_bytes = static_cast<std::size_t>(config_.max_output_bytes);
    tcp.tls.handshake_timeout_ms = tcp.limits.login_timeout_ms;
    server_ = std::make_unique<net::TcpServer>(tcp, handler_.get());
    if (absl::Status s = server_->Start(); !s.ok()) return s;
    metrics_ = std::make_unique<SyncMetrics>(*context_.registry, server_.get(), handler_.get());
    IM_LOG_INFO(log::Main(), "sync_server client TCP listening on {} (port {}, {} io threads)", tcp.listen,
                server_->port(), server_->threads());
    for (const auto& address : config_.access_addresses) IM_LOG_INFO(log::Main(), "access_server at {}", address);
    IM_LOG_INFO(log::Main(), "tokens from redis {}:{}", config_.redis_host, config_.redis_port);
    return absl::OkStatus();
  }

  void Drain(std::chrono::steady_clock::time_point deadline) override {
    if (!server_) return;
    server_->StopAccepting();
    // Requests already sent to access_server get their answers.
    while (handler_->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Let the answers reach the sockets.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  void Stop() override {
    metrics_.reset();
    if (kicks_) kicks_->Stop();
    if (server_) server_->Stop();
    if (tokens_) tokens_->Stop();
  }

 private:
  SyncConfig config_;
  daemon::DaemonContext context_;
  std::unique_ptr<AccessClient> access_;
  std::unique_ptr<auth::TokenCheckPool> tokens_;
  std::unique_ptr<SyncSessionHandler> handler_;
  std::unique_ptr<auth::KickSubscriber> kicks_;
  std::unique_ptr<net::TcpServer> server_;
  std::unique_ptr<SyncMetrics> metrics_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<daemon::Daemon>> CreateSyncServer(const SyncConfig& config,
                                                                 const daemon::DaemonContext& context) {
  return std::unique_ptr<daemon::Daemon>(new SyncServer(config, context));
}

int Main(int argc, char** argv) {
  return daemon::RunDaemonWithConfig<SyncConfig>(argc, argv, "sync_server", DeclareConfig, CreateSyncServer);
}

}  // namespace im::sync
