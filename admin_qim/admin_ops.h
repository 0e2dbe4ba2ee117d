#pragma once
// The operations of admin_qim, shared by the HTTP API and the gRPC admin
// service: input checks, the directory (MySQL), tokens and change events
// (Redis), and the calls into the cluster. Every write is logged with who
// made it and what it changed; passwords and tokens never are.
//
// Errors: INVALID_ARGUMENT (bad input, with the reason), NOT_FOUND,
// ALREADY_EXISTS, UNAUTHENTICATED (wrong account number or password),
// PERMISSION_DENIED (banned account), UNAVAILABLE (MySQL, Redis or a cluster
// daemon down), INTERNAL.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "admin_qim/cluster_client.h"
#include "admin_qim/directory_store.h"
#include "admin_qim/password.h"
#include "admin_qim/redis_backend.h"

namespace im::admin {

struct IssuedToken {
  std::int64_t uid = 0;
  std::string token;
  std::int64_t expires_in = 0;  // seconds
};

struct NodeStatus {
  NodeRecord node;
  /// /healthz answered 200 (node with an admin endpoint), or tcp_port accepts
  /// connections (without one). Says nothing of `disabled`.
  bool healthy = false;
  std::string checked_by;         // "healthz" or "tcp"
  std::int64_t connections = -1;  // client connections from /metrics; -1 unknown
  std::string error;              // why unhealthy / no connection count
};

struct ClusterOverview {
  std::vector<NodeStatus> nodes;
  DirectoryCounts counts;
  PresenceTotals presence;     // from route_server
  std::string presence_error;  // set when route_server could not say
};

struct AdminOpsOptions {
  std::int64_t token_lifetime_s = 86400;
  int probe_timeout_ms = 300;
  PasswordCost password_cost;
};

/// Thread safe (as long as its dependencies are). Dependencies are not owned.
class AdminOps {
 public:
  AdminOps(DirectoryStore* store, SessionTokens* tokens, DirectoryEvents* events, ClusterClient* cluster,
           AdminOpsOptions options);

  /// `no`: 1–32 characters of [A-Za-z0-9_.@-]; password: 6–128 bytes.
  absl::StatusOr<AccountRecord> CreateAccount(const std::string& who, const std::string& no,
                                              const std::string& password);
  absl::StatusOr<AccountRecord> GetAccount(const std::string& no);
  absl::StatusOr<AccountRecord> GetAccount(std::int64_t uid);
  /// limit is clamped to 1..1000 (0 means 100).
  absl::StatusOr<std::vector<AccountRecord>> ListAccounts(const std::string& search, int limit,
                                                          std::int64_t after_uid);

  /// A token for a user who proved their password. UNAUTHENTICATED for an
  /// unknown account or a wrong password (the same answer for both).
  absl::StatusOr<IssuedToken> Login(const std::string& who, const std::string& no, const std::string& password);
  /// A token for uid, asked for by an operator.
  absl::StatusOr<IssuedToken> IssueToken(const std::string& who, std::int64_t uid);
  absl::Status RevokeTokens(const std::string& who, std::int64_t uid);
  /// Ban: recorded in MySQL, tokens revoked, sessions kicked (`im:kick`),
  /// announced on `im:directory`.
  absl::Status SetBanned(const std::string& who, std::int64_t uid, bool banned);

  absl::StatusOr<std::int64_t> CreateGroup(const std::string& who, const std::string& name, std::int64_t owner,
                                           const std::vector<std::int64_t>& members);
  absl::StatusOr<GroupRecord> GetGroup(std::int64_t gid);
  absl::Status DeleteGroup(const std::string& who, std::int64_t gid);
  absl::Status AddMembers(const std::string& who, std::int64_t gid, const std::vector<std::int64_t>& uids);
  absl::Status RemoveMember(const std::string& who, std::int64_t gid, std::int64_t uid);
  absl::Status SetMuted(const std::string& who, std::int64_t gid, std::int64_t uid, bool muted);
  absl::Status AddFriend(const std::string& who, std::int64_t uid, std::int64_t friend_uid);
  absl::Status Block(const std::string& who, std::int64_t uid, std::int64_t blocked_uid);

  absl::StatusOr<std::vector<NodeRecord>> ListNodes();
  /// See DirectoryStore::NodeListChangedAt().
  absl::StatusOr<std::int64_t> NodeListChangedAt() { return store_->NodeListChangedAt(); }
  absl::StatusOr<NodeRecord> AddNode(const std::string& who, const NodeRecord& node);
  absl::Status SetNodeDisabled(const std::string& who, std::int64_t id, bool disabled);
  /// Every node with its health and client connections (from its admin
  /// endpoint, else a TCP probe), account and group totals, and online users
  /// from route_server. Blocks up to about 3 probe timeouts.
  absl::StatusOr<ClusterOverview> Overview();

  /// A message from the system uid to a user (gid 0) or a group.
  absl::StatusOr<SystemMessageResult> SendSystemMessage(const std::string& who, std::int64_t to_uid,
                                                        std::int64_t gid, int msg_type, const std::string& content);
  absl::StatusOr<std::vector<OnlineDeviceInfo>> QueryOnline(std::int64_t uid);

  /// Copies every ban recorded in MySQL to Redis (after Redis lost its data).
  absl::Status RestoreBans();

  std::int64_t token_lifetime_s() const { return options_.token_lifetime_s; }

 private:
  void Announce(const std::string& kind, std::int64_t id, const std::vector<std::int64_t>& uids = {});

  DirectoryStore* store_;
  SessionTokens* tokens_;
  DirectoryEvents* events_;
  ClusterClient* cluster_;
  AdminOpsOptions options_;
  std::string dummy_hash_;  // verified against for unknown accounts, so both cost the same
};

/// Checks an account number; "" when fine, else the reason.
std::string CheckAccountNo(const std::string& no);

}  // namespace im::admin
