#pragma once
// The storage engine: durable message sequences on RocksDB, with group commit.
// No gRPC here; storage_service_impl.* puts it on the wire, the benchmark and
// unit tests use it directly.
//
// Model (docs/architecture.md "Storage model"): every sequence is a linked
// list of records; each append gets the next offset of its sequence (1, 2, 3,
// … no gaps, never reused), a msgid from the engine's counter (increasing in
// append order, unique in the shard) and pre_msgid = msgid of the previous
// record of the same sequence (0 for the first).
//
// msgid stays below 2^53 (kMaxMsgid): access_server uses it as a Redis ZSET
// score, a double, which is exact only up to 2^53. At 1M appends/s that is
// 285 years of appends; an append past it fails with RESOURCE_EXHAUSTED.
//
// Threads: one writer thread owns the sequence heads (cached in memory, loaded
// from RocksDB on first use) and the msgid counter. AppendAsync() enqueues; the
// writer takes everything waiting (it never waits for a batch to fill),
// assigns ids, writes one WriteBatch (synced per the policy), then completes
// every caller. Reads run on the caller's thread against a RocksDB snapshot.
// A background thread enforces retention by handing trims to the writer.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage_server/record_format.h"

namespace prometheus {
class Counter;
class Histogram;
}  // namespace prometheus

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class CompactionFilter;
class Snapshot;
class WriteBatch;
}  // namespace rocksdb

namespace im::storage {

inline constexpr std::int64_t kMaxMsgid = (std::int64_t{1} << 53) - 1;

enum class SyncPolicy {
  kEveryBatch,  // each write batch is fsynced before its callers are answered
  kInterval,    // the WAL is written (survives a process crash) per batch and
                // fsynced at most sync_interval_ms later (a power loss may
                // lose that window)
};

/// Optional Prometheus instruments the engine updates (any may be null).
struct EngineMetrics {
  prometheus::Counter* appends = nullptr;
  prometheus::Counter* duplicates = nullptr;
  prometheus::Counter* commits = nullptr;
  prometheus::Counter* write_errors = nullptr;
  prometheus::Counter* trimmed = nullptr;
  prometheus::Histogram* commit_seconds = nullptr;  // one write + sync
  prometheus::Histogram* batch_appends = nullptr;   // appends per commit
};

struct EngineOptions {
  std::string data_dir;  // RocksDB directory; created if missing
  SyncPolicy sync_policy = SyncPolicy::kEveryBatch;
  int sync_interval_ms = 100;                       // kInterval only
  std::int64_t max_raw_bytes = 64 * 1024;           // larger raw: INVALID_ARGUMENT
  int max_read_limit = 1000;                        // Read(): limit <= 0 or above: this
  std::int64_t max_read_bytes = 4 * 1024 * 1024;    // Read(): stop after this many raw bytes
  std::int64_t max_queued_appends = 200000;         // beyond: RESOURCE_EXHAUSTED
  std::int64_t dedupe_window_ms = 24LL * 3600 * 1000;  // idempotency keys are honoured this long
  std::int64_t retention_max_age_ms = 0;            // 0: records never expire by age
  std::int64_t retention_max_records = 0;           // 0: no per-sequence record cap
  int retention_sweep_interval_ms = 60000;          // 0: no background sweep (RunRetention only)
  std::int64_t head_cache_entries = 1000000;        // sequence heads kept in memory
  /// Appends are refused (UNAVAILABLE) while the data directory's file system
  /// has less free space than this, so RocksDB never runs into a full disk in
  /// the middle of a write; they succeed again once space returns. 0: off.
  std::int64_t min_free_bytes = 256LL << 20;
  int block_cache_mb = 128;
  int write_buffer_mb = 64;
  /// Clock in milliseconds since the epoch; empty: the system clock. Tests
  /// inject one. Called from several threads.
  std::function<std::int64_t()> now_ms;
  EngineMetrics metrics;
};

struct AppendRequest {
  SeqKey seq;
  std::int64_t sender_uid = 0;
  std::int64_t device_id = 0;
  std::int32_t cmd = 0;
  std::string raw;
  std::optional<IdempotencyKey> idempotency_key;  // unset: no dedupe
};

struct AppendResult {
  absl::Status status;  // OK: durable under the sync policy
  std::int64_t msgid = 0;
  std::int64_t offset = 0;
  std::int64_t pre_msgid = 0;
  bool duplicate = false;  // an earlier append with the same key; nothing written
};

struct SequenceInfo {
  std::int64_t newest_msgid = 0;
  std::int64_t newest_offset = 0;  // 0: the sequence is empty
  std::int64_t oldest_offset = 0;  // oldest retained offset; 0 when empty
};

struct ReadResult {
  std::vector<StoredRecord> records;  // offset > after_offset, oldest first
  SequenceInfo info;
  bool has_more = false;  // records past the last one returned exist
};

struct EngineStats {
  std::int64_t appends = 0;     // records written
  std::int64_t duplicates = 0;  // appends answered from an idempotency key
  std::int64_t commits = 0;     // write batches
  std::int64_t write_errors = 0;
  std::int64_t trimmed = 0;     // records removed by retention
};

class Engine {
 public:
  using AppendCallback = std::function<void(std::vector<AppendResult>)>;

