#include "admin_qim/rate_limiter.h"

#include <gtest/gtest.h>

namespace im::admin {
namespace {

using Clock = RateLimiter::Clock;

TEST(RateLimiterTest, AllowsBurstThenRefillsAtRate) {
  RateLimiter limiter(/*rate_per_s=*/2, /*burst=*/3);
  const Clock::time_point t0{};
  EXPECT_TRUE(limiter.Allow("a", t0));
  EXPECT_TRUE(limiter.Allow("a", t0));
  EXPECT_TRUE(limiter.Allow("a", t0));
  EXPECT_FALSE(limiter.Allow("a", t0));
  EXPECT_TRUE(limiter.Allow("b", t0));  // per key
  EXPECT_FALSE(limiter.Allow("a", t0 + std::chrono::milliseconds(400)));
  EXPECT_TRUE(limiter.Allow("a", t0 + std::chrono::milliseconds(500)));  // one token after 0.5 s
  EXPECT_FALSE(limiter.Allow("a", t0 + std::chrono::milliseconds(500)));
  // Never more than the burst, however long the pause.
  const auto later = t0 + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("a", later));
  EXPECT_FALSE(limiter.Allow("a", later));
}

TEST(RateLimiterTest, BoundsTheNumberOfKeys) {
  RateLimiter limiter(1, 1, /*max_keys=*/2);
  const Clock::time_point t0{};
  EXPECT_TRUE(limiter.Allow("a", t0));
  EXPECT_TRUE(limiter.Allow("b", t0));
  EXPECT_FALSE(limiter.Allow("c", t0));  // table full of buckets still refilling
  // Once a and b have refilled they are forgotten and c gets a bucket.
  EXPECT_TRUE(limiter.Allow("c", t0 + std::chrono::seconds(2)));
}

}  // namespace
}  // namespace im::admin
