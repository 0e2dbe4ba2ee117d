#include "sync_server/access_client.h"

#include <atomic>

#include "common/rpc/grpc_util.h"
#include "proto/access.grpc.pb.h"

namespace im::sync {

struct AccessClient::Impl {
  std::vector<std::unique_ptr<rpc::AccessService::Stub>> stubs;
  std::vector<std::string> addresses;
  std::atomic<std::uint64_t> next{0};
  int timeout_ms;

  // Starts a call on the next stub: `start(stub, context, request, reply, on_done)`
  // issues it; `done` gets the reply or UNAVAILABLE.
  template <typename Request, typename Reply, typename Start>
  void Call(Start start, Request request, Done<Reply> done) {
    struct State {
      grpc::ClientContext context;
      Request request;
      Reply reply;
      Done<Reply> done;
      std::string address;
    };
    auto state = std::make_shared<State>();
    state->request = std::move(request);
    state->done = std::move(done);
    const std::size_t i = next.fetch_add(1) % stubs.size();
    state->address = addresses[i];
    state->context.set_deadline(im::rpc::DeadlineAfter(timeout_ms));
    start(stubs[i].get(), &state->context, &state->request, &state->reply, [state](grpc::Status status) {
      if (status.ok()) {
        state->done(std::move(state->reply));
      } else {
        state->done(absl::UnavailableError("access " + state->address + ": " + status.error_message()));
      }
    });
  }
};

AccessClient::AccessClient(const std::vector<std::string>& addresses, int timeout_ms) : impl_(new Impl) {
  impl_->timeout_ms = timeout_ms;
  impl_->addresses = addresses;
  for (const auto& address : addresses) {
    impl_->stubs.push_back(rpc::AccessService::NewStub(im::rpc::MakeChannel(address)));
  }
}

AccessClient::~AccessClient() = default;

// Each method names its RPC once; Impl::Call does the rest.
#define IM_ACCESS_CALL(Method, Request, Reply)                                                         \
  void AccessClient::Method(Request request, Done<Reply> done) {                                      \
    impl_->Call<Request, Reply>(                                                                      \
        [](rpc::AccessService::Stub* stub, grpc::ClientContext* context, const Request* req, Reply* reply, \
           std::function<void(grpc::Status)> on_done) {                                               \
          stub->async()->Method(context, req, reply, std::move(on_done));                             \
        },                                                                                            \
        std::move(request), std::move(done));                                                         \
  }

IM_ACCESS_CALL(SendPeerMessage, rpc::SendPeerMessageRequest, rpc::SendReply)
IM_ACCESS_CALL(SendGroupMessage, rpc::SendGroupMessageRequest, rpc::SendReply)
IM_ACCESS_CALL(SyncPeer, rpc::SyncRequest, rpc::SyncReply)
IM_ACCESS_CALL(SyncGroup, rpc::SyncRequest, rpc::SyncReply)
IM_ACCESS_CALL(GetSyncInfo, rpc::GetSyncInfoRequest, rpc::GetSyncInfoReply)

#undef IM_ACCESS_CALL

}  // namespace im::sync
