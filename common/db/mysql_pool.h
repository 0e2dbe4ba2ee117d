#pragma once
// A pool of MySQL/MariaDB connections over MySQL Connector/C++ 1.1.
// Connector/C++ reports errors by throwing sql::SQLException: callers catch
// it inside their query function; nothing throws out of Acquire().

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sql {
class Connection;
}

namespace im::db {

struct MysqlOptions {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string unix_socket;  // used instead of host:port when set
  std::string user = "im";
  std::string password;
  std::string database = "im";
  int pool_size = 4;
  int connect_timeout_ms = 2000;
  int acquire_timeout_ms = 2000;
  int validate_after_idle_ms = 1000;  // ping a connection idle longer than this before use
};

/// Thread safe.
class MysqlPool {
 public:
  class Lease;

  explicit MysqlPool(MysqlOptions options);
  ~MysqlPool();
  MysqlPool(const MysqlPool&) = delete;
  MysqlPool& operator=(const MysqlPool&) = delete;

  /// A connection for the calling thread's exclusive use until the Lease is
  /// destroyed. Connects lazily; a connection found broken is replaced.
  /// UNAVAILABLE when the server cannot be reached, DEADLINE_EXCEEDED when
  /// every connection stays busy for acquire_timeout_ms.
  absl::StatusOr<Lease> Acquire();

  const MysqlOptions& options() const { return options_; }

 private:
  void Release(std::unique_ptr<sql::Connection> connection, bool broken);
  absl::StatusOr<std::unique_ptr<sql::Connection>> Connect();

  MysqlOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  struct IdleConnection {
    std::unique_ptr<sql::Connection> connection;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<IdleConnection> idle_;  // guarded by mu_
  int leased_ = 0;                                      // guarded by mu_
};

/// Exclusive use of one pooled connection. Movable, not copyable.
class MysqlPool::Lease {
 public:
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&&) = delete;
  ~Lease();

  sql::Connection* operator->() const { return connection_.get(); }
  sql::Connection& operator*() const { return *connection_; }

  /// Marks the connection unusable (after a connection-level error): it is
  /// closed instead of returned to the pool.
  void MarkBroken() { broken_ = true; }

 private:
  friend class MysqlPool;
  // Out of line: sql::Connection is incomplete here.
  Lease(MysqlPool* pool, std::unique_ptr<sql::Connection> connection);

  MysqlPool* pool_;
  std::unique_ptr<sql::Connection> connection_;
  bool broken_ = false;
};

/// True for SQL errors that mean the connection itself is gone (server
/// restarted, network cut), as opposed to an error in the statement.
bool IsConnectionError(int mysql_error_code);

}  // namespace im::db
