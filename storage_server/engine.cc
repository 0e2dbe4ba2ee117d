#include "storage_server/engine.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <pthread.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <future>

#include "common/log/log.h"

namespace im::storage {
namespace {

constexpr char kRecordsCf[] = "records";
constexpr char kDedupeCf[] = "idempotency";
// The idempotency keys of databases written before their sender-major
// layout (record_format.h); copied to kDedupeCf on open, then dropped.
constexpr char kLegacyDedupeCf[] = "dedupe";
// Legacy idempotency keys copied per write batch.
constexpr int kMigrationBatch = 10000;

// Trims of more records than this use one range tombstone instead of point deletes.
constexpr std::int64_t kPointDeleteLimit = 256;

std::int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = std::string(what) + ": " + s.ToString();
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (s.IsCorruption()) return absl::DataLossError(message);
  // I/O errors, disk full, busy, a DB in read-only error mode: retry later.
  return absl::UnavailableError(message);
}

absl::Status CheckSeq(const SeqKey& seq) {
  if (seq.kind != SeqKind::kPeer && seq.kind != SeqKind::kGroup) {
    return absl::InvalidArgumentError("unknown sequence kind");
  }
  if (seq.id <= 0) return absl::InvalidArgumentError("sequence id must be > 0, got " + std::to_string(seq.id));
  return absl::OkStatus();
}

// Drops idempotency keys older than the dedupe window during compactions.
class DedupeExpiryFilter final : public rocksdb::CompactionFilter {
 public:
  DedupeExpiryFilter(std::int64_t window_ms, std::function<std::int64_t()> now_ms)
      : window_ms_(window_ms), now_ms_(std::move(now_ms)) {}
  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    DedupeEntry entry;
    if (!DecodeDedupe(std::string_view(value.data(), value.size()), &entry)) return false;
    return now_ms_() - entry.timestamp_ms > window_ms_;
  }
  const char* Name() const override { return "im.storage.DedupeExpiryFilter"; }

 private:
  std::int64_t window_ms_;
  std::function<std::int64_t()> now_ms_;
};

// The memtable insert hint of a record key: its sequence. Only record keys
// (17 bytes) are in its domain, not the 18-byte start of a retention range
// tombstone (RecordRangeStart): RocksDB 7.8 looks up a hint for a range
// tombstone too and uses it in its range-deletion skiplist, where it points
// at a node of the other list (fixed upstream in later releases).
class RecordSequencePrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "im.storage.RecordSequencePrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), kSeqPrefixBytes);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() == kRecordKeyBytes; }
};

// Releases a snapshot when it goes out of scope.
class ScopedSnapshot {
 public:
  explicit ScopedSnapshot(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  ~ScopedSnapshot() { db_->ReleaseSnapshot(snapshot_); }
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

}  // namespace

Engine::Engine(EngineOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(EngineOptions options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir is empty");
  if (options.sync_interval_ms < 1) return absl::InvalidArgumentError("sync_interval_ms must be >= 1");
  if (options.max_read_limit < 1) return absl::InvalidArgumentError("max_read_limit must be >= 1");
  if (options.max_raw_bytes < 0) return absl::InvalidArgumentError("max_raw_bytes must be >= 0");
  if (!options.now_ms) options.now_ms = SystemNowMs;
  std::unique_ptr<Engine> engine(new Engine(std::move(options)));
  if (absl::Status s = engine->OpenDb(); !s.ok()) return s;
  engine->writer_ = std::thread([e = engine.get()] { e->WriterLoop(); });
  if (engine->options_.retention_sweep_interval_ms > 0 &&
      (engine->options_.retention_max_age_ms > 0 || engine->options_.retention_max_records > 0)) {
    engine->retention_ = std::thread([e = engine.get()] { e->RetentionLoop(); });
  }
  return engine;
}

absl::Status Engine::OpenDb() {
  auto cache = rocksdb::NewLRUCache(static_cast<std::size_t>(std::max(1, options_.block_cache_mb)) << 20);
  auto table_options = [&](bool whole_key) {
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    t.whole_key_filtering = whole_key;
    t.cache_index_and_filter_blocks = true;
    t.pin_l0_filter_and_index_blocks_in_cache = true;
    return std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(t));
  };
  const std::size_t write_buffer = static_cast<std::size_t>(std::max(1, options_.write_buffer_mb)) << 20;

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.max_background_jobs = 2;
  db_options.max_total_wal_size = 4 * write_buffer;
  db_options.keep_log_file_num = 5;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // One writer thread anyway; memtable insert hints (below) work only without.
  db_options.allow_concurrent_memtable_write = false;

  rocksdb::ColumnFamilyOptions meta;
  meta.write_buffer_size = write_buffer / 4;
  meta.table_factory = table_options(true);

  rocksdb::ColumnFamilyOptions records;
  records.write_buffer_size = write_buffer;
  records.max_write_buffer_number = 4;
  records.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(kSeqPrefixBytes));
  // A sequence only grows at its end, so the memtable keeps, per sequence,
  // where its last record went in and starts the next insert from there
  // instead of searching the skiplist from the top.
  records.memtable_insert_with_hint_prefix_extractor = std::make_shared<RecordSequencePrefix>();
  records.memtable_prefix_bloom_size_ratio = 0.05;
  records.table_factory = table_options(false);
  records.level_compaction_dynamic_level_bytes = true;

