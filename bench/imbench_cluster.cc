// imbench_cluster: starts the whole cluster (tests/support LocalCluster: a
// private Redis and MariaDB, every daemon as a real process from this build
// tree) on free loopback ports, for benchmarks that must not collide with
// other clusters on the machine. Then either runs a command with the
// cluster's addresses in its environment, or waits for Ctrl-C.
//
//   imbench_cluster [--notify-servers N] [--sync-servers N] [--storage-shards N]
//                   [--access-servers N] [--route-shards N]
//                   [--flag COMPONENT=--key=value ...] [--env FILE]
//                   [--accounts N --accounts-file FILE] [-- command args...]
//
// --accounts N writes N accounts straight into admin_qim's schema (no
// password: they log in with tokens only) and a login token for each into
// Redis, and writes "uid token" lines to FILE for imbench --accounts: a
// hundred thousand accounts in seconds, where the HTTP API hashes a password
// per account.
//
// Environment given to the command (and written to --env FILE as shell
// assignments): IMBENCH_NOTIFY, IMBENCH_SYNC (comma-separated host:port),
// IMBENCH_ADMIN (admin_qim HTTP host:port), IMBENCH_SECRET (admin secret),
// IMBENCH_WATCH (name=pid of every daemon, for imbench --watch).
// Benchmark defaults: access_server's per-user send rate limit off
// (--limits.rate_limit_per_s 0) and cheap password hashing in admin_qim so
// that thousands of accounts are created quickly; every other setting is the
// daemons' default (storage sync_policy every_batch).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/auth/token_store.h"
#include "common/redis/redis_client.h"
#include "tests/support/local_cluster.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

int Usage(const char* why) {
  std::fprintf(stderr,
               "imbench_cluster: %s\n"
               "usage: imbench_cluster [--notify-servers N] [--sync-servers N] [--storage-shards N] "
               "[--access-servers N] [--route-shards N] [--flag COMPONENT=--key=value]... [--env FILE] "
               "[-- command args...]\n",
               why);
  return 2;
}

// Bulk accounts (see the header comment); "" or an error message.
std::string CreateBulkAccounts(im::testing::LocalCluster& cluster, int count, const std::string& file) {
  const std::string prefix = "bulk" + std::to_string(std::time(nullptr)) + "_";
  constexpr int kChunk = 2000;  // a mariadb command-line argument is capped at 128 KiB
  for (int start = 0; start < count; start += kChunk) {
    std::string values;
    for (int i = start; i < std::min(count, start + kChunk); ++i) {
      values += (i > start ? ",('" : "('") + prefix + std::to_string(i) + "')";
    }
    auto inserted = cluster.mysql().Query("INSERT INTO im.user_id (no) VALUES " + values);
    if (!inserted.ok()) return "insert accounts: " + std::string(inserted.status().message());
  }
  auto first = cluster.mysql().Query("SELECT MIN(id), COUNT(*) FROM im.user_id WHERE no LIKE '" + prefix + "%'");
  if (!first.ok()) return "select accounts: " + std::string(first.status().message());
  const std::int64_t first_uid = std::atoll(first->c_str());
  im::redis::RedisOptions redis_options;
  redis_options.port = cluster.redis().port();
  im::redis::RedisClient redis(redis_options);
  im::auth::TokenStore tokens(&redis);
  std::ofstream out(file);
  for (int i = 0; i < count; ++i) {
    // Auto-increment ids of one multi-row INSERT are consecutive.
    auto token = tokens.Issue(first_uid + i, 7 * 86400);
    if (!token.ok()) return "issue token: " + std::string(token.status().message());
    out << first_uid + i << ' ' << *token << '\n';
  }
  return out ? "" : "cannot write " + file;
}

}  // namespace

