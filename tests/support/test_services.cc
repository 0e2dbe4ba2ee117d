#include "tests/support/test_services.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace im::testing {
namespace {

bool CanBind(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool CanConnect(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return false;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string FindExecutable(const std::vector<std::string>& candidates) {
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return candidates.front();
}

}  // namespace

namespace {

// Claims `port` for this process until it exits: an flock on a file per port
// shared by every test process of the machine, so two tests running in
// parallel never both pick a port before either daemon has bound it, and
// one process never picks a port twice. The lock dies with the process.
bool ClaimPort(int port) {
  static std::mutex mu;
  static std::set<int> claimed;
  std::lock_guard<std::mutex> lock(mu);
  if (claimed.count(port)) return false;
  const std::string dir = "/tmp/qim-test-ports";
  ::mkdir(dir.c_str(), 01777);
  const std::string file = dir + "/" + std::to_string(port);
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return true;  // no shared claims here; the bind check still applies
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  claimed.insert(port);  // the descriptor stays open: the claim lasts until exit
  return true;
}

}  // namespace

int PickFreePort() {
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  static std::mutex rng_mu;
  std::uniform_int_distribution<int> dist(20000, 31999);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port;
    {
      std::lock_guard<std::mutex> lock(rng_mu);
      port = dist(rng);
    }
    if (CanBind(port) && ClaimPort(port)) return port;
  }
  return 0;
}

bool WaitForPort(int port, std::chrono::milliseconds timeout) { return WaitForPort("127.0.0.1", port, timeout); }

bool WaitForPort(const std::string& host, int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (CanConnect(host, port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TempDir::TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + ".XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) std::abort();
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ChildProcess::~ChildProcess() { Kill(); }

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_), status_(other.status_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Kill();
    pid_ = other.pid_;
    status_ = other.status_;
    other.pid_ = -1;
  }
  return *this;
}

absl::StatusOr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                                 const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    const int fd = ::open(log_path.empty() ? "/dev/null" : log_path.c_str(),
                          O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    const int null_in = ::open("/dev/null", O_RDONLY);
    if (null_in >= 0) ::dup2(null_in, 0);
    ::setpgid(0, 0);  // own group: a test's Ctrl-C doesn't hit it twice
    // Dies with the test process even when that crashes or is killed, so no
    // daemon outlives a failed test.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) ::_exit(127);  // the parent is already gone
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ChildProcess child;
  child.pid_ = pid;
  return child;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    pid_ = -1;
    return false;
  }
  return true;
}

void ChildProcess::Signal(int signo) {
  if (pid_ > 0) ::kill(pid_, signo);
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = status;
      pid_ = -1;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (status_ < 0) return -1;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  Wait(std::chrono::seconds(10));
}

int RunCommand(const std::vector<std::string>& argv, std::string* output) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return -1;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---- Redis ----

PrivateRedis::PrivateRedis() = default;
PrivateRedis::~PrivateRedis() { Kill(); }

absl::Status PrivateRedis::Start() {
  if (!dir_) dir_ = std::make_unique<TempDir>("imredis");
  if (port_ == 0) port_ = PickFreePort();  // a restart keeps its port
  std::vector<std::string> argv = host_.command_prefix;
  argv.insert(argv.end(), {FindExecutable({"/usr/bin/redis-server", "redis-server"}), "--port", std::to_string(port_),
                           "--bind", host_.address, "--save", "", "--appendonly", "no", "--dir", dir_->path(),
                           "--daemonize", "no", "--protected-mode", "no"});
  auto child = ChildProcess::Start(argv, dir_->path() + "/redis.log");
  if (!child.ok()) return child.status();
  process_ = std::move(*child);
  if (!WaitForPort(host_.address, port_, std::chrono::seconds(10))) {
    return absl::UnavailableError("redis-server did not start on port " + std::to_string(port_));
  }
  return absl::OkStatus();
}

void PrivateRedis::Stop() {
  process_.Signal(SIGTERM);
  if (process_.Wait(std::chrono::seconds(10)) < 0) process_.Kill();
}

void PrivateRedis::Kill() { process_.Kill(); }
void PrivateRedis::Pause() { process_.Signal(SIGSTOP); }
void PrivateRedis::Resume() { process_.Signal(SIGCONT); }

// ---- MariaDB ----

PrivateMariaDb::PrivateMariaDb() = default;
PrivateMariaDb::~PrivateMariaDb() { Stop(); }

std::string PrivateMariaDb::socket_path() const { return dir_ ? dir_->path() + "/mysqld.sock" : ""; }

absl::Status PrivateMariaDb::Start() {
  if (!dir_) dir_ = std::make_unique<TempDir>("immariadb");
  if (port_ == 0) port_ = PickFreePort();
  const bool root = ::geteuid() == 0;
  if (!installed_) {
    std::vector<std::string> install = {
        FindExecutable({"/usr/bin/mariadb-install-db", "mariadb-install-db"}), "--no-defaults",
        "--datadir=" + dir_->path() + "/data", "--auth-root-authentication-method=normal",
        "--skip-test-db", "--skip-name-resolve",
        // Its own tmpdir: mariadbd removes "#sql*" files in its tmpdir at start,
        // which breaks other instances installing at the same time in /tmp.
        "--tmpdir=" + dir_->path() + "/tmp"};
    if (root) install.push_back("--user=root");
    std::filesystem::create_directories(dir_->path() + "/tmp");
    std::string output;
    if (RunCommand(install, &output) != 0) {
      return absl::InternalError("mariadb-install-db failed: " + output);
    }
    installed_ = true;
    if (absl::Status s = StartServer(); !s.ok()) return s;
    // On another host the clients connect from their own addresses.
    const std::string remote_user =
        host_.loopback() ? "" : "CREATE USER 'im'@'%' IDENTIFIED BY 'impass'; GRANT ALL ON im.* TO 'im'@'%'; ";
    auto created = Query(
        "CREATE DATABASE im CHARACTER SET utf8mb4; "
        "CREATE USER 'im'@'localhost' IDENTIFIED BY 'impass'; "
        "CREATE USER 'im'@'127.0.0.1' IDENTIFIED BY 'impass'; "
        "GRANT ALL ON im.* TO 'im'@'localhost'; GRANT ALL ON im.* TO 'im'@'127.0.0.1'; " + remote_user);
    if (!created.ok()) return created.status();
    return absl::OkStatus();
  }
  return StartServer();
}

absl::Status PrivateMariaDb::StartServer() {
  std::vector<std::string> argv = host_.command_prefix;
  argv.insert(argv.end(), {
      FindExecutable({"/usr/sbin/mariadbd", "/usr/sbin/mysqld", "mariadbd"}), "--no-defaults",
      "--datadir=" + dir_->path() + "/data", "--socket=" + socket_path(),
      "--port=" + std::to_string(port_), "--bind-address=" + host_.address, "--skip-name-resolve",
      "--pid-file=" + dir_->path() + "/mariadbd.pid", "--log-error=" + dir_->path() + "/err.log",
      "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M", "--max-connections=500",
      "--skip-log-bin", "--tmpdir=" + dir_->path() + "/tmp"});
  if (::geteuid() == 0) argv.push_back("--user=root");
  auto child = ChildProcess::Start(argv, dir_->path() + "/stdout.log");
  if (!child.ok()) return child.status();
  process_ = std::move(*child);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (RunCommand({"mariadb-admin", "--no-defaults", "--socket=" + socket_path(), "-uroot", "ping"}) == 0) {
      return absl::OkStatus();
    }
    if (!process_.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string log;
  RunCommand({"tail", "-n", "20", dir_->path() + "/err.log"}, &log);
  return absl::UnavailableError("mariadbd did not start: " + log);
}

absl::StatusOr<std::string> PrivateMariaDb::Query(const std::string& sql) {
  std::string output;
  const int rc = RunCommand({"mariadb", "--no-defaults", "--socket=" + socket_path(), "-uroot",
                             "--batch", "--skip-column-names", "-e", sql},
                            &output);
  if (rc != 0) return absl::InternalError("mariadb: " + output);
  return output;
}

void PrivateMariaDb::Stop() {
  if (!process_.running()) return;
  RunCommand({"mariadb-admin", "--no-defaults", "--socket=" + socket_path(), "-uroot", "shutdown"});
  if (process_.Wait(std::chrono::seconds(20)) < 0) process_.Kill();
}

void PrivateMariaDb::Kill() { process_.Kill(); }

}  // namespace im::testing
