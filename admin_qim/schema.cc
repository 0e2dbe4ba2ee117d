#include "admin_qim/schema.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <memory>

#include "common/log/log.h"

namespace im::admin {
namespace {

constexpr char kLockName[] = "im_schema_migrate";

// Migration 1: the seed's tables exactly as PROTOCOL.md §7 gives them
// (user_id, node_list), plus what admin_qim and access_server need.
// Times are UNIX seconds (BIGINT) so that no time zone is involved.
const char kCreateSchemaVersion[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (
  version     INT NOT NULL PRIMARY KEY,
  description VARCHAR(255) NOT NULL,
  applied_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql";

std::vector<Migration> BuildMigrations() {
  std::vector<Migration> m;
  m.push_back(Migration{
      1,
      "accounts, credentials, node_list, groups, members, friends, blocks, bans, acked offsets",
      {
          // §7: maps an account number to an IM uid.
          R"sql(CREATE TABLE IF NOT EXISTS user_id (
  id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  no VARCHAR(32) UNIQUE NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
          // uid 1 is the reserved sender of system messages; accounts start at 2.
          "INSERT IGNORE INTO user_id (id, no) VALUES (1, 'system')",
          // Argon2id (libsodium crypto_pwhash_str) strings; never the password.
          R"sql(CREATE TABLE IF NOT EXISTS credentials (
  uid           INT UNSIGNED NOT NULL PRIMARY KEY,
  password_hash VARCHAR(255) NOT NULL,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
          // §7: server discovery for SDKs. server_type 1 notify_server, 2 sync_server.
          R"sql(CREATE TABLE IF NOT EXISTS node_list (
  id           INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  tcp_port     INT NOT NULL,
  udp_port     INT NOT NULL DEFAULT 0,
  weight       INT NOT NULL DEFAULT 100,
  server_type  INT NOT NULL,
  tcp_protocol VARCHAR(32) NOT NULL DEFAULT '',
  address      VARCHAR(255) NOT NULL,
  disabled     TINYINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
          // Group ids start at 9001 (kFirstGroupId).
          R"sql(CREATE TABLE IF NOT EXISTS im_groups (
  gid        BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  name       VARCHAR(128) NOT NULL,
  owner      INT UNSIGNED NOT NULL,
  muted      TINYINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
) ENGINE=InnoDB AUTO_INCREMENT=9001 DEFAULT CHARSET=utf8mb4)sql",
          R"sql(CREATE TABLE IF NOT EXISTS group_members (
  gid       BIGINT UNSIGNED NOT NULL,
  uid       INT UNSIGNED NOT NULL,
  joined_at BIGINT NOT NULL,
  muted     TINYINT NOT NULL DEFAULT 0,
  PRIMARY KEY (gid, uid),
  KEY by_uid (uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
          // Friendship is mutual: stored as two rows (uid, friend_uid) and (friend_uid, uid).
          R"sql(CREATE TABLE IF NOT EXISTS friends (
  uid        INT UNSIGNED NOT NULL,
  friend_uid INT UNSIGNED NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (uid, friend_uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
          // uid refuses messages from blocked_uid.
          R"sql(CREATE TABLE IF NOT EXISTS blocks (
  uid         INT UNSIGNED NOT NULL,
  blocked_uid INT UNSIGNED NOT NULL,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (uid, blocked_uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
          R"sql(CREATE TABLE IF NOT EXISTS bans (
  uid        INT UNSIGNED NOT NULL PRIMARY KEY,
  reason     VARCHAR(255) NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
          // Read positions (IM_CMD_ACK_OFFSET); gid 0 is the user's peer sequence.
          // Written by access_server.
          R"sql(CREATE TABLE IF NOT EXISTS acked_offsets (
  uid      INT UNSIGNED NOT NULL,
  gid      BIGINT UNSIGNED NOT NULL,
  `offset` BIGINT NOT NULL,
  PRIMARY KEY (uid, gid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
      }});
  m.push_back(Migration{
      2,
      "change_clock: when node_list last changed (confgiinfo_timestamp)",
      {
          R"sql(CREATE TABLE IF NOT EXISTS change_clock (
  name       VARCHAR(32) NOT NULL PRIMARY KEY,
  changed_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
          "INSERT IGNORE INTO change_clock (name, changed_at) VALUES ('node_list', UNIX_TIMESTAMP())",
      }});
  m.push_back(Migration{
      3,
      "node_admin: each node's admin endpoint (/healthz, /metrics) for the cluster overview",
      {
          R"sql(CREATE TABLE IF NOT EXISTS node_admin (
  node_id        INT UNSIGNED NOT NULL PRIMARY KEY,
  admin_endpoint VARCHAR(255) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
      }});
  return m;
}

struct LockGuard {
  sql::Connection* connection;
  ~LockGuard() {
    try {
      std::unique_ptr<sql::PreparedStatement> release(connection->prepareStatement("SELECT RELEASE_LOCK(?)"));
      release->setString(1, kLockName);
      std::unique_ptr<sql::ResultSet> rows(release->executeQuery());
    } catch (const sql::SQLException& e) {
      IM_LOG_WARN(log::Db(), "schema: releasing the migration lock failed: {}", e.what());
    }
  }
};

int CurrentVersion(sql::Connection& connection) {
  std::unique_ptr<sql::Statement> stmt(connection.createStatement());
  std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  return rows->next() ? rows->getInt(1) : 0;
}

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = BuildMigrations();
  return migrations;
}

int LatestSchemaVersion() { return Migrations().back().version; }

absl::StatusOr<int> Migrate(db::MysqlPool& pool, int lock_timeout_s) {
  auto lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  sql::Connection& connection = **lease;
  try {
    {
      std::unique_ptr<sql::PreparedStatement> lock(connection.prepareStatement("SELECT GET_LOCK(?, ?)"));
      lock->setString(1, kLockName);
      lock->setInt(2, lock_timeout_s);
      std::unique_ptr<sql::ResultSet> rows(lock->executeQuery());
      if (!rows->next() || rows->isNull(1) || rows->getInt(1) != 1) {
        return absl::DeadlineExceededError("schema: another instance holds the migration lock '" +
                                           std::string(kLockName) + "' for more than " +
                                           std::to_string(lock_timeout_s) + " s");
      }
    }
    LockGuard guard{&connection};
    std::unique_ptr<sql::Statement> stmt(connection.createStatement());
    stmt->execute(kCreateSchemaVersion);
    const int found = CurrentVersion(connection);
    if (found > LatestSchemaVersion()) {
      return absl::FailedPreconditionError("schema: the database is at version " + std::to_string(found) +
                                           ", newer than this admin_qim (" +
                                           std::to_string(LatestSchemaVersion()) + ")");
    }
    for (const Migration& migration : Migrations()) {
      if (migration.version <= found) continue;
      for (const std::string& statement : migration.statements) stmt->execute(statement);
      std::unique_ptr<sql::PreparedStatement> record(connection.prepareStatement(
          "INSERT IGNORE INTO schema_version (version, description, applied_at) VALUES (?, ?, UNIX_TIMESTAMP())"));
      record->setInt(1, migration.version);
      record->setString(2, migration.description);
      record->executeUpdate();
      IM_LOG_INFO(log::Db(), "schema: applied migration {} ({})", migration.version, migration.description);
    }
    log::Db().flush();
    if (found == LatestSchemaVersion()) {
      IM_LOG_INFO(log::Db(), "schema: up to date at version {}", found);
    }
    return found;
  } catch (const sql::SQLException& e) {
    const std::string message = std::string("schema migration failed: ") + e.what() + " (mysql error " +
                                std::to_string(e.getErrorCode()) + ")";
    if (db::IsConnectionError(e.getErrorCode())) {
      lease->MarkBroken();
      return absl::UnavailableError(message);
    }
    return absl::InternalError(message);
  }
}

}  // namespace im::admin
