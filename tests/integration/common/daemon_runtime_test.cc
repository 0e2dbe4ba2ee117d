// The shared daemon runtime, through a real process (sample_daemon): config
// file and flags, /metrics and /healthz over HTTP, SIGTERM drain, bad config.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/test_services.h"

namespace {

using im::testing::ChildProcess;
using im::testing::RunCommand;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct HttpResult {
  int status = 0;
  std::string body;
};

HttpResult HttpGet(int port, const std::string& path) {
  std::string out;
  RunCommand({"curl", "-s", "-m", "5", "-w", "\n%{http_code}", "http://127.0.0.1:" + std::to_string(port) + path},
             &out);
  HttpResult r;
  const auto nl = out.rfind('\n');
  if (nl == std::string::npos) return r;
  r.body = out.substr(0, nl);
  r.status = std::atoi(out.c_str() + nl + 1);
  return r;
}

class DaemonRuntimeTest : public ::testing::Test {
 protected:
  std::string WriteConfig(const std::string& text) {
    const std::string path = dir_.path() + "/sample.toml";
    std::ofstream(path) << text;
    return path;
  }
  std::string log_path() const { return dir_.path() + "/sample.log"; }

  im::testing::TempDir dir_;
};

TEST_F(DaemonRuntimeTest, ServesMetricsAndHealthThenDrainsOnSigterm) {
  const int admin_port = im::testing::PickFreePort();
  const std::string config = WriteConfig(
      "[sample]\ngreeting = \"from-file\"\ndrain_work_ms = 300\n"
      "[admin]\nlisten = \"127.0.0.1:1\"\n");
  // The flag overrides the file's admin.listen.
  auto child = ChildProcess::Start({SAMPLE_DAEMON, "--config", config, "--admin.listen",
                                    "127.0.0.1:" + std::to_string(admin_port)},
                                   log_path());
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(im::testing::WaitForPort(admin_port, std::chrono::seconds(10))) << ReadFile(log_path());

  HttpResult health;
  for (int i = 0; i < 100 && health.status != 200; ++i) {
    health = HttpGet(admin_port, "/healthz");
    if (health.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "SERVING\n");

  HttpResult metrics = HttpGet(admin_port, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("im_build_info{daemon=\"sample_daemon\"} 1"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("# TYPE im_serving gauge"), std::string::npos);
  EXPECT_EQ(HttpGet(admin_port, "/nope").status, 404);

  // An HTTP/1.0 client asking for keep-alive is told the connection stays open.
  std::string keep_alive;
  RunCommand({"curl", "-s", "-i", "--http1.0", "-H", "Connection: keep-alive",
              "http://127.0.0.1:" + std::to_string(admin_port) + "/healthz"},
             &keep_alive);
  EXPECT_NE(keep_alive.find("HTTP/1.0 200"), std::string::npos) << keep_alive;
  EXPECT_NE(keep_alive.find("Connection: keep-alive"), std::string::npos) << keep_alive;

  child->Signal(SIGTERM);
  EXPECT_EQ(child->Wait(std::chrono::seconds(10)), 0);
  const std::string log = ReadFile(log_path());
  EXPECT_NE(log.find("greeting=from-file"), std::string::npos) << log;
  EXPECT_NE(log.find("received SIGTERM: draining"), std::string::npos) << log;
  EXPECT_NE(log.find("drained"), std::string::npos) << log;
  EXPECT_NE(log.find("sample_daemon stopped"), std::string::npos) << log;
}

TEST_F(DaemonRuntimeTest, SecondSignalExitsWithoutWaitingForDrain) {
  const int admin_port = im::testing::PickFreePort();
  auto child = ChildProcess::Start({SAMPLE_DAEMON, "--sample.drain_work_ms", "30000", "--admin.drain_timeout_ms",
                                    "60000", "--admin.listen", "127.0.0.1:" + std::to_string(admin_port)},
                                   log_path());
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(im::testing::WaitForPort(admin_port, std::chrono::seconds(10)));
  child->Signal(SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(child->running());  // draining
  child->Signal(SIGINT);
  EXPECT_EQ(child->Wait(std::chrono::seconds(5)), 1);
}

TEST_F(DaemonRuntimeTest, UnknownKeyInFileExitsNonZeroNamingTheKey) {
  const std::string config = WriteConfig("[sample]\ngreting = \"typo\"\n");
  auto child = ChildProcess::Start({SAMPLE_DAEMON, "--config", config}, log_path());
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->Wait(std::chrono::seconds(10)), 2);
  EXPECT_NE(ReadFile(log_path()).find("unknown key 'sample.greting'"), std::string::npos) << ReadFile(log_path());
}

TEST_F(DaemonRuntimeTest, InvalidValuesExitNonZeroNamingTheKey) {
  std::string out;
  EXPECT_EQ(RunCommand({SAMPLE_DAEMON, "--sample.drain_work_ms", "-5"}, &out), 2);
  EXPECT_NE(out.find("sample.drain_work_ms"), std::string::npos) << out;
  EXPECT_EQ(RunCommand({SAMPLE_DAEMON, "--admin.listen", "nonsense"}, &out), 2);
  EXPECT_NE(out.find("admin.listen"), std::string::npos) << out;
  EXPECT_EQ(RunCommand({SAMPLE_DAEMON, "--log.level", "loud"}, &out), 2);
  EXPECT_NE(out.find("log.level"), std::string::npos) << out;
  EXPECT_EQ(RunCommand({SAMPLE_DAEMON, "--config", dir_.path() + "/missing.toml"}, &out), 2);
  EXPECT_NE(out.find("missing.toml"), std::string::npos) << out;
  EXPECT_EQ(RunCommand({SAMPLE_DAEMON, "--no-such-flag"}, &out), 2);
}

TEST_F(DaemonRuntimeTest, FailedStartExitsOne) {
  std::string out;
  EXPECT_EQ(RunCommand({SAMPLE_DAEMON, "--sample.fail_start", "true"}, &out), 1);
  EXPECT_NE(out.find("sample.fail_start is set"), std::string::npos) << out;
}

TEST_F(DaemonRuntimeTest, HelpAndPrintConfig) {
  std::string out;
  EXPECT_EQ(RunCommand({SAMPLE_DAEMON, "--help"}, &out), 0);
  EXPECT_NE(out.find("--config"), std::string::npos);
  EXPECT_EQ(RunCommand({SAMPLE_DAEMON, "--print-config", "--sample.greeting", "x"}, &out), 0);
  EXPECT_NE(out.find("greeting = 'x'"), std::string::npos) << out;
}

}  // namespace
