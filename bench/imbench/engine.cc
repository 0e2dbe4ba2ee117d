#include "bench/imbench/engine.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench/imbench/admin_api.h"
#include "common/net/host_port.h"

namespace im::bench {

namespace asio = boost::asio;

namespace {

std::atomic<bool> g_interrupted{false};
void OnSignal(int) { g_interrupted = true; }

double Seconds(std::int64_t ns) { return static_cast<double>(ns) * 1e-9; }

bool Resolve(const std::string& address, asio::ip::tcp::endpoint* out, std::string* error) {
  std::string host;
  int port = 0;
  if (!net::SplitHostPort(address, &host, &port)) {
    *error = address + " is not host:port";
    return false;
  }
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) {
    *error = "resolve " + address + ": " + ec.message();
    return false;
  }
  *out = results.begin()->endpoint();
  return true;
}

// CPU seconds (user + system) and RSS in MiB of a process; false when gone.
bool ReadProcess(int pid, double* cpu_s, double* rss_mb) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  *cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) *rss_mb = std::atof(line.c_str() + 6) / 1024.0;
  }
  return true;
}

}  // namespace

Engine::Engine(const Options& options) : options_(options), ledger_(&stats_) {
  std::mt19937_64 rng(std::random_device{}());
  // A fresh device id per run: send dedupe is keyed by (uid, device, msgid),
  // so reused accounts never collide with an earlier run's msgids.
  device_id_ = static_cast<std::int64_t>(rng() >> 16) + 1;
  padding_.assign(65536, 'x');
}

Engine::~Engine() { StopLoops(); }

std::int64_t Engine::PickReceiver(const User* sender, std::mt19937_64* rng) const {
  if (cold_ != nullptr) return cold_->uid();
  const std::size_t n = uids_.size();
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::int64_t uid = uids_[(*rng)() % n];
    if (uid != sender->uid()) return uid;
  }
  return uids_[0] != sender->uid() ? uids_[0] : uids_[1];
}

int Engine::GroupReceivers(std::int64_t gid) const {
  auto it = group_size_.find(gid);
  return it == group_size_.end() ? 0 : it->second - 1;
}

bool Engine::ClaimSend() {
  if (options_.count <= 0) return true;
  return claimed_.fetch_add(1) < options_.count;
}

bool Engine::PrepareAccounts() {
  const int n = options_.users;
  if (!options_.accounts_file.empty()) {
    std::ifstream in(options_.accounts_file);
    if (!in) {
      std::fprintf(stderr, "imbench: cannot read --accounts %s\n", options_.accounts_file.c_str());
      return false;
    }
    std::string line;
    for (int i = 0; std::getline(in, line) && static_cast<int>(accounts_.size()) < n; ++i) {
      if (i < options_.accounts_offset || line.empty()) continue;
      std::istringstream fields(line);
      std::int64_t uid = 0;
      std::string token;
      fields >> uid >> token;
      if (uid <= 0) continue;
      accounts_.emplace_back(uid, token);
    }
    if (static_cast<int>(accounts_.size()) < n) {
      std::fprintf(stderr, "imbench: --accounts %s has %zu usable lines after offset %d, need %d\n",
                   options_.accounts_file.c_str(), accounts_.size(), options_.accounts_offset, n);
      return false;
    }
    AdminApi api(options_.admin, options_.admin_secret);
    for (auto& [uid, token] : accounts_) {
      if (!token.empty()) continue;
      auto issued = api.IssueToken(uid);
      if (!issued.ok()) {
        std::fprintf(stderr, "imbench: %s\n", std::string(issued.status().message()).c_str());
        return false;
      }
      token = *issued;
    }
  } else {
    std::string prefix = options_.account_prefix;
    if (prefix.empty()) prefix = "imb" + std::to_string(std::time(nullptr)) + "_";
    std::printf("creating %d accounts %s0.. through admin_qim %s\n", n, prefix.c_str(), options_.admin.c_str());
    std::fflush(stdout);
    const std::int64_t t0 = NowNs();
    auto created = CreateAccounts(options_.admin, options_.admin_secret, prefix, n, options_.admin_concurrency);
    if (!created.ok()) {
      std::fprintf(stderr, "imbench: creating accounts: %s\n", std::string(created.status().message()).c_str());
      return false;
    }
    accounts_ = std::move(*created);
    std::printf("created %d accounts with tokens in %.1f s\n", n, Seconds(NowNs() - t0));
  }
  if (!options_.write_accounts.empty()) {
    std::ofstream out(options_.write_accounts);
    for (const auto& [uid, token] : accounts_) out << uid << ' ' << token << '\n';
    if (!out) {
      std::fprintf(stderr, "imbench: cannot write %s\n", options_.write_accounts.c_str());
      return false;
    }
  }
  return true;
}

