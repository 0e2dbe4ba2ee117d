// A minimal daemon on the shared runtime, for testing RunDaemon end to end:
// config keys, admin endpoint, drain on SIGTERM. Its Drain() waits for a
// configurable time to stand in for in-flight work.
#include <thread>

#include "common/daemon/daemon.h"

namespace {

struct SampleConfig {
  std::string greeting = "hello";
  int drain_work_ms = 0;
  bool fail_start = false;
};

class SampleDaemon final : public im::daemon::Daemon {
 public:
  explicit SampleDaemon(SampleConfig config) : config_(std::move(config)) {}
  absl::Status Start() override {
    if (config_.fail_start) return absl::UnavailableError("sample.fail_start is set");
    IM_LOG_INFO(im::log::Main(), "greeting={}", config_.greeting);
    return absl::OkStatus();
  }
  void Drain(std::chrono::steady_clock::time_point deadline) override {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.drain_work_ms);
    std::this_thread::sleep_until(std::min(until, deadline));
    IM_LOG_INFO(im::log::Main(), "drained");
  }
  void Stop() override {}

 private:
  SampleConfig config_;
};

}  // namespace

int main(int argc, char** argv) {
  SampleConfig config;
  im::daemon::DaemonSpec spec;
  spec.name = "sample_daemon";
  spec.declare_config = [&](im::config::Schema& schema) {
    schema.Add("sample.greeting", &config.greeting, "logged at start");
    schema.Add("sample.drain_work_ms", &config.drain_work_ms, "time Drain() takes", 0, 60000);
    schema.Add("sample.fail_start", &config.fail_start, "make Start() fail");
  };
  spec.create = [&](const im::daemon::DaemonContext&) -> absl::StatusOr<std::unique_ptr<im::daemon::Daemon>> {
    return std::make_unique<SampleDaemon>(config);
  };
  return im::daemon::RunDaemon(argc, argv, spec);
}
