// storage_server as a real process over gRPC: concurrent writers, idempotent
// retries across a restart, pagination, retention, shard ownership, bad input.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "tests/integration/storage/storage_process.h"

namespace im::storage::testing {
namespace {

rpc::SavePeerMessageRequest Peer(int64_t uid, const std::string& raw) {
  rpc::SavePeerMessageRequest r;
  r.set_uid(uid);
  r.set_sender_uid(11);
  r.set_device_id(3);
  r.set_cmd(315);
  r.set_raw(raw);
  return r;
}

grpc::Status Save(rpc::StorageService::Stub* stub, const rpc::SavePeerMessageRequest& request,
                  rpc::SaveReply* reply) {
  grpc::ClientContext context;
  context.set_deadline(rpc::DeadlineAfter(5000));
  return stub->SavePeerMessage(&context, request, reply);
}

grpc::Status SaveGroup(rpc::StorageService::Stub* stub, int64_t gid, const std::string& raw,
                       rpc::SaveReply* reply) {
  rpc::SaveGroupMessageRequest request;
  request.set_gid(gid);
  request.set_sender_uid(11);
  request.set_raw(raw);
  grpc::ClientContext context;
  context.set_deadline(rpc::DeadlineAfter(5000));
  return stub->SaveGroupMessage(&context, request, reply);
}

grpc::Status Sync(rpc::StorageService::Stub* stub, int64_t uid, int64_t after, int limit,
                  rpc::SyncMessagesReply* reply) {
  rpc::SyncMessagesRequest request;
  request.set_id(uid);
  request.set_after_offset(after);
  request.set_limit(limit);
  grpc::ClientContext context;
  context.set_deadline(rpc::DeadlineAfter(5000));
  return stub->SyncPeerMessages(&context, request, reply);
}

TEST(StorageServerTest, EightConcurrentWritersKeepOffsetsContinuousAndLinked) {
  StorageProcess server;
  ASSERT_TRUE(server.Start());
  constexpr int kWriters = 8;
  constexpr int kPerWriter = 150;
  constexpr int64_t kSharedUid = 500;
  std::atomic<int> failures{0};
  std::vector<std::vector<std::pair<int64_t, int64_t>>> acked(kWriters);  // (offset, msgid) in the shared seq
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        rpc::SaveReply shared, own;
        if (!Save(server.stub(), Peer(kSharedUid, std::to_string(w) + ":" + std::to_string(i)), &shared).ok() ||
            !SaveGroup(server.stub(), 9000 + w, std::to_string(i), &own).ok()) {
          ++failures;
          continue;
        }
        acked[w].emplace_back(shared.offset(), shared.msgid());
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  std::vector<rpc::HistoryMessage> shared;
  ASSERT_TRUE(ReadAll(server.stub(), Seq(rpc::SEQ_PEER, kSharedUid), &shared, 64));
  ASSERT_EQ(shared.size(), static_cast<size_t>(kWriters * kPerWriter));
  EXPECT_TRUE(Linked(shared));
  for (int w = 0; w < kWriters; ++w) {
    for (size_t i = 0; i < acked[w].size(); ++i) {
      const auto& m = shared[acked[w][i].first - 1];
      EXPECT_EQ(m.msgid(), acked[w][i].second);
      EXPECT_EQ(m.raw(), std::to_string(w) + ":" + std::to_string(i));
      EXPECT_EQ(m.senderuid(), 11);
      EXPECT_EQ(m.deviceid(), 3);
      EXPECT_EQ(m.cmd(), 315);
    }
    std::vector<rpc::HistoryMessage> own;
    ASSERT_TRUE(ReadAll(server.stub(), Seq(rpc::SEQ_GROUP, 9000 + w), &own));
    EXPECT_EQ(own.size(), static_cast<size_t>(kPerWriter));
    EXPECT_TRUE(Linked(own));
  }
  EXPECT_EQ(server.Terminate(), 0) << server.Log();
}

TEST(StorageServerTest, IdempotentRetryReturnsTheOriginalEvenAfterRestart) {
  StorageProcess server;
  ASSERT_TRUE(server.Start());
  rpc::SavePeerMessageRequest receiver = Peer(20, "hello");
  receiver.mutable_idempotency_key()->set_sender_uid(11);
  receiver.mutable_idempotency_key()->set_device_id(3);
  receiver.mutable_idempotency_key()->set_client_msgid(77);
  rpc::SavePeerMessageRequest sender_copy = receiver;
  sender_copy.set_uid(11);

  rpc::SaveReply first, copy, retry;
  ASSERT_TRUE(Save(server.stub(), receiver, &first).ok());
  ASSERT_TRUE(Save(server.stub(), sender_copy, &copy).ok());
  EXPECT_FALSE(first.duplicate());
  EXPECT_FALSE(copy.duplicate());  // the same key on another sequence is its own record
  ASSERT_TRUE(Save(server.stub(), receiver, &retry).ok());
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.msgid(), first.msgid());
  EXPECT_EQ(retry.offset(), first.offset());
  EXPECT_EQ(retry.pre_msgid(), first.pre_msgid());

