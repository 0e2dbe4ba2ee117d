#pragma once
// Helpers shared by admin_qim's integration tests: an admin_qim process on
// free ports against given MariaDB/Redis, and an HTTP client (curl).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/support/test_services.h"

namespace im::admin::testing {

inline constexpr char kSecret[] = "test-admin-secret-0123456789";

struct HttpResult {
  int status = 0;
  std::string body;
};

/// One HTTP request through curl. `auth`: the Authorization header value ("" = none).
HttpResult Http(int port, const std::string& method, const std::string& path, const std::string& body = "",
                const std::string& auth = std::string("Bearer ") + kSecret);

std::string ReadFile(const std::string& path);

/// A running admin_qim.
class AdminProcess {
 public:
  /// Starts admin_qim on free ports with `extra` flags (pairs "--key", "value")
  /// and waits until /healthz answers 200.
  static absl::StatusOr<std::unique_ptr<AdminProcess>> Start(im::testing::PrivateMariaDb& db,
                                                             im::testing::PrivateRedis& redis,
                                                             const std::string& dir,
                                                             const std::vector<std::string>& extra = {});
  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  int admin_port() const { return admin_port_; }  // /metrics, /healthz
  std::string grpc_endpoint() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  const std::string& log_path() const { return log_path_; }
  im::testing::ChildProcess& process() { return process_; }
  /// Waits until /healthz answers 200; an error carries the log when the process exited.
  absl::Status WaitHealthy();

 private:
  friend absl::StatusOr<std::unique_ptr<AdminProcess>> Launch(im::testing::PrivateMariaDb&,
                                                              im::testing::PrivateRedis&, const std::string&,
                                                              const std::vector<std::string>&, bool);
  im::testing::ChildProcess process_;
  int http_port_ = 0, grpc_port_ = 0, admin_port_ = 0;
  std::string log_path_;
};

/// Starts admin_qim without waiting; returns the process and its ports.
absl::StatusOr<std::unique_ptr<AdminProcess>> Launch(im::testing::PrivateMariaDb& db,
                                                     im::testing::PrivateRedis& redis, const std::string& dir,
                                                     const std::vector<std::string>& extra, bool wait);

}  // namespace im::admin::testing
