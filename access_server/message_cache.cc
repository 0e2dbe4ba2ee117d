#include "access_server/message_cache.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "common/log/log.h"
#include "common/redis/redis_client.h"

namespace im::access {
namespace {

std::string Key(rpc::SeqKind kind, std::int64_t id) {
  return (kind == rpc::SEQ_PEER ? "impeer_msg:" : "imgroup_msg:") + std::to_string(id);
}

}  // namespace

// A fixed set of connections, each behind its own mutex; callers take the
// next one round-robin.
struct MessageCache::Pool {
  struct Slot {
    std::mutex mu;
    std::unique_ptr<redis::RedisClient> client;
  };
  std::vector<std::unique_ptr<Slot>> slots;
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};

  template <typename F>
  auto With(F&& f) {
    Slot& slot = *slots[next.fetch_add(1) % slots.size()];
    std::lock_guard<std::mutex> lock(slot.mu);
    return f(*slot.client);
  }
};

// The write queue and its thread (with a connection of its own).
struct MessageCache::Writer {
  struct Pending {
    std::string key;
    std::vector<rpc::ChatRecord> records;
  };
  std::unique_ptr<redis::RedisClient> client;
  std::mutex mu;
  std::condition_variable wake;     // work queued, or stopping
  std::vector<Pending> queue;       // guarded by mu
  std::size_t queued_records = 0;   // guarded by mu
  bool stopping = false;            // guarded by mu
  std::atomic<std::uint64_t> dropped{0};
  std::thread thread;
};

MessageCache::MessageCache(MessageCacheOptions options)
    : options_(std::move(options)), pool_(new Pool), writer_(new Writer) {
  redis::RedisOptions redis_options;
  redis_options.host = options_.host;
  redis_options.port = options_.port;
  redis_options.connect_timeout_ms = options_.timeout_ms;
  redis_options.command_timeout_ms = options_.timeout_ms;
  for (int i = 0; i < std::max(1, options_.connections); ++i) {
    auto slot = std::make_unique<Pool::Slot>();
    slot->client = std::make_unique<redis::RedisClient>(redis_options);
    pool_->slots.push_back(std::move(slot));
  }
  writer_->client = std::make_unique<redis::RedisClient>(redis_options);
  writer_->thread = std::thread([this] { WriteLoop(); });
}

MessageCache::~MessageCache() {
  {
    std::lock_guard<std::mutex> lock(writer_->mu);
    writer_->stopping = true;
  }
  writer_->wake.notify_all();
  writer_->thread.join();
}

void MessageCache::WriteLoop() {
  Writer& w = *writer_;
  std::unique_lock<std::mutex> lock(w.mu);
  for (;;) {
    w.wake.wait(lock, [&] { return w.stopping || !w.queue.empty(); });
    if (w.queue.empty()) return;  // stopping, and everything written
    std::vector<Writer::Pending> batch;
    batch.swap(w.queue);
    const std::size_t records = w.queued_records;
    w.queued_records = 0;
    lock.unlock();
    // One ZADD per key with every record waiting for it, then the trim and
    // the expiry: the whole batch in one pipelined round trip.
    std::map<std::string, std::vector<const rpc::ChatRecord*>> by_key;
    for (const auto& p : batch) {
      auto& list = by_key[p.key];
      for (const auto& r : p.records) list.push_back(&r);
    }
    std::vector<redis::Command> commands;
    for (const auto& [key, list] : by_key) {
      redis::Command zadd = {"ZADD", key};
      for (const rpc::ChatRecord* r : list) {
        zadd.push_back(std::to_string(r->msgid()));
        zadd.push_back(r->SerializeAsString());
      }
      commands.push_back(std::move(zadd));
      commands.push_back({"ZREMRANGEBYRANK", key, "0", std::to_string(-options_.max_records - 1)});
      commands.push_back({"EXPIRE", key, std::to_string(options_.ttl_s)});
    }
    auto replies = w.client->Pipeline(commands);
    if (!replies.ok()) {
      w.dropped.fetch_add(records);
      IM_LOG_DEBUG(log::Db(), "cache: {} records for {} keys dropped: {}", records, by_key.size(),
                   replies.status().message());
    }
    lock.lock();
  }
}

std::uint64_t MessageCache::dropped_writes() const { return writer_->dropped.load(); }

void MessageCache::Store(rpc::SeqKind kind, std::int64_t id, const std::vector<rpc::ChatRecord>& records) {
  if (options_.max_records <= 0 || records.empty()) return;
  {
    std::lock_guard<std::mutex> lock(writer_->mu);
    if (writer_->queued_records + records.size() > options_.max_queued) {
      writer_->dropped.fetch_add(records.size());
      return;
    }
    writer_->queue.push_back({Key(kind, id), records});
    writer_->queued_records += records.size();
  }
  writer_->wake.notify_one();
}

std::optional<std::vector<rpc::ChatRecord>> MessageCache::Read(rpc::SeqKind kind, std::int64_t id,
                                                               std::int64_t after_offset, std::int64_t newest_offset,
                                                               int limit) {
  if (options_.max_records <= 0 || limit <= 0) return std::nullopt;
  std::vector<rpc::ChatRecord> records;
  if (newest_offset <= after_offset) return records;  // nothing newer: no need to ask
  const std::int64_t behind = newest_offset - after_offset;
  if (behind > options_.max_records) {
    pool_->misses.fetch_add(1);
    return std::nullopt;
  }
  // Offsets are continuous and the ZSET is ordered like them, so the wanted
  // records are the `behind` newest entries, oldest first.
  const std::int64_t start = -behind;
  const std::int64_t stop = std::min<std::int64_t>(start + limit - 1, -1);
  auto reply = pool_->With([&](redis::RedisClient& c) {
    return c.Run({"ZRANGE", Key(kind, id), std::to_string(start), std::to_string(stop)});
  });
  if (!reply.ok() || reply->type != redis::RedisReply::Type::kArray) {
    pool_->misses.fetch_add(1);
    return std::nullopt;
  }
  std::int64_t expect = after_offset + 1;
  for (const auto& element : reply->elements) {
    rpc::ChatRecord record;
    if (!record.ParseFromString(element.str) || record.offset() != expect) {
      pool_->misses.fetch_add(1);
      return std::nullopt;
    }
    records.push_back(std::move(record));
    ++expect;
  }
  const std::int64_t want = std::min<std::int64_t>(behind, limit);
  if (static_cast<std::int64_t>(records.size()) != want) {
    pool_->misses.fetch_add(1);
    return std::nullopt;
  }
  pool_->hits.fetch_add(1);
  return records;
}

std::uint64_t MessageCache::hits() const { return pool_->hits.load(); }
std::uint64_t MessageCache::misses() const { return pool_->misses.load(); }

}  // namespace im::access
