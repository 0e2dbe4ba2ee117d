// Crash safety: writers append as fast as they can while storage_server is
// SIGKILLed at a random moment; after a restart every append that was
// answered OK is readable with its original (msgid, offset), offsets are
// continuous with no gap and no duplicate, retries of unanswered appends with
// their idempotency keys are consistent, and appends continue from there.
// One test per kill point (seeded), each a few seconds.
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <tuple>
#include <thread>

#include "tests/integration/storage/storage_process.h"

namespace im::storage::testing {
namespace {

constexpr int kWriters = 4;
const std::vector<rpc::SeqId>& Sequences() {
  static const auto* seqs = new std::vector<rpc::SeqId>{Seq(rpc::SEQ_PEER, 101), Seq(rpc::SEQ_PEER, 102),
                                                        Seq(rpc::SEQ_PEER, 103), Seq(rpc::SEQ_GROUP, 201)};
  return *seqs;
}

struct Acked {
  rpc::SeqId seq;
  std::string raw;
  int64_t msgid;
  int64_t offset;
};

std::string Name(const rpc::SeqId& s) { return std::to_string(s.kind()) + "/" + std::to_string(s.id()); }

// (seed of the kill point, sync policy). interval_ms answers once the WAL is
// written (fsync later): a killed process (not a lost machine) loses nothing.
class StorageCrashTest : public ::testing::TestWithParam<std::tuple<int, const char*>> {};

TEST_P(StorageCrashTest, AnsweredAppendsSurviveSigkill) {
  const int seed = std::get<0>(GetParam());
  std::mt19937 rng(static_cast<unsigned>(seed) * 7919u + 17u);
  StorageProcess server({"--storage.sync_policy", std::get<1>(GetParam())});
  ASSERT_TRUE(server.Start());

  std::mutex mu;
  std::vector<Acked> acked;
  std::vector<rpc::SaveBatchRequest> unanswered;  // batches in flight when the server died
  std::atomic<bool> stop{false};
  std::atomic<int64_t> answered_batches{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 wrng(static_cast<unsigned>(seed * 100 + w));
      int64_t counter = 0;
      while (!stop.load()) {
        rpc::SaveBatchRequest batch;
        const int n = 1 + static_cast<int>(wrng() % 16);
        for (int i = 0; i < n; ++i) {
          rpc::AppendRequest* a = batch.add_appends();
          *a->mutable_seq() = Sequences()[wrng() % Sequences().size()];
          a->set_sender_uid(1000 + w);
          a->set_device_id(w);
          a->set_raw("w" + std::to_string(w) + "#" + std::to_string(counter));
          a->mutable_idempotency_key()->set_sender_uid(1000 + w);
          a->mutable_idempotency_key()->set_device_id(w);
          a->mutable_idempotency_key()->set_client_msgid(counter++);
        }
        rpc::SaveBatchReply reply;
        grpc::ClientContext context;
        context.set_deadline(rpc::DeadlineAfter(3000));
        grpc::Status s = server.stub()->SaveBatch(&context, batch, &reply);
        std::lock_guard<std::mutex> lock(mu);
        if (!s.ok()) {
          unanswered.push_back(batch);
          return;  // the server is gone
        }
        answered_batches.fetch_add(1);
        for (int i = 0; i < n; ++i) {
          if (reply.results(i).status() != 0) {
            ADD_FAILURE() << "append failed while the server was up: " << reply.results(i).error();
            continue;
          }
          acked.push_back({batch.appends(i).seq(), batch.appends(i).raw(), reply.results(i).reply().msgid(),
                           reply.results(i).reply().offset()});
        }
      }
    });
  }

