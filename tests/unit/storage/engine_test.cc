// The storage engine on a real RocksDB in a temp dir: offsets, linkage,
// concurrency, idempotency, pagination, retention, restarts, bad input, the
// move of idempotency keys to their sender-major layout.
#include "storage_server/engine.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "tests/support/test_services.h"

namespace im::storage {
namespace {

constexpr SeqKey kAlice{SeqKind::kPeer, 1001};
constexpr SeqKey kBob{SeqKind::kPeer, 1002};
constexpr SeqKey kGroup{SeqKind::kGroup, 5001};

AppendRequest Make(const SeqKey& seq, std::string raw, std::optional<IdempotencyKey> key = std::nullopt) {
  AppendRequest a;
  a.seq = seq;
  a.sender_uid = 42;
  a.device_id = 7;
  a.cmd = 315;
  a.raw = std::move(raw);
  a.idempotency_key = key;
  return a;
}

class EngineTest : public ::testing::Test {
 protected:
  EngineOptions Options() {
    EngineOptions o;
    o.data_dir = dir_.path() + "/db";
    o.block_cache_mb = 8;
    o.write_buffer_mb = 4;
    o.retention_sweep_interval_ms = 0;
    o.now_ms = [this] { return now_ms_.load(); };
    return o;
  }
  void Open(EngineOptions o) {
    engine_.reset();
    auto e = Engine::Open(std::move(o));
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = std::move(*e);
  }
  void Open() { Open(Options()); }

  // Reads the whole retained sequence, page by page.
  std::vector<StoredRecord> ReadAll(const SeqKey& seq, int page = 100) {
    std::vector<StoredRecord> all;
    int64_t after = 0;
    while (true) {
      auto r = engine_->Read(seq, after, page);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || r->records.empty()) break;
      after = r->records.back().offset;
      for (auto& rec : r->records) all.push_back(std::move(rec));
      if (!r->has_more) break;
    }
    return all;
  }

  // Offsets 1..n (or from `first`), each pre_msgid the previous msgid,
  // msgids increasing.
  static void ExpectLinked(const std::vector<StoredRecord>& records, int64_t first = 1) {
    for (size_t i = 0; i < records.size(); ++i) {
      ASSERT_EQ(records[i].offset, first + static_cast<int64_t>(i));
      if (i > 0) {
        ASSERT_EQ(records[i].pre_msgid, records[i - 1].msgid) << "offset " << records[i].offset;
        ASSERT_GT(records[i].msgid, records[i - 1].msgid);
      }
    }
  }

  im::testing::TempDir dir_{"storage_engine"};
  std::atomic<int64_t> now_ms_{1'700'000'000'000};
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, AppendsGetContinuousOffsetsAndLinkedPreMsgids) {
  Open();
  AppendResult first = engine_->Append(Make(kAlice, "one"));
  ASSERT_TRUE(first.status.ok()) << first.status;
  EXPECT_EQ(first.offset, 1);
  EXPECT_EQ(first.pre_msgid, 0);
  EXPECT_GT(first.msgid, 0);
  AppendResult other = engine_->Append(Make(kBob, "x"));
  AppendResult second = engine_->Append(Make(kAlice, "two"));
  EXPECT_EQ(other.offset, 1);
  EXPECT_EQ(second.offset, 2);
  EXPECT_EQ(second.pre_msgid, first.msgid);
  EXPECT_GT(second.msgid, other.msgid);

  auto r = engine_->Read(kAlice, 0, 10);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->records.size(), 2u);
  EXPECT_EQ(r->records[0].raw, "one");
  EXPECT_EQ(r->records[0].sender_uid, 42);
  EXPECT_EQ(r->records[0].device_id, 7);
  EXPECT_EQ(r->records[0].cmd, 315);
  EXPECT_EQ(r->records[1].raw, "two");
  EXPECT_EQ(r->info.newest_offset, 2);
  EXPECT_EQ(r->info.newest_msgid, second.msgid);
  EXPECT_EQ(r->info.oldest_offset, 1);
  EXPECT_FALSE(r->has_more);
}

