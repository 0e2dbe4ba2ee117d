// storage_bench: durable appends/s and sync reads/s of storage_server, with
// latency percentiles.
//
//   storage_bench --mode inproc   engine in this process (group commit, no gRPC)
//   storage_bench --mode grpc     N gRPC clients calling SaveBatch; the server
//                                 runs in this process unless --target host:port
//   storage_bench --mode read     sync reads of --read_limit records, in-process
//                                 and over gRPC
//   storage_bench --mode all      all three (default)
//
// Other flags (defaults in brackets): --seconds [5] --writers [8] --batch [64]
// --inflight [2] (submissions in flight per in-process writer) --clients [16]
// --grpc_batch [100] --seqs [10000] --raw [100] --keys [1] (idempotency keys)
// --sync [every_batch|interval_ms] --readers [4] --read_limit [100]
// --write_buffer_mb [64] (in-process engine) --dir DIR.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/rpc/grpc_util.h"
#include "proto/storage.grpc.pb.h"
#include "storage_server/engine.h"
#include "storage_server/storage_server.h"

namespace im::storage::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::string mode = "all";
  double seconds = 5;
  int writers = 8;
  int batch = 64;
  int inflight = 2;
  int clients = 16;
  int grpc_batch = 100;
  int seqs = 10000;
  int raw = 100;
  int keys = 1;
  std::string sync = "every_batch";
  int readers = 4;
  int read_limit = 100;
  int write_buffer_mb = 64;
  std::string target;
  std::string dir;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  std::map<std::string, std::string> kv;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) return false;
    arg = arg.substr(2);
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      kv[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      kv[arg] = argv[++i];
    } else {
      return false;
    }
  }
  try {
    for (const auto& [k, v] : kv) {
      if (k == "mode") f->mode = v;
      else if (k == "seconds") f->seconds = std::stod(v);
      else if (k == "writers") f->writers = std::stoi(v);
      else if (k == "batch") f->batch = std::stoi(v);
      else if (k == "inflight") f->inflight = std::stoi(v);
      else if (k == "clients") f->clients = std::stoi(v);
      else if (k == "grpc_batch") f->grpc_batch = std::stoi(v);
      else if (k == "seqs") f->seqs = std::stoi(v);
      else if (k == "raw") f->raw = std::stoi(v);
      else if (k == "keys") f->keys = std::stoi(v);
      else if (k == "sync") f->sync = v;
      else if (k == "readers") f->readers = std::stoi(v);
      else if (k == "read_limit") f->read_limit = std::stoi(v);
      else if (k == "target") f->target = v;
      else if (k == "write_buffer_mb") f->write_buffer_mb = std::stoi(v);
      else if (k == "dir") f->dir = v;
      else {
        std::fprintf(stderr, "unknown flag --%s\n", k.c_str());
        return false;
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bad flag value: %s\n", e.what());
    return false;
  }
  return f->writers > 0 && f->batch > 0 && f->inflight > 0 && f->clients > 0 && f->grpc_batch > 0 &&
         f->seqs > 0 && f->readers > 0 && f->seconds > 0;
}

// Latency samples in microseconds.
struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};
Percentiles Summarize(std::vector<double> us) {
  Percentiles p;
  if (us.empty()) return p;
  std::sort(us.begin(), us.end());
  p.p50 = us[us.size() / 2];
  p.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  p.max = us.back();
  return p;
}

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

std::string MakeDir(const Flags& flags, const std::string& name) {
  std::string base = flags.dir.empty() ? std::filesystem::temp_directory_path().string() : flags.dir;
  std::string pattern = base + "/storage_bench_" + name + ".XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return buf.data();
}

EngineOptions BenchEngineOptions(const Flags& flags, const std::string& dir) {
  EngineOptions o;
  o.data_dir = dir + "/db";
  o.sync_policy = flags.sync == "interval_ms" ? SyncPolicy::kInterval : SyncPolicy::kEveryBatch;
  o.retention_sweep_interval_ms = 0;
  o.max_queued_appends = 1 << 24;
  o.write_buffer_mb = flags.write_buffer_mb;
  return o;
}

