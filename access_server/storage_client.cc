#include "access_server/storage_client.h"

#include <deque>
#include <future>
#include <mutex>

#include "common/base/shard_map.h"
#include "common/rpc/grpc_util.h"
#include "proto/storage.grpc.pb.h"

namespace im::access {

class StorageClient::Shard {
 public:
  Shard(const std::string& address, const StorageClientOptions& options)
      : address_(address), options_(options), stub_(rpc::StorageService::NewStub(im::rpc::MakeChannel(address))) {}

  rpc::StorageService::Stub* stub() { return stub_.get(); }
  const std::string& address() const { return address_; }

  void Append(rpc::AppendRequest append, AppendDone done) {
    std::unique_lock<std::mutex> lock(mu_);
    queue_.push_back({std::move(append), std::move(done)});
    MaybeSendLocked(lock);
  }

  void AppendAll(std::vector<std::pair<rpc::AppendRequest, AppendDone>>& appends) {
    if (appends.empty()) return;
    std::unique_lock<std::mutex> lock(mu_);
    for (auto& [append, done] : appends) queue_.push_back({std::move(append), std::move(done)});
    MaybeSendLocked(lock);
  }

 private:
  struct Pending {
    rpc::AppendRequest append;
    AppendDone done;
  };
  struct Call {
    grpc::ClientContext context;
    rpc::SaveBatchRequest request;
    rpc::SaveBatchReply reply;
    std::vector<AppendDone> dones;
  };

  // Sends what is queued if a call slot is free. Releases the lock while
  // starting the call.
  void MaybeSendLocked(std::unique_lock<std::mutex>& lock) {
    while (!queue_.empty() && in_flight_ < options_.max_in_flight) {
      auto call = std::make_shared<Call>();
      const std::size_t n = std::min<std::size_t>(queue_.size(), static_cast<std::size_t>(options_.max_batch));
      for (std::size_t i = 0; i < n; ++i) {
        *call->request.add_appends() = std::move(queue_.front().append);
        call->dones.push_back(std::move(queue_.front().done));
        queue_.pop_front();
      }
      ++in_flight_;
      lock.unlock();
      call->context.set_deadline(im::rpc::DeadlineAfter(options_.timeout_ms));
      stub_->async()->SaveBatch(&call->context, &call->request, &call->reply,
                                [this, call](grpc::Status status) { OnDone(call, status); });
      lock.lock();
    }
  }

  void OnDone(const std::shared_ptr<Call>& call, const grpc::Status& status) {
    // The slot is free: what queued meanwhile goes out before this call's
    // answers are worked through (they queue pushes, answer senders).
    {
      std::unique_lock<std::mutex> lock(mu_);
      --in_flight_;
      MaybeSendLocked(lock);
    }
    for (std::size_t i = 0; i < call->dones.size(); ++i) {
      if (!status.ok()) {
        call->dones[i](absl::UnavailableError("storage " + address_ + ": " + status.error_message()));
      } else if (static_cast<int>(i) >= call->reply.results_size()) {
        call->dones[i](absl::InternalError("storage " + address_ + ": short SaveBatch reply"));
      } else {
        const rpc::AppendResult& result = call->reply.results(static_cast<int>(i));
        if (result.status() != 0) {
          call->dones[i](absl::Status(static_cast<absl::StatusCode>(result.status()), result.error()));
        } else {
          call->dones[i](result.reply());
        }
      }
    }
  }