  dedupe_filter_ = std::make_unique<DedupeExpiryFilter>(options_.dedupe_window_ms, options_.now_ms);
  rocksdb::ColumnFamilyOptions dedupe;
  dedupe.write_buffer_size = write_buffer / 2;
  // Keys are sender-major and a device's client msgids mostly grow, so, as
  // for records, an insert starts where the device's previous key went in.
  // Only point lookups, nearly all of them misses: a whole-key bloom filter
  // on the memtable answers those without searching it. (A hash memtable
  // inserts as cheaply but sorts everything at flush, on the same 2 cores.)
  dedupe.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(kDedupeDeviceBytes));
  dedupe.memtable_prefix_bloom_size_ratio = 0.05;
  dedupe.memtable_whole_key_filtering = true;
  dedupe.table_factory = table_options(true);
  dedupe.compaction_filter = dedupe_filter_.get();
  // Rewrite files at least once per window so expired keys really go away.
  dedupe.periodic_compaction_seconds =
      static_cast<std::uint64_t>(std::max<std::int64_t>(options_.dedupe_window_ms / 1000, 3600));

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, meta}, {kRecordsCf, records}, {kDedupeCf, dedupe}};
  std::vector<std::string> existing;  // stays empty for a new database
  (void)rocksdb::DB::ListColumnFamilies(db_options, options_.data_dir, &existing);
  const bool has_legacy = std::find(existing.begin(), existing.end(), kLegacyDedupeCf) != existing.end();
  if (has_legacy) {
    rocksdb::ColumnFamilyOptions legacy;
    legacy.table_factory = table_options(true);
    families.emplace_back(kLegacyDedupeCf, legacy);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options_.data_dir, families, &handles, &db_);
  if (!s.ok()) {
    db_ = nullptr;
    return absl::UnavailableError("cannot open storage database in '" + options_.data_dir + "': " + s.ToString());
  }
  meta_cf_ = handles[0];
  records_cf_ = handles[1];
  dedupe_cf_ = handles[2];
  if (has_legacy) {
    if (absl::Status m = MigrateLegacyDedupe(handles[3]); !m.ok()) return m;
  }

  std::string value;
  s = db_->Get(rocksdb::ReadOptions(), meta_cf_, std::string(kMsgidCounterKey), &value);
  if (s.ok()) {
    if (!DecodeCounter(value, &last_msgid_)) return absl::DataLossError("msgid counter is corrupt");
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading the msgid counter");
  }
  last_sync_ms_ = Now();
  IM_LOG_INFO(log::Store(), "storage database open dir={} last_msgid={} sync_policy={}", options_.data_dir,
              last_msgid_, options_.sync_policy == SyncPolicy::kEveryBatch ? "every_batch" : "interval_ms");
  return absl::OkStatus();
}

