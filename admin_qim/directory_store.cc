#include "admin_qim/directory_store.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <memory>
#include <set>

#include "common/log/log.h"

namespace im::admin {
namespace {

constexpr int kErDupEntry = 1062;

using Stmt = std::unique_ptr<sql::PreparedStatement>;
using Rows = std::unique_ptr<sql::ResultSet>;

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

Stmt Prepare(sql::Connection& c, const char* text) { return Stmt(c.prepareStatement(text)); }

// Runs `body(connection)` on a pooled connection; Connector/C++ exceptions
// become statuses here and go no further.
template <typename Body>
auto WithConnection(db::MysqlPool* pool, const char* what, Body body) -> decltype(body(std::declval<sql::Connection&>())) {
  auto lease = pool->Acquire();
  if (!lease.ok()) return lease.status();
  try {
    return body(**lease);
  } catch (const sql::SQLException& e) {
    const int code = e.getErrorCode();
    if (db::IsConnectionError(code)) {
      lease->MarkBroken();
      IM_LOG_WARN(log::Db(), "mysql: {}: connection lost: {}", what, e.what());
      return absl::UnavailableError(std::string("mysql unavailable: ") + e.what());
    }
    if (code == kErDupEntry) return absl::AlreadyExistsError(std::string(what) + ": already exists");
    IM_LOG_ERROR(log::Db(), "mysql: {}: error {}: {}", what, code, e.what());
    return absl::InternalError(std::string(what) + ": mysql error " + std::to_string(code));
  }
}

// A transaction on one connection: rolled back unless Commit() was called;
// the connection goes back to the pool in autocommit mode either way.
class Transaction {
 public:
  explicit Transaction(sql::Connection& c) : c_(c) { c_.setAutoCommit(false); }
  ~Transaction() {
    try {
      if (!committed_) c_.rollback();
      c_.setAutoCommit(true);
    } catch (const sql::SQLException&) {
      // The connection is broken; the pool replaces it after the caller's error.
    }
  }
  void Commit() {
    c_.commit();
    committed_ = true;
  }

