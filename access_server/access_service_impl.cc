#include "access_server/access_service_impl.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "access_server/access_handler.h"
#include "access_server/storage_client.h"
#include "common/rpc/grpc_util.h"

namespace im::access {

struct AccessServiceImpl::Metrics {
  prometheus::Family<prometheus::Counter>* requests;
};

AccessServiceImpl::AccessServiceImpl(AccessHandler* handler, boost::asio::thread_pool* pool,
                                     prometheus::Registry* registry)
    : handler_(handler), pool_(pool), metrics_(new Metrics) {
  metrics_->requests = &prometheus::BuildCounter()
                            .Name("im_access_requests_total")
                            .Help("AccessService requests by method and result code (docs/protocol.md §6)")
                            .Register(*registry);
}

AccessServiceImpl::~AccessServiceImpl() = default;

void AccessServiceImpl::Count(const char* method, int code) {
  metrics_->requests->Add({{"method", method}, {"code", std::to_string(code)}}).Increment();
}

// Answers a send, on whichever thread its answer arrives.
void AccessServiceImpl::Answer(const char* method, rpc::SendReply* reply, grpc::ServerUnaryReactor* reactor,
                               rpc::SendReply answer) {
  Count(method, answer.code());
  *reply = std::move(answer);
  reactor->Finish(grpc::Status::OK);  // `request` and `reply` are gone after this
}

// Runs `work` on the handler pool; the work finishes the reactor.
template <typename Work>
grpc::ServerUnaryReactor* AccessServiceImpl::Run(grpc::CallbackServerContext* context, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (draining_.load()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "access_server is draining; retry elsewhere"));
    return reactor;
  }
  boost::asio::post(*pool_, [reactor, work = std::move(work)]() mutable { work(reactor); });
  return reactor;
}

grpc::ServerUnaryReactor* AccessServiceImpl::SendPeerMessage(grpc::CallbackServerContext* context,
                                                             const rpc::SendPeerMessageRequest* request,
                                                             rpc::SendReply* reply) {
  return Run(context, [this, request, reply](grpc::ServerUnaryReactor* reactor) {
    handler_->SendPeer(*request, [this, reply, reactor](rpc::SendReply answer) {
      Answer("SendPeerMessage", reply, reactor, std::move(answer));
    });
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::SendPeerMessages(grpc::CallbackServerContext* context,
                                                              const rpc::SendPeerMessagesRequest* request,
                                                              rpc::SendPeerMessagesReply* reply) {
  constexpr int kMaxSends = 4096;
  if (request->sends_size() > kMaxSends) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "at most " + std::to_string(kMaxSends) + " sends per call"));
    return reactor;
  }
  return Run(context, [this, request, reply](grpc::ServerUnaryReactor* reactor) {
    const int n = request->sends_size();
    if (n == 0) return reactor->Finish(grpc::Status::OK);
    // Every reply slot exists before the first answer arrives; each answer
    // fills its own slot, and the last one finishes the call.
    for (int i = 0; i < n; ++i) reply->add_replies();
    auto waiting = std::make_shared<std::atomic<int>>(n);
    auto send = [this, request, reply, reactor, waiting](int i) {
      handler_->SendPeer(request->sends(i), [this, reply, reactor, waiting, i](rpc::SendReply answer) {
        Count("SendPeerMessage", answer.code());
        *reply->mutable_replies(i) = std::move(answer);
        if (waiting->fetch_sub(1) == 1) reactor->Finish(grpc::Status::OK);
      });
    };
    // The checks of a send can block on MySQL when the directory cache
    // misses (a cold start): spread a batch over the pool in chunks, so
    // misses are looked up in parallel, not one after another. The appends
    // of a chunk go to storage together (StorageClient::Hold).
    constexpr int kChunk = 16;
    for (int start = kChunk; start < n; start += kChunk) {
      boost::asio::post(*pool_, [this, send, start, end = std::min(n, start + kChunk)] {
        StorageClient::Hold hold(handler_->storage());
        for (int i = start; i < end; ++i) send(i);
      });
    }
    StorageClient::Hold hold(handler_->storage());
    for (int i = 0; i < std::min(n, kChunk); ++i) send(i);
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::SendGroupMessage(grpc::CallbackServerContext* context,
                                                              const rpc::SendGroupMessageRequest* request,
                                                              rpc::SendReply* reply) {
  return Run(context, [this, request, reply](grpc::ServerUnaryReactor* reactor) {
    handler_->SendGroup(*request, [this, reply, reactor](rpc::SendReply answer) {
      Answer("SendGroupMessage", reply, reactor, std::move(answer));
    });
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::SyncPeer(grpc::CallbackServerContext* context,
                                                      const rpc::SyncRequest* request, rpc::SyncReply* reply) {
  return Run(context, [this, request, reply](grpc::ServerUnaryReactor* reactor) {
    *reply = handler_->SyncPeer(*request);
    Count("SyncPeer", reply->code());
    reactor->Finish(grpc::Status::OK);
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::SyncGroup(grpc::CallbackServerContext* context,
                                                       const rpc::SyncRequest* request, rpc::SyncReply* reply) {
  return Run(context, [this, request, reply](grpc::ServerUnaryReactor* reactor) {
    *reply = handler_->SyncGroup(*request);
    Count("SyncGroup", reply->code());
    reactor->Finish(grpc::Status::OK);
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::GetSyncInfo(grpc::CallbackServerContext* context,
                                                         const rpc::GetSyncInfoRequest* request,
                                                         rpc::GetSyncInfoReply* reply) {
  return Run(context, [this, request, reply](grpc::ServerUnaryReactor* reactor) {
    auto result = handler_->GetSyncInfo(*request);
    if (result.ok()) *reply = std::move(*result);
    reactor->Finish(im::rpc::ToGrpcStatus(result.status()));
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::GetSyncOffsets(grpc::CallbackServerContext* context,
                                                            const rpc::GetSyncOffsetsRequest* request,
                                                            rpc::GetSyncOffsetsReply* reply) {
  return Run(context, [this, request, reply](grpc::ServerUnaryReactor* reactor) {
    auto result = handler_->GetSyncOffsets(*request);
    if (result.ok()) *reply = std::move(*result);
    reactor->Finish(im::rpc::ToGrpcStatus(result.status()));
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::AckOffset(grpc::CallbackServerContext* context,
                                                       const rpc::AckOffsetRequest* request, rpc::AckOffsetReply*) {
  return Run(context, [this, request](grpc::ServerUnaryReactor* reactor) {
    reactor->Finish(im::rpc::ToGrpcStatus(handler_->AckOffset(*request)));
  });
}

grpc::ServerUnaryReactor* AccessServiceImpl::ValidateToken(grpc::CallbackServerContext* context,
                                                           const rpc::ValidateTokenRequest* request,
                                                           rpc::ValidateTokenReply* reply) {
  return Run(context, [this, request, reply](grpc::ServerUnaryReactor* reactor) {
    *reply = handler_->ValidateToken(*request);
    reactor->Finish(grpc::Status::OK);
  });
}

}  // namespace im::access
