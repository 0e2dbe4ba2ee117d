#pragma once
// In-memory fakes of admin_qim's dependencies (DirectoryStore, SessionTokens,
// DirectoryEvents, ClusterClient), for HttpApi/AdminOps unit tests and the
// admin HTTP fuzzer. Not thread safe.

#include <map>
#include <string>
#include <vector>

#include "admin_qim/admin_ops.h"
#include "admin_qim/redis_backend.h"

namespace im::admin::fakes {

class FakeStore final : public DirectoryStore {
 public:
  int writes = 0;
  std::map<std::string, AccountRecord> accounts;
  std::vector<NodeRecord> nodes;

  absl::StatusOr<AccountRecord> CreateAccount(const std::string& no, const std::string& hash) override {
    ++writes;
    if (accounts.count(no)) return absl::AlreadyExistsError("account '" + no + "' already exists");
    last_hash = hash;
    AccountRecord a{static_cast<std::int64_t>(accounts.size()) + 2, no, false, 1};
    accounts[no] = a;
    return a;
  }
  absl::StatusOr<AccountRecord> GetAccountByNo(const std::string& no) override {
    auto it = accounts.find(no);
    if (it == accounts.end()) return absl::NotFoundError("account '" + no + "' does not exist");
    return it->second;
  }
  absl::StatusOr<AccountRecord> GetAccountByUid(std::int64_t uid) override {
    for (auto& [no, a] : accounts) {
      if (a.uid == uid) return a;
    }
    return absl::NotFoundError("no such uid");
  }
  absl::StatusOr<std::vector<AccountRecord>> ListAccounts(const std::string&, int, std::int64_t) override {
    return std::vector<AccountRecord>{};
  }
  absl::StatusOr<CredentialRecord> GetCredential(const std::string& no) override {
    auto it = accounts.find(no);
    if (it == accounts.end()) return absl::NotFoundError("none");
    return CredentialRecord{it->second.uid, last_hash};
  }
  absl::Status SetBanned(std::int64_t, bool) override { return Write(); }
  absl::StatusOr<std::vector<std::int64_t>> ListBanned() override { return std::vector<std::int64_t>{}; }
  absl::StatusOr<std::int64_t> CreateGroup(const std::string&, std::int64_t, const std::vector<std::int64_t>&) override {
    ++writes;
    return 9001;
  }
  absl::StatusOr<GroupRecord> GetGroup(std::int64_t) override { return absl::NotFoundError("group does not exist"); }
  absl::Status DeleteGroup(std::int64_t) override { return Write(); }
  absl::Status AddMembers(std::int64_t gid, const std::vector<std::int64_t>&) override {
    ++writes;
    return gid == 9001 ? absl::OkStatus() : absl::NotFoundError("group does not exist");
  }
  absl::Status RemoveMember(std::int64_t, std::int64_t) override { return Write(); }
  absl::Status SetMuted(std::int64_t, std::int64_t, bool) override { return Write(); }
  absl::Status AddFriend(std::int64_t, std::int64_t) override { return Write(); }
  absl::Status Block(std::int64_t, std::int64_t) override { return Write(); }
  absl::StatusOr<std::vector<NodeRecord>> ListNodes() override { return nodes; }
  absl::StatusOr<std::int64_t> NodeListChangedAt() override { return 1582004741; }
  absl::StatusOr<NodeRecord> AddNode(const NodeRecord& n) override {
    ++writes;
    return n;
  }
  absl::Status SetNodeDisabled(std::int64_t, bool) override { return Write(); }
  absl::StatusOr<DirectoryCounts> Counts() override { return DirectoryCounts{}; }

 private:
  absl::Status Write() {
    ++writes;
    return absl::OkStatus();
  }
  std::string last_hash;
};

class FakeRedis final : public SessionTokens, public DirectoryEvents {
 public:
  std::vector<std::string> events;
  absl::StatusOr<std::string> Issue(std::int64_t uid, std::int64_t) override { return "token-" + std::to_string(uid); }
  absl::Status RevokeAll(std::int64_t) override { return absl::OkStatus(); }
  absl::Status SetBanned(std::int64_t, bool) override { return absl::OkStatus(); }
  absl::Status Publish(const std::string& kind, std::int64_t id, const std::vector<std::int64_t>& uids) override {
    events.push_back(RedisBackend::EventJson(kind, id, uids));
    return absl::OkStatus();
  }
};

class FakeCluster final : public ClusterClient {
 public:
  absl::StatusOr<SystemMessageResult> SendSystemMessage(std::int64_t, std::int64_t, std::int64_t, int,
                                                        const std::string&) override {
    return absl::UnavailableError("none");
  }
  absl::StatusOr<std::vector<OnlineDeviceInfo>> QueryOnline(std::int64_t) override {
    return absl::UnavailableError("none");
  }
  absl::StatusOr<PresenceTotals> Presence() override { return absl::UnavailableError("none"); }
};

}  // namespace im::admin::fakes