  // The same retry through SaveBatch, after a restart.
  EXPECT_EQ(server.Terminate(), 0);
  ASSERT_TRUE(server.Start());
  rpc::SaveBatchRequest batch;
  rpc::AppendRequest* a = batch.add_appends();
  *a->mutable_seq() = Seq(rpc::SEQ_PEER, 20);
  a->set_raw("hello");
  *a->mutable_idempotency_key() = receiver.idempotency_key();
  rpc::AppendRequest* b = batch.add_appends();
  *b->mutable_seq() = Seq(rpc::SEQ_PEER, 20);
  b->set_raw("new");
  rpc::SaveBatchReply reply;
  grpc::ClientContext context;
  context.set_deadline(rpc::DeadlineAfter(5000));
  ASSERT_TRUE(server.stub()->SaveBatch(&context, batch, &reply).ok());
  ASSERT_EQ(reply.results_size(), 2);
  EXPECT_EQ(reply.results(0).status(), 0);
  EXPECT_TRUE(reply.results(0).reply().duplicate());
  EXPECT_EQ(reply.results(0).reply().msgid(), first.msgid());
  EXPECT_EQ(reply.results(1).reply().offset(), 2);
  EXPECT_EQ(reply.results(1).reply().pre_msgid(), first.msgid());
  std::vector<rpc::HistoryMessage> all;
  ASSERT_TRUE(ReadAll(server.stub(), Seq(rpc::SEQ_PEER, 20), &all));
  EXPECT_EQ(all.size(), 2u);
}

TEST(StorageServerTest, PaginationAndSequenceInfo) {
  StorageProcess server;
  ASSERT_TRUE(server.Start());
  rpc::SaveReply last;
  for (int i = 1; i <= 30; ++i) ASSERT_TRUE(Save(server.stub(), Peer(30, std::to_string(i)), &last).ok());
  rpc::SyncMessagesReply page;
  ASSERT_TRUE(Sync(server.stub(), 30, 10, 7, &page).ok());
  ASSERT_EQ(page.messages_size(), 7);
  EXPECT_EQ(page.messages(0).offset(), 11);
  EXPECT_EQ(page.messages(0).raw(), "11");
  EXPECT_EQ(page.lastmsgid(), page.messages(6).msgid());
  EXPECT_TRUE(page.has_more());
  EXPECT_EQ(page.newest_offset(), 30);
  EXPECT_EQ(page.newest_msgid(), last.msgid());
  EXPECT_EQ(page.oldest_offset(), 1);

  rpc::SyncMessagesReply tail;
  ASSERT_TRUE(Sync(server.stub(), 30, 28, 7, &tail).ok());
  EXPECT_EQ(tail.messages_size(), 2);
  EXPECT_FALSE(tail.has_more());

  rpc::SyncMessagesReply unknown;  // never written: empty, offset 0
  ASSERT_TRUE(Sync(server.stub(), 31, 0, 10, &unknown).ok());
  EXPECT_EQ(unknown.messages_size(), 0);
  EXPECT_EQ(unknown.newest_offset(), 0);
  EXPECT_EQ(unknown.lastmsgid(), 0);

  rpc::SyncMessagesReply clamped;  // limit 0: the server's cap (1000)
  ASSERT_TRUE(Sync(server.stub(), 30, 0, 0, &clamped).ok());
  EXPECT_EQ(clamped.messages_size(), 30);

  rpc::GetSequenceInfoRequest info_request;
  *info_request.add_seqs() = Seq(rpc::SEQ_PEER, 30);
  *info_request.add_seqs() = Seq(rpc::SEQ_GROUP, 30);
  rpc::GetSequenceInfoReply info;
  grpc::ClientContext context;
  context.set_deadline(rpc::DeadlineAfter(5000));
  ASSERT_TRUE(server.stub()->GetSequenceInfo(&context, info_request, &info).ok());
  ASSERT_EQ(info.infos_size(), 2);
  EXPECT_EQ(info.infos(0).seq().id(), 30);
  EXPECT_EQ(info.infos(0).newest_offset(), 30);
  EXPECT_EQ(info.infos(0).newest_msgid(), last.msgid());
  EXPECT_EQ(info.infos(0).oldest_offset(), 1);
  EXPECT_EQ(info.infos(1).seq().kind(), rpc::SEQ_GROUP);
  EXPECT_EQ(info.infos(1).newest_offset(), 0);
}

TEST(StorageServerTest, RetentionTrimsInTheBackgroundAndReportsTheOldestOffset) {
  StorageProcess server({"--retention.max_records", "5", "--retention.sweep_interval_ms", "50"});
  ASSERT_TRUE(server.Start());
  for (int i = 1; i <= 20; ++i) {
    rpc::SaveReply reply;
    ASSERT_TRUE(Save(server.stub(), Peer(40, std::to_string(i)), &reply).ok());
  }
  rpc::SyncMessagesReply reply;
  for (int i = 0; i < 300; ++i) {
    reply.Clear();
    ASSERT_TRUE(Sync(server.stub(), 40, 0, 100, &reply).ok());
    if (reply.oldest_offset() == 16) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(reply.oldest_offset(), 16);
  ASSERT_EQ(reply.messages_size(), 5);
  EXPECT_EQ(reply.messages(0).offset(), 16);
  EXPECT_EQ(reply.messages(0).raw(), "16");
  rpc::SaveReply next;
  ASSERT_TRUE(Save(server.stub(), Peer(40, "21"), &next).ok());
  EXPECT_EQ(next.offset(), 21);
}

TEST(StorageServerTest, RequestsForAnotherShardAreRejected) {
  StorageProcess server({"--shard.count", "2", "--shard.id", "0"});
  ASSERT_TRUE(server.Start());
  rpc::SaveReply reply;
  grpc::Status s = Save(server.stub(), Peer(3, "odd"), &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("does not own uid 3"), std::string::npos) << s.error_message();
  EXPECT_TRUE(Save(server.stub(), Peer(4, "even"), &reply).ok());
  EXPECT_EQ(SaveGroup(server.stub(), 7, "g", &reply).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  rpc::SyncMessagesReply sync;
  EXPECT_EQ(Sync(server.stub(), 5, 0, 10, &sync).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  rpc::SaveBatchRequest batch;  // per-append verdicts
  *batch.add_appends()->mutable_seq() = Seq(rpc::SEQ_PEER, 9);
  *batch.add_appends()->mutable_seq() = Seq(rpc::SEQ_PEER, 10);
  rpc::SaveBatchReply batch_reply;
  {
    grpc::ClientContext context;
    context.set_deadline(rpc::DeadlineAfter(5000));
    ASSERT_TRUE(server.stub()->SaveBatch(&context, batch, &batch_reply).ok());
  }
  EXPECT_EQ(batch_reply.results(0).status(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(batch_reply.results(0).error().find("shard 1 does"), std::string::npos);
  EXPECT_EQ(batch_reply.results(1).status(), 0);
  EXPECT_EQ(batch_reply.results(1).reply().offset(), 1);

  rpc::GetSequenceInfoRequest info_request;
  *info_request.add_seqs() = Seq(rpc::SEQ_PEER, 4);
  *info_request.add_seqs() = Seq(rpc::SEQ_PEER, 5);
  rpc::GetSequenceInfoReply info;
  grpc::ClientContext context;
  context.set_deadline(rpc::DeadlineAfter(5000));
  EXPECT_EQ(server.stub()->GetSequenceInfo(&context, info_request, &info).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST(StorageServerTest, BadInputGetsClearErrorsAndTheServerStaysUp) {
  StorageProcess server({"--storage.max_raw_bytes", "1000", "--server.max_batch_appends", "3"});
  ASSERT_TRUE(server.Start());
  rpc::SaveReply reply;
  grpc::Status s = Save(server.stub(), Peer(50, std::string(1001, 'x')), &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("more than the maximum of 1000"), std::string::npos) << s.error_message();
  EXPECT_EQ(Save(server.stub(), Peer(0, "x"), &reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Save(server.stub(), Peer(-1, "x"), &reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  rpc::SyncMessagesReply sync;
  EXPECT_EQ(Sync(server.stub(), 0, 0, 10, &sync).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  rpc::SaveBatchRequest too_big;
  for (int i = 0; i < 4; ++i) *too_big.add_appends()->mutable_seq() = Seq(rpc::SEQ_PEER, 50);
  rpc::SaveBatchReply batch_reply;
  {
    grpc::ClientContext context;
    context.set_deadline(rpc::DeadlineAfter(5000));
    grpc::Status bs = server.stub()->SaveBatch(&context, too_big, &batch_reply);
    EXPECT_EQ(bs.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(bs.error_message().find("server.max_batch_appends"), std::string::npos) << bs.error_message();
  }
  ASSERT_TRUE(Save(server.stub(), Peer(50, std::string(1000, 'x')), &reply).ok());
  EXPECT_EQ(reply.offset(), 1);
  EXPECT_EQ(server.Terminate(), 0);
}

TEST(StorageServerTest, BadConfigExitsTwoNamingTheKey) {
  std::string out;
  EXPECT_EQ(im::testing::RunCommand({STORAGE_SERVER, "--storage.sync_policy", "sometimes"}, &out), 2);
  EXPECT_NE(out.find("storage.sync_policy"), std::string::npos) << out;
  EXPECT_EQ(im::testing::RunCommand({STORAGE_SERVER, "--shard.count", "2", "--shard.id", "2"}, &out), 2);
  EXPECT_NE(out.find("shard.id"), std::string::npos) << out;
}

TEST(StorageServerTest, SigtermAnswersAppendsInFlightAndLosesNoneAnswered) {
  StorageProcess server;
  ASSERT_TRUE(server.Start());
  std::mutex mu;
  std::vector<std::pair<int64_t, std::string>> acked;  // (offset, raw) of uid 70
  std::vector<grpc::StatusCode> errors;
  std::atomic<int64_t> answered{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0;; ++i) {
        rpc::SaveBatchRequest batch;
        for (int j = 0; j < 8; ++j) {
          rpc::AppendRequest* a = batch.add_appends();
          *a->mutable_seq() = Seq(rpc::SEQ_PEER, 70);
          a->set_raw(std::to_string(w) + "/" + std::to_string(i) + "/" + std::to_string(j));
        }
        rpc::SaveBatchReply reply;
        grpc::ClientContext context;
        context.set_deadline(rpc::DeadlineAfter(5000));
        grpc::Status s = server.stub()->SaveBatch(&context, batch, &reply);
        std::lock_guard<std::mutex> lock(mu);
        if (!s.ok()) {
          errors.push_back(s.error_code());
          return;
        }
        ++answered;
        for (int j = 0; j < 8; ++j) {
          ASSERT_EQ(reply.results(j).status(), 0) << reply.results(j).error();
          acked.emplace_back(reply.results(j).reply().offset(), batch.appends(j).raw());
        }
      }
    });
  }
  for (int i = 0; i < 1000 && answered.load() < 20; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(server.Terminate(), 0) << server.Log();
  for (auto& t : writers) t.join();
  // Calls that were not answered end as "go elsewhere" (UNAVAILABLE) or, when
  // the connection closes under them, CANCELLED; a client retries both with
  // the same idempotency key. What was answered is checked below.
  for (grpc::StatusCode code : errors) {
    EXPECT_TRUE(code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::CANCELLED) << code;
  }
  EXPECT_NE(server.Log().find("storage_server drained"), std::string::npos);

  ASSERT_TRUE(server.Start());
  std::vector<rpc::HistoryMessage> stored;
  ASSERT_TRUE(ReadAll(server.stub(), Seq(rpc::SEQ_PEER, 70), &stored, 1000));
  EXPECT_TRUE(Linked(stored));
  ASSERT_GT(acked.size(), 0u);
  for (const auto& [offset, raw] : acked) {
    ASSERT_LE(offset, static_cast<int64_t>(stored.size()));
    EXPECT_EQ(stored[offset - 1].raw(), raw);
  }
}

TEST(StorageServerTest, SampleConfigLoads) {
  std::string out;
  EXPECT_EQ(im::testing::RunCommand({STORAGE_SERVER, "--config", SAMPLE_CONFIG, "--print-config"}, &out), 0) << out;
  EXPECT_NE(out.find("server.listen = '0.0.0.0:50061'"), std::string::npos) << out;
  EXPECT_NE(out.find("admin.listen = '127.0.0.1:9061'"), std::string::npos) << out;
}

TEST(StorageServerTest, MetricsCountAppends) {
  const int admin_port = im::testing::PickFreePort();
  StorageProcess server({"--admin.listen", "127.0.0.1:" + std::to_string(admin_port)});
  ASSERT_TRUE(server.Start());
  rpc::SaveReply reply;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Save(server.stub(), Peer(60, "m"), &reply).ok());
  std::string out;
  im::testing::RunCommand({"curl", "-s", "-m", "5", "http://127.0.0.1:" + std::to_string(admin_port) + "/metrics"},
                          &out);
  EXPECT_NE(out.find("im_storage_appends_total 3"), std::string::npos) << out;
  EXPECT_NE(out.find("im_storage_commit_seconds_count"), std::string::npos) << out;
}

}  // namespace
}  // namespace im::storage::testing
