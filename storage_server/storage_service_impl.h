#pragma once
// The StorageService gRPC surface over the engine: shard ownership checks,
// proto <-> engine types, engine errors -> grpc::Status. Includes the
// generated gRPC header: include only from storage_server.cc and tests.

#include <atomic>
#include <cstdint>

#include "proto/storage.grpc.pb.h"
#include "storage_server/engine.h"

namespace im::storage {

struct ServiceOptions {
  int shard_id = 0;
  int shard_count = 1;
  int max_batch_appends = 10000;
  int max_info_seqs = 100000;  // most sequences per GetSequenceInfo
};

/// Callback-API service. Appends complete their reactors from the engine's
/// writer thread; reads run on the gRPC thread (a RocksDB read, no waiting).
/// Thread safe.
class StorageServiceImpl final : public rpc::StorageService::CallbackService {
 public:
  /// `engine` must outlive the service and every call in flight.
  StorageServiceImpl(Engine* engine, ServiceOptions options);

  /// While draining, appends are answered UNAVAILABLE ("retry elsewhere");
  /// reads are still served. Thread safe.
  void SetDraining(bool draining) { draining_.store(draining); }
  /// Appends accepted and not yet answered. Thread safe.
  std::int64_t appends_in_flight() const { return in_flight_.load(); }

  grpc::ServerUnaryReactor* SavePeerMessage(grpc::CallbackServerContext* context,
                                            const rpc::SavePeerMessageRequest* request,
                                            rpc::SaveReply* reply) override;
  grpc::ServerUnaryReactor* SaveGroupMessage(grpc::CallbackServerContext* context,
                                             const rpc::SaveGroupMessageRequest* request,
                                             rpc::SaveReply* reply) override;
  grpc::ServerUnaryReactor* SaveBatch(grpc::CallbackServerContext* context, const rpc::SaveBatchRequest* request,
                                      rpc::SaveBatchReply* reply) override;
  grpc::ServerUnaryReactor* SyncPeerMessages(grpc::CallbackServerContext* context,
                                             const rpc::SyncMessagesRequest* request,
                                             rpc::SyncMessagesReply* reply) override;
  grpc::ServerUnaryReactor* SyncGroupMessages(grpc::CallbackServerContext* context,
                                              const rpc::SyncMessagesRequest* request,
                                              rpc::SyncMessagesReply* reply) override;
  grpc::ServerUnaryReactor* GetSequenceInfo(grpc::CallbackServerContext* context,
                                            const rpc::GetSequenceInfoRequest* request,
                                            rpc::GetSequenceInfoReply* reply) override;

 private:
  /// OK when this shard owns `seq`, else FAILED_PRECONDITION naming the owner.
  absl::Status CheckOwned(const SeqKey& seq) const;
  grpc::ServerUnaryReactor* SaveOne(grpc::CallbackServerContext* context, AppendRequest append,
                                    rpc::SaveReply* reply);
  grpc::ServerUnaryReactor* Sync(grpc::CallbackServerContext* context, SeqKind kind,
                                 const rpc::SyncMessagesRequest* request, rpc::SyncMessagesReply* reply);

  Engine* const engine_;
  const ServiceOptions options_;
  std::atomic<bool> draining_{false};
  std::atomic<std::int64_t> in_flight_{0};
};

}  // namespace im::storage
