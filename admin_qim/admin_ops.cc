#include "admin_qim/admin_ops.h"

#include <algorithm>
#include <future>
#include <set>

#include "admin_qim/password.h"
#include "admin_qim/schema.h"
#include "common/log/log.h"
#include "common/net/host_port.h"

namespace im::admin {
namespace {

constexpr std::size_t kMinPassword = 6;
constexpr std::size_t kMaxPassword = 128;
constexpr std::size_t kMaxGroupName = 128;
constexpr std::size_t kMaxMembersPerCall = 10000;
constexpr std::size_t kMaxSystemMessage = 65000;

absl::Status CheckUid(std::int64_t uid, const char* field) {
  if (uid <= 0 || uid > 0xffffffffLL) return absl::InvalidArgumentError(std::string(field) + " must be a positive uid");
  return absl::OkStatus();
}

absl::Status CheckGid(std::int64_t gid) {
  if (gid <= 0) return absl::InvalidArgumentError("gid must be positive");
  return absl::OkStatus();
}

std::string Join(const std::vector<std::int64_t>& ids) {
  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out;
}

void Audit(const std::string& who, const std::string& what, const absl::Status& status) {
  if (status.ok()) {
    IM_LOG_INFO(log::Main(), "audit who={} {} result=ok", who, what);
  } else {
    IM_LOG_INFO(log::Main(), "audit who={} {} result={}", who, what, status.message());
  }
  log::Main().flush();  // the audit trail is written out at once, not when a buffer fills
}

}  // namespace

std::string CheckAccountNo(const std::string& no) {
  if (no.empty() || no.size() > 32) return "account number 'no' must have 1 to 32 characters";
  for (char c : no) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '@' || c == '-';
    if (!ok) return "account number 'no' may hold only letters, digits and _ . @ -";
  }
  return "";
}

AdminOps::AdminOps(DirectoryStore* store, SessionTokens* tokens, DirectoryEvents* events, ClusterClient* cluster,
                   AdminOpsOptions options)
    : store_(store), tokens_(tokens), events_(events), cluster_(cluster), options_(options) {
  auto dummy = HashPassword("not a password of anyone", options_.password_cost);
  if (dummy.ok()) dummy_hash_ = *dummy;
}

void AdminOps::Announce(const std::string& kind, std::int64_t id, const std::vector<std::int64_t>& uids) {
  absl::Status s = events_->Publish(kind, id, uids);
  if (!s.ok()) {
    // The change is stored; access_servers pick it up when their cache expires.
    IM_LOG_ERROR(log::Db(), "cannot announce kind={} id={} on {}: {}", kind, id, kDirectoryChannel, s.message());
  }
}

absl::StatusOr<AccountRecord> AdminOps::CreateAccount(const std::string& who, const std::string& no,
                                                      const std::string& password) {
  if (std::string e = CheckAccountNo(no); !e.empty()) return absl::InvalidArgumentError(e);
  if (password.size() < kMinPassword || password.size() > kMaxPassword) {
    return absl::InvalidArgumentError("password must have 6 to 128 bytes");
  }
  auto hash = HashPassword(password, options_.password_cost);
  if (!hash.ok()) return hash.status();
  auto account = store_->CreateAccount(no, *hash);
  Audit(who, "action=account.create no=" + no + (account.ok() ? " uid=" + std::to_string(account->uid) : ""),
        account.status());
  return account;
}

absl::StatusOr<AccountRecord> AdminOps::GetAccount(const std::string& no) {
  if (std::string e = CheckAccountNo(no); !e.empty()) return absl::InvalidArgumentError(e);
  return store_->GetAccountByNo(no);
}

absl::StatusOr<AccountRecord> AdminOps::GetAccount(std::int64_t uid) {
  if (absl::Status s = CheckUid(uid, "uid"); !s.ok()) return s;
  return store_->GetAccountByUid(uid);
}

absl::StatusOr<std::vector<AccountRecord>> AdminOps::ListAccounts(const std::string& search, int limit,
                                                                  std::int64_t after_uid) {
  if (search.size() > 32) return absl::InvalidArgumentError("search is longer than an account number can be");
  if (limit <= 0) limit = 100;
  return store_->ListAccounts(search, std::min(limit, 1000), std::max<std::int64_t>(0, after_uid));
}