 private:
  sql::Connection& c_;
  bool committed_ = false;
};

bool AccountExists(sql::Connection& c, std::int64_t uid) {
  Stmt q = Prepare(c, "SELECT 1 FROM user_id WHERE id = ?");
  q->setInt64(1, uid);
  Rows rows(q->executeQuery());
  return rows->next();
}

absl::Status CheckAccounts(sql::Connection& c, const std::vector<std::int64_t>& uids) {
  for (std::int64_t uid : uids) {
    if (uid <= 0 || !AccountExists(c, uid)) return absl::NotFoundError("uid " + std::to_string(uid) + " does not exist");
  }
  return absl::OkStatus();
}

bool GroupExists(sql::Connection& c, std::int64_t gid, bool for_update = false) {
  Stmt q = Prepare(c, for_update ? "SELECT 1 FROM im_groups WHERE gid = ? FOR UPDATE" : "SELECT 1 FROM im_groups WHERE gid = ?");
  q->setInt64(1, gid);
  Rows rows(q->executeQuery());
  return rows->next();
}

absl::Status GroupNotFound(std::int64_t gid) { return absl::NotFoundError("group " + std::to_string(gid) + " does not exist"); }

absl::StatusOr<AccountRecord> ReadAccount(sql::Connection& c, const char* where, const std::function<void(sql::PreparedStatement&)>& bind,
                                          const std::string& missing) {
  const std::string text = std::string(
                               "SELECT u.id, u.no, (b.uid IS NOT NULL), COALESCE(cr.created_at, 0) FROM user_id u "
                               "LEFT JOIN bans b ON b.uid = u.id LEFT JOIN credentials cr ON cr.uid = u.id WHERE ") +
                           where;
  Stmt q(c.prepareStatement(text));
  bind(*q);
  Rows rows(q->executeQuery());
  if (!rows->next()) return absl::NotFoundError(missing);
  return AccountRecord{rows->getInt64(1), rows->getString(2), rows->getBoolean(3), rows->getInt64(4)};
}

void InsertMember(sql::Connection& c, std::int64_t gid, std::int64_t uid, std::int64_t now) {
  Stmt q = Prepare(c, "INSERT IGNORE INTO group_members (gid, uid, joined_at, muted) VALUES (?, ?, ?, 0)");
  q->setInt64(1, gid);
  q->setInt64(2, uid);
  q->setInt64(3, now);
  q->executeUpdate();
}

// Moves node_list's change clock forward: to now, or by one second when it
// already reached now, so that every change gets a larger timestamp.
void TouchNodeList(sql::Connection& c) {
  std::unique_ptr<sql::Statement> q(c.createStatement());
  q->executeUpdate(
      "UPDATE change_clock SET changed_at = GREATEST(changed_at + 1, UNIX_TIMESTAMP()) WHERE name = 'node_list'");
}

}  // namespace

absl::StatusOr<AccountRecord> MysqlDirectoryStore::CreateAccount(const std::string& no, const std::string& password_hash) {
  return WithConnection(pool_, "create account", [&](sql::Connection& c) -> absl::StatusOr<AccountRecord> {
    Transaction tx(c);
    Stmt insert = Prepare(c, "INSERT INTO user_id (no) VALUES (?)");
    insert->setString(1, no);
    try {
      insert->executeUpdate();
    } catch (const sql::SQLException& e) {
      if (e.getErrorCode() == kErDupEntry) return absl::AlreadyExistsError("account '" + no + "' already exists");
      throw;
    }
    std::unique_ptr<sql::Statement> last(c.createStatement());
    Rows id(last->executeQuery("SELECT LAST_INSERT_ID()"));
    id->next();
    const std::int64_t uid = id->getInt64(1);
    const std::int64_t now = Now();
    Stmt cred = Prepare(c, "INSERT INTO credentials (uid, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)");
    cred->setInt64(1, uid);
    cred->setString(2, password_hash);
    cred->setInt64(3, now);
    cred->setInt64(4, now);
    cred->executeUpdate();
    tx.Commit();
    return AccountRecord{uid, no, false, now};
  });
}

absl::StatusOr<AccountRecord> MysqlDirectoryStore::GetAccountByNo(const std::string& no) {
  return WithConnection(pool_, "get account", [&](sql::Connection& c) {
    return ReadAccount(c, "u.no = ?", [&](sql::PreparedStatement& q) { q.setString(1, no); },
                       "account '" + no + "' does not exist");
  });
}

absl::StatusOr<AccountRecord> MysqlDirectoryStore::GetAccountByUid(std::int64_t uid) {
  return WithConnection(pool_, "get account", [&](sql::Connection& c) {
    return ReadAccount(c, "u.id = ?", [&](sql::PreparedStatement& q) { q.setInt64(1, uid); },
                       "uid " + std::to_string(uid) + " does not exist");
  });
}

absl::StatusOr<std::vector<AccountRecord>> MysqlDirectoryStore::ListAccounts(const std::string& search, int limit,
                                                                             std::int64_t after_uid) {
  return WithConnection(pool_, "list accounts", [&](sql::Connection& c) -> absl::StatusOr<std::vector<AccountRecord>> {
    Stmt q = Prepare(c,
                     "SELECT u.id, u.no, (b.uid IS NOT NULL), COALESCE(cr.created_at, 0) FROM user_id u "
                     "LEFT JOIN bans b ON b.uid = u.id LEFT JOIN credentials cr ON cr.uid = u.id "
                     "WHERE u.id > ? AND INSTR(u.no, ?) > 0 ORDER BY u.id LIMIT ?");
    q->setInt64(1, after_uid);
    q->setString(2, search);
    q->setInt(3, limit);
    Rows rows(q->executeQuery());
    std::vector<AccountRecord> out;
    while (rows->next()) out.push_back({rows->getInt64(1), rows->getString(2), rows->getBoolean(3), rows->getInt64(4)});
    return out;
  });
}

absl::StatusOr<CredentialRecord> MysqlDirectoryStore::GetCredential(const std::string& no) {
  return WithConnection(pool_, "get credential", [&](sql::Connection& c) -> absl::StatusOr<CredentialRecord> {
    Stmt q = Prepare(c, "SELECT u.id, COALESCE(cr.password_hash, '') FROM user_id u LEFT JOIN credentials cr ON cr.uid = u.id WHERE u.no = ?");
    q->setString(1, no);
    Rows rows(q->executeQuery());
    if (!rows->next()) return absl::NotFoundError("account '" + no + "' does not exist");
    return CredentialRecord{rows->getInt64(1), rows->getString(2)};
  });
}

absl::Status MysqlDirectoryStore::SetBanned(std::int64_t uid, bool banned) {
  return WithConnection(pool_, "set banned", [&](sql::Connection& c) -> absl::Status {
    if (!AccountExists(c, uid)) return absl::NotFoundError("uid " + std::to_string(uid) + " does not exist");
    Stmt q = banned ? Prepare(c, "INSERT IGNORE INTO bans (uid, reason, created_at) VALUES (?, '', ?)")
                    : Prepare(c, "DELETE FROM bans WHERE uid = ?");
    q->setInt64(1, uid);
    if (banned) q->setInt64(2, Now());
    q->executeUpdate();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::int64_t>> MysqlDirectoryStore::ListBanned() {
  return WithConnection(pool_, "list bans", [&](sql::Connection& c) -> absl::StatusOr<std::vector<std::int64_t>> {
    std::unique_ptr<sql::Statement> q(c.createStatement());
    Rows rows(q->executeQuery("SELECT uid FROM bans ORDER BY uid"));
    std::vector<std::int64_t> out;
    while (rows->next()) out.push_back(rows->getInt64(1));
    return out;
  });
}

absl::StatusOr<std::int64_t> MysqlDirectoryStore::CreateGroup(const std::string& name, std::int64_t owner,
                                                              const std::vector<std::int64_t>& members) {
  return WithConnection(pool_, "create group", [&](sql::Connection& c) -> absl::StatusOr<std::int64_t> {
    std::set<std::int64_t> all(members.begin(), members.end());
    all.insert(owner);
    if (absl::Status s = CheckAccounts(c, {owner}); !s.ok()) return s;
    if (absl::Status s = CheckAccounts(c, std::vector<std::int64_t>(all.begin(), all.end())); !s.ok()) return s;
    Transaction tx(c);
    const std::int64_t now = Now();
    Stmt insert = Prepare(c, "INSERT INTO im_groups (name, owner, muted, created_at) VALUES (?, ?, 0, ?)");
    insert->setString(1, name);
    insert->setInt64(2, owner);
    insert->setInt64(3, now);
    insert->executeUpdate();
    std::unique_ptr<sql::Statement> last(c.createStatement());
    Rows id(last->executeQuery("SELECT LAST_INSERT_ID()"));
    id->next();
    const std::int64_t gid = id->getInt64(1);
    for (std::int64_t uid : all) InsertMember(c, gid, uid, now);
    tx.Commit();
    return gid;
  });
}

absl::StatusOr<GroupRecord> MysqlDirectoryStore::GetGroup(std::int64_t gid) {
  return WithConnection(pool_, "get group", [&](sql::Connection& c) -> absl::StatusOr<GroupRecord> {
    Stmt q = Prepare(c, "SELECT gid, name, owner, muted FROM im_groups WHERE gid = ?");
    q->setInt64(1, gid);
    Rows rows(q->executeQuery());
    if (!rows->next()) return GroupNotFound(gid);
    GroupRecord group{rows->getInt64(1), rows->getString(2), rows->getInt64(3), rows->getInt(4) != 0, {}, {}};
    Stmt m = Prepare(c, "SELECT uid, muted FROM group_members WHERE gid = ? ORDER BY uid");
    m->setInt64(1, gid);
    Rows members(m->executeQuery());
    while (members->next()) {
      group.members.push_back(members->getInt64(1));
      if (members->getInt(2) != 0) group.muted_members.push_back(members->getInt64(1));
    }
    return group;
  });
}

absl::Status MysqlDirectoryStore::DeleteGroup(std::int64_t gid) {
  return WithConnection(pool_, "delete group", [&](sql::Connection& c) -> absl::Status {
    Transaction tx(c);
    Stmt q = Prepare(c, "DELETE FROM im_groups WHERE gid = ?");
    q->setInt64(1, gid);
    if (q->executeUpdate() == 0) return GroupNotFound(gid);
    Stmt m = Prepare(c, "DELETE FROM group_members WHERE gid = ?");
    m->setInt64(1, gid);
    m->executeUpdate();
    tx.Commit();
    return absl::OkStatus();
  });
}

absl::Status MysqlDirectoryStore::AddMembers(std::int64_t gid, const std::vector<std::int64_t>& uids) {
  return WithConnection(pool_, "add members", [&](sql::Connection& c) -> absl::Status {
    Transaction tx(c);
    // FOR UPDATE: a concurrent DeleteGroup cannot leave orphan members.
    if (!GroupExists(c, gid, true)) return GroupNotFound(gid);
    if (absl::Status s = CheckAccounts(c, uids); !s.ok()) return s;
    const std::int64_t now = Now();
    for (std::int64_t uid : uids) InsertMember(c, gid, uid, now);
    tx.Commit();
    return absl::OkStatus();
  });
}

absl::Status MysqlDirectoryStore::RemoveMember(std::int64_t gid, std::int64_t uid) {
  return WithConnection(pool_, "remove member", [&](sql::Connection& c) -> absl::Status {
    if (!GroupExists(c, gid)) return GroupNotFound(gid);
    Stmt q = Prepare(c, "DELETE FROM group_members WHERE gid = ? AND uid = ?");
    q->setInt64(1, gid);
    q->setInt64(2, uid);
    if (q->executeUpdate() == 0) {
      return absl::NotFoundError("uid " + std::to_string(uid) + " is not a member of group " + std::to_string(gid));
    }
    return absl::OkStatus();
  });
}

absl::Status MysqlDirectoryStore::SetMuted(std::int64_t gid, std::int64_t uid, bool muted) {
  return WithConnection(pool_, "set muted", [&](sql::Connection& c) -> absl::Status {
    if (!GroupExists(c, gid)) return GroupNotFound(gid);
    if (uid == 0) {
      Stmt q = Prepare(c, "UPDATE im_groups SET muted = ? WHERE gid = ?");
      q->setInt(1, muted ? 1 : 0);
      q->setInt64(2, gid);
      q->executeUpdate();
      return absl::OkStatus();
    }
    Stmt exists = Prepare(c, "SELECT 1 FROM group_members WHERE gid = ? AND uid = ?");
    exists->setInt64(1, gid);
    exists->setInt64(2, uid);
    Rows rows(exists->executeQuery());
    if (!rows->next()) {
      return absl::NotFoundError("uid " + std::to_string(uid) + " is not a member of group " + std::to_string(gid));
    }
    Stmt q = Prepare(c, "UPDATE group_members SET muted = ? WHERE gid = ? AND uid = ?");
    q->setInt(1, muted ? 1 : 0);
    q->setInt64(2, gid);
    q->setInt64(3, uid);
    q->executeUpdate();
    return absl::OkStatus();
  });
}

absl::Status MysqlDirectoryStore::AddFriend(std::int64_t uid, std::int64_t friend_uid) {
  return WithConnection(pool_, "add friend", [&](sql::Connection& c) -> absl::Status {
    if (absl::Status s = CheckAccounts(c, {uid, friend_uid}); !s.ok()) return s;
    Transaction tx(c);
    const std::int64_t now = Now();
    for (auto [a, b] : {std::pair{uid, friend_uid}, std::pair{friend_uid, uid}}) {
      Stmt q = Prepare(c, "INSERT IGNORE INTO friends (uid, friend_uid, created_at) VALUES (?, ?, ?)");
      q->setInt64(1, a);
      q->setInt64(2, b);
      q->setInt64(3, now);
      q->executeUpdate();
    }
    tx.Commit();
    return absl::OkStatus();
  });
}

absl::Status MysqlDirectoryStore::Block(std::int64_t uid, std::int64_t blocked_uid) {
  return WithConnection(pool_, "block", [&](sql::Connection& c) -> absl::Status {
    if (absl::Status s = CheckAccounts(c, {uid, blocked_uid}); !s.ok()) return s;
    Stmt q = Prepare(c, "INSERT IGNORE INTO blocks (uid, blocked_uid, created_at) VALUES (?, ?, ?)");
    q->setInt64(1, uid);
    q->setInt64(2, blocked_uid);
    q->setInt64(3, Now());
    q->executeUpdate();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<NodeRecord>> MysqlDirectoryStore::ListNodes() {
  return WithConnection(pool_, "list nodes", [&](sql::Connection& c) -> absl::StatusOr<std::vector<NodeRecord>> {
    std::unique_ptr<sql::Statement> q(c.createStatement());
    Rows rows(q->executeQuery(
        "SELECT n.id, n.tcp_port, n.udp_port, n.weight, n.server_type, n.tcp_protocol, n.address, n.disabled, "
        "COALESCE(a.admin_endpoint, '') FROM node_list n LEFT JOIN node_admin a ON a.node_id = n.id ORDER BY n.id"));
    std::vector<NodeRecord> out;
    while (rows->next()) {
      out.push_back(NodeRecord{rows->getInt64(1), rows->getInt(2), rows->getInt(3), rows->getInt(4), rows->getInt(5),
                               rows->getString(6), rows->getString(7), rows->getInt(8) != 0, rows->getString(9)});
    }
    return out;
  });
}

absl::StatusOr<NodeRecord> MysqlDirectoryStore::AddNode(const NodeRecord& node) {
  return WithConnection(pool_, "add node", [&](sql::Connection& c) -> absl::StatusOr<NodeRecord> {
    Stmt q = Prepare(c,
                     "INSERT INTO node_list (tcp_port, udp_port, weight, server_type, tcp_protocol, address, disabled) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)");
    q->setInt(1, node.tcp_port);
    q->setInt(2, node.udp_port);
    q->setInt(3, node.weight);
    q->setInt(4, node.server_type);
    q->setString(5, node.tcp_protocol);
    q->setString(6, node.address);
    q->setInt(7, node.disabled ? 1 : 0);
    Transaction tx(c);
    q->executeUpdate();
    std::unique_ptr<sql::Statement> last(c.createStatement());
    Rows id(last->executeQuery("SELECT LAST_INSERT_ID()"));
    id->next();
    NodeRecord out = node;
    out.id = id->getInt64(1);
    if (!node.admin_endpoint.empty()) {
      Stmt admin = Prepare(c, "INSERT INTO node_admin (node_id, admin_endpoint) VALUES (?, ?)");
      admin->setInt64(1, out.id);
      admin->setString(2, node.admin_endpoint);
      admin->executeUpdate();
    }
    TouchNodeList(c);
    tx.Commit();
    return out;
  });
}

absl::Status MysqlDirectoryStore::SetNodeDisabled(std::int64_t id, bool disabled) {
  return WithConnection(pool_, "set node disabled", [&](sql::Connection& c) -> absl::Status {
    Stmt exists = Prepare(c, "SELECT 1 FROM node_list WHERE id = ?");
    exists->setInt64(1, id);
    Rows rows(exists->executeQuery());
    if (!rows->next()) return absl::NotFoundError("node " + std::to_string(id) + " does not exist");
    Stmt q = Prepare(c, "UPDATE node_list SET disabled = ? WHERE id = ?");
    q->setInt(1, disabled ? 1 : 0);
    q->setInt64(2, id);
    Transaction tx(c);
    q->executeUpdate();
    TouchNodeList(c);
    tx.Commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::int64_t> MysqlDirectoryStore::NodeListChangedAt() {
  return WithConnection(pool_, "node list clock", [&](sql::Connection& c) -> absl::StatusOr<std::int64_t> {
    std::unique_ptr<sql::Statement> q(c.createStatement());
    Rows rows(q->executeQuery("SELECT changed_at FROM change_clock WHERE name = 'node_list'"));
    if (!rows->next()) return absl::InternalError("change_clock has no node_list row: schema not migrated?");
    return rows->getInt64(1);
  });
}

absl::StatusOr<DirectoryCounts> MysqlDirectoryStore::Counts() {
  return WithConnection(pool_, "counts", [&](sql::Connection& c) -> absl::StatusOr<DirectoryCounts> {
    std::unique_ptr<sql::Statement> q(c.createStatement());
    Rows rows(q->executeQuery("SELECT (SELECT COUNT(*) FROM user_id WHERE id <> 1), (SELECT COUNT(*) FROM im_groups)"));
    rows->next();
    return DirectoryCounts{rows->getInt64(1), rows->getInt64(2)};
  });
}

}  // namespace im::admin
