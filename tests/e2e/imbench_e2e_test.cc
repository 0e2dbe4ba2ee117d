// imbench against a LocalCluster: a few seconds of peer, group and mixed
// (reconnect + pull) load. Fails when a message answered 200 is lost or
// duplicated, when pushes stop reaching devices (everything repaired only by
// the final sweep), or when the JSON report lacks a field.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/local_cluster.h"

namespace im {
namespace {

class ImbenchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new testing::LocalCluster();
    testing::ClusterOptions options;
    options.extra_flags["access0"] = {"--limits.rate_limit_per_s", "0"};
    const absl::Status s = cluster_->Start(options);
    setup_error_ = new std::string(s.ok() ? "" : std::string(s.message()));
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete setup_error_;
  }
  void SetUp() override { ASSERT_EQ(*setup_error_, "") << "cluster did not start"; }

  /// Runs imbench with `args` against the cluster; returns its JSON report.
  nlohmann::json RunImbench(std::vector<std::string> args, int* exit_code) {
    testing::TempDir dir("imbench");
    const std::string json_path = dir.path() + "/report.json";
    std::vector<std::string> argv = {IMBENCH_PATH,
                                     "--notify",
                                     cluster_->address("notify0"),
                                     "--sync",
                                     cluster_->address("sync0"),
                                     "--admin",
                                     cluster_->address("admin"),
                                     "--admin-secret",
                                     "test-admin-secret",
                                     "--warmup-ms",
                                     "500",
                                     "--json",
                                     json_path};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string output;
    *exit_code = testing::RunCommand(argv, &output);
    std::printf("%s\n", output.c_str());
    std::ifstream in(json_path);
    nlohmann::json report = nlohmann::json::parse(in, nullptr, false);
    if (report.is_discarded()) ADD_FAILURE() << "no JSON report; output:\n" << output;
    return report;
  }

  /// The checks every run must pass: fields present, nothing lost or
  /// duplicated, most receipts live (push or gap pull, not the final sweep),
  /// and at least `min_push` of them by push (with pushes broken, senders
  /// still find their peers' messages by gap pulls around their own offsets).
  static void ExpectExactlyOnce(const nlohmann::json& r, double min_push = 0.5) {
    for (const char* field : {"mode", "config", "connect", "load_seconds", "throughput", "ledger", "counters",
                              "latency", "errors", "processes", "seconds"}) {
      ASSERT_TRUE(r.contains(field)) << "report lacks " << field;
    }
    for (const char* field : {"messages", "answered_ok", "answered_error", "unanswered", "expected_receipts",
                              "receipts", "lost", "lost_messages", "duplicated", "unknown",
                              "repaired_by_final_sweep"}) {
      ASSERT_TRUE(r["ledger"].contains(field)) << "ledger lacks " << field;
    }
    for (const char* kind : {"answer", "delivery"}) {
      for (const char* field : {"n", "p50_ms", "p99_ms", "p999_ms", "max_ms"}) {
        ASSERT_TRUE(r["latency"][kind].contains(field)) << "latency." << kind << " lacks " << field;
      }
    }
    for (const char* field : {"sent_per_s", "answered_ok_per_s", "receipts_per_s"}) {
      ASSERT_TRUE(r["throughput"].contains(field)) << "throughput lacks " << field;
    }
    ASSERT_TRUE(r["seconds"].is_array());
    EXPECT_GE(r["seconds"].size(), 2u);
    const auto& l = r["ledger"];
    EXPECT_GT(l["answered_ok"].get<std::int64_t>(), 0);
    EXPECT_EQ(l["unanswered"].get<std::int64_t>(), 0);
    EXPECT_EQ(l["lost"].get<std::int64_t>(), 0);
    EXPECT_EQ(l["duplicated"].get<std::int64_t>(), 0);
    EXPECT_EQ(l["unknown"].get<std::int64_t>(), 0);
    EXPECT_EQ(l["receipts"].get<std::int64_t>(), l["expected_receipts"].get<std::int64_t>());
    const auto live = l["receipts"].get<std::int64_t>() - l["repaired_by_final_sweep"].get<std::int64_t>();
    EXPECT_GE(live * 10, l["expected_receipts"].get<std::int64_t>() * 9) << "pushes did not reach devices";
    const auto by_push = r["counters"]["receipts"].get<std::int64_t>() - r["counters"]["receipts_by_pull"].get<std::int64_t>();
    EXPECT_GE(static_cast<double>(by_push), min_push * l["expected_receipts"].get<double>()) << "pushes did not arrive";
    EXPECT_GT(r["latency"]["delivery"]["n"].get<std::int64_t>(), 0);
    EXPECT_EQ(r["connect"]["users_failed"].get<int>(), 0);
  }

  static testing::LocalCluster* cluster_;
  static std::string* setup_error_;
};

testing::LocalCluster* ImbenchTest::cluster_ = nullptr;
std::string* ImbenchTest::setup_error_ = nullptr;

TEST_F(ImbenchTest, PeerClosedLoopDeliversEveryMessageOnce) {
  int rc = -1;
  const nlohmann::json r =
      RunImbench({"--mode", "peer", "--users", "40", "--inflight", "2", "--duration", "3", "--account-prefix", "tpeer"}, &rc);
  ExpectExactlyOnce(r);
  EXPECT_EQ(r["ledger"]["expected_receipts"].get<std::int64_t>(), r["ledger"]["answered_ok"].get<std::int64_t>());
  EXPECT_EQ(rc, 0);
}

TEST_F(ImbenchTest, PeerOpenLoopWithNoticesPulls) {
  // Content above notify's push.max_data_bytes (4096) is announced by 321
  // only: every receipt must come from a pull.
  int rc = -1;
  const nlohmann::json r = RunImbench({"--mode", "peer", "--users", "20", "--rate", "200", "--duration", "2",
                                       "--size", "5000", "--account-prefix", "tnotice"},
                                      &rc);
  ExpectExactlyOnce(r, /*min_push=*/0);
  EXPECT_EQ(r["counters"]["receipts_by_pull"].get<std::int64_t>(), r["ledger"]["receipts"].get<std::int64_t>());
  EXPECT_GT(r["counters"]["pulls"].get<std::int64_t>(), 0);
  EXPECT_EQ(rc, 0);
}

TEST_F(ImbenchTest, GroupFanOutReachesEveryMember) {
  int rc = -1;
  const nlohmann::json r = RunImbench({"--mode", "group", "--groups", "2", "--group-size", "15", "--group-senders",
                                       "2", "--duration", "2", "--account-prefix", "tgroup"},
                                      &rc);
  ExpectExactlyOnce(r);
  // Each group message reaches the 14 other members.
  EXPECT_EQ(r["ledger"]["expected_receipts"].get<std::int64_t>(), r["ledger"]["answered_ok"].get<std::int64_t>() * 14);
  EXPECT_EQ(rc, 0);
}

TEST_F(ImbenchTest, MixedReconnectsCatchUpByPull) {
  int rc = -1;
  const nlohmann::json r =
      RunImbench({"--mode", "mixed", "--users", "40", "--rate", "300", "--duration", "4", "--reconnect-per-s", "0.1",
                  "--offline-ms", "500", "--account-prefix", "tmixed"},
                 &rc);
  ExpectExactlyOnce(r);
  EXPECT_GT(r["counters"]["reconnects"].get<std::int64_t>(), 0);
  EXPECT_GT(r["counters"]["receipts_by_pull"].get<std::int64_t>(), 0);
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace im
