#include "imsdk/message_store.h"

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>

namespace im::sdk {
namespace {

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (db != nullptr) sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  Stmt& Bind(int i, std::int64_t v) {
    if (stmt_) sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, const std::string& v) {
    if (stmt_) sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  bool Step() { return stmt_ != nullptr && sqlite3_step(stmt_) == SQLITE_ROW; }
  bool Run() {
    if (!stmt_) return false;
    int rc = sqlite3_step(stmt_);
    return rc == SQLITE_DONE || rc == SQLITE_ROW;
  }
  std::int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Blob(int col) {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(static_cast<const char*>(p), n) : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS account (uid INTEGER PRIMARY KEY, next_msgid INTEGER NOT NULL DEFAULT 1,
  peer_synckey INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS offsets (uid INTEGER NOT NULL, group_id INTEGER NOT NULL,
  off INTEGER NOT NULL, PRIMARY KEY (uid, group_id));
CREATE TABLE IF NOT EXISTS pending (uid INTEGER NOT NULL, msgid INTEGER NOT NULL,
  app_msg_id INTEGER NOT NULL, is_group INTEGER NOT NULL, target INTEGER NOT NULL,
  msg_type INTEGER NOT NULL, msg_flag INTEGER NOT NULL, ts INTEGER NOT NULL,
  content BLOB NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY (uid, msgid));
CREATE TABLE IF NOT EXISTS messages (uid INTEGER NOT NULL, group_id INTEGER NOT NULL,
  off INTEGER NOT NULL, from_uid INTEGER NOT NULL, to_uid INTEGER NOT NULL, ts INTEGER NOT NULL,
  msgid INTEGER NOT NULL, msg_type INTEGER NOT NULL, msg_flag INTEGER NOT NULL,
  content BLOB NOT NULL, PRIMARY KEY (uid, group_id, off));
)sql";

}  // namespace

MessageStore::~MessageStore() {
  if (db_ != nullptr) sqlite3_close(db_);
}

bool MessageStore::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (err != nullptr) sqlite3_free(err);
  return rc == SQLITE_OK;
}

bool MessageStore::Open(const std::string& dir, std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string path = ":memory:";
  bool ok = true;
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    path = dir + "/imsdk.db";
  }
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    if (error) *error = "cannot open " + path + ": " + sqlite3_errmsg(db_);
    sqlite3_close(db_);
    db_ = nullptr;
    sqlite3_open(":memory:", &db_);
    ok = false;
  }
  sqlite3_busy_timeout(db_, 2000);
  Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  if (!Exec(kSchema)) {
    if (error) *error = std::string("cannot create schema: ") + sqlite3_errmsg(db_);
    return false;
  }
  return ok;
}

std::string MessageStore::GetKv(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "SELECT v FROM kv WHERE k = ?");
  s.Bind(1, key);
  return s.Step() ? s.Blob(0) : std::string();
}

void MessageStore::SetKv(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v");
  s.Bind(1, key).Bind(2, value).Run();
}

std::map<std::int64_t, std::int64_t> MessageStore::Offsets(std::int64_t uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::int64_t, std::int64_t> out;
  Stmt s(db_, "SELECT group_id, off FROM offsets WHERE uid = ?");
  s.Bind(1, uid);
  while (s.Step()) out[s.Int(0)] = s.Int(1);
  return out;
}

bool MessageStore::HasState(std::int64_t uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "SELECT 1 FROM offsets WHERE uid = ? LIMIT 1");
  s.Bind(1, uid);
  return s.Step();
}

void MessageStore::SetOffset(std::int64_t uid, std::int64_t group_id, std::int64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "INSERT INTO offsets (uid, group_id, off) VALUES (?, ?, ?) "
         "ON CONFLICT(uid, group_id) DO UPDATE SET off = excluded.off");
  s.Bind(1, uid).Bind(2, group_id).Bind(3, offset).Run();
}

void MessageStore::RemoveSequence(std::int64_t uid, std::int64_t group_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "DELETE FROM offsets WHERE uid = ? AND group_id = ?");
  s.Bind(1, uid).Bind(2, group_id).Run();
}

std::int64_t MessageStore::GetAccountField(std::int64_t uid, const char* column) const {
  std::string sql = std::string("SELECT ") + column + " FROM account WHERE uid = ?";
  Stmt s(db_, sql.c_str());
  s.Bind(1, uid);
  return s.Step() ? s.Int(0) : 0;
}

std::int32_t MessageStore::NextMsgid(std::int64_t uid) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt(db_, "INSERT OR IGNORE INTO account (uid) VALUES (?)").Bind(1, uid).Run();
  std::int64_t id = GetAccountField(uid, "next_msgid");
  if (id <= 0 || id > 0x7fffffff) id = 1;
  std::int64_t next = id == 0x7fffffff ? 1 : id + 1;
  Stmt(db_, "UPDATE account SET next_msgid = ? WHERE uid = ?").Bind(1, next).Bind(2, uid).Run();
  return static_cast<std::int32_t>(id);
}

