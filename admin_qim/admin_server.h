#pragma once
// The admin_qim daemon: migrates the MySQL schema, then serves the HTTP API
// (http_api.h) and the gRPC AdminService (admin_service_impl.h).

#include <memory>

#include "admin_qim/admin_config.h"
#include "common/daemon/daemon.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace im::http {
class HttpServer;
}

namespace prometheus {
class Counter;
template <typename T>
class Family;
}  // namespace prometheus

namespace im::admin {

class AdminOps;
class ClusterClient;
class HttpApi;
class MysqlDirectoryStore;
class RateLimiter;
class RedisBackend;

/// Start/Drain/Stop are called from the main thread (daemon::Daemon).
class AdminServer final : public daemon::Daemon {
 public:
  AdminServer(AdminConfig config, const daemon::DaemonContext& context);
  ~AdminServer() override;

  absl::Status Start() override;
  void Drain(std::chrono::steady_clock::time_point deadline) override;
  void Stop() override;

  int http_port() const;
  int grpc_port() const { return grpc_port_; }

 private:
  AdminConfig config_;
  prometheus::Family<prometheus::Counter>* http_requests_;  // owned by the daemon's registry
  std::unique_ptr<db::MysqlPool> pool_;
  std::unique_ptr<MysqlDirectoryStore> store_;
  std::unique_ptr<RedisBackend> redis_;
  std::unique_ptr<ClusterClient> cluster_;
  std::unique_ptr<AdminOps> ops_;
  std::unique_ptr<RateLimiter> login_limiter_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
};

/// admin_qim's main().
int Main(int argc, char** argv);

}  // namespace im::admin
