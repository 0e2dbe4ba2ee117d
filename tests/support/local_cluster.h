#pragma once
// The whole cluster as real processes on loopback, for integration and e2e
// tests: a private Redis and MariaDB, then the daemons, each on free ports
// with its own temp dir and log file, started with flags (no config files).
// Components are addressed by name ("storage0", "access0", "notify1", …) so
// tests can kill, pause and restart them. ClusterOptions::hosts can place
// each component on its own host (e.g. a network namespace, see
// tests/support/netns_lab.h) instead of loopback. Not thread safe.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/support/test_services.h"

namespace im::testing {

struct ClusterOptions {
  int storage_shards = 1;
  int access_servers = 1;
  int route_shards = 1;
  int notify_servers = 1;
  int sync_servers = 1;
  bool admin = true;  // admin_qim (also applies the MySQL schema)
  std::string admin_secret = "test-admin-secret";
  /// Extra flags per component name, e.g. {"access0", {"--limits.rate_limit_per_s", "0"}}.
  std::map<std::string, std::vector<std::string>> extra_flags;
  /// Where each component runs, by name ("redis", "mysql", "admin", "storage0",
  /// …); absent: loopback. The test process must reach every address from
  /// its own network namespace (health checks, admin calls).
  std::map<std::string, ServiceHost> hosts;
};

/// Where the built binaries are (set by CMake as IM_BUILD_DIR); a binary
/// missing there is taken from $IM_FALLBACK_BUILD_DIR when that is set.
std::string BinaryPath(const std::string& daemon);

class LocalCluster {
 public:
  LocalCluster();
  ~LocalCluster();  // stops everything

  absl::Status Start(const ClusterOptions& options = {});
  void Stop();

  PrivateRedis& redis() { return redis_; }
  PrivateMariaDb& mysql() { return mysql_; }
  const std::string& dir() const { return dir_->path(); }

  /// The main port of a component (gRPC, client TCP or admin_qim HTTP).
  int port(const std::string& name) const;
  int admin_port(const std::string& name) const;  // /metrics, /healthz
  std::string host(const std::string& name) const;  // the component's IPv4 address
  std::string address(const std::string& name) const { return host(name) + ":" + std::to_string(port(name)); }
  std::string log(const std::string& name) const;  // the component's log so far
  /// AddressSanitizer, LeakSanitizer and UBSan reports in the components'
  /// logs, "<name> log has a sanitizer report:\n<excerpt>" each; empty when
  /// there is none (always, unless the daemons were built with IM_SANITIZE).
  /// Also after Stop() (a clean exit is when LeakSanitizer reports).
  std::vector<std::string> SanitizerReports() const;
  int notify_port(int i = 0) const { return port("notify" + std::to_string(i)); }
  int sync_port(int i = 0) const { return port("sync" + std::to_string(i)); }
  int admin_http_port() const { return port("admin"); }
  int admin_grpc_port() const { return grpc_ports_.at("admin"); }

  /// Process control for fault tests.
  void Kill(const std::string& name);                 // SIGKILL
  void Signal(const std::string& name, int signo);    // e.g. SIGSTOP/SIGCONT
  absl::Status Restart(const std::string& name);      // start again, same ports and data
  bool Running(const std::string& name);
  /// The component's process id (for profiling and resource sampling).
  int pid(const std::string& name) const { return components_.at(name).process.pid(); }
  /// Component names in start order ("admin", "storage0", …, "sync0").
  const std::vector<std::string>& components() const { return order_; }

  /// Creates an account through the directory (admin_qim's schema) and
  /// returns its uid; a login token for a uid (issued into Redis).
  absl::StatusOr<std::int64_t> CreateAccount(const std::string& no, const std::string& password = "password1");
  absl::StatusOr<std::string> IssueToken(std::int64_t uid);
  /// An admin call to admin_qim's HTTP API; returns the body of a 2xx answer.
  absl::StatusOr<std::string> AdminPost(const std::string& path, const std::string& json);
  /// Adds every notify and sync server of the cluster to node_list through the
  /// operators' console (`qim node add`, as deploy/cluster.sh does), so SDKs
  /// find them with GET /v1/nodes. Needs admin and the `qim` binary; call once.
  absl::Status RegisterNodes(int weight = 100);

 private:
  struct Component {
    std::string host;
    std::string binary;
    std::vector<std::string> args;
    int port = 0;
    int admin_port = 0;
    ChildProcess process;
  };
  absl::Status Launch(const std::string& name, Component component);
  absl::Status StartProcess(const std::string& name);
  absl::Status WaitHealthy(const std::string& name);
  const ServiceHost& HostOf(const std::string& name) const;
  std::string Address(const std::string& name, int port) const { return HostOf(name).address + ":" + std::to_string(port); }
  std::string AdminUrl(const std::string& path) const;

  ClusterOptions options_;
  std::unique_ptr<TempDir> dir_;
  PrivateRedis redis_;
  PrivateMariaDb mysql_;
  std::map<std::string, Component> components_;
  std::map<std::string, int> grpc_ports_;
  std::vector<std::string> order_;  // start order, stopped in reverse
};

}  // namespace im::testing
