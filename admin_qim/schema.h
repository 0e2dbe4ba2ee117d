#pragma once
// admin_qim's MySQL/MariaDB schema and its migrations.
//
// Migrations are numbered from 1 and recorded in `schema_version`. Migrate()
// applies the missing ones in order under the named lock `im_schema_migrate`
// (GET_LOCK), so several admin_qim instances starting at once on the same
// empty database apply each migration exactly once; every statement is also
// idempotent (CREATE TABLE IF NOT EXISTS, INSERT IGNORE), so a migration cut
// short by a crash is simply re-run.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include <cppconn/connection.h>  // mysql_pool.h needs sql::Connection complete

#include "common/db/mysql_pool.h"

namespace im::admin {

/// Reserved accounts created by the first migration.
inline constexpr std::int64_t kSystemUid = 1;     // sender of system messages, no = "system"
inline constexpr std::int64_t kFirstGroupId = 9001;  // groups are numbered from here

struct Migration {
  int version;
  std::string description;
  std::vector<std::string> statements;
};

/// Every migration, oldest first.
const std::vector<Migration>& Migrations();

/// The newest version Migrations() knows.
int LatestSchemaVersion();

/// Brings the database up to LatestSchemaVersion(); returns the version it
/// found before migrating. Safe to call from several processes at once.
/// UNAVAILABLE when MySQL cannot be reached, DEADLINE_EXCEEDED when the lock
/// is held by another instance for longer than `lock_timeout_s`,
/// FAILED_PRECONDITION when the database is newer than this binary.
/// Thread safe.
absl::StatusOr<int> Migrate(db::MysqlPool& pool, int lock_timeout_s = 60);

}  // namespace im::admin