  /// Opens (or creates) the database and starts the writer and retention
  /// threads. UNAVAILABLE if the directory cannot be opened (e.g. another
  /// process holds it), INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<Engine>> Open(EngineOptions options);

  /// Stop()s and closes the database.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Appends `appends` (to any sequences) in one write batch, and calls `done`
  /// once with one result per append, in order. Results are OK (durable per
  /// the policy, or a duplicate), INVALID_ARGUMENT (bad id, raw too large),
  /// RESOURCE_EXHAUSTED (queue full; retry later) or UNAVAILABLE (I/O error,
  /// disk full, stopped; nothing of the batch was written).
  /// `done` runs on the writer thread, or on the calling thread when the whole
  /// call is rejected at once; it must not block. Thread safe.
  void AppendAsync(std::vector<AppendRequest> appends, AppendCallback done);

  /// AppendAsync() and wait. Thread safe; never call from `done`.
  std::vector<AppendResult> AppendBatch(std::vector<AppendRequest> appends);
  AppendResult Append(AppendRequest append);

  /// Records of `seq` with offset > after_offset, oldest first, at most
  /// `limit` (clamped to [1, max_read_limit]) and about max_read_bytes. An
  /// unknown sequence gives no records and info all 0. A start before the
  /// retained range starts at the oldest retained offset (info.oldest_offset).
  /// Thread safe.
  absl::StatusOr<ReadResult> Read(const SeqKey& seq, std::int64_t after_offset, int limit) const;

  /// Newest (msgid, offset) and oldest retained offset of each sequence, in
  /// order. Thread safe.
  absl::StatusOr<std::vector<SequenceInfo>> GetInfo(const std::vector<SeqKey>& seqs) const;

  /// Runs one retention sweep now and waits until its trims are committed.
  /// Retention never removes the newest record of a sequence. Thread safe.
  absl::Status RunRetention();

  /// Answers everything queued, then stops the threads; appends after it get
  /// UNAVAILABLE. Idempotent. Thread safe.
  void Stop();

  /// Appends waiting for the writer. Thread safe.
  std::int64_t queued_appends() const;
  EngineStats stats() const;

 private:
  struct Trim {
    SeqKey seq;
    std::int64_t new_oldest = 0;
  };
  // One caller's submission: appends (with their pre-checked results) or trims.
  struct Pending {
    std::vector<AppendRequest> appends;
    std::vector<AppendResult> results;
    AppendCallback done;
    std::vector<Trim> trims;
    std::function<void(absl::Status)> trims_done;
  };

  explicit Engine(EngineOptions options);
  absl::Status OpenDb();
  // Copies the idempotency keys of a database from before their sender-major
  // layout into dedupe_cf_ and drops `legacy`.
  absl::Status MigrateLegacyDedupe(rocksdb::ColumnFamilyHandle* legacy);
  std::int64_t Now() const;
  void Enqueue(Pending pending, std::int64_t appends);
  void WriterLoop();
  void Commit(std::vector<Pending>& work);
  void FailAll(std::vector<Pending>& work, const absl::Status& status);
  // Writer thread only.
  absl::StatusOr<SequenceHead*> LoadHead(const SeqKey& seq);
  void ApplyTrim(const Trim& trim, rocksdb::WriteBatch* batch);
  // Any thread: the head as stored (newest record, retention floor).
  absl::StatusOr<SequenceHead> ReadHead(const SeqKey& seq, const rocksdb::Snapshot* snapshot) const;
  void SyncWal();
  // Writer thread: OK, or UNAVAILABLE while free disk space is below the minimum.
  absl::Status CheckFreeSpace();
  void RetentionLoop();
  absl::Status Sweep();
  absl::StatusOr<std::int64_t> TrimTarget(const SeqKey& seq, const SequenceHead& head) const;

  const EngineOptions options_;
  std::unique_ptr<rocksdb::CompactionFilter> dedupe_filter_;
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* records_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* dedupe_cf_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  std::int64_t queued_appends_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  // Writer thread only.
  std::unordered_map<SeqKey, SequenceHead, SeqKeyHash> heads_;
  std::int64_t last_msgid_ = 0;
  bool needs_resume_ = false;
  bool space_low_ = false;
  bool unsynced_ = false;
  std::int64_t last_sync_ms_ = 0;

  std::mutex stop_mu_;
  std::condition_variable retention_cv_;
  bool retention_stop_ = false;  // guarded by stop_mu_

  std::atomic<std::int64_t> appends_{0}, duplicates_{0}, commits_{0}, write_errors_{0}, trimmed_{0};

  std::thread writer_;
  std::thread retention_;
};

}  // namespace im::storage
