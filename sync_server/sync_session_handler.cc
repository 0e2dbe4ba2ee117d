#include "sync_server/sync_session_handler.h"

#include "common/auth/token_check_pool.h"
#include "common/log/log.h"
#include "common/net/client_protocol.h"
#include "proto/im_client.pb.h"
#include "sync_server/access_client.h"

namespace im::sync {
namespace {

// Decrements the in-flight count when the last copy goes away.
struct InFlight {
  explicit InFlight(std::atomic<int>* counter) : counter(counter) { counter->fetch_add(1); }
  ~InFlight() { counter->fetch_sub(1); }
  std::atomic<int>* counter;
};

int CodeFor(const absl::Status& status) { return status.ok() ? net::kCodeOk : net::kCodeUnavailable; }

// The fields 315 and 328 uplinks share (the two seed messages name them alike).
template <typename Uplink>
rpc::ChatPayload PayloadOf(const Uplink& msg, const net::Session& session) {
  rpc::ChatPayload m;
  m.set_from_uid(msg.fromuid());
  m.set_device_id(session.device_id());
  m.set_client_msgid(msg.msgid());
  m.set_timestamp(msg.timestamp());
  m.set_msg_type(msg.msgtype());
  m.set_msg_flag(msg.msgflag());
  m.set_content(msg.content());
  return m;
}

// The fields 315 and 328 downlinks (ImClientSendMsgSync, ImGroupSendMsgSync) share.
template <typename Downlink>
void FillDownlink(const rpc::ChatRecord& r, Downlink* m) {
  const rpc::ChatPayload& p = r.payload();
  m->set_offset(r.offset());
  m->set_nextoffset(r.offset() + 1);
  m->set_preoffset(r.offset() - 1);
  m->set_fromuid(p.from_uid());
  m->set_timestamp(p.timestamp());
  m->set_msgid(p.client_msgid());
  m->set_len(static_cast<std::int32_t>(p.content().size()));
  m->set_msgtype(p.msg_type());
  m->set_msgflag(p.msg_flag());
  m->set_content(p.content());
}

}  // namespace

SyncSessionHandler::SyncSessionHandler(AccessClient* access, auth::TokenCheckPool* tokens,
                                       std::size_t max_pull_answer_bytes)
    : access_(access), tokens_(tokens), max_pull_answer_bytes_(max_pull_answer_bytes) {}

void SyncSessionHandler::OnLogin(const net::SessionPtr& session, const client::ImLogin& login) {
  tokens_->Check(session->uid(), login.token(), [session](absl::StatusOr<auth::TokenCheck> result) {
    if (!result.ok()) {
      session->FinishLogin(net::kCodeUnavailable, "token store unavailable, retry");
    } else if (*result == auth::TokenCheck::kValid) {
      session->FinishLogin(net::kCodeOk, "");
    } else {
      session->FinishLogin(net::kCodeUnauthorized,
                           *result == auth::TokenCheck::kBanned ? "user is banned" : "invalid or expired token");
    }
  });
}

void SyncSessionHandler::OnLoggedIn(const net::SessionPtr& session) {
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_.emplace(session->uid(), session);
  }
  IM_LOG_DEBUG(log::Net(), "conn={} uid={} device={} logged in", session->id(), session->uid(),
               session->device_id());
}

void SyncSessionHandler::OnClose(const net::SessionPtr& session) {
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    auto [begin, end] = sessions_.equal_range(session->uid());
    for (auto it = begin; it != end; ++it) {
      if (it->second.lock() == session) {
        sessions_.erase(it);
        break;
      }
    }
  }
  IM_LOG_DEBUG(log::Net(), "conn={} uid={} closed", session->id(), session->uid());
}

void SyncSessionHandler::Kick(std::int64_t uid) {
  std::vector<net::SessionPtr> kicked;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    auto [begin, end] = sessions_.equal_range(uid);
    for (auto it = begin; it != end; ++it) {
      if (auto session = it->second.lock()) kicked.push_back(std::move(session));
    }
  }
  for (const auto& session : kicked) {
    session->SendAndClose(net::ErrorFrame(uid, 0, net::kCodeUnauthorized, "session revoked"));
  }
  if (!kicked.empty()) IM_LOG_INFO(log::Net(), "uid={} kicked: {} sessions closed", uid, kicked.size());
}

