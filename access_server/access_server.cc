#include "access_server/access_server.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <boost/asio/thread_pool.hpp>
#include <mutex>

#include "access_server/access_handler.h"
#include "access_server/access_service_impl.h"
#include "access_server/message_cache.h"
#include "access_server/mysql_directory.h"
#include "access_server/rate_limiter.h"
#include "access_server/route_publisher.h"
#include "access_server/storage_client.h"
#include "common/auth/token_store.h"
#include "common/log/log.h"
#include "common/redis/redis_client.h"
#include "common/rpc/grpc_util.h"

namespace im::access {
namespace {

class RedisTokenChecker final : public TokenChecker {
 public:
  explicit RedisTokenChecker(redis::RedisOptions options) : redis_(std::move(options)), store_(&redis_) {}
  int Check(std::int64_t uid, const std::string& token) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto result = store_.Check(uid, token);
    if (!result.ok()) return 503;
    return *result == auth::TokenCheck::kValid ? 200 : 401;
  }

 private:
  std::mutex mu_;
  redis::RedisClient redis_;  // guarded by mu_
  auth::TokenStore store_;    // guarded by mu_
};

class AccessServer final : public daemon::Daemon {
 public:
  AccessServer(const AccessConfig& config, const daemon::DaemonContext& context)
      : config_(config), context_(context), pool_(static_cast<std::size_t>(config.worker_threads)) {}

  absl::Status Start() override {
    StorageClientOptions storage_options;
    storage_options.addresses = config_.storage_addresses;
    storage_options.timeout_ms = config_.storage_timeout_ms;
    storage_options.max_batch = config_.storage_max_batch;
    storage_options.max_in_flight = config_.storage_max_in_flight;
    storage_ = std::make_unique<StorageClient>(storage_options);

    RoutePublisherOptions route_options;
    route_options.addresses = config_.route_addresses;
    route_options.timeout_ms = config_.route_timeout_ms;
    route_ = std::make_unique<RoutePublisher>(route_options);

    MessageCacheOptions cache_options;
    cache_options.host = config_.redis_host;
    cache_options.port = config_.redis_port;
    cache_options.timeout_ms = config_.redis_timeout_ms;
    cache_options.connections = config_.redis_connections;
    cache_options.max_records = config_.cache_max_records;
    cache_options.ttl_s = config_.cache_ttl_s;
    cache_ = std::make_unique<MessageCache>(cache_options);

    redis::RedisOptions redis_options;
    redis_options.host = config_.redis_host;
    redis_options.port = config_.redis_port;
    redis_options.connect_timeout_ms = config_.redis_timeout_ms;
    redis_options.command_timeout_ms = config_.redis_timeout_ms;
    tokens_ = std::make_unique<RedisTokenChecker>(redis_options);

    db::MysqlOptions mysql;
    mysql.host = config_.mysql_host;
    mysql.port = config_.mysql_port;
    mysql.user = config_.mysql_user;
    mysql.password = config_.mysql_password;
    mysql.database = config_.mysql_database;
    mysql.pool_size = config_.mysql_pool_size;
    directory_ = std::make_unique<MysqlDirectory>(mysql, redis_options, config_.directory_cache_ms);
    directory_->Start();

    limiter_ = std::make_unique<RateLimiter>(config_.rate_limit_per_s, config_.rate_limit_burst);
    handler_ = std::make_unique<AccessHandler>(config_, storage_.get(), cache_.get(), route_.get(), directory_.get(),
                                               limiter_.get(), tokens_.get());
    service_ = std::make_unique<AccessServiceImpl>(handler_.get(), &pool_, context_.registry);

    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    im::rpc::ConfigureServerBuilder(builder);
    int bound_port = 0;
    builder.AddListeningPort(config_.listen, rpc::ServerCredentials(), &bound_port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (!server_ || bound_port == 0) return absl::UnavailableError("cannot listen on " + config_.listen);
    IM_LOG_INFO(log::Main(), "access_server gRPC listening on {} (port {})", config_.listen, bound_port);
    for (std::size_t i = 0; i < config_.storage_addresses.size(); ++i) {
      IM_LOG_INFO(log::Main(), "storage shard {} at {}", i, config_.storage_addresses[i]);
    }
    for (std::size_t i = 0; i < config_.route_addresses.size(); ++i) {
      IM_LOG_INFO(log::Main(), "route shard {} at {}", i, config_.route_addresses[i]);
    }
    IM_LOG_INFO(log::Main(), "redis at {}:{}, mysql at {}:{}/{}", config_.redis_host, config_.redis_port,
                config_.mysql_host, config_.mysql_port, config_.mysql_database);
    return absl::OkStatus();
  }

  void Drain(std::chrono::steady_clock::time_point deadline) override {
    if (!server_) return;
    server_->GetHealthCheckService()->SetServingStatus(false);
    service_->SetDraining();
    // Shutdown waits for calls in flight until the deadline, then cancels them.
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::duration_cast<std::chrono::system_clock::duration>(
                          deadline - std::chrono::steady_clock::now()));
  }

  void Stop() override {
    if (server_) server_->Shutdown();
    pool_.join();  // handlers still running finish
    if (directory_) directory_->Stop();
    server_.reset();
  }

 private:
  AccessConfig config_;
  daemon::DaemonContext context_;
  boost::asio::thread_pool pool_;
  std::unique_ptr<StorageClient> storage_;
  std::unique_ptr<RoutePublisher> route_;
  std::unique_ptr<MessageCache> cache_;
  std::unique_ptr<RedisTokenChecker> tokens_;
  std::unique_ptr<MysqlDirectory> directory_;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<AccessHandler> handler_;
  std::unique_ptr<AccessServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<daemon::Daemon>> CreateAccessServer(const AccessConfig& config,
                                                                  const daemon::DaemonContext& context) {
  return std::unique_ptr<daemon::Daemon>(new AccessServer(config, context));
}

int Main(int argc, char** argv) {
  return daemon::RunDaemonWithConfig<AccessConfig>(argc, argv, "access_server", DeclareConfig, CreateAccessServer);
}

}  // namespace im::access
