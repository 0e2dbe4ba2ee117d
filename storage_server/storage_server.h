#pragma once
// The storage_server daemon: opens the engine, serves StorageService over
// gRPC (plus grpc.health.v1), drains on SIGTERM.

#include <chrono>
#include <memory>

#include "common/daemon/daemon.h"
#include "storage_server/storage_config.h"

namespace grpc {
class Server;
}

namespace im::storage {

class Engine;
class StorageServiceImpl;

/// Start(), Drain() and Stop() are called from one thread (the main thread).
class StorageServer final : public daemon::Daemon {
 public:
  /// `registry` may be null (no metrics).
  StorageServer(StorageConfig config, prometheus::Registry* registry);
  ~StorageServer() override;

  /// Opens the database and starts the gRPC server.
  absl::Status Start() override;
  /// Refuses new appends (UNAVAILABLE, retry elsewhere), waits for appends in
  /// flight, then shuts the gRPC server down by `deadline`.
  void Drain(std::chrono::steady_clock::time_point deadline) override;
  void Stop() override;

  /// The bound gRPC port (after Start()).
  int port() const { return port_; }
  Engine* engine() { return engine_.get(); }

 private:
  StorageConfig config_;
  prometheus::Registry* registry_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<StorageServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

/// The daemon's main(): RunDaemon() with storage_server's spec.
int Main(int argc, char** argv);

}  // namespace im::storage
