#pragma once
// The business logic of access_server, without gRPC: sends (checks, durable
// appends, then cache and notifications), pulls, sync offsets, acks, token
// checks. Methods block (storage, Redis, MySQL) and run on handler threads,
// never on gRPC or I/O threads; sends block only for their checks and hand
// the wait for storage to a callback, so a handler thread is not held for
// the durable write. Thread safe.

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "access_server/access_config.h"
#include "proto/access.pb.h"

namespace im::access {

class Directory;
class MessageCache;
class RateLimiter;
class RoutePublisher;
class StorageClient;
class TokenChecker;

/// Receives a send's answer exactly once: on the calling thread when the
/// send is refused before storage, else on a storage client (gRPC) thread,
/// which it must not block.
using SendDone = std::function<void(rpc::SendReply)>;

class AccessHandler {
 public:
  AccessHandler(const AccessConfig& config, StorageClient* storage, MessageCache* cache, RoutePublisher* route,
                Directory* directory, RateLimiter* limiter, TokenChecker* tokens);

  /// The storage client, for a StorageClient::Hold around a batch of sends.
  StorageClient* storage() const { return storage_; }

  void SendPeer(const rpc::SendPeerMessageRequest& request, SendDone done);
  void SendGroup(const rpc::SendGroupMessageRequest& request, SendDone done);
  rpc::SyncReply SyncPeer(const rpc::SyncRequest& request);
  rpc::SyncReply SyncGroup(const rpc::SyncRequest& request);
  absl::StatusOr<rpc::GetSyncInfoReply> GetSyncInfo(const rpc::GetSyncInfoRequest& request);
  absl::StatusOr<rpc::GetSyncOffsetsReply> GetSyncOffsets(const rpc::GetSyncOffsetsRequest& request);
  absl::Status AckOffset(const rpc::AckOffsetRequest& request);
  rpc::ValidateTokenReply ValidateToken(const rpc::ValidateTokenRequest& request);

 private:
  rpc::SyncReply Sync(rpc::SeqKind kind, std::int64_t id, const rpc::SyncRequest& request);
  void Notify(rpc::SeqKind kind, std::int64_t seq_id, const std::vector<std::int64_t>& uids,
              const rpc::ChatRecord& record, std::int64_t skip_device_id);

  const AccessConfig& config_;
  StorageClient* storage_;
  MessageCache* cache_;
  RoutePublisher* route_;
  Directory* directory_;
  RateLimiter* limiter_;
  TokenChecker* tokens_;
};

/// Checks login tokens (TokenStore over a Redis connection). Thread safe.
class TokenChecker {
 public:
  virtual ~TokenChecker() = default;
  /// 200 valid, 401 invalid or banned, 503 when the token store is down.
  virtual int Check(std::int64_t uid, const std::string& token) = 0;
};

}  // namespace im::access