Engine::~Engine() {
  Stop();
  if (db_ != nullptr) {
    for (auto* cf : {meta_cf_, records_cf_, dedupe_cf_}) {
      if (cf != nullptr) db_->DestroyColumnFamilyHandle(cf);
    }
    db_->Close();
    delete db_;
  }
}

absl::Status Engine::MigrateLegacyDedupe(rocksdb::ColumnFamilyHandle* legacy) {
  // Copies first, drops after: a crash in between copies again on the next
  // open (the same puts), so no key of the window is ever missing.
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  rocksdb::WriteBatch batch;
  std::int64_t copied = 0, expired = 0, unreadable = 0;
  const std::int64_t now = Now();
  absl::Status status;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), legacy));
    for (it->SeekToFirst(); it->Valid() && status.ok(); it->Next()) {
      SeqKey seq;
      IdempotencyKey key;
      DedupeEntry entry;
      if (!ParseLegacyDedupeKey(View(it->key()), &seq, &key) || !DecodeDedupe(View(it->value()), &entry)) {
        ++unreadable;
      } else if (now - entry.timestamp_ms > options_.dedupe_window_ms) {
        ++expired;
      } else {
        batch.Put(dedupe_cf_, DedupeKey(seq, key), it->value());
        ++copied;
        if (batch.Count() >= kMigrationBatch) {
          status = FromRocks(db_->Write(write_options, &batch), "copying idempotency keys");
          batch.Clear();
        }
      }
    }
    if (status.ok()) status = FromRocks(it->status(), "reading the old idempotency keys");
  }
  if (status.ok() && batch.Count() > 0) status = FromRocks(db_->Write(write_options, &batch), "copying idempotency keys");
  if (status.ok()) status = FromRocks(db_->DropColumnFamily(legacy), "dropping the old idempotency keys");
  db_->DestroyColumnFamilyHandle(legacy);
  if (!status.ok()) return status;
  IM_LOG_INFO(log::Store(),
              "idempotency keys moved to the sender-major layout: copied={} expired={} unreadable={}", copied,
              expired, unreadable);
  return absl::OkStatus();
}

std::int64_t Engine::Now() const { return options_.now_ms(); }

void Engine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    retention_stop_ = true;
  }
  retention_cv_.notify_all();
  if (retention_.joinable()) retention_.join();
  if (writer_.joinable()) writer_.join();
}

std::int64_t Engine::queued_appends() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_appends_;
}

EngineStats Engine::stats() const {
  EngineStats s;
  s.appends = appends_.load();
  s.duplicates = duplicates_.load();
  s.commits = commits_.load();
  s.write_errors = write_errors_.load();
  s.trimmed = trimmed_.load();
  return s;
}

void Engine::AppendAsync(std::vector<AppendRequest> appends, AppendCallback done) {
  Pending pending;
  pending.results.resize(appends.size());
  std::int64_t valid = 0;
  for (std::size_t i = 0; i < appends.size(); ++i) {
    const AppendRequest& a = appends[i];
    if (absl::Status s = CheckSeq(a.seq); !s.ok()) {
      pending.results[i].status = s;
    } else if (static_cast<std::int64_t>(a.raw.size()) > options_.max_raw_bytes) {
      pending.results[i].status = absl::InvalidArgumentError(
          "raw is " + std::to_string(a.raw.size()) + " bytes, more than the maximum of " +
          std::to_string(options_.max_raw_bytes));
    } else {
      ++valid;
    }
  }
  if (valid == 0) {
    done(std::move(pending.results));
    return;
  }
  pending.appends = std::move(appends);
  pending.done = std::move(done);
  absl::Status rejected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      rejected = absl::UnavailableError("storage engine is stopping");
    } else if (queued_appends_ > 0 && queued_appends_ + valid > options_.max_queued_appends) {
      rejected = absl::ResourceExhaustedError("storage write queue is full (" +
                                              std::to_string(queued_appends_) + " appends waiting); retry later");
    } else {
      queued_appends_ += valid;
      queue_.push_back(std::move(pending));
    }
  }
  if (rejected.ok()) {
    cv_.notify_one();
    return;
  }
  for (auto& r : pending.results) {
    if (r.status.ok()) r.status = rejected;
  }
  pending.done(std::move(pending.results));
}

