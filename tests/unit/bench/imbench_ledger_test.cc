// imbench's ledger: what counts as delivered, lost and duplicated.
#include "bench/imbench/stats.h"

#include <gtest/gtest.h>

namespace im::bench {
namespace {

constexpr std::int64_t kMs = 1'000'000;

TEST(LedgerTest, PeerMessageReceivedOnceIsDeliveredWithLatency) {
  Stats stats;
  Ledger ledger(&stats);
  const auto key = Ledger::Key(7, 1);
  ledger.OnSend(key, 0, 1);
  ledger.OnAnswer(key, 200, 0, 2 * kMs);
  EXPECT_EQ(ledger.Incomplete(), 1);
  ledger.OnReceive(key, 5, false, Via::kPush, 3 * kMs);
  EXPECT_EQ(ledger.Incomplete(), 0);
  const Ledger::Totals t = ledger.Finish();
  EXPECT_EQ(t.answered_ok, 1);
  EXPECT_EQ(t.receipts, 1);
  EXPECT_EQ(t.lost, 0);
  EXPECT_EQ(t.duplicated, 0);
  nlohmann::json r = stats.Report();
  EXPECT_EQ(r["counters"]["delivered"], 1);
  EXPECT_EQ(r["latency"]["delivery"]["n"], 1);
  EXPECT_DOUBLE_EQ(r["latency"]["delivery"]["p50_ms"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(r["latency"]["answer"]["p50_ms"].get<double>(), 2.0);
}

TEST(LedgerTest, MissingReceiptIsLostOnlyWhenAnswered200) {
  Stats stats;
  Ledger ledger(&stats);
  ledger.OnSend(Ledger::Key(7, 1), 0, 1);
  ledger.OnAnswer(Ledger::Key(7, 1), 200, 0, kMs);
  ledger.OnSend(Ledger::Key(7, 2), 0, 1);
  ledger.OnAnswer(Ledger::Key(7, 2), 503, 0, kMs);
  ledger.OnSend(Ledger::Key(7, 3), 0, 1);  // never answered
  const Ledger::Totals t = ledger.Finish();
  EXPECT_EQ(t.lost, 1);
  EXPECT_EQ(t.lost_messages, 1);
  EXPECT_EQ(t.answered_error, 1);
  EXPECT_EQ(t.unanswered, 1);
  EXPECT_EQ(stats.Report()["errors"]["answer:503"], 1);
}

TEST(LedgerTest, SecondReceiptOfAPeerMessageIsADuplicate) {
  Stats stats;
  Ledger ledger(&stats);
  const auto key = Ledger::Key(7, 1);
  ledger.OnSend(key, 0, 1);
  ledger.OnAnswer(key, 200, 0, kMs);
  ledger.OnReceive(key, 5, false, Via::kPush, kMs);
  ledger.OnReceive(key, 6, false, Via::kPull, kMs);  // stored twice: another offset
  EXPECT_EQ(ledger.Finish().duplicated, 1);
}

TEST(LedgerTest, GroupMessageNeedsEveryMemberAndOneOffset) {
  Stats stats;
  Ledger ledger(&stats);
  const auto key = Ledger::Key(7, 1);
  ledger.OnSend(key, 0, 3);
  ledger.OnReceive(key, 10, true, Via::kPush, kMs);  // before the answer
  ledger.OnAnswer(key, 200, 10, kMs);
  ledger.OnReceive(key, 10, true, Via::kPush, 2 * kMs);
  EXPECT_EQ(ledger.Incomplete(), 1);
  EXPECT_EQ(ledger.Finish().lost, 1);
  ledger.OnReceive(key, 11, true, Via::kPush, 3 * kMs);  // a member got it at another group offset
  EXPECT_EQ(ledger.Finish().duplicated, 1);
}

TEST(LedgerTest, SweepAndCatchUpReceiptsCountButHaveNoLatency) {
  Stats stats;
  Ledger ledger(&stats);
  ledger.OnSend(Ledger::Key(7, 1), 0, 1);
  ledger.OnAnswer(Ledger::Key(7, 1), 200, 0, kMs);
  ledger.OnReceive(Ledger::Key(7, 1), 1, false, Via::kSweep, 9 * kMs);
  ledger.OnSend(Ledger::Key(7, 2), 0, 1);
  ledger.OnAnswer(Ledger::Key(7, 2), 200, 0, kMs);
  ledger.OnReceive(Ledger::Key(7, 2), 2, false, Via::kCatchUp, 9 * kMs);
  const Ledger::Totals t = ledger.Finish();
  EXPECT_EQ(t.lost, 0);
  EXPECT_EQ(t.by_sweep, 1);
  nlohmann::json r = stats.Report();
  EXPECT_EQ(r["latency"]["delivery"]["n"], 0);
  EXPECT_EQ(r["counters"]["receipts_by_catch_up"], 1);
}

TEST(LedgerTest, ReceiptOfAMessageNotSentIsUnknown) {
  Stats stats;
  Ledger ledger(&stats);
  ledger.OnReceive(Ledger::Key(9, 9), 1, false, Via::kPush, kMs);
  EXPECT_EQ(ledger.Finish().unknown, 1);
}

TEST(StatsTest, RotateKeepsPerSecondWindowsAndTotals) {
  Stats stats;
  stats.Add(Counter::kSent, 3);
  stats.Record(Latency::kAnswer, 1500);
  const std::string line = stats.Rotate(1.0, "");
  EXPECT_NE(line.find("sent      3"), std::string::npos) << line;
  stats.Add(Counter::kSent, 2);
  nlohmann::json r = stats.Report();
  EXPECT_EQ(r["counters"]["sent"], 5);
  ASSERT_EQ(r["seconds"].size(), 1u);
  EXPECT_EQ(r["seconds"][0]["sent"], 3);
  EXPECT_DOUBLE_EQ(r["latency"]["answer"]["p50_ms"].get<double>(), 1.5);
}

}  // namespace
}  // namespace im::bench