absl::StatusOr<IssuedToken> AdminOps::Login(const std::string& who, const std::string& no,
                                            const std::string& password) {
  const absl::Status refused = absl::UnauthenticatedError("wrong account number or password");
  if (!CheckAccountNo(no).empty() || password.empty() || password.size() > kMaxPassword) {
    Audit(who, "action=token.login no=?", refused);
    return refused;
  }
  auto credential = store_->GetCredential(no);
  if (!credential.ok() && credential.status().code() != absl::StatusCode::kNotFound) return credential.status();
  const bool known = credential.ok() && !credential->password_hash.empty();
  const bool match = VerifyPassword(known ? credential->password_hash : dummy_hash_, password) && known;
  if (!match) {
    Audit(who, "action=token.login no=" + no, refused);
    return refused;
  }
  auto account = store_->GetAccountByUid(credential->uid);
  if (!account.ok()) return account.status();
  if (account->banned) {
    const absl::Status banned = absl::PermissionDeniedError("account '" + no + "' is banned");
    Audit(who, "action=token.login no=" + no, banned);
    return banned;
  }
  auto token = tokens_->Issue(account->uid, options_.token_lifetime_s);
  Audit(who, "action=token.login no=" + no + " uid=" + std::to_string(account->uid), token.status());
  if (!token.ok()) return token.status();
  return IssuedToken{account->uid, *token, options_.token_lifetime_s};
}

absl::StatusOr<IssuedToken> AdminOps::IssueToken(const std::string& who, std::int64_t uid) {
  if (absl::Status s = CheckUid(uid, "uid"); !s.ok()) return s;
  if (uid == kSystemUid) return absl::InvalidArgumentError("the system account cannot log in");
  auto account = store_->GetAccountByUid(uid);
  if (!account.ok()) return account.status();
  if (account->banned) return absl::PermissionDeniedError("uid " + std::to_string(uid) + " is banned");
  auto token = tokens_->Issue(uid, options_.token_lifetime_s);
  Audit(who, "action=token.issue uid=" + std::to_string(uid), token.status());
  if (!token.ok()) return token.status();
  return IssuedToken{uid, *token, options_.token_lifetime_s};
}

absl::Status AdminOps::RevokeTokens(const std::string& who, std::int64_t uid) {
  if (absl::Status s = CheckUid(uid, "uid"); !s.ok()) return s;
  absl::Status s = tokens_->RevokeAll(uid);
  Audit(who, "action=token.revoke uid=" + std::to_string(uid), s);
  return s;
}

absl::Status AdminOps::SetBanned(const std::string& who, std::int64_t uid, bool banned) {
  if (absl::Status s = CheckUid(uid, "uid"); !s.ok()) return s;
  if (uid == kSystemUid) return absl::InvalidArgumentError("the system account cannot be banned");
  absl::Status s = store_->SetBanned(uid, banned);
  if (s.ok()) {
    s = tokens_->SetBanned(uid, banned);
    if (!s.ok()) {
      s = absl::UnavailableError(std::string(banned ? "ban" : "unban") +
                                 " is recorded but Redis was not updated (tokens not revoked): " +
                                 std::string(s.message()) + "; retry");
    }
  }
  Audit(who, std::string("action=") + (banned ? "ban" : "unban") + " uid=" + std::to_string(uid), s);
  if (s.ok()) Announce("ban", uid);
  return s;
}

absl::StatusOr<std::int64_t> AdminOps::CreateGroup(const std::string& who, const std::string& name,
                                                   std::int64_t owner, const std::vector<std::int64_t>& members) {
  if (name.empty() || name.size() > kMaxGroupName) return absl::InvalidArgumentError("name must have 1 to 128 bytes");
  if (absl::Status s = CheckUid(owner, "owner"); !s.ok()) return s;
  if (members.size() > kMaxMembersPerCall) return absl::InvalidArgumentError("too many members in one call");
  for (std::int64_t uid : members) {
    if (absl::Status s = CheckUid(uid, "members"); !s.ok()) return s;
  }
  auto gid = store_->CreateGroup(name, owner, members);
  Audit(who,
        "action=group.create name=" + name + " owner=" + std::to_string(owner) + " members=" + Join(members) +
            (gid.ok() ? " gid=" + std::to_string(*gid) : ""),
        gid.status());
  if (gid.ok()) {
    std::set<std::int64_t> all(members.begin(), members.end());
    all.insert(owner);
    Announce("group", *gid, std::vector<std::int64_t>(all.begin(), all.end()));
  }
  return gid;
}

absl::StatusOr<GroupRecord> AdminOps::GetGroup(std::int64_t gid) {
  if (absl::Status s = CheckGid(gid); !s.ok()) return s;
  return store_->GetGroup(gid);
}