bool Engine::PrepareGroups() {
  if (options_.mode != "group") return true;
  AdminApi api(options_.admin, options_.admin_secret);
  const std::int64_t t0 = NowNs();
  for (int g = 0; g < options_.groups; ++g) {
    std::vector<std::int64_t> members;
    for (int i = 0; i < options_.group_size; ++i) {
      members.push_back(accounts_[static_cast<std::size_t>(g * options_.group_size + i)].first);
    }
    auto gid = api.CreateGroup("imbench-" + std::to_string(device_id_) + "-" + std::to_string(g), members);
    if (!gid.ok()) {
      std::fprintf(stderr, "imbench: %s\n", std::string(gid.status().message()).c_str());
      return false;
    }
    group_ids_.push_back(*gid);
  }
  std::printf("created %d groups of %d in %.1f s\n", options_.groups, options_.group_size, Seconds(NowNs() - t0));
  return true;
}

void Engine::BuildUsers() {
  for (int t = 0; t < options_.threads; ++t) loops_.push_back(std::make_unique<Loop>());
  const bool peer = options_.mode == "peer" || options_.mode == "mixed" || options_.mode == "coldpull";
  const int senders = options_.senders > 0 ? std::min(options_.senders, options_.users) : options_.users;
  for (int i = 0; i < options_.users; ++i) {
    Loop* loop = loops_[static_cast<std::size_t>(i) % loops_.size()].get();
    const auto& [uid, token] = accounts_[static_cast<std::size_t>(i)];
    auto user = std::make_unique<User>(this, loop, i, uid, token);
    if (peer) user->sender = i < senders;
    if (options_.mode == "group") {
      const int g = i / options_.group_size;
      user->group = group_ids_[static_cast<std::size_t>(g)];
      user->sender = i % options_.group_size < options_.group_senders;
    }
    loop->users.push_back(user.get());
    if (options_.mode == "coldpull" && i == 0) {
      // The offline receiver: not connected until the messages are stored.
      user->sender = false;
      user->StartFromZero();
      cold_ = user.get();
    } else {
      loop->connect_queue.push_back(user.get());
    }
    if (user->sender) loop->senders.push_back(user.get());
    users_.push_back(std::move(user));
  }
}

void Engine::StartLoops() {
  for (auto& loop : loops_) {
    Loop* l = loop.get();
    l->thread = std::thread([l] {
      auto guard = asio::make_work_guard(l->io);
      l->io.run();
    });
  }
}

void Engine::StopLoops() {
  for (auto& loop : loops_) loop->io.stop();
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
  }
}

void Engine::PumpConnects(Loop* loop) {
  const int limit = std::max(1, options_.connect_concurrency / static_cast<int>(loops_.size()));
  while (loop->connecting < limit && loop->connect_next < loop->connect_queue.size()) {
    ++loop->connecting;
    loop->connect_queue[loop->connect_next++]->Connect();
  }
}

void Engine::OnConnectDone(Loop* loop) {
  --loop->connecting;
  PumpConnects(loop);
}

