// RedisClient against a real, private redis-server.
#include "common/redis/redis_client.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/test_services.h"

namespace im::redis {
namespace {

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  RedisOptions Options() {
    RedisOptions options;
    options.port = server_.port();
    options.command_timeout_ms = 300;
    options.backoff_initial_ms = 20;
    options.backoff_max_ms = 100;
    return options;
  }

  im::testing::PrivateRedis server_;
};

TEST_F(RedisClientTest, RunsCommandsAndReturnsTypedReplies) {
  RedisClient client(Options());
  auto set = client.Run({"SET", "k", std::string("a\0b", 3)});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->type, RedisReply::Type::kStatus);
  auto get = client.Run({"GET", "k"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str, std::string("a\0b", 3));  // binary safe
  auto missing = client.Run({"GET", "nope"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->is_nil());
  auto wrong = client.Run({"LPUSH", "k", "x"});  // WRONGTYPE
  ASSERT_TRUE(wrong.ok());
  EXPECT_TRUE(wrong->is_error());
  EXPECT_NE(wrong->str.find("WRONGTYPE"), std::string::npos);
  // An error reply leaves the connection usable.
  auto incr = client.Run({"INCR", "n"});
  ASSERT_TRUE(incr.ok());
  EXPECT_EQ(incr->integer, 1);
}

TEST_F(RedisClientTest, PipelineReturnsOneReplyPerCommandInOrder) {
  RedisClient client(Options());
  std::vector<Command> commands;
  for (int i = 0; i < 200; ++i) {
    commands.push_back({"ZADD", "z", std::to_string(i), "m" + std::to_string(i)});
  }
  commands.push_back({"ZCARD", "z"});
  commands.push_back({"ZRANGEBYSCORE", "z", "10", "12"});
  auto replies = client.Pipeline(commands);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), commands.size());
  EXPECT_EQ((*replies)[0].integer, 1);
  EXPECT_EQ((*replies)[200].integer, 200);
  const RedisReply& range = (*replies)[201];
  ASSERT_EQ(range.type, RedisReply::Type::kArray);
  ASSERT_EQ(range.elements.size(), 3u);
  EXPECT_EQ(range.elements[0].str, "m10");
  EXPECT_EQ(range.elements[2].str, "m12");
}

TEST_F(RedisClientTest, ReconnectsAfterServerRestart) {
  RedisClient client(Options());
  ASSERT_TRUE(client.Run({"SET", "a", "1"}).ok());
  server_.Kill();
  auto down = client.Run({"GET", "a"});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(server_.Start().ok());
  // Within a few backoff periods the client is back.
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    recovered = client.Run({"PING"}).ok();
    if (!recovered) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(recovered);
  EXPECT_TRUE(client.connected());
}

TEST_F(RedisClientTest, HungServerTimesOutInsteadOfBlocking) {
  RedisClient client(Options());
  ASSERT_TRUE(client.Run({"PING"}).ok());
  server_.Pause();
  const auto start = std::chrono::steady_clock::now();
  auto reply = client.Run({"PING"});
  const auto waited = std::chrono::steady_clock::now() - start;
  server_.Resume();
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(waited, std::chrono::seconds(3));
}

TEST_F(RedisClientTest, UnreachableServerFailsFastDuringBackoff) {
  RedisOptions options = Options();
  options.port = im::testing::PickFreePort();  // nothing listens there
  options.backoff_initial_ms = 60000;
  RedisClient client(options);
  EXPECT_EQ(client.Run({"PING"}).status().code(), absl::StatusCode::kUnavailable);
  auto second = client.Run({"PING"});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(second.status().message()).find("backoff"), std::string::npos);
}

}  // namespace
}  // namespace im::redis