TEST_F(EngineTest, BatchAppendsToManySequencesInOneCommit) {
  Open();
  const int64_t commits_before = engine_->stats().commits;
  std::vector<AppendRequest> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Make(i % 2 ? kAlice : kGroup, "m" + std::to_string(i)));
  auto results = engine_->AppendBatch(std::move(batch));
  ASSERT_EQ(results.size(), 10u);
  EXPECT_EQ(engine_->stats().commits, commits_before + 1);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(results[i].status.ok());
    EXPECT_EQ(results[i].offset, i / 2 + 1);
    if (i >= 2) {
      EXPECT_EQ(results[i].pre_msgid, results[i - 2].msgid);
    }
  }
  ExpectLinked(ReadAll(kAlice));
  ExpectLinked(ReadAll(kGroup));
}

TEST_F(EngineTest, EightConcurrentWritersOnSharedAndOwnSequences) {
  Open();
  constexpr int kWriters = 8;
  constexpr int kPerWriter = 400;
  std::vector<std::vector<AppendResult>> shared_results(kWriters);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      const SeqKey own{SeqKind::kPeer, 2000 + w};
      for (int i = 0; i < kPerWriter; ++i) {
        if (i % 10 == 0) {  // some batches, some single appends
          std::vector<AppendRequest> batch;
          batch.push_back(Make(kGroup, "w" + std::to_string(w) + "-" + std::to_string(i)));
          batch.push_back(Make(own, std::to_string(i)));
          auto r = engine_->AppendBatch(std::move(batch));
          if (!r[0].status.ok() || !r[1].status.ok()) ++failures;
          shared_results[w].push_back(r[0]);
        } else {
          AppendResult a = engine_->Append(Make(kGroup, "w" + std::to_string(w) + "-" + std::to_string(i)));
          AppendResult b = engine_->Append(Make(own, std::to_string(i)));
          if (!a.status.ok() || !b.status.ok()) ++failures;
          shared_results[w].push_back(a);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  auto shared = ReadAll(kGroup, 333);
  ASSERT_EQ(shared.size(), static_cast<size_t>(kWriters * kPerWriter));
  ExpectLinked(shared);
  // Every answer matches what is stored at its offset, and each writer's
  // appends are in its own order.
  std::set<int64_t> msgids;
  for (int w = 0; w < kWriters; ++w) {
    int64_t last_offset = 0;
    for (int i = 0; i < kPerWriter; ++i) {
      const AppendResult& r = shared_results[w][i];
      const StoredRecord& stored = shared[r.offset - 1];
      EXPECT_EQ(stored.msgid, r.msgid);
      EXPECT_EQ(stored.pre_msgid, r.pre_msgid);
      EXPECT_EQ(stored.raw, "w" + std::to_string(w) + "-" + std::to_string(i));
      EXPECT_GT(r.offset, last_offset);
      last_offset = r.offset;
      msgids.insert(r.msgid);
    }
  }
  EXPECT_EQ(msgids.size(), static_cast<size_t>(kWriters * kPerWriter));
  for (int w = 0; w < kWriters; ++w) {
    auto own = ReadAll({SeqKind::kPeer, 2000 + w});
    ASSERT_EQ(own.size(), static_cast<size_t>(kPerWriter));
    ExpectLinked(own);
    for (int i = 0; i < kPerWriter; ++i) EXPECT_EQ(own[i].raw, std::to_string(i));
  }
  // Writers were grouped: far fewer commits than appends.
  EXPECT_LT(engine_->stats().commits, engine_->stats().appends);
}

TEST_F(EngineTest, IdempotentRetryReturnsTheOriginalAndWritesNothing) {
  Open();
  const IdempotencyKey key{42, 7, 9001};
  AppendResult receiver = engine_->Append(Make(kBob, "hi", key));
  AppendResult sender_copy = engine_->Append(Make(kAlice, "hi", key));  // same key, other sequence
  ASSERT_TRUE(receiver.status.ok());
  ASSERT_TRUE(sender_copy.status.ok());
  EXPECT_FALSE(receiver.duplicate);
  EXPECT_FALSE(sender_copy.duplicate);
  EXPECT_EQ(sender_copy.offset, 1);
  engine_->Append(Make(kBob, "later"));

  AppendResult retry = engine_->Append(Make(kBob, "hi", key));
  ASSERT_TRUE(retry.status.ok());
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.msgid, receiver.msgid);
  EXPECT_EQ(retry.offset, receiver.offset);
  EXPECT_EQ(retry.pre_msgid, receiver.pre_msgid);
  EXPECT_EQ(ReadAll(kBob).size(), 2u);

  // Two appends with one key in the same batch: one record.
  std::vector<AppendRequest> batch;
  batch.push_back(Make(kGroup, "g", IdempotencyKey{42, 7, 1}));
  batch.push_back(Make(kGroup, "g", IdempotencyKey{42, 7, 1}));
  auto results = engine_->AppendBatch(std::move(batch));
  EXPECT_FALSE(results[0].duplicate);
  EXPECT_TRUE(results[1].duplicate);
  EXPECT_EQ(results[0].msgid, results[1].msgid);
  EXPECT_EQ(ReadAll(kGroup).size(), 1u);

  // After a restart, still a duplicate.
  Open();
  AppendResult after_restart = engine_->Append(Make(kBob, "hi", key));
  EXPECT_TRUE(after_restart.duplicate);
  EXPECT_EQ(after_restart.msgid, receiver.msgid);
  EXPECT_EQ(after_restart.offset, receiver.offset);

  // Past the window the key is forgotten: a new record.
  now_ms_ += Options().dedupe_window_ms + 1;
  AppendResult expired = engine_->Append(Make(kBob, "hi", key));
  EXPECT_FALSE(expired.duplicate);
  EXPECT_EQ(expired.offset, 3);
}

// The idempotency-key layout before the sender-major one: sequence first.
std::string LegacyDedupeKey(const SeqKey& seq, const IdempotencyKey& k) {
  std::string key(1, static_cast<char>(seq.kind));
  for (int64_t v : {seq.id, k.sender_uid, k.device_id, k.client_msgid}) {
    for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>((v >> shift) & 0xff));
  }
  return key;
}

