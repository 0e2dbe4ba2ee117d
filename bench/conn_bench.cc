// conn_bench: N authenticated idle connections on one notify_server, held with
// heartbeats by several worker processes (each under the 20,000 open files
// cap) from several 127.0.0.x source addresses. Reports the notify_server's
// RSS per connection over its idle baseline, its CPU while the connections
// idle, and push throughput to the online users (Publish → route_server →
// notify_server → clients). A bounded run: it starts its own redis-server,
// route_server and notify_server, and stops them at the end.
//
//   conn_bench --connections 19000 --workers 4 --notify build/notify_server/notify_server
//              (continued) --route build/route_server/route_server
//
// Worker mode (started by the driver): conn_bench --worker ...
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/auth/token_store.h"
#include "common/http/http_client.h"
#include "common/http/prometheus_text.h"
#include "common/net/client_protocol.h"
#include "common/net/frame_codec.h"
#include "common/redis/redis_client.h"
#include "common/rpc/grpc_util.h"
#include "proto/access.grpc.pb.h"
#include "proto/im_client.pb.h"
#include "proto/route.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  bool worker = false;
  int connections = 19000;
  int workers = 4;
  int port = 0;
  int redis_port = 0;
  std::int64_t uid_start = 1000000;
  int count = 0;
  std::string source = "127.0.0.1";
  int heartbeat_ms = 30000;
  int idle_s = 10;
  int push_s = 5;
  int publish_batch = 2000;
  int users_per_notification = 1;  // 1: peer notifications; more: group-style fan-out
  int publishers = 4;
  int notify_threads = 2;
  std::string notify_bin = "notify_server/notify_server";
  std::string route_bin = "route_server/route_server";
};

