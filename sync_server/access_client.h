#pragma once
// Asynchronous client of the access_servers (round-robin over the list).
// Callbacks run on gRPC threads: they must not block. Thread safe.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/access.pb.h"

namespace im::sync {

class AccessClient {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  AccessClient(const std::vector<std::string>& addresses, int timeout_ms);
  ~AccessClient();

  void SendPeerMessage(rpc::SendPeerMessageRequest request, Done<rpc::SendReply> done);
  void SendGroupMessage(rpc::SendGroupMessageRequest request, Done<rpc::SendReply> done);
  void SyncPeer(rpc::SyncRequest request, Done<rpc::SyncReply> done);
  void SyncGroup(rpc::SyncRequest request, Done<rpc::SyncReply> done);
  void GetSyncInfo(rpc::GetSyncInfoRequest request, Done<rpc::GetSyncInfoReply> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace im::sync
