// MysqlPool against a real, private MariaDB.
#include "common/db/mysql_pool.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/test_services.h"

namespace im::db {
namespace {

class MysqlPoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new im::testing::PrivateMariaDb();
    start_status_ = server_->Start();
  }
  // A failed start fails every test (a failure in SetUpTestSuite would only skip them).
  void SetUp() override { ASSERT_TRUE(start_status_.ok()) << start_status_; }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  MysqlOptions Options(int pool_size = 2) {
    MysqlOptions options;
    options.port = server_->port();
    options.user = server_->user();
    options.password = server_->password();
    options.database = server_->database();
    options.pool_size = pool_size;
    options.acquire_timeout_ms = 500;
    return options;
  }

  static im::testing::PrivateMariaDb* server_;
  static inline absl::Status start_status_;
};

im::testing::PrivateMariaDb* MysqlPoolTest::server_ = nullptr;

TEST_F(MysqlPoolTest, RunsParameterisedStatements) {
  MysqlPool pool(Options());
  auto lease = pool.Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  std::unique_ptr<sql::Statement> stmt((*lease)->createStatement());
  stmt->execute("CREATE TABLE IF NOT EXISTS kv (k VARCHAR(32) PRIMARY KEY, v BIGINT)");
  std::unique_ptr<sql::PreparedStatement> insert(
      (*lease)->prepareStatement("INSERT INTO kv (k, v) VALUES (?, ?)"));
  insert->setString(1, "it's");  // quotes are data, not SQL
  insert->setInt64(2, 42);
  insert->executeUpdate();
  std::unique_ptr<sql::PreparedStatement> select((*lease)->prepareStatement("SELECT v FROM kv WHERE k = ?"));
  select->setString(1, "it's");
  std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
  ASSERT_TRUE(rows->next());
  EXPECT_EQ(rows->getInt64(1), 42);
}

TEST_F(MysqlPoolTest, BoundsConcurrentConnections) {
  MysqlPool pool(Options(2));
  std::atomic<int> in_use{0}, max_in_use{0}, done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto lease = pool.Acquire();
        if (!lease.ok()) continue;
        const int now = ++in_use;
        int seen = max_in_use.load();
        while (now > seen && !max_in_use.compare_exchange_weak(seen, now)) {
        }
        std::unique_ptr<sql::Statement> stmt((*lease)->createStatement());
        std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery("SELECT SLEEP(0.01)"));
        --in_use;
        ++done;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_in_use.load(), 2);
  EXPECT_EQ(done.load(), 30);
}

TEST_F(MysqlPoolTest, AcquireTimesOutWhenAllLeased) {
  MysqlPool pool(Options(1));
  auto first = pool.Acquire();
  ASSERT_TRUE(first.ok());
  auto second = pool.Acquire();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(MysqlPoolTest, UnreachableServerIsUnavailable) {
  MysqlOptions options = Options();
  options.port = im::testing::PickFreePort();
  MysqlPool pool(options);
  auto lease = pool.Acquire();
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kUnavailable);
  // The failed attempt did not use up a slot.
  auto again = pool.Acquire();
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(MysqlPoolTest, RecoversAfterServerRestart) {
  MysqlPool pool(Options(1));
  {
    auto lease = pool.Acquire();
    ASSERT_TRUE(lease.ok());
    std::unique_ptr<sql::Statement> stmt((*lease)->createStatement());
    stmt->execute("SELECT 1");
  }
  server_->Stop();
  ASSERT_TRUE(server_->Start().ok());
  // The pooled connection died with the server: the first use fails with a
  // connection error, the lease is marked broken, and the next one works.
  bool recovered = false;
  for (int attempt = 0; attempt < 3 && !recovered; ++attempt) {
    auto lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    try {
      std::unique_ptr<sql::Statement> stmt((*lease)->createStatement());
      std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery("SELECT 7"));
      recovered = rows->next() && rows->getInt(1) == 7;
    } catch (const sql::SQLException& e) {
      EXPECT_TRUE(IsConnectionError(e.getErrorCode())) << e.getErrorCode() << " " << e.what();
      lease->MarkBroken();
    }
  }
  EXPECT_TRUE(recovered);
}

}  // namespace
}  // namespace im::db