absl::Status AdminOps::DeleteGroup(const std::string& who, std::int64_t gid) {
  if (absl::Status s = CheckGid(gid); !s.ok()) return s;
  auto group = store_->GetGroup(gid);
  if (!group.ok()) return group.status();
  absl::Status s = store_->DeleteGroup(gid);
  Audit(who, "action=group.delete gid=" + std::to_string(gid), s);
  if (s.ok()) Announce("group", gid, group->members);
  return s;
}

absl::Status AdminOps::AddMembers(const std::string& who, std::int64_t gid, const std::vector<std::int64_t>& uids) {
  if (absl::Status s = CheckGid(gid); !s.ok()) return s;
  if (uids.empty()) return absl::InvalidArgumentError("uids must name at least one user");
  if (uids.size() > kMaxMembersPerCall) return absl::InvalidArgumentError("too many members in one call");
  for (std::int64_t uid : uids) {
    if (absl::Status s = CheckUid(uid, "uids"); !s.ok()) return s;
  }
  absl::Status s = store_->AddMembers(gid, uids);
  Audit(who, "action=group.add_members gid=" + std::to_string(gid) + " uids=" + Join(uids), s);
  if (s.ok()) Announce("group", gid, uids);
  return s;
}

absl::Status AdminOps::RemoveMember(const std::string& who, std::int64_t gid, std::int64_t uid) {
  if (absl::Status s = CheckGid(gid); !s.ok()) return s;
  if (absl::Status s = CheckUid(uid, "uid"); !s.ok()) return s;
  absl::Status s = store_->RemoveMember(gid, uid);
  Audit(who, "action=group.remove_member gid=" + std::to_string(gid) + " uid=" + std::to_string(uid), s);
  if (s.ok()) Announce("group", gid, {uid});
  return s;
}

absl::Status AdminOps::SetMuted(const std::string& who, std::int64_t gid, std::int64_t uid, bool muted) {
  if (absl::Status s = CheckGid(gid); !s.ok()) return s;
  if (uid != 0) {
    if (absl::Status s = CheckUid(uid, "uid"); !s.ok()) return s;
  }
  absl::Status s = store_->SetMuted(gid, uid, muted);
  Audit(who,
        std::string("action=") + (muted ? "group.mute" : "group.unmute") + " gid=" + std::to_string(gid) +
            " uid=" + std::to_string(uid),
        s);
  if (s.ok()) Announce("group", gid);
  return s;
}

absl::Status AdminOps::AddFriend(const std::string& who, std::int64_t uid, std::int64_t friend_uid) {
  if (absl::Status s = CheckUid(uid, "uid"); !s.ok()) return s;
  if (absl::Status s = CheckUid(friend_uid, "friend"); !s.ok()) return s;
  if (uid == friend_uid) return absl::InvalidArgumentError("a user cannot befriend themselves");
  absl::Status s = store_->AddFriend(uid, friend_uid);
  Audit(who, "action=friend.add uid=" + std::to_string(uid) + " friend=" + std::to_string(friend_uid), s);
  if (s.ok()) {
    Announce("friend", uid);
    Announce("friend", friend_uid);
  }
  return s;
}

absl::Status AdminOps::Block(const std::string& who, std::int64_t uid, std::int64_t blocked_uid) {
  if (absl::Status s = CheckUid(uid, "uid"); !s.ok()) return s;
  if (absl::Status s = CheckUid(blocked_uid, "blocked"); !s.ok()) return s;
  if (uid == blocked_uid) return absl::InvalidArgumentError("a user cannot block themselves");
  absl::Status s = store_->Block(uid, blocked_uid);
  Audit(who, "action=block uid=" + std::to_string(uid) + " blocked=" + std::to_string(blocked_uid), s);
  if (s.ok()) Announce("block", uid);
  return s;
}

absl::StatusOr<std::vector<NodeRecord>> AdminOps::ListNodes() { return store_->ListNodes(); }