int main(int argc, char** argv) {
  im::testing::ClusterOptions options;
  std::string env_file;
  int accounts = 0;
  std::string accounts_file;
  std::vector<std::string> command;
  std::vector<std::pair<std::string, std::string>> flags;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    auto number = [&](int* out) {
      const std::string v = value();
      *out = std::atoi(v.c_str());
      return *out >= 1;
    };
    if (a == "--") {
      for (++i; i < argc; ++i) command.push_back(argv[i]);
    } else if (a == "--notify-servers") {
      if (!number(&options.notify_servers)) return Usage("--notify-servers wants N >= 1");
    } else if (a == "--sync-servers") {
      if (!number(&options.sync_servers)) return Usage("--sync-servers wants N >= 1");
    } else if (a == "--storage-shards") {
      if (!number(&options.storage_shards)) return Usage("--storage-shards wants N >= 1");
    } else if (a == "--access-servers") {
      if (!number(&options.access_servers)) return Usage("--access-servers wants N >= 1");
    } else if (a == "--route-shards") {
      if (!number(&options.route_shards)) return Usage("--route-shards wants N >= 1");
    } else if (a == "--accounts") {
      if (!number(&accounts)) return Usage("--accounts wants N >= 1");
    } else if (a == "--accounts-file") {
      accounts_file = value();
    } else if (a == "--env") {
      env_file = value();
    } else if (a == "--flag") {
      const std::string f = value();
      const auto eq = f.find('=');
      const auto eq2 = eq == std::string::npos ? std::string::npos : f.find('=', eq + 1);
      if (eq == std::string::npos || eq2 == std::string::npos) return Usage("--flag wants COMPONENT=--key=value");
      flags.emplace_back(f.substr(0, eq), f.substr(eq + 1, eq2 - eq - 1));
      flags.emplace_back(f.substr(0, eq), f.substr(eq2 + 1));
    } else {
      return Usage(("unknown argument " + a).c_str());
    }
  }
  for (int i = 0; i < options.access_servers; ++i) {
    options.extra_flags["access" + std::to_string(i)] = {"--limits.rate_limit_per_s", "0"};
  }
  for (const auto& [component, flag] : flags) options.extra_flags[component].push_back(flag);

  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  im::testing::LocalCluster cluster;
  std::fprintf(stderr, "imbench_cluster: starting %d storage, %d route, %d access, %d notify, %d sync + admin_qim\n",
               options.storage_shards, options.route_shards, options.access_servers, options.notify_servers,
               options.sync_servers);
  const auto t0 = std::chrono::steady_clock::now();
  if (absl::Status s = cluster.Start(options); !s.ok()) {
    std::fprintf(stderr, "imbench_cluster: start failed: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  if (accounts > 0) {
    if (accounts_file.empty()) return Usage("--accounts needs --accounts-file");
    const auto a0 = std::chrono::steady_clock::now();
    if (std::string e = CreateBulkAccounts(cluster, accounts, accounts_file); !e.empty()) {
      std::fprintf(stderr, "imbench_cluster: %s\n", e.c_str());
      return 1;
    }
    std::fprintf(stderr, "imbench_cluster: %d accounts with tokens in %s (%.1f s)\n", accounts, accounts_file.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - a0).count());
  }
  std::string notify, sync, watch;
  for (int i = 0; i < options.notify_servers; ++i) notify += (i ? "," : "") + cluster.address("notify" + std::to_string(i));
  for (int i = 0; i < options.sync_servers; ++i) sync += (i ? "," : "") + cluster.address("sync" + std::to_string(i));
  for (const std::string& name : cluster.components()) {
    if (name == "admin") continue;
    watch += (watch.empty() ? "" : ",") + name + "=" + std::to_string(cluster.pid(name));
  }
  const std::vector<std::pair<std::string, std::string>> env = {{"IMBENCH_NOTIFY", notify},
                                                                {"IMBENCH_SYNC", sync},
                                                                {"IMBENCH_ADMIN", cluster.address("admin")},
                                                                {"IMBENCH_SECRET", options.admin_secret},
                                                                {"IMBENCH_WATCH", watch},
                                                                {"IMBENCH_CLUSTER_DIR", cluster.dir()}};
  for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
  std::fprintf(stderr, "imbench_cluster: up in %.1f s; logs in %s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), cluster.dir().c_str());
  if (!env_file.empty()) {
    std::ofstream out(env_file);
    for (const auto& [k, v] : env) out << "export " << k << "='" << v << "'\n";
  }
  int rc = 0;
  if (command.empty()) {
    for (const auto& [k, v] : env) std::printf("%s=%s\n", k.c_str(), v.c_str());
    std::printf("imbench_cluster: running; Ctrl-C stops the cluster\n");
    std::fflush(stdout);
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } else {
    std::vector<char*> args;
    for (std::string& a : command) args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      execvp(args[0], args.data());
      std::perror("imbench_cluster: exec");
      _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (g_stop) kill(pid, SIGINT);
    }
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  std::fprintf(stderr, "imbench_cluster: stopping\n");
  cluster.Stop();
  return rc;
}
