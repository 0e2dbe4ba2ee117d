// TokenStore against a real, private redis-server.
#include "common/auth/token_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/test_services.h"

namespace im::auth {
namespace {

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    redis::RedisOptions options;
    options.port = server_.port();
    client_ = std::make_unique<redis::RedisClient>(options);
    store_ = std::make_unique<TokenStore>(client_.get());
  }
  im::testing::PrivateRedis server_;
  std::unique_ptr<redis::RedisClient> client_;
  std::unique_ptr<TokenStore> store_;
};

TEST_F(TokenStoreTest, IssuedTokenIsValidOnlyForItsUid) {
  auto token = store_->Issue(707, 60);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->size(), 64u);
  EXPECT_EQ(*store_->Check(707, *token), TokenCheck::kValid);
  EXPECT_EQ(*store_->Check(708, *token), TokenCheck::kInvalid);
  EXPECT_EQ(*store_->Check(707, "not-a-token"), TokenCheck::kInvalid);
  EXPECT_EQ(*store_->Check(707, ""), TokenCheck::kInvalid);
  auto other = store_->Issue(707, 60);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *token);
}

TEST_F(TokenStoreTest, TokenExpires) {
  auto token = store_->Issue(707, 1);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*store_->Check(707, *token), TokenCheck::kValid);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(*store_->Check(707, *token), TokenCheck::kInvalid);
}

TEST_F(TokenStoreTest, RevokeAllInvalidatesEveryTokenAndPublishesKick) {
  redis::RedisOptions options;
  options.port = server_.port();
  options.command_timeout_ms = 3000;
  redis::RedisClient subscriber(options);
  ASSERT_TRUE(subscriber.Run({"SUBSCRIBE", kKickChannel}).ok());
  auto a = store_->Issue(707, 60);
  auto b = store_->Issue(707, 60);
  auto c = store_->Issue(708, 60);
  ASSERT_TRUE(store_->RevokeAll(707).ok());
  EXPECT_EQ(*store_->Check(707, *a), TokenCheck::kInvalid);
  EXPECT_EQ(*store_->Check(707, *b), TokenCheck::kInvalid);
  EXPECT_EQ(*store_->Check(708, *c), TokenCheck::kValid);
  // The subscriber's next reply is the published kick (read with an empty pipeline).
  auto message = subscriber.Pipeline({{"PING"}});
  ASSERT_TRUE(message.ok()) << message.status();
  ASSERT_EQ((*message)[0].elements.size(), 3u);
  EXPECT_EQ((*message)[0].elements[0].str, "message");
  EXPECT_EQ((*message)[0].elements[2].str, "707");
}

TEST_F(TokenStoreTest, BanRejectsNewTokensUntilUnbanned) {
  ASSERT_TRUE(store_->SetBanned(707, true).ok());
  auto token = store_->Issue(707, 60);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*store_->Check(707, *token), TokenCheck::kBanned);
  ASSERT_TRUE(store_->SetBanned(707, false).ok());
  EXPECT_EQ(*store_->Check(707, *token), TokenCheck::kValid);
}

TEST_F(TokenStoreTest, RedisDownIsUnavailableNotInvalid) {
  auto token = store_->Issue(707, 60);
  server_.Kill();
  EXPECT_EQ(store_->Check(707, *token).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace im::auth
