#include "tests/support/local_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace im::testing {
namespace {

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

// GET http://host:port/path; returns the status (0 when unreachable).
int HttpStatus(const std::string& host, int port, const std::string& path) {
  std::string out;
  RunCommand({"curl", "-s", "-o", "/dev/null", "-m", "2", "-w", "%{http_code}",
              "http://" + host + ":" + std::to_string(port) + path},
             &out);
  return std::atoi(out.c_str());
}

}  // namespace

std::string BinaryPath(const std::string& daemon) {
  const std::string dir = daemon == "qim" ? "admin_qim" : daemon;
  const std::string path = std::string(IM_BUILD_DIR) + "/" + dir + "/" + daemon;
  // A partial build (e.g. only notify/sync under sanitizers) takes the
  // binaries it did not build from another build tree.
  const char* fallback = std::getenv("IM_FALLBACK_BUILD_DIR");
  if (fallback != nullptr && *fallback != '\0' && ::access(path.c_str(), X_OK) != 0) {
    return std::string(fallback) + "/" + dir + "/" + daemon;
  }
  return path;
}

LocalCluster::LocalCluster() = default;
LocalCluster::~LocalCluster() { Stop(); }

const ServiceHost& LocalCluster::HostOf(const std::string& name) const {
  static const ServiceHost kLoopback;
  auto it = options_.hosts.find(name);
  return it == options_.hosts.end() ? kLoopback : it->second;
}

std::string LocalCluster::AdminUrl(const std::string& path) const { return "http://" + address("admin") + path; }

absl::Status LocalCluster::Launch(const std::string& name, Component component) {
  const ServiceHost& host = HostOf(name);
  component.host = host.address;
  component.admin_port = PickFreePort();
  component.args.insert(component.args.begin(), component.binary);
  component.args.insert(component.args.begin(), host.command_prefix.begin(), host.command_prefix.end());
  component.args.push_back("--admin.listen");
  component.args.push_back(Address(name, component.admin_port));
  component.args.push_back("--admin.drain_timeout_ms");
  component.args.push_back("2000");
  auto extra = options_.extra_flags.find(name);
  if (extra != options_.extra_flags.end()) {
    component.args.insert(component.args.end(), extra->second.begin(), extra->second.end());
  }
  components_[name] = std::move(component);
  order_.push_back(name);
  return StartProcess(name);
}

absl::Status LocalCluster::StartProcess(const std::string& name) {
  Component& c = components_.at(name);
  auto child = ChildProcess::Start(c.args, dir_->path() + "/" + name + ".log");
  if (!child.ok()) return child.status();
  c.process = std::move(*child);
  return WaitHealthy(name);
}

absl::Status LocalCluster::WaitHealthy(const std::string& name) {
  Component& c = components_.at(name);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!c.process.running()) {
      return absl::InternalError(name + " exited during start-up:\n" + log(name));
    }
    if (HttpStatus(c.host, c.admin_port, "/healthz") == 200 &&
        (c.port == 0 || WaitForPort(c.host, c.port, std::chrono::milliseconds(1)))) {
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(name + " did not become healthy:\n" + log(name));
}