std::vector<AppendResult> Engine::AppendBatch(std::vector<AppendRequest> appends) {
  std::promise<std::vector<AppendResult>> promise;
  auto future = promise.get_future();
  AppendAsync(std::move(appends), [&promise](std::vector<AppendResult> results) {
    promise.set_value(std::move(results));
  });
  return future.get();
}

AppendResult Engine::Append(AppendRequest append) {
  std::vector<AppendRequest> one;
  one.push_back(std::move(append));
  return std::move(AppendBatch(std::move(one))[0]);
}

void Engine::WriterLoop() {
  pthread_setname_np(pthread_self(), "storage-writer");
  // No per-operation perf counters: each would cost a thread-local access per
  // key comparison in the memtable.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  std::vector<Pending> work;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto ready = [&] { return !queue_.empty() || stopping_; };
      if (options_.sync_policy == SyncPolicy::kInterval && unsynced_) {
        const auto wait_ms = std::max<std::int64_t>(0, last_sync_ms_ + options_.sync_interval_ms - Now());
        cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), ready);
      } else {
        cv_.wait(lock, ready);
      }
      if (queue_.empty() && stopping_) break;
      work.swap(queue_);
      queued_appends_ = 0;
    }
    if (!work.empty()) Commit(work);
    work.clear();
    if (unsynced_ && Now() - last_sync_ms_ >= options_.sync_interval_ms) SyncWal();
  }
  if (unsynced_) SyncWal();
}

void Engine::SyncWal() {
  rocksdb::Status s = db_->SyncWAL();
  if (!s.ok()) {
    IM_LOG_ERROR(log::Store(), "WAL sync failed: {}", s.ToString());
    write_errors_.fetch_add(1);
    needs_resume_ = true;
  } else {
    unsynced_ = false;
  }
  last_sync_ms_ = Now();
}

void Engine::FailAll(std::vector<Pending>& work, const absl::Status& status) {
  for (Pending& p : work) {
    if (p.done) {
      for (auto& r : p.results) {
        if (r.status.ok()) r = AppendResult{status};
      }
      p.done(std::move(p.results));
    }
    if (p.trims_done) p.trims_done(status);
  }
}

absl::StatusOr<SequenceHead> Engine::ReadHead(const SeqKey& seq, const rocksdb::Snapshot* snapshot) const {
  SequenceHead head;
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  // Newest: the last record of the sequence (retention never removes it).
  const std::string first = RecordKey(seq, 0);
  const std::string last = RecordKey(seq, INT64_MAX);
  rocksdb::Slice lower(first);
  read_options.iterate_lower_bound = &lower;
  read_options.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, records_cf_));
  it->SeekForPrev(last);
  if (!it->Valid()) {
    if (!it->status().ok()) return FromRocks(it->status(), "reading the newest record");
    return head;  // empty
  }
  SeqKey key_seq;
  StoredRecord newest;
  if (!ParseRecordKey(View(it->key()), &key_seq, &newest.offset) || !(key_seq == seq)) return head;
  auto ids = RecordIds(View(it->value()));
  if (!ids) return absl::DataLossError("newest record of sequence " + std::to_string(seq.id) + " is corrupt");
  head.newest_offset = newest.offset;
  head.newest_msgid = ids->first;
  // Oldest: the retention floor if retention ever trimmed, else 1.
  std::string value;
  rocksdb::Status s = db_->Get(read_options, meta_cf_, HeadKey(seq), &value);
  head.oldest_offset = 1;
  if (s.ok()) {
    if (!DecodeCounter(value, &head.oldest_offset)) {
      return absl::DataLossError("retention floor of sequence " + std::to_string(seq.id) + " is corrupt");
    }
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading a retention floor");
  }
  return head;
}