bool SyncSessionHandler::OnFrame(const net::SessionPtr& session, const net::Frame& frame) {
  switch (frame.header.cmdid) {
    case net::kCmdClientSendIm:
      SendPeer(session, frame);
      return true;
    case net::kCmdGroupSendIm:
      SendGroup(session, frame);
      return true;
    case net::kCmdSyncPull:
      Pull(session, frame);
      return true;
    case net::kCmdHeartPing:
      Ping(session, frame);
      return true;
    default:
      return false;
  }
}

void SyncSessionHandler::Undecodable(const net::SessionPtr& session, const net::Frame& frame) {
  session->SendAndClose(net::ErrorFrame(session->uid(), frame.header.seq, net::kCodeBadRequest,
                                        std::string("undecodable body for command ") +
                                            std::to_string(frame.header.cmdid)));
}

void SyncSessionHandler::SendPeer(const net::SessionPtr& session, const net::Frame& frame) {
  client::ImClientSendMsg msg;
  if (!msg.ParseFromArray(frame.body.data(), static_cast<int>(frame.body.size()))) {
    Undecodable(session, frame);
    return;
  }
  const std::int32_t seq = frame.header.seq;
  client::ImClientSendMsgRes res;
  res.set_touid(msg.touid());
  res.set_len(msg.len());
  res.set_msgid(msg.msgid());
  if (msg.fromuid() != session->uid()) {
    res.set_code(net::kCodeBadRequest);
    session->SendInLoop(net::EncodeFrame(session->uid(), net::kCmdClientSendImRes, seq, res));
    return;
  }
  sends_.fetch_add(1);
  rpc::SendPeerMessageRequest request;
  *request.mutable_message() = PayloadOf(msg, *session);
  request.mutable_message()->set_to_uid(msg.touid());
  request.set_len(msg.len());
  auto guard = std::make_shared<InFlight>(&in_flight_);
  access_->SendPeerMessage(std::move(request), [session, seq, res, guard](absl::StatusOr<rpc::SendReply> reply) mutable {
    res.set_code(reply.ok() ? reply->code() : CodeFor(reply.status()));
    if (reply.ok()) res.set_offset(reply->offset());
    session->Send(net::EncodeFrame(session->uid(), net::kCmdClientSendImRes, seq, res));
  });
}

void SyncSessionHandler::SendGroup(const net::SessionPtr& session, const net::Frame& frame) {
  client::ImGroupSendMsg msg;
  if (!msg.ParseFromArray(frame.body.data(), static_cast<int>(frame.body.size()))) {
    Undecodable(session, frame);
    return;
  }
  const std::int32_t seq = frame.header.seq;
  client::ImGroupSendMsgRes res;
  res.set_togroupid(msg.togroupid());
  res.set_len(msg.len());
  res.set_msgid(msg.msgid());
  if (msg.fromuid() != session->uid()) {
    res.set_code(net::kCodeBadRequest);
    res.set_desp("fromUID is not the logged-in uid");
    session->SendInLoop(net::EncodeFrame(session->uid(), net::kCmdGroupSendImRes, seq, res));
    return;
  }
  sends_.fetch_add(1);
  rpc::SendGroupMessageRequest request;
  *request.mutable_message() = PayloadOf(msg, *session);
  request.mutable_message()->set_gid(msg.togroupid());
  request.set_len(msg.len());
  auto guard = std::make_shared<InFlight>(&in_flight_);
  access_->SendGroupMessage(std::move(request), [session, seq, res, guard](absl::StatusOr<rpc::SendReply> reply) mutable {
    if (reply.ok()) {
      res.set_code(reply->code());
      res.set_offset(reply->offset());
      res.set_desp(reply->desp());
    } else {
      res.set_code(net::kCodeUnavailable);
      res.set_desp("access_server unavailable, retry with the same msgid");
    }
    session->Send(net::EncodeFrame(session->uid(), net::kCmdGroupSendImRes, seq, res));
  });
}