  // Kill at a random moment once appends flow.
  const int kill_after_ms = 100 + static_cast<int>(rng() % 700);
  for (int i = 0; i < 500 && answered_batches.load() < 10; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
  server.Kill();
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_GT(acked.size(), 0u);

  ASSERT_TRUE(server.Start());
  // Every sequence: continuous, linked; every answered append is there as answered.
  std::map<std::string, std::vector<rpc::HistoryMessage>> stored;
  std::set<int64_t> all_msgids;
  int64_t max_msgid = 0;
  size_t total = 0;
  for (const rpc::SeqId& seq : Sequences()) {
    auto& records = stored[Name(seq)];
    ASSERT_TRUE(ReadAll(server.stub(), seq, &records, 500));
    ASSERT_TRUE(Linked(records)) << Name(seq);
    for (const auto& r : records) {
      all_msgids.insert(r.msgid());
      max_msgid = std::max(max_msgid, r.msgid());
    }
    total += records.size();
  }
  EXPECT_EQ(all_msgids.size(), total) << "a msgid appears twice in the shard";
  for (const Acked& a : acked) {
    const auto& records = stored[Name(a.seq)];
    ASSERT_LE(a.offset, static_cast<int64_t>(records.size())) << "answered offset " << a.offset << " lost";
    const auto& r = records[a.offset - 1];
    EXPECT_EQ(r.msgid(), a.msgid) << Name(a.seq) << " offset " << a.offset;
    EXPECT_EQ(r.raw(), a.raw) << Name(a.seq) << " offset " << a.offset;
  }

  // Retrying the unanswered batches: each append is either a duplicate of a
  // record that is stored with the same raw, or a new record after the end.
  for (const rpc::SaveBatchRequest& batch : unanswered) {
    rpc::SaveBatchReply reply;
    grpc::ClientContext context;
    context.set_deadline(rpc::DeadlineAfter(5000));
    ASSERT_TRUE(server.stub()->SaveBatch(&context, batch, &reply).ok());
    for (int i = 0; i < batch.appends_size(); ++i) {
      ASSERT_EQ(reply.results(i).status(), 0) << reply.results(i).error();
      const rpc::SaveReply& r = reply.results(i).reply();
      const auto& records = stored[Name(batch.appends(i).seq())];
      if (r.duplicate()) {
        ASSERT_LE(r.offset(), static_cast<int64_t>(records.size()));
        EXPECT_EQ(records[r.offset() - 1].raw(), batch.appends(i).raw());
        EXPECT_EQ(records[r.offset() - 1].msgid(), r.msgid());
      } else {
        EXPECT_GT(r.offset(), static_cast<int64_t>(records.size()));
        EXPECT_GT(r.msgid(), max_msgid);
      }
    }
  }

  // Appends continue from the newest offset with larger msgids.
  for (const rpc::SeqId& seq : Sequences()) {
    std::vector<rpc::HistoryMessage> before;
    ASSERT_TRUE(ReadAll(server.stub(), seq, &before, 500));
    rpc::SaveBatchRequest batch;
    rpc::AppendRequest* a = batch.add_appends();
    *a->mutable_seq() = seq;
    a->set_raw("after restart");
    rpc::SaveBatchReply reply;
    grpc::ClientContext context;
    context.set_deadline(rpc::DeadlineAfter(5000));
    ASSERT_TRUE(server.stub()->SaveBatch(&context, batch, &reply).ok());
    ASSERT_EQ(reply.results(0).status(), 0);
    EXPECT_EQ(reply.results(0).reply().offset(), static_cast<int64_t>(before.size()) + 1);
    EXPECT_EQ(reply.results(0).reply().pre_msgid(), before.empty() ? 0 : before.back().msgid());
    EXPECT_GT(reply.results(0).reply().msgid(), max_msgid);
    std::vector<rpc::HistoryMessage> after;
    ASSERT_TRUE(ReadAll(server.stub(), seq, &after, 500));
    EXPECT_TRUE(Linked(after));
  }
  std::cout << "kill after " << kill_after_ms << " ms: " << acked.size() << " answered appends, " << total
            << " stored, " << unanswered.size() << " batches unanswered" << std::endl;
  EXPECT_EQ(server.Terminate(), 0);
}

INSTANTIATE_TEST_SUITE_P(KillPoints, StorageCrashTest,
                         ::testing::Values(std::make_tuple(1, "every_batch"), std::make_tuple(2, "every_batch"),
                                           std::make_tuple(3, "every_batch"), std::make_tuple(4, "every_batch"),
                                           std::make_tuple(5, "every_batch"), std::make_tuple(6, "interval_ms"),
                                           std::make_tuple(7, "interval_ms")));

}  // namespace
}  // namespace im::storage::testing