std::int64_t MessageStore::PeerSyncKey(std::int64_t uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  return GetAccountField(uid, "peer_synckey");
}

void MessageStore::SetPeerSyncKey(std::int64_t uid, std::int64_t sync_key) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt(db_, "INSERT OR IGNORE INTO account (uid) VALUES (?)").Bind(1, uid).Run();
  Stmt(db_, "UPDATE account SET peer_synckey = ? WHERE uid = ?").Bind(1, sync_key).Bind(2, uid).Run();
}

void MessageStore::AddPending(std::int64_t uid, const PendingSend& p) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "INSERT OR REPLACE INTO pending (uid, msgid, app_msg_id, is_group, target, msg_type, "
         "msg_flag, ts, content, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?)");
  s.Bind(1, uid).Bind(2, p.msgid).Bind(3, p.app_msg_id).Bind(4, p.is_group ? 1 : 0).Bind(5, p.to);
  s.Bind(6, p.msg_type).Bind(7, p.msg_flag).Bind(8, p.timestamp).Bind(9, p.content);
  s.Bind(10, p.created_ms).Run();
}

void MessageStore::RemovePending(std::int64_t uid, std::int32_t msgid) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt(db_, "DELETE FROM pending WHERE uid = ? AND msgid = ?").Bind(1, uid).Bind(2, msgid).Run();
}

std::vector<PendingSend> MessageStore::Pending(std::int64_t uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PendingSend> out;
  Stmt s(db_,
         "SELECT msgid, app_msg_id, is_group, target, msg_type, msg_flag, ts, content, created_ms "
         "FROM pending WHERE uid = ? ORDER BY created_ms, msgid");
  s.Bind(1, uid);
  while (s.Step()) {
    PendingSend p;
    p.msgid = static_cast<std::int32_t>(s.Int(0));
    p.app_msg_id = s.Int(1);
    p.is_group = s.Int(2) != 0;
    p.to = s.Int(3);
    p.msg_type = static_cast<std::int32_t>(s.Int(4));
    p.msg_flag = static_cast<std::int32_t>(s.Int(5));
    p.timestamp = static_cast<std::int32_t>(s.Int(6));
    p.content = s.Blob(7);
    p.created_ms = s.Int(8);
    out.push_back(std::move(p));
  }
  return out;
}

void MessageStore::Deliver(std::int64_t uid, const Message& m, bool keep_history) {
  std::lock_guard<std::mutex> lock(mu_);
  Exec("BEGIN");
  if (keep_history) {
    Stmt s(db_,
           "INSERT OR REPLACE INTO messages (uid, group_id, off, from_uid, to_uid, ts, msgid, "
           "msg_type, msg_flag, content) VALUES (?,?,?,?,?,?,?,?,?,?)");
    s.Bind(1, uid).Bind(2, m.group_id).Bind(3, m.offset).Bind(4, m.from_uid).Bind(5, m.to_uid);
    s.Bind(6, m.timestamp).Bind(7, m.msgid).Bind(8, m.msg_type).Bind(9, m.msg_flag);
    s.Bind(10, m.content).Run();
  }
  Stmt s(db_,
         "INSERT INTO offsets (uid, group_id, off) VALUES (?, ?, ?) "
         "ON CONFLICT(uid, group_id) DO UPDATE SET off = excluded.off");
  s.Bind(1, uid).Bind(2, m.group_id).Bind(3, m.offset).Run();
  Exec("COMMIT");
}

std::vector<Message> MessageStore::History(std::int64_t uid, std::int64_t group_id,
                                           int limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Message> out;
  Stmt s(db_,
         "SELECT off, from_uid, to_uid, ts, msgid, msg_type, msg_flag, content FROM messages "
         "WHERE uid = ? AND group_id = ? ORDER BY off DESC LIMIT ?");
  s.Bind(1, uid).Bind(2, group_id).Bind(3, limit);
  while (s.Step()) {
    Message m;
    m.group_id = group_id;
    m.offset = s.Int(0);
    m.from_uid = s.Int(1);
    m.to_uid = s.Int(2);
    m.timestamp = static_cast<std::int32_t>(s.Int(3));
    m.msgid = static_cast<std::int32_t>(s.Int(4));
    m.msg_type = static_cast<std::int32_t>(s.Int(5));
    m.msg_flag = static_cast<std::int32_t>(s.Int(6));
    m.content = s.Blob(7);
    out.push_back(std::move(m));
  }
  return {out.rbegin(), out.rend()};
}

}  // namespace im::sdk