// Appends from `writers` threads, each keeping `inflight` submissions of
// `batch` appends in flight.
int BenchInproc(const Flags& flags) {
  const std::string dir = MakeDir(flags, "inproc");
  auto engine = Engine::Open(BenchEngineOptions(flags, dir));
  if (!engine.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(engine.status().message()).c_str());
    return 1;
  }
  const std::string raw(flags.raw, 'x');
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0};
  std::vector<std::vector<double>> latencies(flags.writers);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int w = 0; w < flags.writers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(w + 1);
      std::mutex mu;
      std::condition_variable cv;
      int in_flight = 0;
      int64_t counter = 0;
      while (!stop.load()) {
        {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return in_flight < flags.inflight; });
          ++in_flight;
        }
        std::vector<AppendRequest> appends(flags.batch);
        for (auto& a : appends) {
          a.seq = {SeqKind::kPeer, 1 + static_cast<int64_t>(rng() % flags.seqs)};
          a.sender_uid = w + 1;
          a.device_id = 1;
          a.cmd = 315;
          a.raw = raw;
          if (flags.keys) a.idempotency_key = IdempotencyKey{w + 1, 1, ++counter};
        }
        const auto sent = Clock::now();
        (*engine)->AppendAsync(std::move(appends), [&, sent](std::vector<AppendResult> results) {
          int64_t good = 0;
          for (const auto& r : results) good += r.status.ok() ? 1 : 0;
          ok.fetch_add(good);
          failed.fetch_add(static_cast<int64_t>(results.size()) - good);
          std::lock_guard<std::mutex> lock(mu);
          latencies[w].push_back(Micros(Clock::now() - sent));
          --in_flight;
          cv.notify_one();
        });
      }
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight == 0; });
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  const Percentiles p = Summarize(all);
  const EngineStats stats = (*engine)->stats();
  std::printf(
      "inproc append  sync=%s writers=%d batch=%d inflight=%d raw=%dB keys=%d: %.0f durable appends/s "
      "(%lld ok, %lld failed, %.1f s); %lld commits, %.0f appends/commit; submission latency p50=%.2f ms "
      "p99=%.2f ms\n",
      flags.sync.c_str(), flags.writers, flags.batch, flags.inflight, flags.raw, flags.keys, ok.load() / elapsed,
      static_cast<long long>(ok.load()), static_cast<long long>(failed.load()), elapsed,
      static_cast<long long>(stats.commits), stats.commits ? double(stats.appends) / stats.commits : 0.0,
      p.p50 / 1000, p.p99 / 1000);
  engine->reset();
  std::filesystem::remove_all(dir);
  return failed.load() == 0 ? 0 : 1;
}

// An in-process storage_server on a free port, or nothing when --target is set.
struct Server {
  std::string dir;
  std::unique_ptr<StorageServer> server;
  std::string target;
};

bool StartServer(const Flags& flags, Server* s) {
  if (!flags.target.empty()) {
    s->target = flags.target;
    return true;
  }
  s->dir = MakeDir(flags, "grpc");
  StorageConfig config;
  config.listen = "127.0.0.1:0";
  config.data_dir = s->dir + "/db";
  config.sync_policy = flags.sync;
  config.max_queued_appends = 1 << 24;
  s->server = std::make_unique<StorageServer>(config, nullptr);
  if (absl::Status st = s->server->Start(); !st.ok()) {
    std::fprintf(stderr, "server: %s\n", std::string(st.message()).c_str());
    return false;
  }
  s->target = "127.0.0.1:" + std::to_string(s->server->port());
  return true;
}

void StopServer(Server* s) {
  if (s->server) s->server->Stop();
  s->server.reset();
  if (!s->dir.empty()) std::filesystem::remove_all(s->dir);
}

