#include "access_server/access_handler.h"

#include <chrono>
#include <memory>
#include <mutex>

#include "access_server/directory.h"
#include "access_server/message_cache.h"
#include "access_server/rate_limiter.h"
#include "access_server/route_publisher.h"
#include "access_server/storage_client.h"
#include "common/log/log.h"

namespace im::access {
namespace {

constexpr int kOk = 200;
constexpr int kNotFriends = 201;
constexpr int kBadRequest = 400;
constexpr int kForbidden = 403;
constexpr int kNotFound = 404;
constexpr int kRateLimited = 429;
constexpr int kInternal = 500;
constexpr int kUnavailable = 503;

// The client command a stored record answers to (kept in the record's `cmd`).
constexpr int kPeerCmd = 315;
constexpr int kGroupCmd = 328;

rpc::SendReply Reply(int code, std::string desp) {
  rpc::SendReply reply;
  reply.set_code(code);
  reply.set_desp(std::move(desp));
  return reply;
}

int CodeForStorageError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument: return kBadRequest;
    case absl::StatusCode::kFailedPrecondition: return kInternal;  // shard map mismatch: an operator error
    default: return kUnavailable;
  }
}

int32_t NowSeconds() {
  return static_cast<int32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// Checks shared by peer and group sends; returns 0 when the message is fine.
int CheckMessage(const rpc::ChatPayload& m, int len, int max_content, std::string* why) {
  if (m.from_uid() <= 0) {
    *why = "bad fromUID";
    return kBadRequest;
  }
  if (m.content().empty()) {
    *why = "empty content";
    return kBadRequest;
  }
  if (len != static_cast<int>(m.content().size())) {
    *why = "len " + std::to_string(len) + " != content size " + std::to_string(m.content().size());
    return kBadRequest;
  }
  if (static_cast<int>(m.content().size()) > max_content) {
    *why = "content larger than " + std::to_string(max_content) + " bytes";
    return kBadRequest;
  }
  return 0;
}

rpc::AppendRequest MakeAppend(rpc::SeqKind kind, std::int64_t id, const rpc::ChatPayload& m, int cmd,
                              const std::string& raw) {
  rpc::AppendRequest append;
  append.mutable_seq()->set_kind(kind);
  append.mutable_seq()->set_id(id);
  append.set_sender_uid(m.from_uid());
  append.set_device_id(m.device_id());
  append.set_cmd(cmd);
  append.set_raw(raw);
  if (m.client_msgid() != 0) {
    auto* key = append.mutable_idempotency_key();
    key->set_sender_uid(m.from_uid());
    key->set_device_id(m.device_id());
    key->set_client_msgid(m.client_msgid());
  }
  return append;
}

rpc::ChatRecord MakeRecord(const rpc::SaveReply& saved, const rpc::ChatPayload& m) {
  rpc::ChatRecord record;
  record.set_offset(saved.offset());
  record.set_msgid(saved.msgid());
  record.set_pre_msgid(saved.pre_msgid());
  *record.mutable_payload() = m;
  return record;
}

}  // namespace

AccessHandler::AccessHandler(const AccessConfig& config, StorageClient* storage, MessageCache* cache,
                             RoutePublisher* route, Directory* directory, RateLimiter* limiter, TokenChecker* tokens)
    : config_(config),
      storage_(storage),
      cache_(cache),
      route_(route),
      directory_(directory),
      limiter_(limiter),
      tokens_(tokens) {}

