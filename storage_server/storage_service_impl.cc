#include "storage_server/storage_service_impl.h"

#include "common/base/shard_map.h"
#include "common/log/log.h"
#include "common/rpc/grpc_util.h"

namespace im::storage {
namespace {

const char* KindName(SeqKind kind) { return kind == SeqKind::kGroup ? "gid" : "uid"; }

// An engine append of `seq` from any request message with the sender, cmd,
// raw and idempotency-key fields (SavePeerMessage, SaveGroupMessage and the
// appends of SaveBatch all have them).
template <typename Message>
AppendRequest AppendFrom(const SeqKey& seq, const Message& in) {
  AppendRequest a;
  a.seq = seq;
  a.sender_uid = in.sender_uid();
  a.device_id = in.device_id();
  a.cmd = in.cmd();
  a.raw = in.raw();
  if (in.has_idempotency_key()) {
    const rpc::IdempotencyKey& k = in.idempotency_key();
    a.idempotency_key = IdempotencyKey{k.sender_uid(), k.device_id(), k.client_msgid()};
  }
  return a;
}

void FillReply(const AppendResult& r, rpc::SaveReply* reply) {
  reply->set_msgid(r.msgid);
  reply->set_offset(r.offset);
  reply->set_pre_msgid(r.pre_msgid);
  reply->set_duplicate(r.duplicate);
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, const absl::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(rpc::ToGrpcStatus(status));
  return reactor;
}

const absl::Status& DrainingError() {
  static const absl::Status* const error =
      new absl::Status(absl::UnavailableError("storage_server is draining; retry elsewhere"));
  return *error;
}

}  // namespace

StorageServiceImpl::StorageServiceImpl(Engine* engine, ServiceOptions options)
    : engine_(engine), options_(options) {}

absl::Status StorageServiceImpl::CheckOwned(const SeqKey& seq) const {
  const int owner = base::ShardOf(seq.id, options_.shard_count);
  if (owner == options_.shard_id) return absl::OkStatus();
  return absl::FailedPreconditionError("storage shard " + std::to_string(options_.shard_id) + " of " +
                                       std::to_string(options_.shard_count) + " does not own " +
                                       KindName(seq.kind) + " " + std::to_string(seq.id) + " (shard " +
                                       std::to_string(owner) + " does)");
}

grpc::ServerUnaryReactor* StorageServiceImpl::SaveOne(grpc::CallbackServerContext* context, AppendRequest append,
                                                      rpc::SaveReply* reply) {
  if (draining_.load()) return FinishNow(context, DrainingError());
  if (absl::Status s = CheckOwned(append.seq); !s.ok()) return FinishNow(context, s);
  auto* reactor = context->DefaultReactor();
  in_flight_.fetch_add(1);
  std::vector<AppendRequest> appends;
  appends.push_back(std::move(append));
  engine_->AppendAsync(std::move(appends), [this, reactor, reply](std::vector<AppendResult> results) {
    const AppendResult& r = results[0];
    if (r.status.ok()) FillReply(r, reply);
    reactor->Finish(rpc::ToGrpcStatus(r.status));
    in_flight_.fetch_sub(1);
  });
  return reactor;
}

grpc::ServerUnaryReactor* StorageServiceImpl::SavePeerMessage(grpc::CallbackServerContext* context,
                                                              const rpc::SavePeerMessageRequest* request,
                                                              rpc::SaveReply* reply) {
  return SaveOne(context, AppendFrom({SeqKind::kPeer, request->uid()}, *request), reply);
}

grpc::ServerUnaryReactor* StorageServiceImpl::SaveGroupMessage(grpc::CallbackServerContext* context,
                                                               const rpc::SaveGroupMessageRequest* request,
                                                               rpc::SaveReply* reply) {
  return SaveOne(context, AppendFrom({SeqKind::kGroup, request->gid()}, *request), reply);
}

grpc::ServerUnaryReactor* StorageServiceImpl::SaveBatch(grpc::CallbackServerContext* context,
                                                        const rpc::SaveBatchRequest* request,
                                                        rpc::SaveBatchReply* reply) {
  if (draining_.load()) return FinishNow(context, DrainingError());
  const int n = request->appends_size();
  if (n > options_.max_batch_appends) {
    return FinishNow(context, absl::InvalidArgumentError("SaveBatch has " + std::to_string(n) +
                                                         " appends, more than server.max_batch_appends " +
                                                         std::to_string(options_.max_batch_appends)));
  }
  for (int i = 0; i < n; ++i) reply->add_results();
  std::vector<AppendRequest> appends;
  std::vector<int> positions;  // index in the request of each engine append
  appends.reserve(n);
  positions.reserve(n);
  for (int i = 0; i < n; ++i) {
    const rpc::AppendRequest& in = request->appends(i);
    const SeqKey seq{static_cast<SeqKind>(in.seq().kind()), in.seq().id()};
    if (absl::Status s = CheckOwned(seq); !s.ok()) {
      reply->mutable_results(i)->set_status(static_cast<int>(s.code()));
      reply->mutable_results(i)->set_error(std::string(s.message()));
      continue;
    }
    appends.push_back(AppendFrom(seq, in));
    positions.push_back(i);
  }
  auto* reactor = context->DefaultReactor();
  if (appends.empty()) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  in_flight_.fetch_add(1);
  engine_->AppendAsync(std::move(appends), [this, reactor, reply, positions = std::move(positions)](
                                               std::vector<AppendResult> results) {
    for (std::size_t j = 0; j < results.size(); ++j) {
      rpc::AppendResult* out = reply->mutable_results(positions[j]);
      const AppendResult& r = results[j];
      out->set_status(static_cast<int>(r.status.code()));
      if (r.status.ok()) {
        FillReply(r, out->mutable_reply());
      } else {
        out->set_error(std::string(r.status.message()));
      }
    }
    reactor->Finish(grpc::Status::OK);
    in_flight_.fetch_sub(1);
  });
  return reactor;
}

grpc::ServerUnaryReactor* StorageServiceImpl::Sync(grpc::CallbackServerContext* context, SeqKind kind,
                                                   const rpc::SyncMessagesRequest* request,
                                                   rpc::SyncMessagesReply* reply) {
  const SeqKey seq{kind, request->id()};
  if (absl::Status s = CheckOwned(seq); !s.ok()) return FinishNow(context, s);
  auto result = engine_->Read(seq, request->after_offset(), request->limit());
  if (!result.ok()) {
    if (result.status().code() != absl::StatusCode::kInvalidArgument) {
      IM_LOG_ERROR(log::Store(), "sync read of {} {} failed: {}", KindName(kind), seq.id, result.status().message());
    }
    return FinishNow(context, result.status());
  }
  for (StoredRecord& r : result->records) {
    rpc::HistoryMessage* m = reply->add_messages();
    m->set_offset(r.offset);
    m->set_msgid(r.msgid);
    m->set_deviceid(r.device_id);
    m->set_cmd(r.cmd);
    m->set_raw(std::move(r.raw));
    m->set_premsgid(r.pre_msgid);
    m->set_senderuid(r.sender_uid);
  }
  reply->set_lastmsgid(result->records.empty() ? 0 : result->records.back().msgid);
  reply->set_newest_offset(result->info.newest_offset);
  reply->set_newest_msgid(result->info.newest_msgid);
  reply->set_oldest_offset(result->info.oldest_offset);
  reply->set_has_more(result->has_more);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* StorageServiceImpl::SyncPeerMessages(grpc::CallbackServerContext* context,
                                                               const rpc::SyncMessagesRequest* request,
                                                               rpc::SyncMessagesReply* reply) {
  return Sync(context, SeqKind::kPeer, request, reply);
}

grpc::ServerUnaryReactor* StorageServiceImpl::SyncGroupMessages(grpc::CallbackServerContext* context,
                                                                const rpc::SyncMessagesRequest* request,
                                                                rpc::SyncMessagesReply* reply) {
  return Sync(context, SeqKind::kGroup, request, reply);
}

grpc::ServerUnaryReactor* StorageServiceImpl::GetSequenceInfo(grpc::CallbackServerContext* context,
                                                              const rpc::GetSequenceInfoRequest* request,
                                                              rpc::GetSequenceInfoReply* reply) {
  if (request->seqs_size() > options_.max_info_seqs) {
    return FinishNow(context, absl::InvalidArgumentError("GetSequenceInfo asks for " +
                                                         std::to_string(request->seqs_size()) +
                                                         " sequences, more than " +
                                                         std::to_string(options_.max_info_seqs)));
  }
  std::vector<SeqKey> seqs;
  seqs.reserve(request->seqs_size());
  for (const rpc::SeqId& id : request->seqs()) {
    SeqKey seq{static_cast<SeqKind>(id.kind()), id.id()};
    if (absl::Status s = CheckOwned(seq); !s.ok()) return FinishNow(context, s);
    seqs.push_back(seq);
  }
  auto infos = engine_->GetInfo(seqs);
  if (!infos.ok()) return FinishNow(context, infos.status());
  for (int i = 0; i < request->seqs_size(); ++i) {
    rpc::SequenceInfo* out = reply->add_infos();
    *out->mutable_seq() = request->seqs(i);
    out->set_newest_msgid((*infos)[i].newest_msgid);
    out->set_newest_offset((*infos)[i].newest_offset);
    out->set_oldest_offset((*infos)[i].oldest_offset);
  }
  return FinishNow(context, absl::OkStatus());
}

}  // namespace im::storage
