#pragma once
// notify_server's calls to access_server (proto/access.proto), asynchronous
// with deadlines. Heartbeats, the hottest request in the system, are batched:
// PINGs arriving while calls are in flight wait and go out together in one
// GetSyncInfo with many uids. grpcpp stays in access_client.cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/access.pb.h"

namespace im::notify {

struct AccessClientOptions {
  std::string address = "127.0.0.1:50051";
  int timeout_ms = 2000;          // deadline of every call
  std::size_t max_ping_batch = 2000;  // uids per GetSyncInfo
  int max_ping_calls = 4;         // GetSyncInfo calls in flight at once
};

/// Thread safe. Callbacks run on gRPC threads and must not block.
class AccessClient {
 public:
  explicit AccessClient(AccessClientOptions options);
  ~AccessClient();

  /// The newest (msgid, offset) of uid's peer sequence, batched with other PINGs.
  void GetSyncInfo(std::int64_t uid, std::function<void(absl::StatusOr<rpc::SyncPoint>)> done);
  /// Records an ack; errors are logged, not reported.
  void AckOffset(std::int64_t uid, std::int64_t gid, std::int64_t offset);
  void GetSyncOffsets(std::int64_t uid, std::function<void(absl::StatusOr<rpc::GetSyncOffsetsReply>)> done);
  /// Waits for the calls in flight. Call before destruction.
  void Shutdown();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace im::notify