absl::StatusOr<SequenceHead*> Engine::LoadHead(const SeqKey& seq) {
  auto it = heads_.find(seq);
  if (it != heads_.end()) return &it->second;
  auto head = ReadHead(seq, nullptr);
  if (!head.ok()) return head.status();
  return &heads_.emplace(seq, *head).first->second;
}

absl::Status Engine::CheckFreeSpace() {
  if (options_.min_free_bytes <= 0) return absl::OkStatus();
  // Checked before every commit (one statvfs, about a microsecond), so that a
  // disk filled by someone else is seen before RocksDB writes into it.
  struct statvfs fs;
  if (::statvfs(options_.data_dir.c_str(), &fs) == 0) {
    const auto free_bytes = static_cast<std::int64_t>(fs.f_bavail) * static_cast<std::int64_t>(fs.f_frsize);
    const bool low = free_bytes < options_.min_free_bytes;
    if (low != space_low_) {
      if (low) {
        IM_LOG_ERROR(log::Store(), "disk nearly full: {} bytes free in {}, below the minimum of {}; refusing appends",
                     free_bytes, options_.data_dir, options_.min_free_bytes);
      } else {
        IM_LOG_INFO(log::Store(), "disk space is back: {} bytes free; accepting appends", free_bytes);
      }
    }
    space_low_ = low;
  }
  if (!space_low_) return absl::OkStatus();
  return absl::UnavailableError("storage disk is full (less than " + std::to_string(options_.min_free_bytes >> 20) +
                                " MiB free); retry later");
}

