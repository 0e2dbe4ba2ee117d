#include "admin_qim/admin_server.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <thread>

#include "admin_qim/admin_ops.h"
#include "admin_qim/admin_service_impl.h"
#include "admin_qim/cluster_client.h"
#include "admin_qim/directory_store.h"
#include "admin_qim/http_api.h"
#include "admin_qim/rate_limiter.h"
#include "admin_qim/redis_backend.h"
#include "admin_qim/schema.h"
#include "common/http/http_server.h"
#include <grpcpp/impl/service_type.h>

#include "common/rpc/grpc_util.h"

namespace im::admin {

AdminServer::AdminServer(AdminConfig config, const daemon::DaemonContext& context)
    : config_(std::move(config)),
      http_requests_(&prometheus::BuildCounter()
                          .Name("im_admin_http_requests_total")
                          .Help("HTTP API requests answered, by status code")
                          .Register(*context.registry)) {}

AdminServer::~AdminServer() { Stop(); }

int AdminServer::http_port() const { return http_ ? http_->port() : 0; }

absl::Status AdminServer::Start() {
  pool_ = std::make_unique<db::MysqlPool>(config_.mysql);
  // MySQL may still be starting (cluster start-up): retry for a few seconds.
  absl::StatusOr<int> migrated = Migrate(*pool_, config_.migrate_lock_timeout_s);
  for (int attempt = 1; !migrated.ok() && migrated.status().code() == absl::StatusCode::kUnavailable && attempt < 20;
       ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    migrated = Migrate(*pool_, config_.migrate_lock_timeout_s);
  }
  if (!migrated.ok()) return migrated.status();

  store_ = std::make_unique<MysqlDirectoryStore>(pool_.get());
  redis_ = std::make_unique<RedisBackend>(config_.redis);
  cluster_ = NewGrpcClusterClient({config_.access_address, config_.route_addresses, config_.rpc_timeout_ms});
  ops_ = std::make_unique<AdminOps>(store_.get(), redis_.get(), redis_.get(), cluster_.get(),
                                    AdminOpsOptions{config_.token_lifetime_s, config_.probe_timeout_ms,
                                                    PasswordCost{static_cast<std::uint64_t>(config_.password_opslimit),
                                                                 static_cast<std::size_t>(config_.password_memlimit_kib) * 1024}});
  if (absl::Status s = ops_->RestoreBans(); !s.ok()) {
    IM_LOG_WARN(log::Main(), "cannot copy bans to Redis at start ({}); they apply once Redis is back and the ban is "
                "re-issued", s.message());
  }
  login_limiter_ = std::make_unique<RateLimiter>(config_.login_rate_per_s, config_.login_burst);
  api_ = std::make_unique<HttpApi>(ops_.get(), login_limiter_.get(), HttpApiOptions{config_.admin_secret});

  http::HttpServerOptions http_options;
  http_options.listen = config_.http_listen;
  http_options.threads = config_.http_threads;
  http_options.body_limit = static_cast<std::size_t>(config_.http_body_limit);
  http_ = std::make_unique<http::HttpServer>(
      http_options, [api = api_.get(), requests = http_requests_](const http::HttpRequest& r) {
        http::HttpResponse response = api->Handle(r);
        requests->Add({{"code", std::to_string(response.status)}}).Increment();
        return response;
      });
  if (absl::Status s = http_->Start(); !s.ok()) return s;

  grpc::EnableDefaultHealthCheckService(true);
  service_ = NewAdminService(ops_.get(), AdminServiceOptions{config_.admin_secret, config_.grpc_workers});
  grpc::ServerBuilder builder;
  rpc::ConfigureServerBuilder(builder);
  builder.AddListeningPort(config_.grpc_listen, rpc::ServerCredentials(), &grpc_port_);
  builder.RegisterService(service_.get());
  grpc_ = builder.BuildAndStart();
  if (!grpc_ || grpc_port_ == 0) return absl::UnavailableError("grpc.listen: cannot listen on " + config_.grpc_listen);

  IM_LOG_INFO(log::Main(), "admin_qim serving: http api on port {}, grpc admin on port {}, schema version {}",
              http_->port(), grpc_port_, LatestSchemaVersion());
  return absl::OkStatus();
}

void AdminServer::Drain(std::chrono::steady_clock::time_point deadline) {
  if (grpc_) {
    const auto remaining = deadline - std::chrono::steady_clock::now();
    grpc_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(remaining));
  }
  if (http_) http_->Stop();  // finishes the requests being handled
}

void AdminServer::Stop() {
  if (grpc_) {
    grpc_->Shutdown(std::chrono::system_clock::now());
    grpc_->Wait();
    grpc_.reset();
  }
  service_.reset();  // joins the workers
  if (http_) http_->Stop();
  http_.reset();
}

int Main(int argc, char** argv) {
  return daemon::RunDaemonWithConfig<AdminConfig>(
      argc, argv, "admin_qim", DeclareAdminConfig,
      [](const AdminConfig& config, const daemon::DaemonContext& context) {
        return std::make_unique<AdminServer>(config, context);
      });
}

}  // namespace im::admin