absl::Status LocalCluster::Start(const ClusterOptions& options) {
  options_ = options;
  dir_ = std::make_unique<TempDir>("imcluster");
  redis_.set_host(HostOf("redis"));
  mysql_.set_host(HostOf("mysql"));
  if (absl::Status s = redis_.Start(); !s.ok()) return s;
  if (absl::Status s = mysql_.Start(); !s.ok()) return s;
  const std::vector<std::string> mysql_flags = {
      "--mysql.host", mysql_.host(), "--mysql.port", std::to_string(mysql_.port()), "--mysql.user", mysql_.user(),
      "--mysql.password", mysql_.password(), "--mysql.database", mysql_.database()};
  const std::vector<std::string> redis_flags = {"--redis.host", redis_.host(), "--redis.port",
                                                std::to_string(redis_.port())};

  // Ports are chosen up front so that admin_qim, started first, can be told
  // where access_server (system messages) and route_server (online status) are.
  std::vector<int> route_ports, access_ports;
  for (int i = 0; i < options.route_shards; ++i) route_ports.push_back(PickFreePort());
  for (int i = 0; i < options.access_servers; ++i) access_ports.push_back(PickFreePort());
  std::vector<std::string> route_addresses, access_addresses;
  for (int i = 0; i < options.route_shards; ++i) route_addresses.push_back(Address("route" + std::to_string(i), route_ports[i]));
  for (int i = 0; i < options.access_servers; ++i) {
    access_addresses.push_back(Address("access" + std::to_string(i), access_ports[i]));
  }

  if (options.admin) {
    Component admin;
    admin.binary = BinaryPath("admin_qim");
    admin.port = PickFreePort();
    grpc_ports_["admin"] = PickFreePort();
    // Cheap password hashes: a test's logins must not queue behind Argon2id
    // on a busy 2-core machine (production keeps libsodium's interactive cost).
    admin.args = {"--http.listen", Address("admin", admin.port), "--grpc.listen", Address("admin", grpc_ports_["admin"]),
                  "--auth.admin_secret", options.admin_secret, "--auth.password_opslimit", "1",
                  "--auth.password_memlimit_kib", "8"};
    admin.args.insert(admin.args.end(), mysql_flags.begin(), mysql_flags.end());
    admin.args.insert(admin.args.end(), redis_flags.begin(), redis_flags.end());
    if (!access_addresses.empty()) {
      admin.args.push_back("--access.address");
      admin.args.push_back(access_addresses[0]);
    }
    admin.args.push_back("--route.addresses");
    admin.args.push_back(Join(route_addresses));
    if (absl::Status s = Launch("admin", std::move(admin)); !s.ok()) return s;
  }

  std::vector<std::string> storage_addresses;
  for (int i = 0; i < options.storage_shards; ++i) {
    Component storage;
    storage.binary = BinaryPath("storage_server");
    storage.port = PickFreePort();
    const std::string name = "storage" + std::to_string(i);
    storage.args = {"--server.listen", Address(name, storage.port), "--shard.id", std::to_string(i), "--shard.count",
                    std::to_string(options.storage_shards), "--storage.data_dir",
                    dir_->path() + "/storage" + std::to_string(i)};
    storage_addresses.push_back(Address(name, storage.port));
    if (absl::Status s = Launch(name, std::move(storage)); !s.ok()) return s;
  }

  for (int i = 0; i < options.route_shards; ++i) {
    Component route;
    route.binary = BinaryPath("route_server");
    route.port = route_ports[i];
    route.args = {"--server.listen", route_addresses[i]};
    if (absl::Status s = Launch("route" + std::to_string(i), std::move(route)); !s.ok()) return s;
  }

  for (int i = 0; i < options.access_servers; ++i) {
    Component access;
    access.binary = BinaryPath("access_server");
    access.port = access_ports[i];
    access.args = {"--server.listen", access_addresses[i], "--storage.addresses", Join(storage_addresses),
                   "--route.addresses", Join(route_addresses)};
    access.args.insert(access.args.end(), mysql_flags.begin(), mysql_flags.end());
    access.args.insert(access.args.end(), redis_flags.begin(), redis_flags.end());
    if (absl::Status s = Launch("access" + std::to_string(i), std::move(access)); !s.ok()) return s;
  }

  for (int i = 0; i < options.notify_servers; ++i) {
    Component notify;
    notify.binary = BinaryPath("notify_server");
    const std::string name = "notify" + std::to_string(i);
    notify.port = PickFreePort();
    notify.args = {"--server.listen", Address(name, notify.port), "--access.address", access_addresses.at(0),
                   "--route.addresses", Join(route_addresses)};
    notify.args.insert(notify.args.end(), redis_flags.begin(), redis_flags.end());
    if (absl::Status s = Launch(name, std::move(notify)); !s.ok()) return s;
  }

  for (int i = 0; i < options.sync_servers; ++i) {
    Component sync;
    sync.binary = BinaryPath("sync_server");
    const std::string name = "sync" + std::to_string(i);
    sync.port = PickFreePort();
    sync.args = {"--server.listen", Address(name, sync.port), "--access.addresses", Join(access_addresses)};
    sync.args.insert(sync.args.end(), redis_flags.begin(), redis_flags.end());
    if (absl::Status s = Launch(name, std::move(sync)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void LocalCluster::Stop() {
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    Component& c = components_.at(*it);
    if (!c.process.running()) continue;
    c.process.Signal(SIGCONT);
    c.process.Signal(SIGTERM);
    if (c.process.Wait(std::chrono::seconds(10)) < 0) c.process.Kill();
  }
  order_.clear();
  components_.clear();
  mysql_.Stop();
  redis_.Kill();
}

int LocalCluster::port(const std::string& name) const { return components_.at(name).port; }
int LocalCluster::admin_port(const std::string& name) const { return components_.at(name).admin_port; }
std::string LocalCluster::host(const std::string& name) const { return components_.at(name).host; }

std::string LocalCluster::log(const std::string& name) const {
  std::ifstream in(dir_->path() + "/" + name + ".log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> LocalCluster::SanitizerReports() const {
  // Every daemon's log file (they outlive Stop(), which forgets the names).
  std::vector<std::string> reports;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_->path(), ec)) {
    if (entry.path().extension() != ".log") continue;
    const std::string name = entry.path().stem().string();
    const std::string text = log(name);
    for (const char* report : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
      const auto at = text.find(report);
      if (at != std::string::npos) reports.push_back(name + " log has a sanitizer report:\n" + text.substr(at, 4000));
    }
  }
  return reports;
}

void LocalCluster::Kill(const std::string& name) { components_.at(name).process.Kill(); }
void LocalCluster::Signal(const std::string& name, int signo) { components_.at(name).process.Signal(signo); }
bool LocalCluster::Running(const std::string& name) { return components_.at(name).process.running(); }

absl::Status LocalCluster::Restart(const std::string& name) {
  Component& c = components_.at(name);
  if (c.process.running()) {
    c.process.Signal(SIGTERM);
    if (c.process.Wait(std::chrono::seconds(10)) < 0) c.process.Kill();
  }
  return StartProcess(name);
}

absl::StatusOr<std::string> LocalCluster::AdminPost(const std::string& path, const std::string& json) {
  std::string out;
  RunCommand({"curl", "-s", "-m", "5", "-w", "\n%{http_code}", "-X", "POST", "-H", "Content-Type: application/json",
              "-H", "Authorization: Bearer " + options_.admin_secret, "-d", json,
              AdminUrl(path)},
             &out);
  const auto nl = out.rfind('\n');
  const int status = nl == std::string::npos ? 0 : std::atoi(out.c_str() + nl + 1);
  std::string body = nl == std::string::npos ? out : out.substr(0, nl);
  if (status < 200 || status >= 300) {
    return absl::InternalError("POST " + path + " -> " + std::to_string(status) + ": " + body);
  }
  return body;
}

absl::Status LocalCluster::RegisterNodes(int weight) {
  for (const std::string& name : order_) {
    const bool notify = name.rfind("notify", 0) == 0;
    if (!notify && name.rfind("sync", 0) != 0) continue;
    std::string out;
    int rc = 1;
    // A connect that times out on a loaded machine is tried again (nothing
    // was sent); any other failure is final.
    for (int attempt = 1;; ++attempt) {
      rc = RunCommand(
          {BinaryPath("qim"), "--endpoint", host("admin") + ":" + std::to_string(grpc_ports_.at("admin")), "--secret",
           options_.admin_secret, "node", "add", "--address", host(name), "--tcp-port", std::to_string(port(name)),
           "--type", notify ? "notify" : "sync", "--weight", std::to_string(weight), "--admin",
           host(name) + ":" + std::to_string(admin_port(name))},
          &out);
      if (rc == 0 || attempt == 3 || out.find("unavailable: failed to connect") == std::string::npos) break;
    }
    if (rc != 0) return absl::InternalError("qim node add for " + name + ": " + out);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::int64_t> LocalCluster::CreateAccount(const std::string& no, const std::string& password) {
  std::string out;
  const int rc = RunCommand({"curl", "-s", "-m", "5", "-X", "POST", "-H", "Content-Type: application/json", "-H",
                             "Authorization: Bearer " + options_.admin_secret, "-d",
                             "{\"no\":\"" + no + "\",\"password\":\"" + password + "\"}",
                             AdminUrl("/v1/accounts")},
                            &out);
  const auto at = out.find("\"uid\":");
  if (rc != 0 || at == std::string::npos) return absl::InternalError("create account " + no + ": " + out);
  return std::atoll(out.c_str() + at + 6);
}

absl::StatusOr<std::string> LocalCluster::IssueToken(std::int64_t uid) {
  std::string out;
  const int rc = RunCommand({"curl", "-s", "-m", "5", "-X", "POST", "-H", "Content-Type: application/json", "-H",
                             "Authorization: Bearer " + options_.admin_secret, "-d",
                             "{\"uid\":" + std::to_string(uid) + "}",
                             AdminUrl("/v1/tokens")},
                            &out);
  const auto at = out.find("\"token\":\"");
  if (rc != 0 || at == std::string::npos) return absl::InternalError("token for " + std::to_string(uid) + ": " + out);
  const auto start = at + 9;
  return out.substr(start, out.find('"', start) - start);
}

}  // namespace im::testing
