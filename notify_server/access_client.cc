#include "notify_server/access_client.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "common/log/log.h"
#include "common/rpc/grpc_util.h"
#include "proto/access.grpc.pb.h"

namespace im::notify {

struct AccessClient::Impl {
  struct Ping {
    std::int64_t uid;
    std::function<void(absl::StatusOr<rpc::SyncPoint>)> done;
  };

  explicit Impl(AccessClientOptions o)
      : options(std::move(o)), stub(rpc::AccessService::NewStub(rpc::MakeChannel(options.address))) {}

  void Begin() {
    std::lock_guard<std::mutex> lock(mu);
    ++in_flight;
  }
  void End() {
    std::lock_guard<std::mutex> lock(mu);
    if (--in_flight == 0) cv.notify_all();
  }

  // Sends the waiting PINGs if a call slot is free. mu held.
  void MaybeFlushLocked() {
    while (!pings.empty() && ping_calls < options.max_ping_calls) {
      auto batch = std::make_shared<std::vector<Ping>>();
      const std::size_t n = std::min(pings.size(), options.max_ping_batch);
      batch->reserve(n);
      std::move(pings.begin(), pings.begin() + static_cast<std::ptrdiff_t>(n), std::back_inserter(*batch));
      pings.erase(pings.begin(), pings.begin() + static_cast<std::ptrdiff_t>(n));
      ++ping_calls;
      ++in_flight;
      struct Call {
        grpc::ClientContext context;
        rpc::GetSyncInfoRequest request;
        rpc::GetSyncInfoReply reply;
      };
      auto call = std::make_shared<Call>();
      call->context.set_deadline(rpc::DeadlineAfter(options.timeout_ms));
      for (const Ping& p : *batch) call->request.add_uids(p.uid);
      stub->async()->GetSyncInfo(&call->context, &call->request, &call->reply,
                                 [this, call, batch](grpc::Status status) {
                                   const bool ok = status.ok() && call->reply.peer_size() ==
                                                                      static_cast<int>(batch->size());
                                   if (!ok) {
                                     IM_LOG_WARN(log::Rpc(), "GetSyncInfo({} uids) failed: {} {}", batch->size(),
                                                 static_cast<int>(status.error_code()), status.error_message());
                                   }
                                   for (std::size_t i = 0; i < batch->size(); ++i) {
                                     if (ok) {
                                       (*batch)[i].done(call->reply.peer(static_cast<int>(i)));
                                     } else {
                                       (*batch)[i].done(absl::UnavailableError("access_server: GetSyncInfo failed"));
                                     }
                                   }
                                   std::lock_guard<std::mutex> lock(mu);
                                   --ping_calls;
                                   MaybeFlushLocked();
                                   if (--in_flight == 0) cv.notify_all();
                                 });
    }
  }

  AccessClientOptions options;
  std::unique_ptr<rpc::AccessService::Stub> stub;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Ping> pings;  // guarded by mu
  int ping_calls = 0;       // guarded by mu
  int in_flight = 0;        // guarded by mu
};

AccessClient::AccessClient(AccessClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

AccessClient::~AccessClient() { Shutdown(); }

void AccessClient::GetSyncInfo(std::int64_t uid, std::function<void(absl::StatusOr<rpc::SyncPoint>)> done) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->pings.push_back({uid, std::move(done)});
  impl_->MaybeFlushLocked();
}

void AccessClient::AckOffset(std::int64_t uid, std::int64_t gid, std::int64_t offset) {
  struct Call {
    grpc::ClientContext context;
    rpc::AckOffsetRequest request;
    rpc::AckOffsetReply reply;
  };
  auto call = std::make_shared<Call>();
  call->context.set_deadline(rpc::DeadlineAfter(impl_->options.timeout_ms));
  call->request.set_uid(uid);
  call->request.set_gid(gid);
  call->request.set_offset(offset);
  impl_->Begin();
  Impl* impl = impl_.get();
  impl_->stub->async()->AckOffset(&call->context, &call->request, &call->reply, [impl, call](grpc::Status status) {
    if (!status.ok()) {
      IM_LOG_WARN(log::Rpc(), "AckOffset uid={} gid={} failed: {} {}", call->request.uid(), call->request.gid(),
                  static_cast<int>(status.error_code()), status.error_message());
    }
    impl->End();
  });
}

void AccessClient::GetSyncOffsets(std::int64_t uid,
                                  std::function<void(absl::StatusOr<rpc::GetSyncOffsetsReply>)> done) {
  struct Call {
    grpc::ClientContext context;
    rpc::GetSyncOffsetsRequest request;
    rpc::GetSyncOffsetsReply reply;
    std::function<void(absl::StatusOr<rpc::GetSyncOffsetsReply>)> done;
  };
  auto call = std::make_shared<Call>();
  call->context.set_deadline(rpc::DeadlineAfter(impl_->options.timeout_ms));
  call->request.set_uid(uid);
  call->done = std::move(done);
  impl_->Begin();
  Impl* impl = impl_.get();
  impl_->stub->async()->GetSyncOffsets(&call->context, &call->request, &call->reply,
                                       [impl, call](grpc::Status status) {
                                         if (status.ok()) {
                                           call->done(std::move(call->reply));
                                         } else {
                                           call->done(rpc::FromGrpcStatus(status));
                                         }
                                         impl->End();
                                       });
}

void AccessClient::Shutdown() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->in_flight == 0; });
}

}  // namespace im::notify
