#pragma once
// Real services for integration tests: a private redis-server and a private
// MariaDB, each on a free loopback port with its own temp dir, started for the
// duration of a test and stopped after it. No system services are used and
// nothing is left behind. Also: child processes and free ports.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace im::testing {

/// Where a test service runs: the IPv4 address it listens on and is reached
/// at, and a command prefix its process is started with, e.g.
/// {"ip", "netns", "exec", "lab-redis"} to run it in another network
/// namespace (tests/support/netns_lab.h). The default: loopback, no prefix.
struct ServiceHost {
  std::string address = "127.0.0.1";
  std::vector<std::string> command_prefix;
  bool loopback() const { return address == "127.0.0.1"; }
};

/// A random free TCP port on 127.0.0.1 below the ephemeral range (20000–32000),
/// claimed for this process until it exits (a lock file per port in
/// /tmp/qim-test-ports), so tests running in parallel never share one.
int PickFreePort();

/// True once something accepts TCP connections on 127.0.0.1:port (or host:port,
/// host an IPv4 address reachable from the calling thread's network namespace).
bool WaitForPort(int port, std::chrono::milliseconds timeout);
bool WaitForPort(const std::string& host, int port, std::chrono::milliseconds timeout);

/// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "imtest");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// A child process; killed (SIGKILL) on destruction if still running.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  /// Starts argv[0] (looked up in PATH if it has no '/') with stdout and
  /// stderr appended to `log_path` ("" discards them).
  static absl::StatusOr<ChildProcess> Start(const std::vector<std::string>& argv,
                                            const std::string& log_path);

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int signo);
  /// Waits for exit; returns the exit code, 128+signal if killed, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  /// SIGKILL and reap.
  void Kill();

 private:
  pid_t pid_ = -1;
  int status_ = -1;  // set once reaped
};

/// Runs a command to completion; returns its exit code, output in *output.
int RunCommand(const std::vector<std::string>& argv, std::string* output = nullptr);

/// A private redis-server. Not thread safe.
class PrivateRedis {
 public:
  PrivateRedis();
  ~PrivateRedis();
  /// Where it runs (before Start; default loopback).
  void set_host(ServiceHost host) { host_ = std::move(host); }
  const std::string& host() const { return host_.address; }
  absl::Status Start();
  void Stop();     // SIGTERM and wait
  void Kill();     // SIGKILL
  void Pause();    // SIGSTOP (a hung server)
  void Resume();   // SIGCONT
  int port() const { return port_; }
  std::string address() const { return host_.address + ":" + std::to_string(port_); }

 private:
  ServiceHost host_;
  std::unique_ptr<TempDir> dir_;
  ChildProcess process_;
  int port_ = 0;
};

/// A private MariaDB server with a database `im` and a user `im`/`impass`
/// reachable over TCP on 127.0.0.1 (or on its host's address, from any
/// address). Not thread safe.
class PrivateMariaDb {
 public:
  PrivateMariaDb();
  ~PrivateMariaDb();
  /// Where it runs (before Start; default loopback). The root client calls
  /// (Query, ping, shutdown) go through the Unix socket and work from anywhere.
  void set_host(ServiceHost host) { host_ = std::move(host); }
  const std::string& host() const { return host_.address; }
  absl::Status Start();
  void Stop();
  void Kill();
  int port() const { return port_; }
  std::string socket_path() const;
  std::string user() const { return "im"; }
  std::string password() const { return "impass"; }
  std::string database() const { return "im"; }
  /// Runs SQL as root through the mariadb client; returns tab-separated output.
  absl::StatusOr<std::string> Query(const std::string& sql);

 private:
  absl::Status StartServer();
  ServiceHost host_;
  std::unique_ptr<TempDir> dir_;
  ChildProcess process_;
  int port_ = 0;
  bool installed_ = false;
};

}  // namespace im::testing
