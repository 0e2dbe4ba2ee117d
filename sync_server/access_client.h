#pragma once
// Asynchronous client of the access_servers (round-robin over the list).
// Peer sends are coalesced: one SendPeerMessages call carries every send
// waiting (up to `max_batch`), with at most `max_in_flight` such calls per
// access_server at once, so a message does not cost a round trip of its own.
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

  struct Options {
    std::vector<std::string> addresses;
    int timeout_ms = 5000;
    int max_batch = 256;     // peer sends per SendPeerMessages call
    int max_in_flight = 4;   // SendPeerMessages calls per access_server
  };

  explicit AccessClient(Options options);
  ~AccessClient();

  /// Queued and sent with others in one SendPeerMessages call.
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
