#include "storage_server/storage_server.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <thread>

#include "common/config/config.h"
#include "common/rpc/grpc_util.h"
#include "storage_server/engine.h"
#include "storage_server/storage_service_impl.h"

namespace im::storage {
namespace {

EngineMetrics RegisterMetrics(prometheus::Registry& registry) {
  EngineMetrics m;
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
  };
  m.appends = counter("im_storage_appends_total", "Records written");
  m.duplicates = counter("im_storage_duplicate_appends_total", "Appends answered from an idempotency key");
  m.commits = counter("im_storage_commits_total", "Group commits (one write batch and sync each)");
  m.write_errors = counter("im_storage_write_errors_total", "Failed write batches or WAL syncs");
  m.trimmed = counter("im_storage_trimmed_records_total", "Records removed by retention");
  m.commit_seconds = &prometheus::BuildHistogram()
                          .Name("im_storage_commit_seconds")
                          .Help("Time of one group commit (write and sync)")
                          .Register(registry)
                          .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                                           0.005, 0.01, 0.025, 0.05, 0.1, 0.5});
  m.batch_appends = &prometheus::BuildHistogram()
                         .Name("im_storage_commit_appends")
                         .Help("Appends per group commit")
                         .Register(registry)
                         .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512,
                                                                          1024, 4096});
  return m;
}

}  // namespace

StorageServer::StorageServer(StorageConfig config, prometheus::Registry* registry)
    : config_(std::move(config)), registry_(registry) {}

StorageServer::~StorageServer() { Stop(); }

absl::Status StorageServer::Start() {
  EngineOptions options = config_.ToEngineOptions();
  if (registry_ != nullptr) options.metrics = RegisterMetrics(*registry_);
  auto engine = Engine::Open(std::move(options));
  if (!engine.ok()) return engine.status();
  engine_ = std::move(*engine);

  ServiceOptions service_options;
  service_options.shard_id = config_.shard_id;
  service_options.shard_count = config_.shard_count;
  service_options.max_batch_appends = config_.max_batch_appends;
  service_ = std::make_unique<StorageServiceImpl>(engine_.get(), service_options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  rpc::ConfigureServerBuilder(builder, config_.max_message_bytes);
  builder.AddListeningPort(config_.listen, rpc::ServerCredentials(), &port_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError("server.listen: cannot listen on '" + config_.listen + "'");
  }
  IM_LOG_INFO(log::Rpc(), "storage_server shard {}/{} serving gRPC on port {} data_dir={}", config_.shard_id,
              config_.shard_count, port_, config_.data_dir);
  return absl::OkStatus();
}

void StorageServer::Drain(std::chrono::steady_clock::time_point deadline) {
  if (server_ == nullptr) return;
  server_->GetHealthCheckService()->SetServingStatus(false);
  service_->SetDraining(true);
  while (service_->appends_in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Appends are answered; what may remain are reads, which take milliseconds.
  // gRPC's Shutdown(deadline) also waits for idle client connections until the
  // deadline, so give it a short grace instead of the whole drain budget.
  const auto remaining = std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration{});
  const auto grace = std::min<std::chrono::steady_clock::duration>(remaining, std::chrono::milliseconds(250));
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(grace));
  IM_LOG_INFO(log::Rpc(), "storage_server drained");
}

void StorageServer::Stop() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
    server_.reset();
  }
  // The engine answers everything queued before it stops.
  if (engine_ != nullptr) engine_->Stop();
  service_.reset();
  engine_.reset();
}

int Main(int argc, char** argv) {
  return daemon::RunDaemonWithConfig<StorageConfig>(
      argc, argv, "storage_server", DeclareStorageConfig,
      [](const StorageConfig& config, const daemon::DaemonContext& context) {
        return std::make_unique<StorageServer>(config, context.registry);
      });
}

}  // namespace im::storage
