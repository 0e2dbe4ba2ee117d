// base::TokenBucket, the refill-and-take step of every rate limiter.
#include "common/base/token_bucket.h"

#include <gtest/gtest.h>

namespace im::base {
namespace {

using std::chrono::milliseconds;

TEST(TokenBucketTest, BurstThenRefillAtRateUpToBurst) {
  const auto t0 = TokenBucket::Clock::time_point{} + std::chrono::hours(1);
  TokenBucket bucket = TokenBucket::Full(/*burst=*/3, t0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.Take(/*rate=*/2, 3, t0)) << i;
  EXPECT_FALSE(bucket.Take(2, 3, t0));
  EXPECT_FALSE(bucket.Take(2, 3, t0 + milliseconds(400)));  // 0.8 of a token
  EXPECT_TRUE(bucket.Take(2, 3, t0 + milliseconds(500)));   // 1.0
  EXPECT_FALSE(bucket.FullAt(2, 3, t0 + milliseconds(1000)));
  EXPECT_TRUE(bucket.FullAt(2, 3, t0 + milliseconds(2000)));
  // A long pause refills to the burst, not beyond it.
  const auto later = t0 + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.Take(2, 3, later)) << i;
  EXPECT_FALSE(bucket.Take(2, 3, later));
}

TEST(TokenBucketTest, AClockThatGoesBackRefillsNothing) {
  const auto t0 = TokenBucket::Clock::time_point{} + std::chrono::hours(1);
  TokenBucket bucket = TokenBucket::Full(1, t0);
  EXPECT_TRUE(bucket.Take(1, 1, t0));
  EXPECT_FALSE(bucket.Take(1, 1, t0 - milliseconds(5000)));
}

}  // namespace
}  // namespace im::base