absl::StatusOr<NodeRecord> AdminOps::AddNode(const std::string& who, const NodeRecord& node) {
  if (node.address.empty() || node.address.size() > 255) return absl::InvalidArgumentError("address must be set");
  if (node.tcp_port <= 0 || node.tcp_port > 65535) return absl::InvalidArgumentError("tcp_port must be 1..65535");
  if (node.udp_port < 0 || node.udp_port > 65535) return absl::InvalidArgumentError("udp_port must be 0..65535");
  if (node.server_type != 1 && node.server_type != 2) {
    return absl::InvalidArgumentError("server_type must be 1 (notify_server) or 2 (sync_server)");
  }
  if (node.weight < 0) return absl::InvalidArgumentError("weight must not be negative");
  if (node.tcp_protocol.size() > 32) return absl::InvalidArgumentError("tcp_protocol is too long");
  if (!node.admin_endpoint.empty()) {
    std::string host;
    int port = 0;
    if (node.admin_endpoint.size() > 255 || !net::SplitHostPort(node.admin_endpoint, &host, &port)) {
      return absl::InvalidArgumentError("admin_endpoint must be host:port of the daemon's /metrics and /healthz");
    }
  }
  auto added = store_->AddNode(node);
  Audit(who,
        "action=node.add address=" + node.address + " tcp_port=" + std::to_string(node.tcp_port) +
            " server_type=" + std::to_string(node.server_type) + " admin_endpoint=" + node.admin_endpoint +
            (added.ok() ? " id=" + std::to_string(added->id) : ""),
        added.status());
  return added;
}

absl::Status AdminOps::SetNodeDisabled(const std::string& who, std::int64_t id, bool disabled) {
  if (id <= 0) return absl::InvalidArgumentError("node id must be positive");
  absl::Status s = store_->SetNodeDisabled(id, disabled);
  Audit(who, std::string("action=") + (disabled ? "node.disable" : "node.enable") + " id=" + std::to_string(id), s);
  return s;
}

absl::StatusOr<ClusterOverview> AdminOps::Overview() {
  auto nodes = store_->ListNodes();
  if (!nodes.ok()) return nodes.status();
  auto counts = store_->Counts();
  if (!counts.ok()) return counts.status();
  ClusterOverview out;
  out.counts = *counts;
  // Every node is checked at once, so one that hangs costs one timeout, not one per node.
  const int timeout_ms = options_.probe_timeout_ms;
  std::vector<std::future<NodeStatus>> checks;
  for (const NodeRecord& node : *nodes) {
    checks.push_back(std::async(std::launch::async, [node, timeout_ms] {
      NodeStatus status;
      status.node = node;
      if (node.admin_endpoint.empty()) {
        status.checked_by = "tcp";
        status.healthy = ProbeTcp(node.address, node.tcp_port, timeout_ms);
        if (!status.healthy) status.error = "no TCP connection to " + node.address + ":" + std::to_string(node.tcp_port);
        return status;
      }
      AdminScrape scrape = ScrapeAdminEndpoint(node.admin_endpoint, node.server_type, timeout_ms);
      status.checked_by = "healthz";
      status.healthy = scrape.healthy;
      status.connections = scrape.connections;
      status.error = scrape.error;
      return status;
    }));
  }
  for (auto& check : checks) out.nodes.push_back(check.get());
  auto presence = cluster_->Presence();
  if (presence.ok()) {
    out.presence = *presence;
  } else {
    out.presence_error = std::string(presence.status().message());
  }
  return out;
}

absl::StatusOr<SystemMessageResult> AdminOps::SendSystemMessage(const std::string& who, std::int64_t to_uid,
                                                                std::int64_t gid, int msg_type,
                                                                const std::string& content) {
  if ((to_uid == 0) == (gid == 0)) return absl::InvalidArgumentError("give exactly one of to_uid and gid");
  if (to_uid != 0) {
    if (absl::Status s = CheckUid(to_uid, "to_uid"); !s.ok()) return s;
  } else if (absl::Status s = CheckGid(gid); !s.ok()) {
    return s;
  }
  if (content.empty() || content.size() > kMaxSystemMessage) {
    return absl::InvalidArgumentError("content must have 1 to 65000 bytes");
  }
  auto result = cluster_->SendSystemMessage(kSystemUid, to_uid, gid, msg_type, content);
  Audit(who,
        "action=system_message to_uid=" + std::to_string(to_uid) + " gid=" + std::to_string(gid) +
            " bytes=" + std::to_string(content.size()),
        result.status());
  return result;
}

absl::StatusOr<std::vector<OnlineDeviceInfo>> AdminOps::QueryOnline(std::int64_t uid) {
  if (absl::Status s = CheckUid(uid, "uid"); !s.ok()) return s;
  return cluster_->QueryOnline(uid);
}

absl::Status AdminOps::RestoreBans() {
  auto banned = store_->ListBanned();
  if (!banned.ok()) return banned.status();
  for (std::int64_t uid : *banned) {
    if (absl::Status s = tokens_->SetBanned(uid, true); !s.ok()) return s;
  }
  if (!banned->empty()) IM_LOG_INFO(log::Main(), "restored {} bans to Redis", banned->size());
  return absl::OkStatus();
}

}  // namespace im::admin
