#include "tests/integration/admin/admin_test_util.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace im::admin::testing {

HttpResult Http(int port, const std::string& method, const std::string& path, const std::string& body,
                const std::string& auth) {
  std::vector<std::string> argv = {"curl", "-s", "-m", "10", "-X", method, "-w", "\n%{http_code}"};
  if (!auth.empty()) argv.insert(argv.end(), {"-H", "Authorization: " + auth});
  if (!body.empty() || method == "POST") {
    argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary", body});
  }
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  std::string out;
  im::testing::RunCommand(argv, &out);
  HttpResult r;
  const auto nl = out.rfind('\n');
  if (nl == std::string::npos) return r;
  r.body = out.substr(0, nl);
  r.status = std::atoi(out.c_str() + nl + 1);
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<std::unique_ptr<AdminProcess>> Launch(im::testing::PrivateMariaDb& db,
                                                     im::testing::PrivateRedis& redis, const std::string& dir,
                                                     const std::vector<std::string>& extra, bool wait) {
  static std::atomic<int> counter{0};
  auto p = std::make_unique<AdminProcess>();
  p->http_port_ = im::testing::PickFreePort();
  p->grpc_port_ = im::testing::PickFreePort();
  p->admin_port_ = im::testing::PickFreePort();
  p->log_path_ = dir + "/admin_qim." + std::to_string(counter++) + ".log";
  std::vector<std::string> argv = {ADMIN_QIM_BIN,
                                   "--http.listen", "127.0.0.1:" + std::to_string(p->http_port_),
                                   "--grpc.listen", "127.0.0.1:" + std::to_string(p->grpc_port_),
                                   "--admin.listen", "127.0.0.1:" + std::to_string(p->admin_port_),
                                   "--auth.admin_secret", kSecret,
                                   "--mysql.port", std::to_string(db.port()),
                                   "--mysql.user", db.user(),
                                   "--mysql.password", db.password(),
                                   "--mysql.database", db.database(),
                                   "--redis.port", std::to_string(redis.port()),
                                   "--log.file", p->log_path_};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto child = im::testing::ChildProcess::Start(argv, p->log_path_ + ".out");
  if (!child.ok()) return child.status();
  p->process_ = std::move(*child);
  if (wait) {
    if (absl::Status s = p->WaitHealthy(); !s.ok()) return s;
  }
  return p;
}

absl::Status AdminProcess::WaitHealthy() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_.running()) {
      return absl::InternalError("admin_qim exited: " + ReadFile(log_path_) + ReadFile(log_path_ + ".out"));
    }
    if (Http(admin_port_, "GET", "/healthz", "", "").status == 200) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError("admin_qim did not become healthy: " + ReadFile(log_path_));
}

absl::StatusOr<std::unique_ptr<AdminProcess>> AdminProcess::Start(im::testing::PrivateMariaDb& db,
                                                                  im::testing::PrivateRedis& redis,
                                                                  const std::string& dir,
                                                                  const std::vector<std::string>& extra) {
  return Launch(db, redis, dir, extra, true);
}

}  // namespace im::admin::testing
