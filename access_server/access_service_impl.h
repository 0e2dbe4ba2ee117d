#pragma once
// The gRPC surface of access_server: every call is handed to the handler
// thread pool, so gRPC threads never block on storage, Redis or MySQL. A
// send holds a handler thread only for its checks: it is answered when
// storage's callback comes, on that thread.

#include <memory>

#include "proto/access.grpc.pb.h"

namespace boost::asio {
class thread_pool;
}

namespace prometheus {
class Registry;
}

namespace im::access {

class AccessHandler;

class AccessServiceImpl final : public rpc::AccessService::CallbackService {
 public:
  /// Counts requests by method and result code in `registry`.
  AccessServiceImpl(AccessHandler* handler, boost::asio::thread_pool* pool, prometheus::Registry* registry);
  ~AccessServiceImpl() override;

  /// While draining, new calls are answered UNAVAILABLE ("go elsewhere").
  void SetDraining() { draining_.store(true); }

  grpc::ServerUnaryReactor* SendPeerMessage(grpc::CallbackServerContext* context,
                                            const rpc::SendPeerMessageRequest* request,
                                            rpc::SendReply* reply) override;
  grpc::ServerUnaryReactor* SendPeerMessages(grpc::CallbackServerContext* context,
                                             const rpc::SendPeerMessagesRequest* request,
                                             rpc::SendPeerMessagesReply* reply) override;
  grpc::ServerUnaryReactor* SendGroupMessage(grpc::CallbackServerContext* context,
                                             const rpc::SendGroupMessageRequest* request,
                                             rpc::SendReply* reply) override;
  grpc::ServerUnaryReactor* SyncPeer(grpc::CallbackServerContext* context, const rpc::SyncRequest* request,
                                     rpc::SyncReply* reply) override;
  grpc::ServerUnaryReactor* SyncGroup(grpc::CallbackServerContext* context, const rpc::SyncRequest* request,
                                      rpc::SyncReply* reply) override;
  grpc::ServerUnaryReactor* GetSyncInfo(grpc::CallbackServerContext* context,
                                        const rpc::GetSyncInfoRequest* request,
                                        rpc::GetSyncInfoReply* reply) override;
  grpc::ServerUnaryReactor* GetSyncOffsets(grpc::CallbackServerContext* context,
                                           const rpc::GetSyncOffsetsRequest* request,
                                           rpc::GetSyncOffsetsReply* reply) override;
  grpc::ServerUnaryReactor* AckOffset(grpc::CallbackServerContext* context, const rpc::AckOffsetRequest* request,
                                      rpc::AckOffsetReply* reply) override;
  grpc::ServerUnaryReactor* ValidateToken(grpc::CallbackServerContext* context,
                                          const rpc::ValidateTokenRequest* request,
                                          rpc::ValidateTokenReply* reply) override;

 private:
  template <typename Work>
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context, Work work);

  /// Counts one answered request of `method` with client result `code`. Thread safe.
  void Count(const char* method, int code);
  void Answer(const char* method, rpc::SendReply* reply, grpc::ServerUnaryReactor* reactor, rpc::SendReply answer);

  struct Metrics;
  AccessHandler* handler_;
  boost::asio::thread_pool* pool_;
  std::unique_ptr<Metrics> metrics_;
  std::atomic<bool> draining_{false};
};

}  // namespace im::access
