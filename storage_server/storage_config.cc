#include "storage_server/storage_config.h"

#include "common/config/config.h"

namespace im::storage {

EngineOptions StorageConfig::ToEngineOptions() const {
  EngineOptions o;
  o.data_dir = data_dir;
  o.sync_policy = sync_policy == "interval_ms" ? SyncPolicy::kInterval : SyncPolicy::kEveryBatch;
  o.sync_interval_ms = sync_interval_ms;
  o.max_raw_bytes = max_raw_bytes;
  o.max_read_limit = max_sync_limit;
  o.max_read_bytes = max_sync_bytes;
  o.max_queued_appends = max_queued_appends;
  o.dedupe_window_ms = dedupe_window_s * 1000;
  o.retention_max_age_ms = retention_max_age_s * 1000;
  o.retention_max_records = retention_max_records;
  o.retention_sweep_interval_ms = retention_sweep_interval_ms;
  o.head_cache_entries = head_cache_entries;
  o.block_cache_mb = block_cache_mb;
  o.write_buffer_mb = write_buffer_mb;
  o.min_free_bytes = min_free_mb << 20;
  return o;
}

void DeclareStorageConfig(config::Schema& schema, StorageConfig* c) {
  schema.Add("server.listen", &c->listen, "gRPC address (host:port) of the StorageService");
  schema.Add("server.max_message_bytes", &c->max_message_bytes, "largest gRPC request accepted, in bytes",
             1024, 1 << 30);
  schema.Add("server.max_batch_appends", &c->max_batch_appends,
             "most appends in one SaveBatch call; more: INVALID_ARGUMENT", 1, 1000000);
  schema.Add("shard.id", &c->shard_id, "the storage shard this server owns (0-based)", 0, 1 << 20);
  schema.Add("shard.count", &c->shard_count,
             "storage shards in the map; uid/gid -> shard id % count, the same on every daemon", 1, 1 << 20);
  schema.Add("storage.data_dir", &c->data_dir, "RocksDB directory of this shard; created if missing");
  schema.Add("storage.sync_policy", &c->sync_policy,
             "every_batch: fsync each group commit before answering; interval_ms: write the WAL per batch "
             "(survives a crash of the process) and fsync every storage.sync_interval_ms (a power loss may "
             "lose that window)");
  schema.Add("storage.sync_interval_ms", &c->sync_interval_ms, "fsync interval of the interval_ms policy", 1,
             60000);
  schema.Add("storage.max_raw_bytes", &c->max_raw_bytes, "largest record raw; larger: INVALID_ARGUMENT", 0,
             64 << 20);
  schema.Add("storage.max_sync_limit", &c->max_sync_limit, "most records per sync read; a limit of 0 or above this gets this many",
             1, 100000);
  schema.Add("storage.max_sync_bytes", &c->max_sync_bytes,
             "a sync read stops after this many raw bytes (has_more tells the rest)", 1024, 1LL << 30);
  schema.Add("storage.max_queued_appends", &c->max_queued_appends,
             "appends waiting for the writer beyond which new ones get RESOURCE_EXHAUSTED", 1, 1LL << 32);
  schema.Add("storage.head_cache_entries", &c->head_cache_entries,
             "sequence heads cached in memory by the writer", 1, 1LL << 32);
  schema.Add("storage.block_cache_mb", &c->block_cache_mb, "RocksDB block cache, MiB", 1, 1 << 20);
  schema.Add("storage.write_buffer_mb", &c->write_buffer_mb, "RocksDB memtable size of the records, MiB", 1,
             4096);
  schema.Add("storage.min_free_mb", &c->min_free_mb,
             "appends are refused (UNAVAILABLE) while the data disk has less free space than this, MiB; "
             "they succeed again once space returns (0: off)",
             0, 1LL << 30);
  schema.Add("dedupe.window_s", &c->dedupe_window_s,
             "an idempotency key seen this long ago still returns the original append", 1, 365LL * 86400);
  schema.Add("retention.max_age_s", &c->retention_max_age_s,
             "records older than this are removed in the background (0: kept forever)", 0, 100LL * 365 * 86400);
  schema.Add("retention.max_records", &c->retention_max_records,
             "each sequence keeps at most this many newest records (0: unlimited)", 0, INT64_MAX);
  schema.Add("retention.sweep_interval_ms", &c->retention_sweep_interval_ms,
             "how often the background retention sweep runs", 10, 86400000);
  schema.AddCheck([c]() -> std::string {
    if (c->sync_policy != "every_batch" && c->sync_policy != "interval_ms") {
      return "storage.sync_policy: '" + c->sync_policy + "' is not every_batch or interval_ms";
    }
    if (c->shard_id >= c->shard_count) {
      return "shard.id: " + std::to_string(c->shard_id) + " is not below shard.count " +
             std::to_string(c->shard_count);
    }
    if (c->data_dir.empty()) return "storage.data_dir: must not be empty";
    return "";
  });
}

}  // namespace im::storage