TEST_F(EngineTest, IdempotencyKeysOfAnOldDatabaseAreMovedAndStillHonoured) {
  Open();
  const IdempotencyKey key{42, 7, 9001}, stale_key{42, 7, 1};
  const AppendResult original = engine_->Append(Make(kBob, "hi", key));
  ASSERT_TRUE(original.status.ok());
  engine_.reset();

  // Turn the database into one of the old layout: its idempotency key moves
  // to a `dedupe` column family under the old key, next to a key past the
  // window and a key of the wrong size.
  {
    rocksdb::DBOptions db_options;
    db_options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"records", {}}, {"idempotency", {}}, {"dedupe", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> cf;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(db_options, Options().data_dir, families, &cf, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string entry;
    ASSERT_TRUE(db->Get({}, cf[2], DedupeKey(kBob, key), &entry).ok());
    ASSERT_TRUE(db->Delete({}, cf[2], DedupeKey(kBob, key)).ok());
    ASSERT_TRUE(db->Put({}, cf[3], LegacyDedupeKey(kBob, key), entry).ok());
    const std::string stale = EncodeDedupe({99, 99, 98, now_ms_ - Options().dedupe_window_ms - 1});
    ASSERT_TRUE(db->Put({}, cf[3], LegacyDedupeKey(kBob, stale_key), stale).ok());
    ASSERT_TRUE(db->Put({}, cf[3], "short", entry).ok());
    for (auto* handle : cf) ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    ASSERT_TRUE(db->Close().ok());
  }

  Open();
  AppendResult retry = engine_->Append(Make(kBob, "hi", key));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.msgid, original.msgid);
  EXPECT_EQ(retry.offset, original.offset);
  AppendResult after_stale = engine_->Append(Make(kBob, "old", stale_key));
  EXPECT_FALSE(after_stale.duplicate);
  EXPECT_EQ(after_stale.offset, 2);
  engine_.reset();

  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, Options().data_dir, &names).ok());
  EXPECT_EQ(std::count(names.begin(), names.end(), "dedupe"), 0);
  Open();
  EXPECT_TRUE(engine_->Append(Make(kBob, "hi", key)).duplicate);
  EXPECT_EQ(ReadAll(kBob).size(), 2u);
}

