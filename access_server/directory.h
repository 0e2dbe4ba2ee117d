#pragma once
// What access_server needs to know about users and groups, behind an
// interface so handlers can be tested with a fake. The real one reads
// admin_qim's MySQL schema with an in-process cache (mysql_directory.h).

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"

namespace im::access {

struct GroupInfo {
  std::int64_t gid = 0;
  bool muted = false;                         // the whole group is muted
  std::vector<std::int64_t> members;          // every member uid
  std::unordered_set<std::int64_t> member_set;
  std::unordered_set<std::int64_t> muted_members;
};

/// Implementations are thread safe. UNAVAILABLE when the database is down.
class Directory {
 public:
  virtual ~Directory() = default;
  virtual absl::StatusOr<bool> UserExists(std::int64_t uid) = 0;
  virtual absl::StatusOr<bool> IsBanned(std::int64_t uid) = 0;
  /// True when `owner` blocks messages from `sender`.
  virtual absl::StatusOr<bool> IsBlocked(std::int64_t owner, std::int64_t sender) = 0;
  /// True when `owner` has accepted `other` as a friend.
  virtual absl::StatusOr<bool> IsFriend(std::int64_t owner, std::int64_t other) = 0;
  /// nullptr when the group does not exist.
  virtual absl::StatusOr<std::shared_ptr<const GroupInfo>> GetGroup(std::int64_t gid) = 0;
  virtual absl::StatusOr<std::vector<std::int64_t>> GroupsOfUser(std::int64_t uid) = 0;

  /// Acked (read) offsets: per user and sequence (gid 0 = peer), never moving back.
  virtual absl::Status SaveAck(std::int64_t uid, std::int64_t gid, std::int64_t offset) = 0;
  /// (gid, offset) pairs of the user.
  virtual absl::StatusOr<std::vector<std::pair<std::int64_t, std::int64_t>>> GetAcks(std::int64_t uid) = 0;
};

}  // namespace im::access
