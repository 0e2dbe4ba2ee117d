// access_server's StorageClient against a real storage_server (in this
// process, over gRPC on a free port): appends answered with their offsets,
// and a Hold sending the appends made under it in one SaveBatch.
#include "access_server/storage_client.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <vector>

#include "storage_server/engine.h"
#include "storage_server/storage_server.h"
#include "tests/support/test_services.h"

namespace im::access {
namespace {

class StorageClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StorageConfig config;
    config.listen = "127.0.0.1:0";
    config.data_dir = dir_.path() + "/db";
    config.min_free_mb = 0;
    server_ = std::make_unique<storage::StorageServer>(config, nullptr);
    ASSERT_TRUE(server_->Start().ok());
    StorageClientOptions options;
    options.addresses = {"127.0.0.1:" + std::to_string(server_->port())};
    options.max_in_flight = 1;  // one SaveBatch at a time: batching is visible in the commits
    client_ = std::make_unique<StorageClient>(options);
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
  }

  static rpc::AppendRequest Append(std::int64_t uid, int n) {
    rpc::AppendRequest a;
    a.mutable_seq()->set_kind(rpc::SEQ_PEER);
    a.mutable_seq()->set_id(uid);
    a.set_sender_uid(7);
    a.set_device_id(1);
    a.set_cmd(315);
    a.set_raw("message " + std::to_string(n));
    return a;
  }

  // Appends `count` records to uid's sequence (under a Hold when `hold`) and
  // waits for every answer; returns their offsets in call order.
  std::vector<std::int64_t> AppendAll(std::int64_t uid, int count, bool hold) {
    std::vector<std::promise<absl::StatusOr<rpc::SaveReply>>> answers(count);
    {
      std::unique_ptr<StorageClient::Hold> held;
      if (hold) held = std::make_unique<StorageClient::Hold>(client_.get());
      for (int i = 0; i < count; ++i) {
        client_->Append(Append(uid, i), [&answers, i](absl::StatusOr<rpc::SaveReply> r) {
          answers[i].set_value(std::move(r));
        });
      }
    }
    std::vector<std::int64_t> offsets;
    for (auto& answer : answers) {
      auto r = answer.get_future().get();
      EXPECT_TRUE(r.ok()) << r.status();
      offsets.push_back(r.ok() ? r->offset() : -1);
    }
    return offsets;
  }

  std::int64_t commits() { return server_->engine()->stats().commits; }

  testing::TempDir dir_;
  std::unique_ptr<storage::StorageServer> server_;
  std::unique_ptr<StorageClient> client_;
};

TEST_F(StorageClientTest, AppendsUnderAHoldGoInOneSaveBatch) {
  const std::int64_t before = commits();
  const auto offsets = AppendAll(1001, 20, /*hold=*/true);
  EXPECT_EQ(offsets, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}));
  EXPECT_EQ(commits() - before, 1) << "the held appends were not sent together";
}

TEST_F(StorageClientTest, WithoutAHoldTheFirstAppendLeavesAlone) {
  // The contrast that makes the test above meaningful: with a free call slot
  // the first append is sent at once, the rest wait for the slot.
  const std::int64_t before = commits();
  const auto offsets = AppendAll(1002, 20, /*hold=*/false);
  ASSERT_EQ(offsets.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(offsets[i], i + 1);
  EXPECT_GE(commits() - before, 2);
}

TEST_F(StorageClientTest, NestedHoldsEachSendWhatTheyHeld) {
  const std::int64_t before = commits();
  std::promise<void> outer_done, inner_done;
  int outer_left = 3, inner_left = 3;
  {
    StorageClient::Hold outer(client_.get());
    for (int i = 0; i < 3; ++i) {
      client_->Append(Append(1003, i), [&](absl::StatusOr<rpc::SaveReply> r) {
        EXPECT_TRUE(r.ok());
        if (--outer_left == 0) outer_done.set_value();
      });
    }
    {
      StorageClient::Hold inner(client_.get());
      for (int i = 0; i < 3; ++i) {
        client_->Append(Append(1004, i), [&](absl::StatusOr<rpc::SaveReply> r) {
          EXPECT_TRUE(r.ok());
          if (--inner_left == 0) inner_done.set_value();
        });
      }
    }
    // The inner hold has sent its appends; the outer still holds its own.
    inner_done.get_future().get();
    EXPECT_EQ(outer_left, 3);
  }
  outer_done.get_future().get();
  EXPECT_EQ(commits() - before, 2);
}

}  // namespace
}  // namespace im::access