TEST_F(EngineTest, RestartContinuesOffsetsAndMsgids) {
  Open();
  AppendResult last;
  for (int i = 0; i < 5; ++i) last = engine_->Append(Make(kAlice, "r"));
  Open();
  AppendResult next = engine_->Append(Make(kAlice, "after"));
  EXPECT_EQ(next.offset, 6);
  EXPECT_EQ(next.pre_msgid, last.msgid);
  EXPECT_GT(next.msgid, last.msgid);
  AppendResult other = engine_->Append(Make(kBob, "b"));
  EXPECT_GT(other.msgid, next.msgid);
  ExpectLinked(ReadAll(kAlice));
}

TEST_F(EngineTest, PaginationWalksTheSequenceInOrder) {
  Open();
  for (int i = 1; i <= 25; ++i) engine_->Append(Make(kAlice, std::to_string(i)));
  auto page1 = engine_->Read(kAlice, 0, 10);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->records.size(), 10u);
  EXPECT_TRUE(page1->has_more);
  EXPECT_EQ(page1->records.front().offset, 1);
  auto page3 = engine_->Read(kAlice, 20, 10);
  ASSERT_EQ(page3->records.size(), 5u);
  EXPECT_FALSE(page3->has_more);
  EXPECT_EQ(page3->records.front().raw, "21");
  EXPECT_EQ(page3->info.newest_offset, 25);
  auto past_end = engine_->Read(kAlice, 25, 10);
  EXPECT_TRUE(past_end->records.empty());
  EXPECT_EQ(past_end->info.newest_offset, 25);
  auto far_past = engine_->Read(kAlice, 1000, 10);
  EXPECT_TRUE(far_past->records.empty());
  auto max_after = engine_->Read(kAlice, INT64_MAX, 10);
  EXPECT_TRUE(max_after->records.empty());
  EXPECT_EQ(max_after->info.newest_offset, 25);
  auto all = ReadAll(kAlice, 7);
  ASSERT_EQ(all.size(), 25u);
  ExpectLinked(all);
}

TEST_F(EngineTest, LimitIsClampedAndUnknownSequencesAreEmpty) {
  EngineOptions o = Options();
  o.max_read_limit = 8;
  Open(o);
  for (int i = 0; i < 20; ++i) engine_->Append(Make(kAlice, "x"));
  EXPECT_EQ(engine_->Read(kAlice, 0, 0)->records.size(), 8u);
  EXPECT_EQ(engine_->Read(kAlice, 0, -5)->records.size(), 8u);
  EXPECT_EQ(engine_->Read(kAlice, 0, 1 << 30)->records.size(), 8u);
  EXPECT_EQ(engine_->Read(kAlice, -100, 3)->records.front().offset, 1);
  auto unknown = engine_->Read({SeqKind::kPeer, 999999}, 0, 10);
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->records.empty());
  EXPECT_EQ(unknown->info.newest_offset, 0);
  EXPECT_EQ(unknown->info.oldest_offset, 0);
  EXPECT_FALSE(unknown->has_more);
}

