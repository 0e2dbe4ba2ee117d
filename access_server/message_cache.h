#pragma once
// The Redis cache of recent records (the original design's ZSETs):
//
//   impeer_msg:<uid>   ZSET  score = msgid, member = serialized rpc::ChatRecord
//   imgroup_msg:<gid>  ZSET  likewise
//
// bounded to the newest `max_records` per key, expiring `ttl_s` after the
// last write. The cache is never the source of truth: a read is served only
// when the cached records are exactly the continuous run the caller asks for,
// checked against the sequence's newest offset from storage; anything else
// (miss, gap, Redis down) is a miss, and the caller reads storage. Writes are
// queued and written by one writer thread, which sends everything waiting in
// one pipelined round trip; writes that fail, or find `max_queued` records
// already waiting, are dropped (the next read misses). Thread safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "proto/common.pb.h"

namespace im::redis {
class RedisClient;
}

namespace im::access {

struct MessageCacheOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int timeout_ms = 200;
  int connections = 8;
  int max_records = 200;
  int ttl_s = 86400;
  std::size_t max_queued = 100000;  // records waiting for the writer; beyond: dropped
};

class MessageCache {
 public:
  explicit MessageCache(MessageCacheOptions options);
  ~MessageCache();

  /// Queues records of one sequence for the writer thread. Best effort;
  /// never blocks on Redis.
  void Store(rpc::SeqKind kind, std::int64_t id, const std::vector<rpc::ChatRecord>& records);

  /// The records with offset in (after_offset, after_offset + limit], when the
  /// cache holds all of them; `newest_offset` is the sequence's newest offset
  /// according to storage. nullopt on any miss.
  std::optional<std::vector<rpc::ChatRecord>> Read(rpc::SeqKind kind, std::int64_t id, std::int64_t after_offset,
                                                   std::int64_t newest_offset, int limit);

  std::uint64_t hits() const;
  std::uint64_t misses() const;
  std::uint64_t dropped_writes() const;  // records not cached: queue full or Redis error

 private:
  struct Pool;
  struct Writer;
  void WriteLoop();
  MessageCacheOptions options_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<Writer> writer_;
};

}  // namespace im::access
