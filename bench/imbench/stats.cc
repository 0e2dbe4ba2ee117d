#include "bench/imbench/stats.h"

#include <algorithm>
#include <cstdio>

namespace im::bench {

const char* CounterName(Counter c) {
  switch (c) {
    case Counter::kSent: return "sent";
    case Counter::kAnsweredOk: return "answered_ok";
    case Counter::kAnsweredError: return "answered_error";
    case Counter::kDelivered: return "delivered";
    case Counter::kReceipts: return "receipts";
    case Counter::kReceiptsByPull: return "receipts_by_pull";
    case Counter::kReceiptsByCatchUp: return "receipts_by_catch_up";
    case Counter::kRedundantFrames: return "redundant_frames";
    case Counter::kPulls: return "pulls";
    case Counter::kPulledMessages: return "pulled_messages";
    case Counter::kPongs: return "pongs";
    case Counter::kLogins: return "logins";
    case Counter::kReconnects: return "reconnects";
    case Counter::kCount: break;
  }
  return "?";
}

const char* LatencyName(Latency l) {
  switch (l) {
    case Latency::kAnswer: return "answer";
    case Latency::kDelivery: return "delivery";
    case Latency::kPong: return "pong";
    case Latency::kCount: break;
  }
  return "?";
}

nlohmann::json Summary::ToJson() const {
  return {{"n", n},           {"p50_ms", p50_ms}, {"p90_ms", p90_ms}, {"p99_ms", p99_ms},
          {"p999_ms", p999_ms}, {"max_ms", max_ms}, {"mean_ms", mean_ms}};
}

Summary Summarize(std::vector<std::uint32_t>* samples) {
  Summary s;
  s.n = samples->size();
  if (samples->empty()) return s;
  std::sort(samples->begin(), samples->end());
  auto at = [&](double q) {
    const std::size_t i = std::min(samples->size() - 1, static_cast<std::size_t>(q * static_cast<double>(samples->size())));
    return (*samples)[i] / 1000.0;
  };
  s.p50_ms = at(0.50);
  s.p90_ms = at(0.90);
  s.p99_ms = at(0.99);
  s.p999_ms = at(0.999);
  s.max_ms = samples->back() / 1000.0;
  double sum = 0;
  for (std::uint32_t v : *samples) sum += v;
  s.mean_ms = sum / static_cast<double>(samples->size()) / 1000.0;
  return s;
}

void Stats::Add(Counter c, std::int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  current_.counters[static_cast<int>(c)] += n;
}

void Stats::Record(Latency l, std::int64_t us) {
  const auto v = static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, 0xFFFFFFFF));
  std::lock_guard<std::mutex> lock(mu_);
  current_.samples[static_cast<int>(l)].push_back(v);
}

void Stats::Error(const std::string& key, std::int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  errors_[key] += n;
  current_.errors += n;
}

std::string Stats::Rotate(double elapsed_s, const std::string& extra) {
  Window w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::swap(w, current_);
    for (int i = 0; i < static_cast<int>(Counter::kCount); ++i) total_.counters[i] += w.counters[i];
    const bool steady = steady_from_s_ >= 0 && window_start_s_ >= steady_from_s_;
    for (int i = 0; i < static_cast<int>(Latency::kCount); ++i) {
      total_.samples[i].insert(total_.samples[i].end(), w.samples[i].begin(), w.samples[i].end());
      if (steady) steady_.samples[i].insert(steady_.samples[i].end(), w.samples[i].begin(), w.samples[i].end());
    }
    total_.errors += w.errors;
    window_start_s_ = elapsed_s;
  }
  nlohmann::json second = {{"t", elapsed_s}, {"errors", w.errors}};
  for (int i = 0; i < static_cast<int>(Counter::kCount); ++i) {
    if (w.counters[i] != 0) second[CounterName(static_cast<Counter>(i))] = w.counters[i];
  }
  Summary answer = Summarize(&w.samples[static_cast<int>(Latency::kAnswer)]);
  Summary delivery = Summarize(&w.samples[static_cast<int>(Latency::kDelivery)]);
  Summary pong = Summarize(&w.samples[static_cast<int>(Latency::kPong)]);
  second["answer"] = answer.ToJson();
  second["delivery"] = delivery.ToJson();
  if (pong.n) second["pong"] = pong.ToJson();
  auto c = [&](Counter k) { return static_cast<long long>(w.counters[static_cast<int>(k)]); };
  char line[512];
  std::snprintf(line, sizeof line,
                "[%6.1fs] sent %6lld ok %6lld delivered %6lld | answer p50 %6.2f p99 %7.2f ms | "
                "delivery p50 %6.2f p99 %7.2f ms | pulls %4lld errors %lld",
                elapsed_s, c(Counter::kSent), c(Counter::kAnsweredOk), c(Counter::kDelivered), answer.p50_ms,
                answer.p99_ms, delivery.p50_ms, delivery.p99_ms, c(Counter::kPulls),
                static_cast<long long>(w.errors));
  std::string out = line;
  if (pong.n) {
    std::snprintf(line, sizeof line, " | pongs %lld p99 %.2f ms", c(Counter::kPongs), pong.p99_ms);
    out += line;
  }
  out += extra;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seconds_.push_back(std::move(second));
  }
  return out;
}

void Stats::SteadyFrom(double elapsed_s) {
  std::lock_guard<std::mutex> lock(mu_);
  steady_from_s_ = elapsed_s;
}

std::int64_t Stats::Total(Counter c) const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_.counters[static_cast<int>(c)] + current_.counters[static_cast<int>(c)];
}

std::int64_t Stats::TotalErrors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_.errors + current_.errors;
}