void Engine::Commit(std::vector<Pending>& work) {
  if (absl::Status s = CheckFreeSpace(); !s.ok()) {
    bool has_appends = false;
    for (const Pending& p : work) has_appends = has_appends || !p.appends.empty();
    if (has_appends) {
      // Trims only delete, so they may go ahead; appends wait for space.
      std::vector<Pending> appends, trims;
      for (Pending& p : work) (p.appends.empty() ? trims : appends).push_back(std::move(p));
      FailAll(appends, s);
      work.swap(trims);
      if (work.empty()) return;
    }
  }
  if (needs_resume_) {
    rocksdb::Status s = db_->Resume();
    if (!s.ok()) {
      FailAll(work, FromRocks(s, "storage is failing writes (resume after I/O error failed)"));
      return;
    }
    IM_LOG_INFO(log::Store(), "storage database resumed after a write error");
    needs_resume_ = false;
  }
  if (static_cast<std::int64_t>(heads_.size()) > options_.head_cache_entries) heads_.clear();

  const std::int64_t now = Now();
  rocksdb::WriteBatch batch;
  // Keys written in this batch: a second append with the same key answers
  // from here.
  std::unordered_map<std::string, AppendResult> batch_keys;
  std::int64_t next_msgid = last_msgid_;
  std::int64_t written = 0, duplicates = 0;
  std::string dedupe_value;
  // Puts are collected and written in key order: inserting sorted keys into
  // the memtable skiplist is several times cheaper than random ones.
  struct RecordPut {
    std::string key;
    std::string header;  // EncodeRecord() of the record without raw
    const std::string* raw;
  };
  std::vector<RecordPut> record_puts;
  std::vector<std::pair<std::string, std::string>> dedupe_puts;

  for (Pending& p : work) {
    for (std::size_t i = 0; i < p.appends.size(); ++i) {
      AppendResult& result = p.results[i];
      if (!result.status.ok()) continue;
      const AppendRequest& a = p.appends[i];
      std::string dedupe_key;
      if (a.idempotency_key) {
        dedupe_key = DedupeKey(a.seq, *a.idempotency_key);
        if (auto it = batch_keys.find(dedupe_key); it != batch_keys.end()) {
          result = it->second;
          result.duplicate = true;
          ++duplicates;
          continue;
        }
        rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), dedupe_cf_, dedupe_key, &dedupe_value);
        if (s.ok()) {
          DedupeEntry entry;
          if (DecodeDedupe(dedupe_value, &entry) && now - entry.timestamp_ms <= options_.dedupe_window_ms) {
            result.msgid = entry.msgid;
            result.offset = entry.offset;
            result.pre_msgid = entry.pre_msgid;
            result.duplicate = true;
            ++duplicates;
            continue;
          }
        } else if (!s.IsNotFound()) {
          result.status = FromRocks(s, "reading an idempotency key");
          continue;
        }
      }
      auto head = LoadHead(a.seq);
      if (!head.ok()) {
        result.status = head.status();
        continue;
      }
      if (next_msgid >= kMaxMsgid) {
        result.status = absl::ResourceExhaustedError("msgid space of this shard is exhausted (2^53)");
        continue;
      }
      SequenceHead& h = **head;
      StoredRecord record;
      record.msgid = ++next_msgid;
      record.pre_msgid = h.newest_msgid;
      record.offset = h.newest_offset + 1;
      record.sender_uid = a.sender_uid;
      record.device_id = a.device_id;
      record.cmd = a.cmd;
      record.timestamp_ms = now;
      record_puts.push_back({RecordKey(a.seq, record.offset), EncodeRecord(record), &a.raw});
      h.newest_msgid = record.msgid;
      h.newest_offset = record.offset;
      if (h.oldest_offset == 0) h.oldest_offset = record.offset;
      result.msgid = record.msgid;
      result.offset = record.offset;
      result.pre_msgid = record.pre_msgid;
      if (a.idempotency_key) {
        dedupe_puts.emplace_back(dedupe_key, EncodeDedupe({record.msgid, record.offset, record.pre_msgid, now}));
        batch_keys.emplace(std::move(dedupe_key), result);
      }
      ++written;
    }
    for (const Trim& trim : p.trims) ApplyTrim(trim, &batch);
  }
  std::sort(record_puts.begin(), record_puts.end(),
            [](const RecordPut& x, const RecordPut& y) { return x.key < y.key; });
  for (const RecordPut& put : record_puts) {
    // The value is the header followed by raw, without copying raw.
    const rocksdb::Slice key_part(put.key);
    const rocksdb::Slice value_parts[2] = {rocksdb::Slice(put.header), rocksdb::Slice(*put.raw)};
    batch.Put(records_cf_, rocksdb::SliceParts(&key_part, 1), rocksdb::SliceParts(value_parts, 2));
  }
  std::sort(dedupe_puts.begin(), dedupe_puts.end());
  for (const auto& [key, value] : dedupe_puts) batch.Put(dedupe_cf_, key, value);
  if (next_msgid != last_msgid_) batch.Put(meta_cf_, std::string(kMsgidCounterKey), EncodeCounter(next_msgid));

  if (batch.Count() > 0) {
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync_policy == SyncPolicy::kEveryBatch;
    const auto started = std::chrono::steady_clock::now();
    rocksdb::Status s = db_->Write(write_options, &batch);
    const EngineMetrics& m = options_.metrics;
    if (m.commit_seconds != nullptr) {
      m.commit_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    if (!s.ok()) {
      if (m.write_errors != nullptr) m.write_errors->Increment();
      // Nothing of the batch is applied; forget the in-memory heads (reloaded
      // from the database on next use) and keep the old msgid counter.
      IM_LOG_ERROR(log::Store(), "write of {} records failed: {}", written, s.ToString());
      write_errors_.fetch_add(1);
      heads_.clear();
      needs_resume_ = true;
      FailAll(work, FromRocks(s, "storage write failed"));
      return;
    }
    last_msgid_ = next_msgid;
    if (!write_options.sync) unsynced_ = true;
    commits_.fetch_add(1);
    if (m.commits != nullptr) m.commits->Increment();
    if (m.batch_appends != nullptr) m.batch_appends->Observe(static_cast<double>(written));
  }
  appends_.fetch_add(written);
  duplicates_.fetch_add(duplicates);
  if (options_.metrics.appends != nullptr) options_.metrics.appends->Increment(static_cast<double>(written));
  if (options_.metrics.duplicates != nullptr) {
    options_.metrics.duplicates->Increment(static_cast<double>(duplicates));
  }
  for (Pending& p : work) {
    if (p.done) p.done(std::move(p.results));
    if (p.trims_done) p.trims_done(absl::OkStatus());
  }
}