template <typename Done>
bool Engine::Progress(double max_s, Done done) {
  const std::int64_t until = NowNs() + static_cast<std::int64_t>(max_s * 1e9);
  while (!g_interrupted) {
    if (done()) return true;
    const std::int64_t now = NowNs();
    if (now >= until) return done();
    if (now - last_progress_ns_ >= 1'000'000'000) {
      SampleProcesses(false);
      progress_t_ = Seconds(now - start_ns_);
      std::printf("%s\n", stats_.Rotate(progress_t_, ProcessLine()).c_str());
      std::fflush(stdout);
      last_progress_ns_ += 1'000'000'000;
      if (now - last_progress_ns_ > 1'000'000'000) last_progress_ns_ = now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

bool Engine::ConnectAll() {
  std::printf("connecting %d users (%s) to %zu notify / %zu sync servers, %d logins at once\n", options_.users,
              options_.mode.c_str(), notify_endpoints_.size(), sync_endpoints_.size(), options_.connect_concurrency);
  std::fflush(stdout);
  const std::int64_t t0 = NowNs();
  for (auto& loop : loops_) {
    asio::post(loop->io, [this, l = loop.get()] {
      // Heartbeats, reconnects and gap checks run from the first login on:
      // a connection silent for 3 server heartbeat intervals is closed.
      Tick(l, std::make_shared<asio::steady_timer>(l->io), NowNs());
      Heartbeats(l, std::make_shared<asio::steady_timer>(l->io), 0);
      PumpConnects(l);
    });
  }
  const int total = options_.users - (cold_ != nullptr ? 1 : 0);
  const std::int64_t until = NowNs() + 120'000'000'000LL + static_cast<std::int64_t>(total) * 5'000'000;
  while (!g_interrupted && ready_users_ + failed_users_ < total && NowNs() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (NowNs() - last_progress_ns_ >= 1'000'000'000) {
      last_progress_ns_ = NowNs();
      SampleProcesses(false);
      std::printf("[connect %5.1fs] ready %d failed %d of %d | notify %lld sync %lld%s\n", Seconds(NowNs() - t0),
                  ready_users_.load(), failed_users_.load(), total, static_cast<long long>(notify_connections.load()),
                  static_cast<long long>(sync_connections.load()), ProcessLine().c_str());
      std::fflush(stdout);
    }
  }
  connect_s_ = Seconds(NowNs() - t0);
  std::printf("connected: %d of %d users ready in %.1f s (%d failed)\n", ready_users_.load(), total, connect_s_,
              failed_users_.load());
  std::fflush(stdout);
  return ready_users_ > 0;
}

void Engine::StartLoad(Loop* loop) {
  const std::int64_t now = NowNs();
  if (options_.rate <= 0 && options_.mode != "idle") {
    for (User* s : loop->senders) {
      for (int i = 0; i < options_.inflight; ++i) {
        if (!s->TrySend(now)) {
          loop->stalled.push_back(s);
          break;
        }
      }
    }
  }
  if (options_.mode == "mixed") {
    Reconnects(loop, std::make_shared<asio::steady_timer>(loop->io), std::mt19937_64(std::random_device{}()));
  }
}

void Engine::Tick(Loop* loop, std::shared_ptr<asio::steady_timer> timer, std::int64_t last_ns) {
  const std::int64_t now = NowNs();
  if (loading() && options_.mode != "idle" && !loop->senders.empty()) {
    if (options_.rate > 0) {
      const double rate = options_.rate / static_cast<double>(loops_.size());
      loop->credit += rate * Seconds(now - last_ns);
      const double cap = std::max(2.0, rate * 0.05);
      if (loop->credit > cap) {
        skipped_sends_ += static_cast<std::int64_t>(loop->credit - cap);
        loop->credit = cap;
      }
      const std::size_t n = loop->senders.size();
      while (loop->credit >= 1) {
        bool sent = false;
        for (std::size_t tries = 0; tries < n && !sent; ++tries) {
          User* s = loop->senders[loop->next_sender++ % n];
          sent = s->inflight() < options_.max_inflight && s->TrySend(now);
        }
        if (!sent) break;
        loop->credit -= 1;
      }
    } else if (!loop->stalled.empty()) {
      std::vector<User*> stalled;
      stalled.swap(loop->stalled);
      for (User* s : stalled) {
        while (s->inflight() < options_.inflight) {
          if (!s->TrySend(now)) {
            if (loading()) loop->stalled.push_back(s);
            break;
          }
        }
      }
    }
  }
  if (!loop->gapped.empty()) {
    std::vector<User*> gapped;
    gapped.swap(loop->gapped);
    for (User* u : gapped) {
      u->CheckGaps(now);
      if (u->in_gap_list) loop->gapped.push_back(u);
    }
  }
  // Users offline after a planned disconnect or a failure come back.
  if (now / 100'000'000 != last_ns / 100'000'000) {
    for (User* u : loop->users) {
      if (u->offline_until_ns != 0 && now >= u->offline_until_ns) {
        u->offline_until_ns = 0;
        stats_.Add(Counter::kReconnects);
        u->Connect();
      }
      if (u->catch_up_retry_ns != 0 && now >= u->catch_up_retry_ns) u->RetryCatchUp();
    }
  }
  timer->expires_after(std::chrono::milliseconds(options_.rate > 0 ? 1 : 5));
  timer->async_wait([this, loop, timer, now](const boost::system::error_code& ec) {
    if (!ec) Tick(loop, timer, now);
  });
}

void Engine::Heartbeats(Loop* loop, std::shared_ptr<asio::steady_timer> timer, std::int64_t second) {
  const std::int64_t period = std::max(1, options_.heartbeat_ms / 1000);
  const std::int64_t now = NowNs();
  for (User* u : loop->users) {
    if ((u->index() + second) % period == 0) u->Ping(now);
  }
  timer->expires_after(std::chrono::seconds(1));
  timer->async_wait([this, loop, timer, second](const boost::system::error_code& ec) {
    if (!ec) Heartbeats(loop, timer, second + 1);
  });
}

void Engine::Reconnects(Loop* loop, std::shared_ptr<asio::steady_timer> timer, std::mt19937_64 rng) {
  if (loading()) {
    const double want = options_.reconnect_per_s * static_cast<double>(loop->users.size());
    int n = static_cast<int>(want);
    if (std::uniform_real_distribution<double>(0, 1)(rng) < want - n) ++n;
    for (int i = 0; i < n; ++i) {
      User* u = loop->users[rng() % loop->users.size()];
      if (!u->ready() || u->draining || u->offline_until_ns != 0) continue;
      u->draining = true;
      if (u->inflight() == 0) {
        u->Disconnect();
        u->draining = false;
        u->offline_until_ns = NowNs() + static_cast<std::int64_t>(options_.offline_ms) * 1'000'000;
      }
    }
  }
  timer->expires_after(std::chrono::seconds(1));
  timer->async_wait([this, loop, timer, rng](const boost::system::error_code& ec) {
    if (!ec) Reconnects(loop, timer, rng);
  });
}

void Engine::SampleProcesses(bool baseline) {
  for (Watched& w : watched_) {
    double cpu = 0, rss = 0;
    if (!ReadProcess(w.pid, &cpu, &rss)) continue;
    if (baseline) {
      w.cpu_s_start = cpu;
      w.rss_before_mb = rss;
    } else {
      w.cpu_pct_last = 100.0 * (cpu - w.cpu_s_last);
    }
    w.cpu_s_last = cpu;
    w.rss_mb = rss;
  }
}

std::string Engine::ProcessLine() {
  if (watched_.empty()) return "";
  std::string out = " | cpu%";
  char part[64];
  for (const Watched& w : watched_) {
    std::snprintf(part, sizeof part, " %s %.0f", w.name.c_str(), w.cpu_pct_last);
    out += part;
  }
  return out;
}

nlohmann::json Engine::Processes() {
  nlohmann::json out = nlohmann::json::object();
  for (Watched& w : watched_) {
    double cpu = 0, rss = 0;
    ReadProcess(w.pid, &cpu, &rss);
    out[w.name] = {{"pid", w.pid},
                   {"cpu_pct_during_load", load_s_ > 0 ? 100.0 * (load_cpu_[w.name]) / load_s_ : 0.0},
                   {"rss_mb_before_connect", w.rss_before_mb},
                   {"rss_mb_loaded", load_rss_[w.name]},
                   {"rss_mb_end", rss}};
  }
  return out;
}

int Engine::Run() {
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  std::string error;
  for (const auto& a : options_.notify) {
    notify_endpoints_.emplace_back();
    if (!Resolve(a, &notify_endpoints_.back(), &error)) {
      std::fprintf(stderr, "imbench: --notify %s\n", error.c_str());
      return 2;
    }
  }
  for (const auto& a : options_.sync) {
    sync_endpoints_.emplace_back();
    if (!Resolve(a, &sync_endpoints_.back(), &error)) {
      std::fprintf(stderr, "imbench: --sync %s\n", error.c_str());
      return 2;
    }
  }
  watched_.push_back({"imbench", static_cast<int>(getpid())});
  for (const auto& w : options_.watch) {
    const auto eq = w.find('=');
    if (eq == std::string::npos || std::atoi(w.c_str() + eq + 1) <= 0) {
      std::fprintf(stderr, "imbench: --watch wants name=pid, got '%s'\n", w.c_str());
      return 2;
    }
    watched_.push_back({w.substr(0, eq), std::atoi(w.c_str() + eq + 1)});
  }
  if (options_.rate > 0 && options_.conn_rate > 0 && options_.mode != "idle") {
    const int senders = options_.mode == "group" ? options_.groups * options_.group_senders
                        : options_.senders > 0   ? std::min(options_.senders, options_.users)
                                                 : options_.users;
    if (options_.rate / senders > options_.conn_rate) {
      std::fprintf(stderr,
                   "imbench: --rate %.0f over %d senders is %.0f/s per connection, above --conn-rate %d: use more "
                   "senders (sync_server closes connections above server.max_requests_per_second)\n",
                   options_.rate, senders, options_.rate / senders, options_.conn_rate);
      return 2;
    }
  }
  if (!PrepareAccounts()) return 1;
  if (options_.mode == "setup") {
    std::printf("%d accounts ready%s%s\n", options_.users, options_.write_accounts.empty() ? "" : ", written to ",
                options_.write_accounts.c_str());
    return 0;
  }
  if (!PrepareGroups()) return 1;
  for (const auto& [uid, token] : accounts_) uids_.push_back(uid);
  BuildUsers();
  SampleProcesses(true);
  start_ns_ = NowNs();
  last_progress_ns_ = start_ns_;
  StartLoops();
  if (!ConnectAll()) {
    std::fprintf(stderr, "imbench: no user could log in\n");
    return 1;
  }
  // Messages go only to users that are online; group sizes count online members.
  std::vector<std::int64_t> online;
  for (const auto& u : users_) {
    if (u->ready()) {
      online.push_back(u->uid());
      if (u->group != 0) ++group_size_[u->group];
    }
  }
  uids_ = online;
  if (options_.mode != "idle" && options_.warmup_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.warmup_ms));
  }

  // ---- load ----
  std::printf("load: mode %s, %s, %.0f s%s\n", options_.mode.c_str(),
              options_.rate > 0 ? ("open loop " + std::to_string(static_cast<long long>(options_.rate)) + " msg/s").c_str()
                                : ("closed loop, " + std::to_string(options_.inflight) + " in flight per sender").c_str(),
              options_.duration_s, options_.count > 0 ? (", at most " + std::to_string(options_.count) + " sends").c_str() : "");
  std::fflush(stdout);
  SampleProcesses(false);
  std::map<std::string, double> cpu_at_start;
  for (const Watched& w : watched_) cpu_at_start[w.name] = w.cpu_s_last;
  const std::int64_t load_start = NowNs();
  if (options_.steady_after_s > 0) stats_.SteadyFrom(Seconds(load_start - start_ns_) + options_.steady_after_s);
  loading_ = true;
  for (auto& loop : loops_) asio::post(loop->io, [this, l = loop.get()] { StartLoad(l); });
  const double max_s = options_.duration_s > 0 ? options_.duration_s : 1e9;
  Progress(max_s, [&] { return options_.count > 0 && claimed_.load() >= options_.count; });
  loading_ = false;
  load_s_ = Seconds(NowNs() - load_start);
  SampleProcesses(false);
  for (const Watched& w : watched_) {
    load_cpu_[w.name] = w.cpu_s_last - cpu_at_start[w.name];
    load_rss_[w.name] = w.rss_mb;
  }

  // ---- settle: answers, then deliveries ----
  if (options_.mode != "idle") {
    if (!Progress(options_.settle_s, [&] { return inflight.load() <= 0; })) {
      std::printf("settle: %lld sends still unanswered after %d s\n", static_cast<long long>(inflight.load()),
                  options_.settle_s);
    }
    if (cold_ != nullptr) ColdPull();
    // Users offline at the end come back so that they can be checked.
    for (auto& loop : loops_) {
      asio::post(loop->io, [l = loop.get()] {
        for (User* u : l->users) {
          if (u->offline_until_ns != 0) u->offline_until_ns = 1;
        }
      });
    }
    Progress(options_.settle_s, [&] {
      return ledger_.Incomplete() == 0 && pulls_in_flight.load() == 0 && catch_ups_pending.load() == 0;
    });
    // ---- final sweep: every device asks for its offsets and pulls what it lacks ----
    sweeping_ = true;
    for (auto& loop : loops_) {
      asio::post(loop->io, [l = loop.get()] {
        for (User* u : l->users) u->CatchUp(Via::kSweep);
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Progress(options_.settle_s, [&] { return pulls_in_flight.load() == 0 && catch_ups_pending.load() == 0; });
  }
  const int rc = Report();
  StopLoops();
  return rc;
}

void Engine::ColdPull() {
  const std::int64_t offline = ledger_.Incomplete();
  std::printf("cold pull: %lld messages stored for offline uid %lld; it logs in and pulls from offset 0\n",
              static_cast<long long>(offline), static_cast<long long>(cold_->uid()));
  std::fflush(stdout);
  const std::int64_t pulls_before = stats_.Total(Counter::kPulls);
  const std::int64_t t0 = NowNs();
  asio::post(cold_->loop()->io, [u = cold_] { u->Connect(); });
  Progress(std::max(60, options_.settle_s), [&] { return ledger_.Incomplete() == 0; });
  const double s = Seconds(NowNs() - t0);
  cold_pull_ = {{"messages", offline},
                {"seconds", s},
                {"messages_per_s", s > 0 ? static_cast<double>(offline - ledger_.Incomplete()) / s : 0},
                {"pulls", stats_.Total(Counter::kPulls) - pulls_before},
                {"complete", ledger_.Incomplete() == 0}};
  std::printf("cold pull: %lld messages in %.3f s (login, 340, %lld pulls of up to 500): %.0f messages/s\n",
              static_cast<long long>(offline), s, static_cast<long long>(stats_.Total(Counter::kPulls) - pulls_before),
              cold_pull_["messages_per_s"].get<double>());
  std::fflush(stdout);
}

int Engine::Report() {
  SampleProcesses(false);
  progress_t_ = Seconds(NowNs() - start_ns_);
  std::printf("%s\n", stats_.Rotate(progress_t_, ProcessLine()).c_str());
  const Ledger::Totals t = ledger_.Finish();
  nlohmann::json stats = stats_.Report();
  const auto& counters = stats["counters"];
  const auto& latency = stats["latency"];
  nlohmann::json report = {
      {"mode", options_.mode},
      {"config",
       {{"users", options_.users},
        {"senders", options_.mode == "group" ? options_.groups * options_.group_senders
                    : options_.senders > 0   ? options_.senders
                                             : options_.users},
        {"rate", options_.rate},
        {"inflight", options_.inflight},
        {"duration_s", options_.duration_s},
        {"count", options_.count},
        {"size", options_.size},
        {"groups", options_.groups},
        {"group_size", options_.group_size},
        {"threads", options_.threads},
        {"notify", options_.notify},
        {"sync", options_.sync}}},
      {"connect",
       {{"users_ready", ready_users_.load()},
        {"users_failed", failed_users_.load()},
        {"seconds", connect_s_},
        {"notify_connections", notify_connections.load()},
        {"sync_connections", sync_connections.load()}}},
      {"load_seconds", load_s_},
      {"throughput",
       {{"sent_per_s", load_s_ > 0 ? counters["sent"].get<double>() / load_s_ : 0},
        {"answered_ok_per_s", load_s_ > 0 ? static_cast<double>(t.answered_ok) / load_s_ : 0},
        {"receipts_per_s", load_s_ > 0 ? static_cast<double>(t.receipts) / load_s_ : 0},
        {"open_loop_skipped", skipped_sends_.load()}}},
      {"ledger", t.ToJson()},
      {"counters", counters},
      {"latency", latency},
      {"latency_steady", stats.contains("steady") ? stats["steady"] : nlohmann::json()},
      {"errors", stats["errors"]},
      {"processes", Processes()},
      {"cold_pull", cold_pull_},
      {"seconds", stats["seconds"]}};
  // Memory per connection of the watched servers (idle benchmark).
  double notify_growth_mb = 0;
  const auto& a = latency["answer"];
  const auto& d = latency["delivery"];
  std::printf("\n==== imbench %s: %.1f s of load, %d users ready (%d failed), %lld notify + %lld sync connections\n",
              options_.mode.c_str(), load_s_, ready_users_.load(), failed_users_.load(),
              static_cast<long long>(notify_connections.load()), static_cast<long long>(sync_connections.load()));
  std::printf("sends     %lld (%.0f/s): answered 200 %lld (%.0f/s), errors %lld, unanswered %lld, open-loop skipped %lld\n",
              static_cast<long long>(t.messages), load_s_ > 0 ? static_cast<double>(t.messages) / load_s_ : 0.0,
              static_cast<long long>(t.answered_ok), load_s_ > 0 ? static_cast<double>(t.answered_ok) / load_s_ : 0.0,
              static_cast<long long>(t.answered_error), static_cast<long long>(t.unanswered),
              static_cast<long long>(skipped_sends_.load()));
  std::printf("delivery  %lld of %lld device receipts (%.0f/s); lost %lld (%lld messages), duplicated %lld, unknown %lld, "
              "by final sweep %lld\n",
              static_cast<long long>(t.receipts), static_cast<long long>(t.expected_receipts),
              load_s_ > 0 ? static_cast<double>(t.receipts) / load_s_ : 0.0, static_cast<long long>(t.lost),
              static_cast<long long>(t.lost_messages), static_cast<long long>(t.duplicated),
              static_cast<long long>(t.unknown), static_cast<long long>(t.by_sweep));
  std::printf("answer    p50 %.2f p90 %.2f p99 %.2f p999 %.2f max %.2f ms (n=%lld)\n", a["p50_ms"].get<double>(),
              a["p90_ms"].get<double>(), a["p99_ms"].get<double>(), a["p999_ms"].get<double>(),
              a["max_ms"].get<double>(), static_cast<long long>(a["n"].get<std::int64_t>()));
  std::printf("delivery  p50 %.2f p90 %.2f p99 %.2f p999 %.2f max %.2f ms (n=%lld, send -> every addressed device)\n",
              d["p50_ms"].get<double>(), d["p90_ms"].get<double>(), d["p99_ms"].get<double>(),
              d["p999_ms"].get<double>(), d["max_ms"].get<double>(), static_cast<long long>(d["n"].get<std::int64_t>()));
  if (stats.contains("steady")) {
    const auto& sa = stats["steady"]["answer"];
    const auto& sd = stats["steady"]["delivery"];
    std::printf("steady    after the first %.0f s of load: answer p50 %.2f p99 %.2f p999 %.2f ms (n=%lld); "
                "delivery p50 %.2f p99 %.2f p999 %.2f ms (n=%lld)\n",
                options_.steady_after_s, sa["p50_ms"].get<double>(), sa["p99_ms"].get<double>(),
                sa["p999_ms"].get<double>(), static_cast<long long>(sa["n"].get<std::int64_t>()),
                sd["p50_ms"].get<double>(), sd["p99_ms"].get<double>(), sd["p999_ms"].get<double>(),
                static_cast<long long>(sd["n"].get<std::int64_t>()));
  }
  std::printf("pulls     %lld (%lld messages), redundant frames %lld, pongs %lld, reconnects %lld\n",
              static_cast<long long>(counters["pulls"].get<std::int64_t>()),
              static_cast<long long>(counters["pulled_messages"].get<std::int64_t>()),
              static_cast<long long>(counters["redundant_frames"].get<std::int64_t>()),
              static_cast<long long>(counters["pongs"].get<std::int64_t>()),
              static_cast<long long>(counters["reconnects"].get<std::int64_t>()));
  std::printf("errors   ");
  if (stats["errors"].empty()) std::printf(" none");
  for (const auto& [k, v] : stats["errors"].items()) std::printf(" %s=%lld", k.c_str(), static_cast<long long>(v.get<std::int64_t>()));
  std::printf("\n");
  for (const auto& [name, p] : report["processes"].items()) {
    std::printf("process   %-10s cpu %5.1f%% during load, rss %.1f MiB before connect, %.1f MiB loaded\n", name.c_str(),
                p["cpu_pct_during_load"].get<double>(), p["rss_mb_before_connect"].get<double>(),
                p["rss_mb_loaded"].get<double>());
    if (name.rfind("notify", 0) == 0) notify_growth_mb += p["rss_mb_loaded"].get<double>() - p["rss_mb_before_connect"].get<double>();
  }
  if (notify_growth_mb > 0 && notify_connections.load() > 0) {
    const double per_conn_kib = notify_growth_mb * 1024.0 / static_cast<double>(notify_connections.load());
    report["notify_rss_kib_per_connection"] = per_conn_kib;
    std::printf("memory    notify_server processes grew %.1f MiB for %lld connections: %.1f KiB per connection "
                "(user space; the kernel adds ~4.7 KiB per socket on each side)\n",
                notify_growth_mb, static_cast<long long>(notify_connections.load()), per_conn_kib);
  }
  std::fflush(stdout);
  if (!options_.json.empty()) {
    std::ofstream out(options_.json);
    out << report.dump(2) << '\n';
    if (!out) {
      std::fprintf(stderr, "imbench: cannot write %s\n", options_.json.c_str());
      return 1;
    }
  }
  const bool ok = t.lost == 0 && t.duplicated == 0 && t.unknown == 0 && failed_users_ == 0;
  return ok ? 0 : 1;
}

int Run(const Options& options) {
  Engine engine(options);
  return engine.Run();
}

}  // namespace im::bench