  std::string address_;
  const StorageClientOptions& options_;
  std::unique_ptr<rpc::StorageService::Stub> stub_;
  std::mutex mu_;
  std::deque<Pending> queue_;  // guarded by mu_
  int in_flight_ = 0;          // guarded by mu_
};

StorageClient::StorageClient(StorageClientOptions options) : options_(std::move(options)) {
  for (const std::string& address : options_.addresses) shards_.push_back(std::make_unique<Shard>(address, options_));
}

StorageClient::~StorageClient() = default;

int StorageClient::shard_count() const { return static_cast<int>(shards_.size()); }

int StorageClient::ShardOf(std::int64_t id) const {
  return base::ShardOf(id, static_cast<int>(shards_.size()));
}

namespace {
// The innermost Hold of this thread (any client).
thread_local StorageClient::Hold* current_hold = nullptr;
}  // namespace

StorageClient::Hold::Hold(StorageClient* client)
    : client_(client), outer_(current_hold), held_(client->shards_.size()) {
  current_hold = this;
}

StorageClient::Hold::~Hold() {
  current_hold = outer_;
  for (std::size_t shard = 0; shard < held_.size(); ++shard) client_->shards_[shard]->AppendAll(held_[shard]);
}

void StorageClient::Append(rpc::AppendRequest append, AppendDone done) {
  const int shard = ShardOf(append.seq().id());
  for (Hold* hold = current_hold; hold != nullptr; hold = hold->outer_) {
    if (hold->client_ == this) {
      hold->held_[shard].emplace_back(std::move(append), std::move(done));
      return;
    }
  }
  shards_[shard]->Append(std::move(append), std::move(done));
}

absl::StatusOr<rpc::SyncMessagesReply> StorageClient::Sync(rpc::SeqKind kind, std::int64_t id,
                                                           std::int64_t after_offset, int limit) {
  Shard& shard = *shards_[ShardOf(id)];
  grpc::ClientContext context;
  context.set_deadline(im::rpc::DeadlineAfter(options_.timeout_ms));
  rpc::SyncMessagesRequest request;
  request.set_id(id);
  request.set_after_offset(after_offset);
  request.set_limit(limit);
  rpc::SyncMessagesReply reply;
  const grpc::Status status = kind == rpc::SEQ_PEER ? shard.stub()->SyncPeerMessages(&context, request, &reply)
                                                    : shard.stub()->SyncGroupMessages(&context, request, &reply);
  if (!status.ok()) return absl::UnavailableError("storage " + shard.address() + ": " + status.error_message());
  return reply;
}

absl::StatusOr<std::vector<rpc::SequenceInfo>> StorageClient::GetSequenceInfo(const std::vector<rpc::SeqId>& seqs) {
  // One call per shard that owns any of the sequences, all in flight at once.
  struct ShardCall {
    grpc::ClientContext context;
    rpc::GetSequenceInfoRequest request;
    rpc::GetSequenceInfoReply reply;
    std::vector<std::size_t> positions;
    std::promise<grpc::Status> done;
  };
  std::vector<std::unique_ptr<ShardCall>> calls(shards_.size());
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    auto& call = calls[ShardOf(seqs[i].id())];
    if (!call) call = std::make_unique<ShardCall>();
    *call->request.add_seqs() = seqs[i];
    call->positions.push_back(i);
  }
  std::vector<std::future<grpc::Status>> futures(shards_.size());
  for (std::size_t s = 0; s < calls.size(); ++s) {
    if (!calls[s]) continue;
    ShardCall* call = calls[s].get();
    futures[s] = call->done.get_future();
    call->context.set_deadline(im::rpc::DeadlineAfter(options_.timeout_ms));
    shards_[s]->stub()->async()->GetSequenceInfo(&call->context, &call->request, &call->reply,
                                                 [call](grpc::Status status) { call->done.set_value(status); });
  }
  std::vector<rpc::SequenceInfo> infos(seqs.size());
  absl::Status first_error;
  for (std::size_t s = 0; s < calls.size(); ++s) {
    if (!calls[s]) continue;
    const grpc::Status status = futures[s].get();
    if (!status.ok()) {
      if (first_error.ok()) {
        first_error = absl::UnavailableError("storage " + shards_[s]->address() + ": " + status.error_message());
      }
      continue;
    }
    const auto& reply = calls[s]->reply;
    for (std::size_t k = 0; k < calls[s]->positions.size() && static_cast<int>(k) < reply.infos_size(); ++k) {
      infos[calls[s]->positions[k]] = reply.infos(static_cast<int>(k));
    }
  }
  if (!first_error.ok()) return first_error;
  return infos;
}

}  // namespace im::access