void Engine::ApplyTrim(const Trim& trim, rocksdb::WriteBatch* batch) {
  auto head = LoadHead(trim.seq);
  if (!head.ok()) return;
  SequenceHead& h = **head;
  // Never trim the newest record, and only forwards.
  const std::int64_t target = std::min(trim.new_oldest, h.newest_offset);
  if (h.oldest_offset == 0 || target <= h.oldest_offset) return;
  const std::int64_t count = target - h.oldest_offset;
  if (count <= kPointDeleteLimit) {
    for (std::int64_t off = h.oldest_offset; off < target; ++off) batch->Delete(records_cf_, RecordKey(trim.seq, off));
  } else {
    batch->DeleteRange(records_cf_, RecordRangeStart(trim.seq, h.oldest_offset), RecordKey(trim.seq, target));
  }
  h.oldest_offset = target;
  batch->Put(meta_cf_, HeadKey(trim.seq), EncodeCounter(target));
  trimmed_.fetch_add(count);
  if (options_.metrics.trimmed != nullptr) options_.metrics.trimmed->Increment(static_cast<double>(count));
}

absl::StatusOr<ReadResult> Engine::Read(const SeqKey& seq, std::int64_t after_offset, int limit) const {
  if (absl::Status s = CheckSeq(seq); !s.ok()) return s;
  if (limit <= 0 || limit > options_.max_read_limit) limit = options_.max_read_limit;
  ScopedSnapshot snapshot(db_);
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.get();

  ReadResult out;
  auto head_or = ReadHead(seq, snapshot.get());
  if (!head_or.ok()) return head_or.status();
  const SequenceHead& head = *head_or;
  if (head.newest_offset == 0) return out;
  out.info = {head.newest_msgid, head.newest_offset, head.oldest_offset};

  if (after_offset >= head.newest_offset) return out;  // also keeps after_offset + 1 from overflowing
  const std::int64_t start = std::max({after_offset + 1, head.oldest_offset, std::int64_t{1}});
  if (start > head.newest_offset) return out;
  const std::string upper = RecordKey(seq, head.newest_offset + 1);
  rocksdb::Slice upper_slice(upper);
  read_options.iterate_upper_bound = &upper_slice;
  read_options.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, records_cf_));
  std::int64_t bytes = 0;
  std::int64_t expect = start;
  for (it->Seek(RecordKey(seq, start)); it->Valid(); it->Next()) {
    if (static_cast<int>(out.records.size()) >= limit || (bytes >= options_.max_read_bytes && !out.records.empty())) {
      break;
    }
    SeqKey key_seq;
    std::int64_t offset = 0;
    StoredRecord record;
    if (!ParseRecordKey(View(it->key()), &key_seq, &offset) || !(key_seq == seq) ||
        !DecodeRecord(View(it->value()), offset, &record)) {
      return absl::DataLossError("corrupt record in sequence " + std::to_string(seq.id));
    }
    if (offset != expect) {
      return absl::DataLossError("sequence " + std::to_string(seq.id) + " misses offset " + std::to_string(expect));
    }
    ++expect;
    bytes += static_cast<std::int64_t>(record.raw.size());
    out.records.push_back(std::move(record));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading records");
  out.has_more = !out.records.empty() && out.records.back().offset < head.newest_offset;
  return out;
}

absl::StatusOr<std::vector<SequenceInfo>> Engine::GetInfo(const std::vector<SeqKey>& seqs) const {
  std::vector<SequenceInfo> out(seqs.size());
  if (seqs.empty()) return out;
  for (const SeqKey& seq : seqs) {
    if (absl::Status s = CheckSeq(seq); !s.ok()) return s;
  }
  ScopedSnapshot snapshot(db_);
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.get();
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    auto head = ReadHead(seqs[i], snapshot.get());
    if (!head.ok()) return head.status();
    out[i] = {head->newest_msgid, head->newest_offset, head->oldest_offset};
  }
  return out;
}

