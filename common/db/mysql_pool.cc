#include "common/db/mysql_pool.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <mysql_driver.h>

#include "common/log/log.h"

namespace im::db {
namespace {

// Connector/C++ wants threadInit()/threadEnd() around its use in every thread.
struct ThreadRegistration {
  sql::mysql::MySQL_Driver* driver;
  explicit ThreadRegistration(sql::mysql::MySQL_Driver* d) : driver(d) { driver->threadInit(); }
  ~ThreadRegistration() { driver->threadEnd(); }
};

sql::mysql::MySQL_Driver* Driver() {
  // get_mysql_driver_instance() is not safe to call concurrently the first time.
  static sql::mysql::MySQL_Driver* driver = sql::mysql::get_mysql_driver_instance();
  thread_local ThreadRegistration registration(driver);
  return driver;
}

}  // namespace

bool IsConnectionError(int code) {
  // CR_SERVER_GONE_ERROR, CR_SERVER_LOST, CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR,
  // CR_COMMANDS_OUT_OF_SYNC (what Connector/C++ reports on a connection whose
  // server restarted), ER_SERVER_SHUTDOWN, CR_SERVER_LOST_EXTENDED
  return code == 2006 || code == 2013 || code == 2002 || code == 2003 || code == 2014 ||
         code == 1053 || code == 2055;
}

MysqlPool::MysqlPool(MysqlOptions options) : options_(std::move(options)) {}

MysqlPool::~MysqlPool() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.clear();
}

absl::StatusOr<std::unique_ptr<sql::Connection>> MysqlPool::Connect() {
  sql::ConnectOptionsMap props;
  if (options_.unix_socket.empty()) {
    props["hostName"] = sql::SQLString("tcp://" + options_.host + ":" + std::to_string(options_.port));
  } else {
    props["hostName"] = sql::SQLString("unix://" + options_.unix_socket);
  }
  props["userName"] = sql::SQLString(options_.user);
  props["password"] = sql::SQLString(options_.password);
  props["schema"] = sql::SQLString(options_.database);
  props["OPT_CONNECT_TIMEOUT"] = std::max(1, options_.connect_timeout_ms / 1000);
  props["OPT_RECONNECT"] = false;
  props["CLIENT_MULTI_STATEMENTS"] = false;
  try {
    std::unique_ptr<sql::Connection> connection(Driver()->connect(props));
    return connection;
  } catch (const sql::SQLException& e) {
    return absl::UnavailableError("mysql " + options_.host + ":" + std::to_string(options_.port) +
                                  ": " + e.what());
  }
}

absl::StatusOr<MysqlPool::Lease> MysqlPool::Acquire() {
  Driver();  // registers this thread with the driver
  std::unique_ptr<sql::Connection> connection;
  bool validate = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.acquire_timeout_ms);
    while (idle_.empty() && leased_ >= options_.pool_size) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
          idle_.empty() && leased_ >= options_.pool_size) {
        return absl::DeadlineExceededError("mysql: every pooled connection is busy");
      }
    }
    ++leased_;
    if (!idle_.empty()) {
      IdleConnection& idle = idle_.back();
      validate = std::chrono::steady_clock::now() - idle.since >
                 std::chrono::milliseconds(options_.validate_after_idle_ms);
      connection = std::move(idle.connection);
      idle_.pop_back();
    }
  }
  if (connection) {
    bool usable = false;
    try {
      // isValid() pings the server: only for connections idle long enough that
      // the server may have gone away meanwhile.
      usable = !connection->isClosed() && (!validate || connection->isValid());
    } catch (const sql::SQLException&) {
    }
    if (!usable) connection.reset();
  }
  if (!connection) {
    auto connected = Connect();
    if (!connected.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      --leased_;
      cv_.notify_one();
      return connected.status();
    }
    connection = std::move(*connected);
  }
  return Lease(this, std::move(connection));
}

void MysqlPool::Release(std::unique_ptr<sql::Connection> connection, bool broken) {
  if (broken) connection.reset();
  std::lock_guard<std::mutex> lock(mu_);
  --leased_;
  if (connection) idle_.push_back({std::move(connection), std::chrono::steady_clock::now()});
  cv_.notify_one();
}

MysqlPool::Lease::Lease(MysqlPool* pool, std::unique_ptr<sql::Connection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

MysqlPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), connection_(std::move(other.connection_)), broken_(other.broken_) {
  other.pool_ = nullptr;
}

MysqlPool::Lease::~Lease() {
  if (pool_) pool_->Release(std::move(connection_), broken_);
}

}  // namespace im::db