void SyncSessionHandler::Pull(const net::SessionPtr& session, const net::Frame& frame) {
  client::ImSyncPull pull;
  if (!pull.ParseFromArray(frame.body.data(), static_cast<int>(frame.body.size()))) {
    Undecodable(session, frame);
    return;
  }
  const std::int32_t seq = frame.header.seq;
  pulls_.fetch_add(1);
  rpc::SyncRequest request;
  request.set_uid(session->uid());
  request.set_gid(pull.groupid());
  request.set_after_offset(pull.offset());
  request.set_limit(pull.limit());
  auto guard = std::make_shared<InFlight>(&in_flight_);
  const std::int64_t gid = pull.groupid();
  const std::size_t budget = max_pull_answer_bytes_;
  auto done = [session, seq, gid, after = pull.offset(), guard, budget](absl::StatusOr<rpc::SyncReply> reply) {
    const std::int64_t uid = session->uid();
    client::ImSyncPullRes res;
    res.set_groupid(gid);
    res.set_lastoffset(after);
    if (!reply.ok()) {
      res.set_code(net::kCodeUnavailable);
      res.set_desp("access_server unavailable");
    } else {
      res.set_code(reply->code());
      res.set_desp(reply->desp());
      if (reply->code() == net::kCodeOk) {
        // Every message as its own downlink frame with the pull's seq, oldest
        // first, then the summary. Messages past the byte budget are left
        // for the next pull (lastOffset stops before them, hasMore is set):
        // a large answer queued at once would exceed the output limit and
        // drop even a client that reads at full speed.
        std::string frames;
        std::int64_t last_sent = after;
        int sent = 0;
        for (const rpc::ChatRecord& r : reply->records()) {
          std::string frame;
          if (gid == 0) {
            client::ImClientSendMsgSync m;
            FillDownlink(r, &m);
            m.set_touid(r.payload().to_uid());
            frame = net::EncodeFrame(uid, net::kCmdClientSendIm, seq, m);
          } else {
            client::ImGroupSendMsgSync m;
            FillDownlink(r, &m);
            m.set_togroupid(r.payload().gid());
            m.set_touid(uid);  // the receiving member
            frame = net::EncodeFrame(uid, net::kCmdGroupSendIm, seq, m);
          }
          if (!frames.empty() && frames.size() + frame.size() > budget) break;
          frames += frame;
          last_sent = r.offset();
          ++sent;
        }
        const bool cut = sent < reply->records_size();
        res.set_lastoffset(cut ? last_sent : reply->last_offset());
        res.set_serveroffset(reply->server_offset());
        res.set_hasmore(cut || reply->has_more());
        session->Send(std::move(frames));
      }
    }
    session->Send(net::EncodeFrame(uid, net::kCmdSyncPullRes, seq, res));
  };
  if (gid == 0) {
    access_->SyncPeer(std::move(request), std::move(done));
  } else {
    access_->SyncGroup(std::move(request), std::move(done));
  }
}

void SyncSessionHandler::Ping(const net::SessionPtr& session, const net::Frame& frame) {
  client::UserMsgSyncInfo ping;
  if (!ping.ParseFromArray(frame.body.data(), static_cast<int>(frame.body.size()))) {
    Undecodable(session, frame);
    return;
  }
  rpc::GetSyncInfoRequest request;
  request.add_uids(session->uid());
  const std::int32_t seq = frame.header.seq;
  auto guard = std::make_shared<InFlight>(&in_flight_);
  access_->GetSyncInfo(std::move(request), [session, seq, guard](absl::StatusOr<rpc::GetSyncInfoReply> reply) {
    // When access_server cannot answer, the PONG carries offset 0 ("nothing
    // newer known"): harmless, since a client pulls only when the PONG is
    // ahead, and better than no PONG, which would make it reconnect.
    client::UserMsgSyncInfo pong;
    if (reply.ok() && reply->peer_size() > 0) {
      pong.set_synckey(reply->peer(0).msgid());
      pong.set_offset(reply->peer(0).offset());
    }
    session->Send(net::EncodeFrame(session->uid(), net::kCmdHeartPong, seq, pong));
  });
}

}  // namespace im::sync