nlohmann::json Stats::Report() {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json counters = nlohmann::json::object();
  for (int i = 0; i < static_cast<int>(Counter::kCount); ++i) {
    counters[CounterName(static_cast<Counter>(i))] = total_.counters[i] + current_.counters[i];
  }
  nlohmann::json latency = nlohmann::json::object();
  for (int i = 0; i < static_cast<int>(Latency::kCount); ++i) {
    std::vector<std::uint32_t> all = total_.samples[i];
    all.insert(all.end(), current_.samples[i].begin(), current_.samples[i].end());
    latency[LatencyName(static_cast<Latency>(i))] = Summarize(&all).ToJson();
  }
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [k, v] : errors_) errors[k] = v;
  nlohmann::json report = {{"counters", counters}, {"latency", latency}, {"errors", errors}, {"seconds", seconds_}};
  if (steady_from_s_ >= 0) {
    nlohmann::json steady = {{"from_s", steady_from_s_}};
    for (Latency l : {Latency::kAnswer, Latency::kDelivery}) {
      std::vector<std::uint32_t> samples = steady_.samples[static_cast<int>(l)];
      steady[LatencyName(l)] = Summarize(&samples).ToJson();
    }
    report["steady"] = steady;
  }
  return report;
}

void Ledger::OnSend(std::uint64_t key, std::int64_t now_ns, int expected) {
  Shard& s = ShardOf(key);
  std::lock_guard<std::mutex> lock(s.mu);
  Entry& e = s.entries[key];
  e.send_ns = now_ns;
  e.expected = expected;
}

void Ledger::OnAnswer(std::uint64_t key, int code, std::int64_t group_offset, std::int64_t now_ns) {
  std::int64_t latency_ns = -1;
  bool dup = false;
  {
    Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.entries.find(key);
    if (it == s.entries.end() || it->second.code != 0) return;  // not ours, or answered twice
    Entry& e = it->second;
    e.code = code;
    latency_ns = now_ns - e.send_ns;
    if (code == 200 && group_offset > 0) {
      if (e.offset != 0 && e.offset != group_offset) {
        dup = true;
        ++e.duplicated;
      }
      e.offset = group_offset;
    }
  }
  stats_->Add(code == 200 ? Counter::kAnsweredOk : Counter::kAnsweredError);
  if (code != 200) stats_->Error("answer:" + std::to_string(code));
  stats_->Record(Latency::kAnswer, latency_ns / 1000);
  if (dup) stats_->Error("duplicate:offset");
}

void Ledger::OnReceive(std::uint64_t key, std::int64_t offset, bool group, Via via, std::int64_t now_ns) {
  bool complete = false, dup = false;
  std::int64_t latency_ns = 0;
  {
    Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.entries.find(key);
    if (it == s.entries.end()) {
      ++s.unknown;
    } else {
      Entry& e = it->second;
      ++e.received;
      if (via == Via::kSweep) ++e.by_sweep;
      if (via == Via::kCatchUp) ++e.late;
      // Peer: every receipt of one message is at one offset of one receiver's
      // sequence (expected is 1). Group: every receipt is at the group offset.
      if (e.offset == 0) {
        e.offset = offset;
      } else if (e.offset != offset && (group || e.expected == 1)) {
        dup = true;
      }
      if (e.received > e.expected) dup = true;
      if (dup) ++e.duplicated;
      if (!dup && e.received == e.expected) {
        complete = true;
        latency_ns = now_ns - e.send_ns;
        // Latency of live deliveries of messages not refused (answered 200 or not yet).
        if (e.by_sweep != 0 || e.late != 0 || (e.code != 0 && e.code != 200)) latency_ns = -1;
      }
    }
  }
  stats_->Add(Counter::kReceipts);
  if (via != Via::kPush) stats_->Add(Counter::kReceiptsByPull);
  if (via == Via::kCatchUp) stats_->Add(Counter::kReceiptsByCatchUp);
  if (dup) stats_->Error("duplicate");
  if (complete) {
    stats_->Add(Counter::kDelivered);
    if (latency_ns >= 0) stats_->Record(Latency::kDelivery, latency_ns / 1000);
  }
}

std::int64_t Ledger::Incomplete() const {
  std::int64_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    for (const auto& [key, e] : s.entries) {
      if (e.code == 200 && e.received < e.expected) ++n;
    }
  }
  return n;
}

Ledger::Totals Ledger::Finish() const {
  Totals t;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    t.unknown += s.unknown;
    for (const auto& [key, e] : s.entries) {
      ++t.messages;
      t.duplicated += e.duplicated;
      if (e.code == 0) {
        ++t.unanswered;
        t.delivered_unanswered += e.received;
        continue;
      }
      if (e.code != 200) {
        ++t.answered_error;
        t.delivered_unanswered += e.received;
        continue;
      }
      ++t.answered_ok;
      t.expected_receipts += e.expected;
      t.receipts += std::min(e.received, e.expected);
      t.by_sweep += e.by_sweep;
      if (e.received < e.expected) {
        t.lost += e.expected - e.received;
        ++t.lost_messages;
      }
    }
  }
  return t;
}

nlohmann::json Ledger::Totals::ToJson() const {
  return {{"messages", messages},
          {"answered_ok", answered_ok},
          {"answered_error", answered_error},
          {"unanswered", unanswered},
          {"expected_receipts", expected_receipts},
          {"receipts", receipts},
          {"lost", lost},
          {"lost_messages", lost_messages},
          {"duplicated", duplicated},
          {"unknown", unknown},
          {"delivered_unanswered", delivered_unanswered},
          {"repaired_by_final_sweep", by_sweep}};
}

}  // namespace im::bench