absl::StatusOr<std::int64_t> Engine::TrimTarget(const SeqKey& seq, const SequenceHead& head) const {
  std::int64_t target = head.oldest_offset;
  if (options_.retention_max_records > 0) {
    target = std::max(target, head.newest_offset - options_.retention_max_records + 1);
  }
  if (options_.retention_max_age_ms > 0 && target < head.newest_offset) {
    const std::int64_t cutoff = Now() - options_.retention_max_age_ms;
    const std::string upper = RecordKey(seq, head.newest_offset);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper_slice;
    read_options.prefix_same_as_start = true;
    read_options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, records_cf_));
    for (it->Seek(RecordKey(seq, target)); it->Valid(); it->Next()) {
      auto ts = RecordTimestamp(View(it->value()));
      SeqKey key_seq;
      std::int64_t offset = 0;
      if (!ts || !ParseRecordKey(View(it->key()), &key_seq, &offset)) break;
      if (*ts >= cutoff) break;
      target = offset + 1;
    }
    if (!it->status().ok()) return FromRocks(it->status(), "retention scan");
  }
  return std::min(target, head.newest_offset);
}

absl::Status Engine::Sweep() {
  constexpr std::size_t kTrimsPerCommit = 1000;
  std::vector<Trim> trims;
  auto flush = [&]() -> absl::Status {
    if (trims.empty()) return absl::OkStatus();
    std::promise<absl::Status> promise;
    auto future = promise.get_future();
    Pending pending;
    pending.trims = std::move(trims);
    trims.clear();
    pending.trims_done = [&promise](absl::Status s) { promise.set_value(std::move(s)); };
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return absl::UnavailableError("storage engine is stopping");
      queue_.push_back(std::move(pending));
    }
    cv_.notify_one();
    return future.get();
  };

  // Visit each sequence once: land on its first record, then jump past it.
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  read_options.total_order_seek = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, records_cf_));
  for (it->SeekToFirst(); it->Valid();) {
    SeqKey seq;
    std::int64_t offset = 0;
    if (!ParseRecordKey(View(it->key()), &seq, &offset)) break;
    auto head = ReadHead(seq, nullptr);
    if (!head.ok()) return head.status();
    if (head->newest_offset > 0) {
      auto target = TrimTarget(seq, *head);
      if (!target.ok()) return target.status();
      if (*target > head->oldest_offset) trims.push_back({seq, *target});
    }
    if (trims.size() >= kTrimsPerCommit) {
      if (absl::Status s = flush(); !s.ok()) return s;
    }
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      if (retention_stop_) return absl::OkStatus();
    }
    if (seq.id == INT64_MAX) {
      if (seq.kind == SeqKind::kGroup) break;
      it->Seek(RecordKey({SeqKind::kGroup, 0}, 0));  // ids are > 0
    } else {
      it->Seek(RecordKey({seq.kind, seq.id + 1}, 0));
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "retention scan");
  return flush();
}

absl::Status Engine::RunRetention() { return Sweep(); }

void Engine::RetentionLoop() {
  pthread_setname_np(pthread_self(), "storage-retain");
  while (true) {
    {
      std::unique_lock<std::mutex> lock(stop_mu_);
      retention_cv_.wait_for(lock, std::chrono::milliseconds(options_.retention_sweep_interval_ms),
                             [&] { return retention_stop_; });
      if (retention_stop_) return;
    }
    const std::int64_t before = trimmed_.load();
    if (absl::Status s = Sweep(); !s.ok()) {
      IM_LOG_WARN(log::Store(), "retention sweep failed: {}", s.message());
    } else if (trimmed_.load() != before) {
      log::Store().debug("retention removed {} records", trimmed_.load() - before);
    }
  }
}

}  // namespace im::storage
