#pragma once
// storage_server's configuration: a typed struct whose fields hold the
// defaults, and the schema that binds it to TOML keys and flags
// (deploy/config/storage_server.toml documents every key).

#include <cstdint>
#include <string>

#include "storage_server/engine.h"

namespace im::config {
class Schema;
}

namespace im::storage {

struct StorageConfig {
  std::string listen = "0.0.0.0:50061";  // server.listen: gRPC address
  int max_message_bytes = 16 << 20;      // server.max_message_bytes: largest gRPC request
  int max_batch_appends = 10000;         // server.max_batch_appends: appends per SaveBatch
  int shard_id = 0;                      // shard.id: the shard this server owns
  int shard_count = 1;                   // shard.count: shards in the map (id % count)
  std::string data_dir = "./data/storage_server";  // storage.data_dir
  std::string sync_policy = "every_batch";         // storage.sync_policy: every_batch | interval_ms
  int sync_interval_ms = 100;                      // storage.sync_interval_ms
  std::int64_t max_raw_bytes = 64 * 1024;          // storage.max_raw_bytes
  int max_sync_limit = 1000;                       // storage.max_sync_limit
  std::int64_t max_sync_bytes = 4 << 20;           // storage.max_sync_bytes
  std::int64_t max_queued_appends = 200000;        // storage.max_queued_appends
  std::int64_t head_cache_entries = 1000000;       // storage.head_cache_entries
  int block_cache_mb = 128;                        // storage.block_cache_mb
  int write_buffer_mb = 64;                        // storage.write_buffer_mb
  std::int64_t min_free_mb = 256;                  // storage.min_free_mb
  std::int64_t dedupe_window_s = 24 * 3600;        // dedupe.window_s
  std::int64_t retention_max_age_s = 0;            // retention.max_age_s (0: forever)
  std::int64_t retention_max_records = 0;          // retention.max_records (0: unlimited)
  int retention_sweep_interval_ms = 60000;         // retention.sweep_interval_ms

  /// The engine options these keys describe.
  EngineOptions ToEngineOptions() const;
};

/// Adds every storage_server key, bound to `config`, with help texts, ranges
/// and checks that name the key. Not thread safe (start-up only).
void DeclareStorageConfig(config::Schema& schema, StorageConfig* config);

}  // namespace im::storage
