#include "tests/support/netns_lab.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace im::testing {
namespace {

// True when `pid` names a process that still runs.
bool Alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

// True when `name` is <prefix><pid>… of another process that no longer runs;
// `rest` is what may follow the pid ("-" for namespaces, "" for directories).
bool StaleName(const std::string& name, const std::string& prefix, const std::string& rest) {
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::size_t end = name.find_first_not_of("0123456789", prefix.size());
  if (end == prefix.size()) return false;
  if (rest.empty() ? end != std::string::npos : (end == std::string::npos || name.compare(end, rest.size(), rest) != 0)) {
    return false;
  }
  const pid_t pid = static_cast<pid_t>(std::strtol(name.c_str() + prefix.size(), nullptr, 10));
  return pid != ::getpid() && !Alive(pid);
}

std::string TempRoot() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

}  // namespace

absl::Status NetnsLab::Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string output;
  const int rc = RunCommand(argv, &output);
  if (rc == 0) return absl::OkStatus();
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
  if (rc == 127) return absl::UnavailableError("`" + command + "`: cannot run ip (install iproute2)");
  return absl::InternalError("`" + command + "` failed (" + std::to_string(rc) + "): " + output);
}

void NetnsLab::RemoveStale(const std::string& prefix, const std::string& tmp) {
  std::string list;
  if (RunCommand({"ip", "netns", "list"}, &list) == 0) {
    std::istringstream lines(list);
    std::string line;
    while (std::getline(lines, line)) {
      const std::string name = line.substr(0, line.find(' '));
      if (StaleName(name, prefix, "-")) Ip({"netns", "del", name}).IgnoreError();
    }
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(tmp, ec)) {
    if (StaleName(entry.path().filename().string(), prefix, "")) std::filesystem::remove_all(entry.path(), ec);
  }
}

absl::StatusOr<std::unique_ptr<NetnsLab>> NetnsLab::Create(const std::string& prefix) {
  if (::geteuid() != 0) return absl::PermissionDeniedError("network namespaces need root (running as uid " +
                                                           std::to_string(::geteuid()) + ")");
  const std::string tmp = TempRoot();
  RemoveStale(prefix, tmp);
  const pid_t pid = ::getpid();
  // Every run has its own bridge, so addresses never meet another run's;
  // the subnet still differs per run to keep logs of parallel runs apart.
  std::unique_ptr<NetnsLab> lab(new NetnsLab(prefix + std::to_string(pid), 1 + pid % 254));
  std::error_code ec;
  lab->dir_ = tmp + "/" + lab->prefix_;
  std::filesystem::remove_all(lab->dir_, ec);  // of an earlier process with this pid
  std::filesystem::create_directories(lab->dir_, ec);
  if (ec) {
    return absl::InternalError("cannot create " + lab->dir_ + ": " + ec.message());
  }
  if (absl::Status s = Ip({"netns", "add", lab->bridge_ns()}); !s.ok()) return s;
  lab->namespaces_.push_back(lab->bridge_ns());
  // Starting processes in it needs more than creating it (a private mount
  // namespace for /sys): check both here, where a failure means "cannot".
  if (absl::Status s = Ip({"netns", "exec", lab->bridge_ns(), "true"}); !s.ok()) return s;
  if (absl::Status s = Ip({"-n", lab->bridge_ns(), "link", "add", "br0", "type", "bridge"}); !s.ok()) return s;
  if (absl::Status s = Ip({"-n", lab->bridge_ns(), "link", "set", "br0", "up"}); !s.ok()) return s;
  return lab;
}

NetnsLab::~NetnsLab() {
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) Ip({"netns", "del", *it}).IgnoreError();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

absl::StatusOr<std::string> NetnsLab::AddHost(const std::string& name) {
  if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") != std::string::npos) {
    return absl::InvalidArgumentError("host name must be [a-z0-9]+: '" + name + "'");
  }
  if (hosts_.count(name) != 0) return absl::AlreadyExistsError("host " + name + " exists");
  if (hosts_.size() >= 200) return absl::ResourceExhaustedError("at most 200 hosts");
  Host host;
  host.address = "10.77." + std::to_string(subnet_) + "." + std::to_string(10 + hosts_.size());
  host.bridge_port = "v" + std::to_string(hosts_.size());
  const std::string ns = netns(name);
  if (absl::Status s = Ip({"netns", "add", ns}); !s.ok()) return s;
  namespaces_.push_back(ns);
  const std::vector<std::vector<std::string>> steps = {
      {"-n", ns, "link", "set", "lo", "up"},
      {"-n", bridge_ns(), "link", "add", host.bridge_port, "type", "veth", "peer", "name", "eth0", "netns", ns},
      {"-n", bridge_ns(), "link", "set", host.bridge_port, "master", "br0", "up"},
      {"-n", ns, "addr", "add", host.address + "/24", "dev", "eth0"},
      {"-n", ns, "link", "set", "eth0", "up"},
  };
  for (const auto& step : steps) {
    if (absl::Status s = Ip(step); !s.ok()) return s;
  }
  hosts_[name] = host;
  return host.address;
}

ServiceHost NetnsLab::host(const std::string& name) const {
  ServiceHost h;
  h.address = address(name);
  h.command_prefix = {"ip", "netns", "exec", netns(name)};
  return h;
}

absl::Status NetnsLab::SetLink(const std::string& name, bool up) {
  auto it = hosts_.find(name);
  if (it == hosts_.end()) return absl::NotFoundError("no host " + name);
  return Ip({"-n", bridge_ns(), "link", "set", it->second.bridge_port, up ? "up" : "down"});
}

ScopedNetns::ScopedNetns(const std::string& netns) {
  saved_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const std::string path = "/var/run/netns/" + netns;
  const int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (saved_fd_ < 0 || target < 0) {
    status_ = absl::UnavailableError("open " + path + ": " + std::strerror(errno));
  } else if (::setns(target, CLONE_NEWNET) != 0) {
    status_ = absl::UnavailableError("setns " + netns + ": " + std::strerror(errno));
  }
  if (target >= 0) ::close(target);
}

ScopedNetns::~ScopedNetns() {
  if (saved_fd_ < 0) return;
  if (status_.ok()) ::setns(saved_fd_, CLONE_NEWNET);
  ::close(saved_fd_);
}

}  // namespace im::testing
