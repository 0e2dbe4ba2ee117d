#include "route_server/route_server.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/net/host_port.h"
#include "common/rpc/grpc_util.h"
#include "route_server/route_service_impl.h"

namespace im::route {
namespace {

class RouteServer final : public daemon::Daemon {
 public:
  RouteServer(RouteConfig config, const daemon::DaemonContext& context)
      : config_(std::move(config)),
        service_(&table_, RouteServiceOptions{static_cast<std::size_t>(config_.max_queued_messages),
                                              static_cast<std::size_t>(config_.max_batch_notifications)}) {
    auto& gauges = prometheus::BuildGauge()
                       .Name("im_route_presence")
                       .Help("route_server presence table: online devices and attached notify nodes")
                       .Register(*context.registry);
    devices_gauge_ = &gauges.Add({{"what", "devices"}});
    nodes_gauge_ = &gauges.Add({{"what", "nodes"}});
    dropped_gauge_ = &gauges.Add({{"what", "dropped_messages"}});
  }

  absl::Status Start() override {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    rpc::ConfigureServerBuilder(builder);
    int port = 0;
    builder.AddListeningPort(config_.listen, rpc::ServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    if (!server_ || port == 0) return absl::UnavailableError("cannot listen on " + config_.listen);
    IM_LOG_INFO(log::Rpc(), "route_server gRPC listening on {} (port {})", config_.listen, port);
    stats_thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopping_) {
        devices_gauge_->Set(static_cast<double>(table_.online_devices()));
        nodes_gauge_->Set(static_cast<double>(table_.nodes()));
        dropped_gauge_->Set(static_cast<double>(service_.dropped_messages()));
        cv_.wait_for(lock, std::chrono::seconds(1));
      }
    });
    return absl::OkStatus();
  }

  void Drain(std::chrono::steady_clock::time_point deadline) override {
    if (!server_) return;
    server_->GetHealthCheckService()->SetServingStatus(false);
    service_.FinishAll();
    const auto left = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()),
                               std::chrono::milliseconds(config_.shutdown_grace_ms));
    server_->Shutdown(std::chrono::system_clock::now() + left);
  }

  void Stop() override {
    if (server_) {
      service_.FinishAll();
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(config_.shutdown_grace_ms));
      server_->Wait();
      server_.reset();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (stats_thread_.joinable()) stats_thread_.join();
  }

 private:
  RouteConfig config_;
  PresenceTable table_;
  RouteServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  prometheus::Gauge* devices_gauge_;
  prometheus::Gauge* nodes_gauge_;
  prometheus::Gauge* dropped_gauge_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread stats_thread_;
};

}  // namespace

void DeclareConfig(config::Schema& schema, RouteConfig* c) {
  schema.Add("server.listen", &c->listen, "gRPC address (host:port) of RouteService");
  schema.Add("route.max_queued_messages", &c->max_queued_messages,
             "messages queued per attached notify_server before deliveries are dropped (clients repair by pull)",
             1, 10000000);
  schema.Add("route.max_batch_notifications", &c->max_batch_notifications,
             "notifications merged into one stream message while a write is in flight", 1, 100000);
  schema.Add("server.shutdown_grace_ms", &c->shutdown_grace_ms, "time given to in-flight RPCs at shutdown", 0,
             60000);
  schema.AddCheck([c] { return net::CheckHostPort("server.listen", c->listen); });
}

absl::StatusOr<std::unique_ptr<daemon::Daemon>> CreateRouteServer(const RouteConfig& config,
                                                                   const daemon::DaemonContext& context) {
  return std::make_unique<RouteServer>(config, context);
}

int Main(int argc, char** argv) {
  return daemon::RunDaemonWithConfig<RouteConfig>(argc, argv, "route_server", DeclareConfig, CreateRouteServer);
}

}  // namespace im::route