std::string ArgValue(int& i, int argc, char** argv) { return i + 1 < argc ? argv[++i] : ""; }

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--worker") a.worker = true;
    else if (k == "--connections") a.connections = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--workers") a.workers = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--port") a.port = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--redis-port") a.redis_port = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--uid-start") a.uid_start = std::stoll(ArgValue(i, argc, argv));
    else if (k == "--count") a.count = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--source") a.source = ArgValue(i, argc, argv);
    else if (k == "--heartbeat-ms") a.heartbeat_ms = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--idle-s") a.idle_s = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--push-s") a.push_s = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--publish-batch") a.publish_batch = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--publishers") a.publishers = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--users-per-notification") a.users_per_notification = std::max(1, std::stoi(ArgValue(i, argc, argv)));
    else if (k == "--notify-threads") a.notify_threads = std::stoi(ArgValue(i, argc, argv));
    else if (k == "--notify") a.notify_bin = ArgValue(i, argc, argv);
    else if (k == "--route") a.route_bin = ArgValue(i, argc, argv);
    else {
      std::fprintf(stderr, "unknown argument %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

// ---------------- worker ----------------

struct Conn {
  int fd = -1;
  std::int64_t uid = 0;
  std::string in;
  bool logged_in = false;
};

int RunWorker(const Args& a) {
  signal(SIGPIPE, SIG_IGN);
  im::redis::RedisOptions ro;
  ro.port = a.redis_port;
  im::redis::RedisClient redis(ro);
  im::auth::TokenStore store(&redis);
  std::vector<Conn> conns(a.count);
  std::vector<std::string> tokens(a.count);
  for (int i = 0; i < a.count; ++i) {
    auto t = store.Issue(a.uid_start + i, 3600);
    if (!t.ok()) {
      std::fprintf(stderr, "worker: token issue failed\n");
      return 1;
    }
    tokens[i] = *t;
  }
  const int ep = epoll_create1(0);
  int failed = 0;
  for (int i = 0; i < a.count; ++i) {
    Conn& c = conns[i];
    c.uid = a.uid_start + i;
    c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, a.source.c_str(), &src.sin_addr);
    ::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(a.port));
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
      ++failed;
      ::close(c.fd);
      c.fd = -1;
      continue;
    }
    im::client::ImLogin login;
    login.set_token(tokens[i]);
    login.set_device_id(1);
    login.set_platform(1);
    const std::string frame = im::net::EncodeFrame(c.uid, im::net::kCmdLogin, 1, login);
    ::send(c.fd, frame.data(), frame.size(), MSG_NOSIGNAL);
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = 0xffffffffu;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);

  std::int64_t ok = 0, refused = 0, pongs = 0, pushes = 0, closed = 0;
  bool ready_printed = false;
  std::vector<epoll_event> events(1024);
  char buf[65536];
  const auto start = Clock::now();
  std::size_t next_ping = 0;
  auto last_ping_round = Clock::now();
  im::client::UserMsgSyncInfo ping;
  for (;;) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 20);
    for (int e = 0; e < n; ++e) {
      const std::uint32_t idx = events[e].data.u32;
      if (idx == 0xffffffffu) {
        std::string line;
        if (!std::getline(std::cin, line) || line == "QUIT") {
          std::printf("FINAL %lld %lld %lld %lld %lld\n", (long long)ok, (long long)refused, (long long)pongs,
                      (long long)pushes, (long long)closed);
          std::fflush(stdout);
          return 0;
        }
        std::printf("STATS %lld %lld %lld %lld %lld\n", (long long)ok, (long long)refused, (long long)pongs,
                    (long long)pushes, (long long)closed);
        std::fflush(stdout);
        continue;
      }
      Conn& c = conns[idx];
      for (;;) {
        const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          ::close(c.fd);
          c.fd = -1;
          ++closed;
          break;
        }
        if (r < 0) break;
        c.in.append(buf, static_cast<std::size_t>(r));
        std::size_t pos = 0;
        for (;;) {
          auto p = im::net::ParseFrame(std::string_view(c.in).substr(pos));
          if (p.status != im::net::ParseStatus::kFrame) break;
          pos += p.consumed;
          switch (p.frame.header.cmdid) {
            case im::net::kCmdLoginRes: {
              im::client::ImLoginRes res;
              res.ParseFromArray(p.frame.body.data(), static_cast<int>(p.frame.body.size()));
              if (res.code() == 200) {
                c.logged_in = true;
                ++ok;
              } else {
                ++refused;
              }
              break;
            }
            case im::net::kCmdHeartPong: ++pongs; break;
            case im::net::kCmdNotifySyncHasChatData:
            case im::net::kCmdNotifySync:
            case im::net::kCmdGroupNotifySyncHasChatData:
            case im::net::kCmdGroupNotifySync: ++pushes; break;
            default: break;
          }
        }
        c.in.erase(0, pos);
        if (c.in.empty()) std::string().swap(c.in);
        // A short read drained the socket; epoll is level-triggered, so
        // anything arriving later is reported again (no recv just for EAGAIN).
        if (r < static_cast<ssize_t>(sizeof buf)) break;
      }
    }
    if (!ready_printed && ok + refused + failed + closed >= a.count) {
      std::printf("READY %lld %lld %d %.3f\n", (long long)ok, (long long)(refused + closed), failed,
                  std::chrono::duration<double>(Clock::now() - start).count());
      std::fflush(stdout);
      ready_printed = true;
    }
    // Heartbeats spread evenly over the interval.
    const auto now = Clock::now();
    const double elapsed_ms = std::chrono::duration<double, std::milli>(now - last_ping_round).count();
    std::size_t due = static_cast<std::size_t>(elapsed_ms * a.count / a.heartbeat_ms);
    if (ready_printed && due > 0) {
      last_ping_round = now;
      for (std::size_t k = 0; k < due && k < conns.size(); ++k) {
        Conn& c = conns[next_ping++ % conns.size()];
        if (c.fd < 0 || !c.logged_in) continue;
        const std::string frame = im::net::EncodeFrame(c.uid, im::net::kCmdHeartPing, 2, ping);
        ::send(c.fd, frame.data(), frame.size(), MSG_NOSIGNAL);
      }
    }
  }
}

