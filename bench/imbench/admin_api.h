#pragma once
// A small blocking client of admin_qim's HTTP API (docs/protocol.md §7) for
// imbench's set-up: accounts, tokens and groups. One keep-alive connection per
// AdminApi object; not thread safe (use one per thread).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace im::bench {

class AdminApi {
 public:
  /// `address` is admin_qim's host:port; `secret` the admin secret.
  AdminApi(std::string address, std::string secret);
  ~AdminApi();

  /// Creates account `no` (or finds it when it exists: 409 → GET) and returns its uid.
  absl::StatusOr<std::int64_t> EnsureAccount(const std::string& no, const std::string& password);
  /// A login token for `uid` (admin call).
  absl::StatusOr<std::string> IssueToken(std::int64_t uid);
  /// Creates a group owned by members[0] with all `members` (added in chunks).
  absl::StatusOr<std::int64_t> CreateGroup(const std::string& name, const std::vector<std::int64_t>& members);

 private:
  struct Answer {
    int status = 0;
    std::string body;
  };
  absl::StatusOr<Answer> Call(const std::string& method, const std::string& target, const std::string& body);

  struct Connection;
  std::string host_;
  std::string port_;
  std::string secret_;
  std::unique_ptr<Connection> connection_;
};

/// Creates `count` accounts named prefix+index and issues a token for each,
/// with `concurrency` parallel connections. Returns (uid, token) pairs in
/// index order.
absl::StatusOr<std::vector<std::pair<std::int64_t, std::string>>> CreateAccounts(
    const std::string& admin, const std::string& secret, const std::string& prefix, int count, int concurrency);

}  // namespace im::bench
