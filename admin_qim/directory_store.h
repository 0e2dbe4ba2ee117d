#pragma once
// The directory: accounts, credentials, groups and members, friends, blocks,
// bans and node_list, kept in MySQL/MariaDB (schema.h). Every query is
// parameterised. Handlers use the DirectoryStore interface so that tests can
// pass a fake; MysqlDirectoryStore is the real one.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include <cppconn/connection.h>  // mysql_pool.h needs sql::Connection complete

#include "common/db/mysql_pool.h"

namespace im::admin {

struct AccountRecord {
  std::int64_t uid = 0;
  std::string no;
  bool banned = false;
  std::int64_t created_at = 0;  // UNIX seconds; 0 for the reserved system account
};

struct CredentialRecord {
  std::int64_t uid = 0;
  std::string password_hash;  // Argon2id string; "" when the account has no password
};

struct GroupRecord {
  std::int64_t gid = 0;
  std::string name;
  std::int64_t owner = 0;
  bool muted = false;
  std::vector<std::int64_t> members;  // ascending
  std::vector<std::int64_t> muted_members;
};

struct NodeRecord {
  std::int64_t id = 0;
  int tcp_port = 0;
  int udp_port = 0;
  int weight = 100;
  int server_type = 1;  // 1 notify_server, 2 sync_server
  std::string tcp_protocol;
  std::string address;
  bool disabled = false;
  /// host:port of the daemon's /healthz and /metrics (table node_admin, kept
  /// beside node_list so that §7's table stays as specified); "" unknown.
  /// Never shown to SDKs.
  std::string admin_endpoint;
};

struct DirectoryCounts {
  std::int64_t accounts = 0;  // without the reserved system account
  std::int64_t groups = 0;
};

/// Errors: NOT_FOUND (the named account, group, member or node does not
/// exist), ALREADY_EXISTS (duplicate account number), INVALID_ARGUMENT,
/// UNAVAILABLE (MySQL unreachable), INTERNAL. Implementations are thread safe.
class DirectoryStore {
 public:
  virtual ~DirectoryStore() = default;

  /// Creates an account with its credential in one transaction.
  virtual absl::StatusOr<AccountRecord> CreateAccount(const std::string& no, const std::string& password_hash) = 0;
  virtual absl::StatusOr<AccountRecord> GetAccountByNo(const std::string& no) = 0;
  virtual absl::StatusOr<AccountRecord> GetAccountByUid(std::int64_t uid) = 0;
  /// Accounts with uid > after_uid whose `no` contains `search` (any when
  /// empty), ascending by uid, at most `limit`.
  virtual absl::StatusOr<std::vector<AccountRecord>> ListAccounts(const std::string& search, int limit,
                                                                  std::int64_t after_uid) = 0;
  virtual absl::StatusOr<CredentialRecord> GetCredential(const std::string& no) = 0;

  /// NOT_FOUND when uid has no account.
  virtual absl::Status SetBanned(std::int64_t uid, bool banned) = 0;
  virtual absl::StatusOr<std::vector<std::int64_t>> ListBanned() = 0;

  /// Creates a group owned by `owner`, with `members` (the owner is always a
  /// member). NOT_FOUND names the first uid that has no account.
  virtual absl::StatusOr<std::int64_t> CreateGroup(const std::string& name, std::int64_t owner,
                                                   const std::vector<std::int64_t>& members) = 0;
  virtual absl::StatusOr<GroupRecord> GetGroup(std::int64_t gid) = 0;
  virtual absl::Status DeleteGroup(std::int64_t gid) = 0;
  /// Adds members (existing members keep their join time).
  virtual absl::Status AddMembers(std::int64_t gid, const std::vector<std::int64_t>& uids) = 0;
  /// NOT_FOUND when the group does not exist or uid is not a member.
  virtual absl::Status RemoveMember(std::int64_t gid, std::int64_t uid) = 0;
  /// uid 0 mutes the whole group.
  virtual absl::Status SetMuted(std::int64_t gid, std::int64_t uid, bool muted) = 0;

  /// Mutual friendship; idempotent.
  virtual absl::Status AddFriend(std::int64_t uid, std::int64_t friend_uid) = 0;
  /// `uid` refuses messages from `blocked_uid`; idempotent.
  virtual absl::Status Block(std::int64_t uid, std::int64_t blocked_uid) = 0;

  virtual absl::StatusOr<std::vector<NodeRecord>> ListNodes() = 0;
  /// UNIX seconds of the last change to node_list made through this store
  /// (strictly increasing per change); the time of the migration before any.
  virtual absl::StatusOr<std::int64_t> NodeListChangedAt() = 0;
  /// Returns the node with its new id.
  virtual absl::StatusOr<NodeRecord> AddNode(const NodeRecord& node) = 0;
  virtual absl::Status SetNodeDisabled(std::int64_t id, bool disabled) = 0;

  virtual absl::StatusOr<DirectoryCounts> Counts() = 0;
};

/// The real store over a MysqlPool (not owned). Thread safe.
class MysqlDirectoryStore final : public DirectoryStore {
 public:
  explicit MysqlDirectoryStore(db::MysqlPool* pool) : pool_(pool) {}

  absl::StatusOr<AccountRecord> CreateAccount(const std::string& no, const std::string& password_hash) override;
  absl::StatusOr<AccountRecord> GetAccountByNo(const std::string& no) override;
  absl::StatusOr<AccountRecord> GetAccountByUid(std::int64_t uid) override;
  absl::StatusOr<std::vector<AccountRecord>> ListAccounts(const std::string& search, int limit,
                                                          std::int64_t after_uid) override;
  absl::StatusOr<CredentialRecord> GetCredential(const std::string& no) override;
  absl::Status SetBanned(std::int64_t uid, bool banned) override;
  absl::StatusOr<std::vector<std::int64_t>> ListBanned() override;
  absl::StatusOr<std::int64_t> CreateGroup(const std::string& name, std::int64_t owner,
                                           const std::vector<std::int64_t>& members) override;
  absl::StatusOr<GroupRecord> GetGroup(std::int64_t gid) override;
  absl::Status DeleteGroup(std::int64_t gid) override;
  absl::Status AddMembers(std::int64_t gid, const std::vector<std::int64_t>& uids) override;
  absl::Status RemoveMember(std::int64_t gid, std::int64_t uid) override;
  absl::Status SetMuted(std::int64_t gid, std::int64_t uid, bool muted) override;
  absl::Status AddFriend(std::int64_t uid, std::int64_t friend_uid) override;
  absl::Status Block(std::int64_t uid, std::int64_t blocked_uid) override;
  absl::StatusOr<std::vector<NodeRecord>> ListNodes() override;
  absl::StatusOr<std::int64_t> NodeListChangedAt() override;
  absl::StatusOr<NodeRecord> AddNode(const NodeRecord& node) override;
  absl::Status SetNodeDisabled(std::int64_t id, bool disabled) override;
  absl::StatusOr<DirectoryCounts> Counts() override;

 private:
  db::MysqlPool* pool_;
};

}  // namespace im::admin