TEST_F(EngineTest, ReadStopsAtTheByteBudget) {
  EngineOptions o = Options();
  o.max_read_bytes = 2500;
  Open(o);
  for (int i = 0; i < 10; ++i) engine_->Append(Make(kAlice, std::string(1000, 'a')));
  auto r = engine_->Read(kAlice, 0, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records.size(), 3u);
  EXPECT_TRUE(r->has_more);
}

TEST_F(EngineTest, BadInputIsRejectedWithoutWriting) {
  EngineOptions o = Options();
  o.max_raw_bytes = 100;
  Open(o);
  std::vector<AppendRequest> batch;
  batch.push_back(Make(kAlice, std::string(101, 'x')));
  batch.push_back(Make({SeqKind::kPeer, 0}, "zero id"));
  batch.push_back(Make({SeqKind::kPeer, -5}, "negative id"));
  batch.push_back(Make({static_cast<SeqKind>(9), 5}, "bad kind"));
  batch.push_back(Make(kAlice, std::string(100, 'y')));
  auto r = engine_->AppendBatch(std::move(batch));
  EXPECT_EQ(r[0].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r[0].status.message().find("more than the maximum"), absl::string_view::npos);
  EXPECT_EQ(r[1].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r[2].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r[3].status.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(r[4].status.ok());
  EXPECT_EQ(r[4].offset, 1);  // the rejected ones took no offset
  EXPECT_EQ(engine_->Read({SeqKind::kPeer, 0}, 0, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->AppendBatch({}).size(), 0u);
}

TEST_F(EngineTest, RetentionByRecordCountKeepsTheNewestAndReportsOldest) {
  EngineOptions o = Options();
  o.retention_max_records = 5;
  Open(o);
  AppendResult last;
  for (int i = 1; i <= 20; ++i) last = engine_->Append(Make(kAlice, std::to_string(i)));
  engine_->Append(Make(kBob, "only one"));
  ASSERT_TRUE(engine_->RunRetention().ok());
  auto r = engine_->Read(kAlice, 0, 100);  // from before the retained range
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->info.oldest_offset, 16);
  ASSERT_EQ(r->records.size(), 5u);
  EXPECT_EQ(r->records.front().offset, 16);
  EXPECT_EQ(r->records.front().raw, "16");
  ExpectLinked(r->records, 16);
  EXPECT_EQ(engine_->stats().trimmed, 15);
  EXPECT_EQ(ReadAll(kBob).size(), 1u);
  // Appends continue after the newest offset; info agrees.
  AppendResult next = engine_->Append(Make(kAlice, "21"));
  EXPECT_EQ(next.offset, 21);
  EXPECT_EQ(next.pre_msgid, last.msgid);
  auto info = engine_->GetInfo({kAlice, kBob, {SeqKind::kGroup, 77}});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ((*info)[0].newest_offset, 21);
  EXPECT_EQ((*info)[0].newest_msgid, next.msgid);
  EXPECT_EQ((*info)[0].oldest_offset, 16);
  EXPECT_EQ((*info)[1].newest_offset, 1);
  EXPECT_EQ((*info)[2].newest_offset, 0);
  // The trim survives a restart.
  Open(o);
  EXPECT_EQ(engine_->Read(kAlice, 0, 100)->info.oldest_offset, 16);
}

TEST_F(EngineTest, RetentionByAgeNeverRemovesTheNewestRecord) {
  EngineOptions o = Options();
  o.retention_max_age_ms = 60'000;
  Open(o);
  for (int i = 0; i < 400; ++i) engine_->Append(Make(kAlice, "old"));  // > point-delete limit
  engine_->Append(Make(kBob, "old"));
  now_ms_ += 50'000;
  for (int i = 0; i < 3; ++i) engine_->Append(Make(kAlice, "new"));
  now_ms_ += 20'000;  // the first 400 are now 70 s old, the 3 new ones 20 s
  ASSERT_TRUE(engine_->RunRetention().ok());
  auto alice = engine_->Read(kAlice, 0, 100);
  EXPECT_EQ(alice->info.oldest_offset, 401);
  ASSERT_EQ(alice->records.size(), 3u);
  EXPECT_EQ(alice->records[0].raw, "new");
  auto bob = engine_->Read(kBob, 0, 100);  // expired, but the newest record stays
  EXPECT_EQ(bob->info.oldest_offset, 1);
  EXPECT_EQ(bob->records.size(), 1u);
  // Appends after a range trim go on from the newest record.
  for (int i = 0; i < 3; ++i) engine_->Append(Make(kAlice, "newer"));
  const auto all = ReadAll(kAlice);
  ASSERT_EQ(all.size(), 6u);
  ExpectLinked(all, 401);
}

TEST_F(EngineTest, BackgroundRetentionRunsWithoutBlockingAppends) {
  EngineOptions o = Options();
  o.retention_max_records = 3;
  o.retention_sweep_interval_ms = 20;
  Open(o);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(engine_->Append(Make(kAlice, "x")).status.ok());
  int64_t oldest = 0;
  for (int i = 0; i < 500 && oldest != 48; ++i) {
    oldest = engine_->Read(kAlice, 0, 10)->info.oldest_offset;
    if (oldest != 48) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(oldest, 48);
}

TEST_F(EngineTest, IntervalSyncPolicyStoresAndSurvivesReopen) {
  EngineOptions o = Options();
  o.sync_policy = SyncPolicy::kInterval;
  o.sync_interval_ms = 5;
  Open(o);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(engine_->Append(Make(kGroup, "i")).status.ok());
  Open(o);
  EXPECT_EQ(ReadAll(kGroup).size(), 10u);
}

TEST_F(EngineTest, AFullQueueRefusesWithResourceExhausted) {
  EngineOptions o = Options();
  o.max_queued_appends = 5;
  Open(o);
  // Hold the writer inside a completion callback so that appends queue up.
  std::promise<void> in_callback, release;
  auto release_future = release.get_future();
  std::vector<AppendRequest> first;
  first.push_back(Make(kAlice, "first"));
  engine_->AppendAsync(std::move(first), [&](std::vector<AppendResult>) {
    in_callback.set_value();
    release_future.wait();
  });
  in_callback.get_future().wait();

  std::atomic<int> ok{0};
  std::promise<void> all_done;
  std::atomic<int> pending{5};
  for (int i = 0; i < 5; ++i) {
    std::vector<AppendRequest> one;
    one.push_back(Make(kAlice, "queued"));
    engine_->AppendAsync(std::move(one), [&](std::vector<AppendResult> r) {
      if (r[0].status.ok()) ++ok;
      if (--pending == 0) all_done.set_value();
    });
  }
  EXPECT_EQ(engine_->queued_appends(), 5);
  std::vector<AppendRequest> extra;
  extra.push_back(Make(kAlice, "one too many"));
  absl::Status refused;
  engine_->AppendAsync(std::move(extra), [&](std::vector<AppendResult> r) { refused = r[0].status; });
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);  // answered at once, on this thread

  release.set_value();
  all_done.get_future().wait();
  EXPECT_EQ(ok.load(), 5);
  auto all = ReadAll(kAlice);
  EXPECT_EQ(all.size(), 6u);
  ExpectLinked(all);
}

TEST_F(EngineTest, AppendsAfterStopAreUnavailable) {
  Open();
  engine_->Stop();
  EXPECT_EQ(engine_->Append(Make(kAlice, "late")).status.code(), absl::StatusCode::kUnavailable);
}

TEST_F(EngineTest, SecondOpenOfTheSameDirectoryFails) {
  Open();
  auto second = Engine::Open(Options());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace im::storage
