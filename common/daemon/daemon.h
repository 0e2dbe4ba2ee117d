#pragma once
// What every daemon shares: config loading (file + flags), logging, the admin
// HTTP endpoint (/metrics in Prometheus format, /healthz), signal handling and
// graceful drain. A daemon's main() is one line:
//
//   int main(int argc, char** argv) { return im::storage::Main(argc, argv); }
//
// and its Main() calls RunDaemon() with a spec, or RunDaemonWithConfig().

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/config/config.h"
#include "common/log/log.h"
#include "common/rpc/tls.h"

namespace prometheus {
class Registry;
}

namespace im::daemon {

/// Keys every daemon has: [log], [admin] and [tls] (inter-daemon gRPC).
struct CommonConfig {
  log::Options log;
  std::string admin_listen = "127.0.0.1:0";  // /metrics and /healthz; port 0: any free port
  int drain_timeout_ms = 5000;               // SIGTERM: time allowed to finish in-flight work
  rpc::TlsOptions grpc_tls;                  // [tls]: installed by RunDaemon before create()
};

void AddCommonKeys(config::Schema& schema, CommonConfig* config);

/// Serving state shown by /healthz (200 SERVING, 503 otherwise). Thread safe.
class Health {
 public:
  void SetServing(bool serving) { serving_.store(serving); }
  bool serving() const { return serving_.load(); }

 private:
  std::atomic<bool> serving_{false};
};

/// Handed to a daemon when it is created.
struct DaemonContext {
  std::string name;
  prometheus::Registry* registry;  // register the daemon's metrics here
  Health* health;
  int admin_port;  // where /metrics and /healthz are served
};

/// A running daemon. Start() then, on SIGTERM, Drain() then Stop(); all are
/// called from the main thread.
class Daemon {
 public:
  virtual ~Daemon() = default;
  /// Binds listeners and starts threads. An error ends the process (exit 1).
  virtual absl::Status Start() = 0;
  /// Stops accepting new work, tells new requests to go elsewhere and finishes
  /// in-flight work, by `deadline` at the latest.
  virtual void Drain(std::chrono::steady_clock::time_point deadline) = 0;
  /// Stops everything; after it returns no thread of the daemon runs.
  virtual void Stop() = 0;
};

struct DaemonSpec {
  std::string name;  // "storage_server", used in logs and metrics
  /// Adds the daemon's keys (bound to its config struct) to the schema.
  std::function<void(config::Schema&)> declare_config;
  /// Creates the daemon from its (loaded, validated) config.
  std::function<absl::StatusOr<std::unique_ptr<Daemon>>(const DaemonContext&)> create;
};

/// Parses the command line, sets up logging and the admin endpoint, runs the
/// daemon until SIGTERM/SIGINT, drains and exits. Returns the process exit
/// code: 0 after a clean stop, 1 when start-up fails, 2 for a bad config.
/// A second SIGINT/SIGTERM while draining exits at once.
int RunDaemon(int argc, char** argv, const DaemonSpec& spec);

/// RunDaemon() for a daemon configured by one struct: `declare(schema,
/// &config)` binds its keys, `create(config, context)` makes the daemon once
/// the config is loaded and valid.
template <typename Config, typename Declare, typename Create>
int RunDaemonWithConfig(int argc, char** argv, std::string name, Declare declare, Create create) {
  Config config;
  DaemonSpec spec;
  spec.name = std::move(name);
  spec.declare_config = [&](config::Schema& schema) { declare(schema, &config); };
  spec.create = [&](const DaemonContext& context) -> absl::StatusOr<std::unique_ptr<Daemon>> {
    return create(config, context);
  };
  return RunDaemon(argc, argv, spec);
}

}  // namespace im::daemon
