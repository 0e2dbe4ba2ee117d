#pragma once
// An in-process access_server stand-in for fuzzing the client-facing
// daemons' handlers over real gRPC: sends succeed, pulls return the last few
// messages sent (so fuzzed content flows into pull answers), sync-info and
// offset queries answer from a counter. Thread safe.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "common/log/log.h"
#include "proto/access.grpc.pb.h"
#include "tests/fuzz/fuzz_check.h"

namespace im::fuzz {

class FakeAccess final : public rpc::AccessService::CallbackService {
 public:
  grpc::ServerUnaryReactor* SendPeerMessage(grpc::CallbackServerContext* context,
                                            const rpc::SendPeerMessageRequest* request,
                                            rpc::SendReply* reply) override {
    Remember(request->message());
    reply->set_code(200);
    reply->set_offset(next_offset_);
    return Ok(context);
  }
  grpc::ServerUnaryReactor* SendGroupMessage(grpc::CallbackServerContext* context,
                                             const rpc::SendGroupMessageRequest* request,
                                             rpc::SendReply* reply) override {
    Remember(request->message());
    reply->set_code(200);
    reply->set_offset(next_offset_);
    return Ok(context);
  }
  grpc::ServerUnaryReactor* SyncPeer(grpc::CallbackServerContext* context, const rpc::SyncRequest* request,
                                     rpc::SyncReply* reply) override {
    Fill(*request, reply);
    return Ok(context);
  }
  grpc::ServerUnaryReactor* SyncGroup(grpc::CallbackServerContext* context, const rpc::SyncRequest* request,
                                      rpc::SyncReply* reply) override {
    Fill(*request, reply);
    return Ok(context);
  }
  grpc::ServerUnaryReactor* GetSyncOffsets(grpc::CallbackServerContext* context,
                                           const rpc::GetSyncOffsetsRequest* request,
                                           rpc::GetSyncOffsetsReply* reply) override {
    (void)request;
    reply->set_code(200);
    reply->add_latest()->set_offset(next_offset_);
    auto* g = reply->add_acked();
    g->set_gid(7);
    g->set_offset(next_offset_ / 2);
    return Ok(context);
  }
  grpc::ServerUnaryReactor* AckOffset(grpc::CallbackServerContext* context, const rpc::AckOffsetRequest* request,
                                      rpc::AckOffsetReply* reply) override {
    (void)request;
    (void)reply;
    return Ok(context);
  }
  grpc::ServerUnaryReactor* GetSyncInfo(grpc::CallbackServerContext* context, const rpc::GetSyncInfoRequest* request,
                                        rpc::GetSyncInfoReply* reply) override {
    for (std::int64_t uid : request->uids()) {
      (void)uid;
      auto* p = reply->add_peer();
      p->set_offset(next_offset_);
      p->set_msgid(next_offset_ * 7);
    }
    return Ok(context);
  }

 private:
  static grpc::ServerUnaryReactor* Ok(grpc::CallbackServerContext* context) {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  void Remember(const rpc::ChatPayload& payload) {
    std::lock_guard<std::mutex> lock(mu_);
    ++next_offset_;
    recent_.push_back(payload);
    if (recent_.size() > 8) recent_.pop_front();
  }
  void Fill(const rpc::SyncRequest& request, rpc::SyncReply* reply) {
    std::lock_guard<std::mutex> lock(mu_);
    reply->set_code(200);
    std::int64_t offset = request.after_offset();
    const std::int64_t n = std::min<std::int64_t>(std::max(request.limit(), 0), recent_.size());
    for (std::int64_t i = 0; i < n; ++i) {
      auto* r = reply->add_records();
      r->set_offset(++offset);
      r->set_msgid(offset * 7);
      *r->mutable_payload() = recent_[i];
    }
    reply->set_last_offset(offset);
    reply->set_server_offset(next_offset_);
    reply->set_has_more(request.limit() < static_cast<std::int32_t>(recent_.size()));
  }

  std::mutex mu_;
  std::deque<rpc::ChatPayload> recent_;
  std::int64_t next_offset_ = 0;  // guarded by mu_ (read racily in answers: fine for a fake)
};

/// Turns logging off and serves `service` on a free loopback port; returns
/// the server and sets `*address` (host:port). Aborts when it cannot.
inline std::unique_ptr<grpc::Server> ServeFakeAccess(FakeAccess* service, std::string* address) {
  log::Options options;
  options.level = "off";
  (void)log::Init(options);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  FUZZ_CHECK(server != nullptr && port != 0);
  *address = "127.0.0.1:" + std::to_string(port);
  return server;
}

}  // namespace im::fuzz