// ---------------- driver ----------------

class ZeroAccess final : public im::rpc::AccessService::CallbackService {
  grpc::ServerUnaryReactor* GetSyncInfo(grpc::CallbackServerContext* ctx, const im::rpc::GetSyncInfoRequest* req,
                                        im::rpc::GetSyncInfoReply* reply) override {
    for (int i = 0; i < req->uids_size(); ++i) reply->add_peer();
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;  // its stdout
  FILE* in = nullptr;   // its stdin
};

Child Spawn(const std::vector<std::string>& argv, bool pipes, const std::string& log) {
  int to_child[2], from_child[2];
  if (pipes && (pipe(to_child) != 0 || pipe(from_child) != 0)) std::exit(1);
  const pid_t pid = fork();
  if (pid == 0) {
    if (pipes) {
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      close(to_child[1]);
      close(from_child[0]);
    } else {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  Child c;
  c.pid = pid;
  if (pipes) {
    close(to_child[0]);
    close(from_child[1]);
    c.in = fdopen(to_child[1], "w");
    c.out = fdopen(from_child[0], "r");
  }
  return c;
}

long RssKiB(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Deliveries route_server dropped because a notify node's queue was full,
// from its /metrics; -1 if that cannot be read.
long long RouteDropped(int admin_port) {
  im::http::FetchResult metrics;
  std::string error;
  if (!im::http::Fetch("http://127.0.0.1:" + std::to_string(admin_port), "GET", "/metrics", "", 2000, &metrics,
                       &error) ||
      metrics.status != 200) {
    return -1;
  }
  const auto dropped = im::http::FindSample(metrics.body, "im_route_presence{what=\"dropped_messages\"}");
  return dropped ? static_cast<long long>(*dropped) : -1;
}

double CpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream in(s.substr(s.rfind(')') + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  for (int p = 21000 + (getpid() % 5000);; p += 7) {
    a.sin_port = htons(static_cast<uint16_t>(p));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      ::close(fd);
      return p;
    }
  }
}

bool WaitPort(int port) {
  for (int i = 0; i < 200; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

struct Totals {
  long long ok = 0, refused = 0, pongs = 0, pushes = 0, closed = 0;
};

Totals Poll(std::vector<Child>& workers, const char* command) {
  Totals t;
  for (auto& w : workers) {
    std::fprintf(w.in, "%s\n", command);
    std::fflush(w.in);
  }
  for (auto& w : workers) {
    char line[256];
    if (!std::fgets(line, sizeof line, w.out)) continue;
    char tag[16];
    long long a, b, c, d, e;
    if (std::sscanf(line, "%15s %lld %lld %lld %lld %lld", tag, &a, &b, &c, &d, &e) == 6) {
      t.ok += a;
      t.refused += b;
      t.pongs += c;
      t.pushes += d;
      t.closed += e;
    }
  }
  return t;
}

int RunDriver(const Args& a, const char* self) {
  signal(SIGPIPE, SIG_IGN);
  char dir_template[] = "/tmp/conn_bench.XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const int redis_port = FreePort();
  Child redis = Spawn({"redis-server", "--port", std::to_string(redis_port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", dir},
                      false, dir + "/redis.log");
  if (!WaitPort(redis_port)) return 1;

  ZeroAccess access_service;
  grpc::ServerBuilder builder;
  int access_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &access_port);
  builder.RegisterService(&access_service);
  auto access = builder.BuildAndStart();

  const int route_port = FreePort() + 1;
  const int route_admin_port = FreePort() + 3;
  Child route = Spawn({a.route_bin, "--server.listen", "127.0.0.1:" + std::to_string(route_port), "--admin.listen",
                       "127.0.0.1:" + std::to_string(route_admin_port)},
                      false, dir + "/route.log");
  if (!WaitPort(route_port)) return 1;
  const int notify_port = FreePort() + 2;
  Child notify = Spawn({a.notify_bin, "--server.listen", "0.0.0.0:" + std::to_string(notify_port), "--admin.listen",
                        "127.0.0.1:0", "--redis.host", "127.0.0.1", "--redis.port", std::to_string(redis_port),
                        "--access.address", "127.0.0.1:" + std::to_string(access_port), "--route.addresses",
                        "127.0.0.1:" + std::to_string(route_port), "--server.threads",
                        std::to_string(a.notify_threads), "--server.heartbeat_interval_ms",
                        std::to_string(a.heartbeat_ms), "--log.level", "warn"},
                       false, dir + "/notify.log");
  if (!WaitPort(notify_port)) return 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long rss_base = RssKiB(notify.pid);

  std::vector<Child> workers;
  const int per = (a.connections + a.workers - 1) / a.workers;
  int remaining = a.connections;
  const auto t0 = Clock::now();
  for (int i = 0; i < a.workers && remaining > 0; ++i) {
    const int count = std::min(per, remaining);
    remaining -= count;
    workers.push_back(Spawn({self, "--worker", "--port", std::to_string(notify_port), "--redis-port",
                             std::to_string(redis_port), "--uid-start", std::to_string(a.uid_start + i * per),
                             "--count", std::to_string(count), "--source", "127.0.0." + std::to_string(2 + i),
                             "--heartbeat-ms", std::to_string(a.heartbeat_ms)},
                            true, ""));
  }
  long long ready_ok = 0, ready_bad = 0;
  for (auto& w : workers) {
    char line[256];
    if (!std::fgets(line, sizeof line, w.out)) continue;
    long long ok = 0, bad = 0, failed = 0;
    double secs = 0;
    std::sscanf(line, "READY %lld %lld %lld %lf", &ok, &bad, &failed, &secs);
    ready_ok += ok;
    ready_bad += bad + failed;
  }
  const double connect_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const long rss_conn = RssKiB(notify.pid);
  const double cpu0 = CpuSeconds(notify.pid);
  const auto idle0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(a.idle_s));
  const double idle_wall = std::chrono::duration<double>(Clock::now() - idle0).count();
  const double idle_cpu = (CpuSeconds(notify.pid) - cpu0) / idle_wall * 100.0;
  const Totals idle = Poll(workers, "STATS");

  // Push throughput: peer notifications to the online uids, several publishers.
  auto stub = im::rpc::RouteService::NewStub(im::rpc::MakeChannel("127.0.0.1:" + std::to_string(route_port)));
  std::atomic<bool> stop{false};
  std::atomic<long long> published{0};
  std::vector<std::thread> publishers;
  const auto p0 = Clock::now();
  const double push_cpu0 = CpuSeconds(notify.pid);
  const double route_cpu0 = CpuSeconds(route.pid);
  double workers_cpu0 = 0;
  for (auto& w : workers) workers_cpu0 += CpuSeconds(w.pid);
  for (int t = 0; t < a.publishers; ++t) {
    publishers.emplace_back([&, t] {
      std::int64_t next = t;
      std::int64_t msgid = 1;
      while (!stop.load()) {
        im::rpc::PublishRequest request;
        // publish_batch pushes per call: peer notifications (one user each)
        // or, with --users-per-notification N, group-style ones addressed to
        // N users each (one body, N frames).
        long long pushes_in_call = 0;
        for (int i = 0; i < a.publish_batch; i += a.users_per_notification) {
          auto* n = request.add_notifications();
          const std::int64_t uid = a.uid_start + (next % a.connections);
          n->mutable_seq()->set_id(uid);
          for (int u = 0; u < a.users_per_notification; ++u) {
            n->add_uids(a.uid_start + (next % a.connections));
            next += a.publishers;
            ++pushes_in_call;
          }
          n->set_offset(msgid);
          n->set_msgid(msgid++);
          n->set_has_data(true);
          n->mutable_payload()->set_from_uid(1);
          n->mutable_payload()->set_to_uid(uid);
          n->mutable_payload()->set_content("benchmark payload 32 bytes long.");
        }
        im::rpc::PublishReply reply;
        grpc::ClientContext ctx;
        ctx.set_deadline(im::rpc::DeadlineAfter(10000));
        if (stub->Publish(&ctx, request, &reply).ok()) published += pushes_in_call;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(a.push_s));
  stop = true;
  for (auto& t : publishers) t.join();
  // Let the pushes still queued in route_server and notify_server land: count
  // until nothing new has arrived for a second (at most 60 s); the rate is
  // over the time to the last arrival.
  Totals after = Poll(workers, "STATS");
  auto last_arrival = Clock::now();
  while (Clock::now() - last_arrival < std::chrono::seconds(1) && Clock::now() - p0 < std::chrono::seconds(a.push_s + 60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    Totals again = Poll(workers, "STATS");
    if (again.pushes != after.pushes) last_arrival = Clock::now();
    after = again;
  }
  const double push_wall = std::chrono::duration<double>(last_arrival - p0).count();
  const double cpu_wall = std::chrono::duration<double>(Clock::now() - p0).count();
  const double push_cpu = (CpuSeconds(notify.pid) - push_cpu0) / cpu_wall * 100.0;
  const double route_cpu = (CpuSeconds(route.pid) - route_cpu0) / cpu_wall * 100.0;
  double workers_cpu = -workers_cpu0;
  for (auto& w : workers) workers_cpu += CpuSeconds(w.pid);
  workers_cpu = workers_cpu / cpu_wall * 100.0;
  const long rss_push = RssKiB(notify.pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // route updates its gauges every second
  const long long route_dropped = RouteDropped(route_admin_port);
  const Totals final_totals = Poll(workers, "QUIT");

  std::printf("conn_bench: %d connections over %zu worker processes (127.0.0.2..%zu), notify_server %d io threads\n",
              a.connections, workers.size(), workers.size() + 1, a.notify_threads);
  std::printf("  logins ok: %lld  refused/failed: %lld  (connect+login %.2f s)\n", ready_ok, ready_bad, connect_s);
  std::printf("  notify_server RSS: idle baseline %ld KiB, with connections %ld KiB -> %.0f bytes/connection\n",
              rss_base, rss_conn, (rss_conn - rss_base) * 1024.0 / std::max<long long>(1, ready_ok));
  std::printf("  idle CPU with heartbeats every %d ms per connection: %.1f%% of one core (pongs: %lld, closed: %lld)\n",
              a.heartbeat_ms, idle_cpu, idle.pongs, idle.closed);
  std::printf("  push (%d users per notification): published %lld pushes in %d s; clients received %lld in %.2f s -> "
              "%.0f pushes/s; notify_server CPU %.0f%%; RSS after %ld KiB\n",
              a.users_per_notification, published.load(), a.push_s, after.pushes, push_wall, after.pushes / push_wall, push_cpu, rss_push);
  std::printf("  CPU during the push phase: route_server %.0f%%, client workers %.0f%%\n", route_cpu, workers_cpu);
  std::printf("  connections closed during the run: %lld\n", final_totals.closed);
  std::printf("  route_server shed %lld deliveries (a notify node's queue full; clients repair by pull)\n",
              route_dropped);

  for (auto& w : workers) waitpid(w.pid, nullptr, 0);
  kill(notify.pid, SIGTERM);
  waitpid(notify.pid, nullptr, 0);
  kill(route.pid, SIGTERM);
  waitpid(route.pid, nullptr, 0);
  kill(redis.pid, SIGTERM);
  waitpid(redis.pid, nullptr, 0);
  access->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  std::string out;
  std::system(("rm -rf " + dir).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  if (a.worker) return RunWorker(a);
  return RunDriver(a, argv[0]);
}