void AccessHandler::SendPeer(const rpc::SendPeerMessageRequest& request, SendDone done) {
  rpc::ChatPayload m = request.message();
  std::string why;
  if (int code = CheckMessage(m, request.len(), config_.max_content_bytes, &why)) return done(Reply(code, why));
  if (m.to_uid() <= 0 || m.to_uid() == m.from_uid()) return done(Reply(kBadRequest, "bad toUID"));
  m.set_gid(0);
  if (!limiter_->Allow(m.from_uid())) return done(Reply(kRateLimited, "rate limited"));

  auto banned = directory_->IsBanned(m.from_uid());
  if (!banned.ok()) return done(Reply(kUnavailable, "directory unavailable"));
  if (*banned) return done(Reply(kForbidden, "sender is banned"));
  auto exists = directory_->UserExists(m.to_uid());
  if (!exists.ok()) return done(Reply(kUnavailable, "directory unavailable"));
  if (!*exists) return done(Reply(kNotFound, "receiver does not exist"));
  auto blocked = directory_->IsBlocked(m.to_uid(), m.from_uid());
  if (!blocked.ok()) return done(Reply(kUnavailable, "directory unavailable"));
  if (*blocked) return done(Reply(kForbidden, "blocked by receiver"));
  if (m.msg_flag() & 1) {
    auto is_friend = directory_->IsFriend(m.to_uid(), m.from_uid());
    if (!is_friend.ok()) return done(Reply(kUnavailable, "directory unavailable"));
    if (!*is_friend) return done(Reply(kNotFriends, "not friends"));
  }
  if (m.timestamp() == 0) m.set_timestamp(NowSeconds());

  // The receiver's record and the sender copy, appended concurrently (they
  // may live on different shards); both under the same idempotency key, so a
  // retry after a partial failure completes the missing one only. Each copy
  // is pushed as soon as it is durable, in the order storage answers (which
  // keeps a sequence's pushes in offset order, so clients seldom see a gap);
  // the second append to finish answers the sender.
  struct PeerSend {
    rpc::ChatPayload message;
    SendDone done;
    std::mutex mu;
    int waiting = 2;  // guarded by mu
    absl::StatusOr<rpc::SaveReply> receiver = absl::UnknownError("pending");
    absl::StatusOr<rpc::SaveReply> sender = absl::UnknownError("pending");
  };
  auto send = std::make_shared<PeerSend>();
  send->message = std::move(m);
  send->done = std::move(done);
  auto finish = [this, send]() {
    const rpc::ChatPayload& m = send->message;
    for (const auto* saved : {&send->receiver, &send->sender}) {
      if (!saved->ok()) {
        IM_LOG_WARN(log::Rpc(), "send from={} to={} msgid={}: storage: {}", m.from_uid(), m.to_uid(),
                    m.client_msgid(), saved->status().message());
        return send->done(Reply(CodeForStorageError(saved->status()), "storage unavailable, retry with the same msgid"));
      }
    }
    rpc::SendReply reply = Reply(kOk, "");
    reply.set_offset(send->sender->offset());
    reply.set_msgid(send->sender->msgid());
    cache_->Store(rpc::SEQ_PEER, m.to_uid(), {MakeRecord(*send->receiver, m)});  // only queues
    cache_->Store(rpc::SEQ_PEER, m.from_uid(), {MakeRecord(*send->sender, m)});
    send->done(std::move(reply));
  };
  // `owner` is the uid whose sequence the slot's copy is in.
  auto saved = [this, send, finish](absl::StatusOr<rpc::SaveReply>* slot, std::int64_t owner,
                                    std::int64_t skip_device) {
    return [this, send, finish, slot, owner, skip_device](absl::StatusOr<rpc::SaveReply> r) {
      if (r.ok()) Notify(rpc::SEQ_PEER, owner, {owner}, MakeRecord(*r, send->message), skip_device);  // only queues
      bool last;
      {
        std::lock_guard<std::mutex> lock(send->mu);
        *slot = std::move(r);
        last = --send->waiting == 0;
      }
      if (last) finish();
    };
  };
  const std::string raw = send->message.SerializeAsString();
  storage_->Append(MakeAppend(rpc::SEQ_PEER, send->message.to_uid(), send->message, kPeerCmd, raw),
                   saved(&send->receiver, send->message.to_uid(), 0));
  storage_->Append(MakeAppend(rpc::SEQ_PEER, send->message.from_uid(), send->message, kPeerCmd, raw),
                   saved(&send->sender, send->message.from_uid(), send->message.device_id()));
}

void AccessHandler::SendGroup(const rpc::SendGroupMessageRequest& request, SendDone done) {
  rpc::ChatPayload m = request.message();
  std::string why;
  if (int code = CheckMessage(m, request.len(), config_.max_content_bytes, &why)) return done(Reply(code, why));
  if (m.gid() <= 0) return done(Reply(kBadRequest, "bad toGroupid"));
  m.set_to_uid(0);
  if (!limiter_->Allow(m.from_uid())) return done(Reply(kRateLimited, "rate limited"));

  auto banned = directory_->IsBanned(m.from_uid());
  if (!banned.ok()) return done(Reply(kUnavailable, "directory unavailable"));
  if (*banned) return done(Reply(kForbidden, "sender is banned"));
  auto group = directory_->GetGroup(m.gid());
  if (!group.ok()) return done(Reply(kUnavailable, "directory unavailable"));
  if (!*group) return done(Reply(kNotFound, "group does not exist"));
  const GroupInfo& info = **group;
  if (!info.member_set.count(m.from_uid())) return done(Reply(kForbidden, "not a member of the group"));
  if (info.muted) return done(Reply(kForbidden, "group is muted"));
  if (info.muted_members.count(m.from_uid())) return done(Reply(kForbidden, "member is muted"));
  if (m.timestamp() == 0) m.set_timestamp(NowSeconds());

  const std::string raw = m.SerializeAsString();
  rpc::AppendRequest append = MakeAppend(rpc::SEQ_GROUP, m.gid(), m, kGroupCmd, raw);
  storage_->Append(std::move(append), [this, m = std::move(m), members = *group,
                                       done = std::move(done)](absl::StatusOr<rpc::SaveReply> saved) {
    if (!saved.ok()) {
      IM_LOG_WARN(log::Rpc(), "group send from={} gid={} msgid={}: storage: {}", m.from_uid(), m.gid(),
                  m.client_msgid(), saved.status().message());
      return done(Reply(CodeForStorageError(saved.status()), "storage unavailable, retry with the same msgid"));
    }
    rpc::SendReply reply = Reply(kOk, "");
    reply.set_offset(saved->offset());
    reply.set_msgid(saved->msgid());
    // Fan-out now, in the order storage answers: one group record,
    // notifications to members in chunks (route splits them further per
    // notify node; Notify only queues). No per-member writes.
    rpc::ChatRecord record = MakeRecord(*saved, m);
    Notify(rpc::SEQ_GROUP, m.gid(), members->members, record, m.device_id());
    cache_->Store(rpc::SEQ_GROUP, m.gid(), {record});  // only queues
    done(std::move(reply));
  });
}

