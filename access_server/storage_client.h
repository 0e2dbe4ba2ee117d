#pragma once
// Client of the storage shards. Appends from many concurrent requests are
// coalesced into SaveBatch calls per shard: a call takes everything waiting
// (never waits for a batch to fill), and at most `max_in_flight` calls per
// shard run at once. Thread safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/storage.pb.h"

namespace im::access {

struct StorageClientOptions {
  std::vector<std::string> addresses;  // index = shard id
  int timeout_ms = 3000;
  int max_batch = 512;
  int max_in_flight = 4;
};

class StorageClient {
 public:
  using AppendDone = std::function<void(absl::StatusOr<rpc::SaveReply>)>;

  explicit StorageClient(StorageClientOptions options);
  ~StorageClient();

  int shard_count() const;
  int ShardOf(std::int64_t id) const;

  /// Queues an append to the shard owning `append.seq().id()`; `done` runs on
  /// a gRPC thread once the append is durable (or failed).
  void Append(rpc::AppendRequest append, AppendDone done);

  /// While a Hold lives, the Append() calls its thread makes to this client
  /// are collected and queued together when it ends. Without it, the first
  /// append of a batch of sends leaves alone in a SaveBatch whenever a call
  /// slot is free, and storage commits many tiny batches (each an fsync)
  /// while the rest of the batch waits for a slot.
  class Hold {
   public:
    explicit Hold(StorageClient* client);
    ~Hold();
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    friend class StorageClient;
    StorageClient* client_;
    Hold* outer_;
    std::vector<std::vector<std::pair<rpc::AppendRequest, AppendDone>>> held_;  // per shard
  };

  /// Blocking reads, for handler threads (never for gRPC or I/O threads).
  absl::StatusOr<rpc::SyncMessagesReply> Sync(rpc::SeqKind kind, std::int64_t id, std::int64_t after_offset,
                                              int limit);
  /// Newest (msgid, offset) of each sequence, same order as `seqs`.
  absl::StatusOr<std::vector<rpc::SequenceInfo>> GetSequenceInfo(const std::vector<rpc::SeqId>& seqs);

 private:
  class Shard;
  StorageClientOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace im::access