std::shared_ptr<grpc::Channel> Channel(const std::string& target, int i) {
  grpc::ChannelArguments args;
  args.SetInt("im.bench.channel", i);  // distinct args: one connection per client
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

int BenchGrpc(const Flags& flags) {
  Server server;
  if (!StartServer(flags, &server)) return 1;
  const std::string raw(flags.raw, 'x');
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0};
  std::vector<std::vector<double>> latencies(flags.clients);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < flags.clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = rpc::StorageService::NewStub(Channel(server.target, c));
      std::mt19937_64 rng(c + 100);
      int64_t counter = 0;
      while (!stop.load()) {
        rpc::SaveBatchRequest request;
        for (int i = 0; i < flags.grpc_batch; ++i) {
          rpc::AppendRequest* a = request.add_appends();
          a->mutable_seq()->set_id(1 + static_cast<int64_t>(rng() % flags.seqs));
          a->set_sender_uid(c + 1);
          a->set_device_id(1);
          a->set_cmd(315);
          a->set_raw(raw);
          if (flags.keys) {
            a->mutable_idempotency_key()->set_sender_uid(c + 1);
            a->mutable_idempotency_key()->set_device_id(2);
            a->mutable_idempotency_key()->set_client_msgid(++counter);
          }
        }
        rpc::SaveBatchReply reply;
        grpc::ClientContext context;
        context.set_deadline(rpc::DeadlineAfter(10000));
        const auto sent = Clock::now();
        grpc::Status s = stub->SaveBatch(&context, request, &reply);
        latencies[c].push_back(Micros(Clock::now() - sent));
        if (!s.ok()) {
          failed.fetch_add(flags.grpc_batch);
          continue;
        }
        int64_t good = 0;
        for (const auto& r : reply.results()) good += r.status() == 0 ? 1 : 0;
        ok.fetch_add(good);
        failed.fetch_add(flags.grpc_batch - good);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  const Percentiles p = Summarize(all);
  std::printf(
      "grpc SaveBatch sync=%s clients=%d batch=%d raw=%dB keys=%d server=%s: %.0f durable appends/s "
      "(%lld ok, %lld failed, %.1f s); call latency p50=%.2f ms p99=%.2f ms\n",
      flags.sync.c_str(), flags.clients, flags.grpc_batch, flags.raw, flags.keys,
      flags.target.empty() ? "in-process" : flags.target.c_str(), ok.load() / elapsed,
      static_cast<long long>(ok.load()), static_cast<long long>(failed.load()), elapsed, p.p50 / 1000,
      p.p99 / 1000);
  StopServer(&server);
  return failed.load() == 0 ? 0 : 1;
}

// Fills `seqs` sequences with `per_seq` records each through SaveBatch-sized
// engine batches.
bool Fill(Engine* engine, int seqs, int per_seq, int raw_bytes) {
  const std::string raw(raw_bytes, 'r');
  for (int round = 0; round < per_seq; round += 10) {
    std::vector<AppendRequest> batch;
    for (int s = 1; s <= seqs; ++s) {
      for (int i = 0; i < 10; ++i) {
        AppendRequest a;
        a.seq = {SeqKind::kPeer, s};
        a.raw = raw;
        batch.push_back(std::move(a));
      }
    }
    for (const auto& r : engine->AppendBatch(std::move(batch))) {
      if (!r.status.ok()) return false;
    }
  }
  return true;
}

int BenchRead(const Flags& flags) {
  constexpr int kSeqs = 200;
  constexpr int kPerSeq = 1000;
  Server server;
  Flags server_flags = flags;
  server_flags.target.clear();  // reads need the data we write: always in-process
  if (!StartServer(server_flags, &server)) return 1;
  Engine* engine = server.server->engine();
  if (!Fill(engine, kSeqs, kPerSeq, flags.raw)) {
    std::fprintf(stderr, "fill failed\n");
    return 1;
  }
  auto run = [&](bool over_grpc) {
    std::atomic<bool> stop{false};
    std::atomic<int64_t> reads{0}, errors{0};
    std::vector<std::vector<double>> latencies(flags.readers);
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int r = 0; r < flags.readers; ++r) {
      threads.emplace_back([&, r] {
        std::mt19937_64 rng(r + 7);
        auto stub = rpc::StorageService::NewStub(Channel(server.target, 1000 + r));
        while (!stop.load()) {
          const int64_t uid = 1 + static_cast<int64_t>(rng() % kSeqs);
          const int64_t after = static_cast<int64_t>(rng() % (kPerSeq - flags.read_limit));
          const auto sent = Clock::now();
          size_t got = 0;
          if (over_grpc) {
            rpc::SyncMessagesRequest request;
            request.set_id(uid);
            request.set_after_offset(after);
            request.set_limit(flags.read_limit);
            rpc::SyncMessagesReply reply;
            grpc::ClientContext context;
            context.set_deadline(rpc::DeadlineAfter(5000));
            if (stub->SyncPeerMessages(&context, request, &reply).ok()) got = reply.messages_size();
          } else {
            auto result = engine->Read({SeqKind::kPeer, uid}, after, flags.read_limit);
            if (result.ok()) got = result->records.size();
          }
          latencies[r].push_back(Micros(Clock::now() - sent));
          if (got == static_cast<size_t>(flags.read_limit)) {
            reads.fetch_add(1);
          } else {
            errors.fetch_add(1);
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds / 2));
    stop = true;
    for (auto& t : threads) t.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    const Percentiles p = Summarize(all);
    std::printf(
        "%s sync read  readers=%d limit=%d raw=%dB (%d seqs x %d records): %.0f reads/s (%lld errors); "
        "latency p50=%.3f ms p99=%.3f ms max=%.2f ms\n",
        over_grpc ? "grpc  " : "inproc", flags.readers, flags.read_limit, flags.raw, kSeqs, kPerSeq,
        reads.load() / elapsed, static_cast<long long>(errors.load()), p.p50 / 1000, p.p99 / 1000, p.max / 1000);
    return errors.load() == 0;
  };
  const bool ok = run(false) && run(true);
  StopServer(&server);
  return ok ? 0 : 1;
}

}  // namespace

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr, "usage: see the comment at the top of bench/storage_bench.cc\n");
    return 2;
  }
  std::printf("storage_bench on %u cores\n", std::thread::hardware_concurrency());
  std::fflush(stdout);
  int rc = 0;
  if (flags.mode == "inproc" || flags.mode == "all") rc |= BenchInproc(flags);
  std::fflush(stdout);
  if (flags.mode == "grpc" || flags.mode == "all") rc |= BenchGrpc(flags);
  std::fflush(stdout);
  if (flags.mode == "read" || flags.mode == "all") rc |= BenchRead(flags);
  return rc;
}

}  // namespace im::storage::bench

int main(int argc, char** argv) { return im::storage::bench::Main(argc, argv); }