void AccessHandler::Notify(rpc::SeqKind kind, std::int64_t seq_id, const std::vector<std::int64_t>& uids,
                           const rpc::ChatRecord& record, std::int64_t skip_device_id) {
  if (!route_->enabled() || uids.empty()) return;
  rpc::Notification n;
  n.mutable_seq()->set_kind(kind);
  n.mutable_seq()->set_id(seq_id);
  n.set_offset(record.offset());
  n.set_msgid(record.msgid());
  n.set_pre_msgid(record.pre_msgid());
  *n.mutable_payload() = record.payload();
  n.set_has_data(config_.push_max_data_bytes > 0 &&
                 static_cast<int>(record.payload().content().size()) <= config_.push_max_data_bytes);
  if (!n.has_data()) n.mutable_payload()->clear_content();
  n.set_skip_device_id(skip_device_id);
  const std::size_t chunk = static_cast<std::size_t>(config_.fanout_chunk);
  for (std::size_t start = 0; start < uids.size(); start += chunk) {
    n.clear_uids();
    for (std::size_t i = start; i < std::min(uids.size(), start + chunk); ++i) n.add_uids(uids[i]);
    route_->Publish(n);
  }
}

rpc::SyncReply AccessHandler::SyncPeer(const rpc::SyncRequest& request) {
  return Sync(rpc::SEQ_PEER, request.uid(), request);
}

rpc::SyncReply AccessHandler::SyncGroup(const rpc::SyncRequest& request) {
  rpc::SyncReply reply;
  auto group = directory_->GetGroup(request.gid());
  if (!group.ok()) {
    reply.set_code(kUnavailable);
    reply.set_desp("directory unavailable");
    return reply;
  }
  if (!*group) {
    reply.set_code(kNotFound);
    reply.set_desp("group does not exist");
    return reply;
  }
  if (!(*group)->member_set.count(request.uid())) {
    reply.set_code(kForbidden);
    reply.set_desp("not a member of the group");
    return reply;
  }
  return Sync(rpc::SEQ_GROUP, request.gid(), request);
}

rpc::SyncReply AccessHandler::Sync(rpc::SeqKind kind, std::int64_t id, const rpc::SyncRequest& request) {
  rpc::SyncReply reply;
  reply.set_last_offset(request.after_offset());
  if (request.after_offset() < 0 || id <= 0) {
    reply.set_code(kBadRequest);
    reply.set_desp("bad offset or id");
    return reply;
  }
  int limit = request.limit() <= 0 ? config_.pull_default_limit : request.limit();
  limit = std::min(limit, config_.pull_max_limit);

  rpc::SeqId seq;
  seq.set_kind(kind);
  seq.set_id(id);
  auto heads = storage_->GetSequenceInfo({seq});
  if (!heads.ok()) {
    reply.set_code(kUnavailable);
    reply.set_desp("storage unavailable");
    return reply;
  }
  const std::int64_t newest = (*heads)[0].newest_offset();
  std::vector<rpc::ChatRecord> records;
  if (auto cached = cache_->Read(kind, id, request.after_offset(), newest, limit)) {
    records = std::move(*cached);
  } else {
    auto stored = storage_->Sync(kind, id, request.after_offset(), limit);
    if (!stored.ok()) {
      reply.set_code(kUnavailable);
      reply.set_desp("storage unavailable");
      return reply;
    }
    for (const rpc::HistoryMessage& h : stored->messages()) {
      rpc::ChatRecord record;
      record.set_offset(h.offset());
      record.set_msgid(h.msgid());
      record.set_pre_msgid(h.premsgid());
      if (!record.mutable_payload()->ParseFromString(h.raw())) {
        IM_LOG_ERROR(log::Rpc(), "seq kind={} id={} offset={}: undecodable record", static_cast<int>(kind), id,
                     h.offset());
        continue;
      }
      records.push_back(std::move(record));
    }
    // Fill the cache only with a run that reaches the newest record, so the
    // cached entries stay one continuous run ending at the top.
    if (!records.empty() && records.back().offset() == stored->newest_offset()) cache_->Store(kind, id, records);
  }
  reply.set_code(kOk);
  reply.set_server_offset(std::max(newest, records.empty() ? 0 : records.back().offset()));
  if (!records.empty()) reply.set_last_offset(records.back().offset());
  reply.set_has_more(reply.last_offset() < reply.server_offset());
  for (auto& record : records) *reply.add_records() = std::move(record);
  return reply;
}

absl::StatusOr<rpc::GetSyncInfoReply> AccessHandler::GetSyncInfo(const rpc::GetSyncInfoRequest& request) {
  std::vector<rpc::SeqId> seqs;
  for (std::int64_t uid : request.uids()) {
    rpc::SeqId seq;
    seq.set_kind(rpc::SEQ_PEER);
    seq.set_id(uid);
    seqs.push_back(seq);
  }
  auto infos = storage_->GetSequenceInfo(seqs);
  if (!infos.ok()) return infos.status();
  rpc::GetSyncInfoReply reply;
  for (const rpc::SequenceInfo& info : *infos) {
    rpc::SyncPoint* point = reply.add_peer();
    point->set_msgid(info.newest_msgid());
    point->set_offset(info.newest_offset());
  }
  return reply;
}

absl::StatusOr<rpc::GetSyncOffsetsReply> AccessHandler::GetSyncOffsets(const rpc::GetSyncOffsetsRequest& request) {
  auto groups = directory_->GroupsOfUser(request.uid());
  if (!groups.ok()) return groups.status();
  std::vector<rpc::SeqId> seqs(1);
  seqs[0].set_kind(rpc::SEQ_PEER);
  seqs[0].set_id(request.uid());
  for (std::int64_t gid : *groups) {
    rpc::SeqId seq;
    seq.set_kind(rpc::SEQ_GROUP);
    seq.set_id(gid);
    seqs.push_back(seq);
  }
  auto infos = storage_->GetSequenceInfo(seqs);
  if (!infos.ok()) return infos.status();
  auto acks = directory_->GetAcks(request.uid());
  if (!acks.ok()) return acks.status();
  rpc::GetSyncOffsetsReply reply;
  reply.set_code(kOk);
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    rpc::SyncPoint* point = reply.add_latest();
    point->set_gid(seqs[i].kind() == rpc::SEQ_GROUP ? seqs[i].id() : 0);
    point->set_msgid((*infos)[i].newest_msgid());
    point->set_offset((*infos)[i].newest_offset());
  }
  for (const auto& [gid, offset] : *acks) {
    rpc::SyncPoint* point = reply.add_acked();
    point->set_gid(gid);
    point->set_offset(offset);
  }
  return reply;
}

absl::Status AccessHandler::AckOffset(const rpc::AckOffsetRequest& request) {
  if (request.uid() <= 0 || request.gid() < 0 || request.offset() < 0) {
    return absl::InvalidArgumentError("bad ack");
  }
  if (request.gid() != 0) {
    auto group = directory_->GetGroup(request.gid());
    if (!group.ok()) return group.status();
    if (!*group || !(*group)->member_set.count(request.uid())) return absl::OkStatus();  // ignored
  }
  // Clamp to the newest offset: an ack cannot claim messages that do not exist.
  rpc::SeqId seq;
  seq.set_kind(request.gid() == 0 ? rpc::SEQ_PEER : rpc::SEQ_GROUP);
  seq.set_id(request.gid() == 0 ? request.uid() : request.gid());
  auto infos = storage_->GetSequenceInfo({seq});
  if (!infos.ok()) return infos.status();
  return directory_->SaveAck(request.uid(), request.gid(), std::min(request.offset(), (*infos)[0].newest_offset()));
}

rpc::ValidateTokenReply AccessHandler::ValidateToken(const rpc::ValidateTokenRequest& request) {
  rpc::ValidateTokenReply reply;
  reply.set_code(tokens_->Check(request.uid(), request.token()));
  if (reply.code() == 401) reply.set_desp("invalid or expired token");
  if (reply.code() == 503) reply.set_desp("token store unavailable");
  return reply;
}

}  // namespace im::access
