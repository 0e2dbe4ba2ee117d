#include "sync_server/access_client.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "common/rpc/grpc_util.h"
#include "proto/access.grpc.pb.h"

namespace im::sync {

struct AccessClient::Impl {
  Options options;
  std::vector<std::unique_ptr<rpc::AccessService::Stub>> stubs;
  std::atomic<std::uint64_t> next{0};

  // Peer sends waiting for a SendPeerMessages call.
  struct PendingSend {
    rpc::SendPeerMessageRequest request;
    Done<rpc::SendReply> done;
  };
  std::mutex send_mu;
  std::deque<PendingSend> send_queue;  // guarded by send_mu
  int sends_in_flight = 0;             // calls; guarded by send_mu
  std::condition_variable sends_idle;  // sends_in_flight reached 0

  // Batch callbacks use this object: wait for the last (calls have deadlines).
  ~Impl() {
    std::unique_lock<std::mutex> lock(send_mu);
    sends_idle.wait(lock, [this] { return sends_in_flight == 0; });
  }

  // Starts calls for what is queued while call slots are free. Releases the
  // lock while starting each call.
  void SendQueuedLocked(std::unique_lock<std::mutex>& lock) {
    const int max_calls = options.max_in_flight * static_cast<int>(stubs.size());
    while (!send_queue.empty() && sends_in_flight < max_calls) {
      struct Batch {
        grpc::ClientContext context;
        rpc::SendPeerMessagesRequest request;
        rpc::SendPeerMessagesReply reply;
        std::vector<Done<rpc::SendReply>> dones;
        std::string address;
      };
      auto batch = std::make_shared<Batch>();
      const std::size_t n = std::min<std::size_t>(send_queue.size(), static_cast<std::size_t>(options.max_batch));
      for (std::size_t i = 0; i < n; ++i) {
        *batch->request.add_sends() = std::move(send_queue.front().request);
        batch->dones.push_back(std::move(send_queue.front().done));
        send_queue.pop_front();
      }
      ++sends_in_flight;
      lock.unlock();
      const std::size_t i = next.fetch_add(1) % stubs.size();
      batch->address = options.addresses[i];
      batch->context.set_deadline(im::rpc::DeadlineAfter(options.timeout_ms));
      stubs[i]->async()->SendPeerMessages(
          &batch->context, &batch->request, &batch->reply, [this, batch](grpc::Status status) {
            for (std::size_t k = 0; k < batch->dones.size(); ++k) {
              if (!status.ok()) {
                batch->dones[k](absl::UnavailableError("access " + batch->address + ": " + status.error_message()));
              } else if (static_cast<int>(k) >= batch->reply.replies_size()) {
                batch->dones[k](absl::UnavailableError("access " + batch->address + ": short SendPeerMessages reply"));
              } else {
                batch->dones[k](std::move(*batch->reply.mutable_replies(static_cast<int>(k))));
              }
            }
            std::unique_lock<std::mutex> relock(send_mu);
            --sends_in_flight;
            SendQueuedLocked(relock);
            if (sends_in_flight == 0) sends_idle.notify_all();
          });
      lock.lock();
    }
  }

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
    state->address = options.addresses[i];
    state->context.set_deadline(im::rpc::DeadlineAfter(options.timeout_ms));
    start(stubs[i].get(), &state->context, &state->request, &state->reply, [state](grpc::Status status) {
      if (status.ok()) {
        state->done(std::move(state->reply));
      } else {
        state->done(absl::UnavailableError("access " + state->address + ": " + status.error_message()));
      }
    });
  }
};

AccessClient::AccessClient(Options options) : impl_(new Impl) {
  impl_->options = std::move(options);
  for (const auto& address : impl_->options.addresses) {
    impl_->stubs.push_back(rpc::AccessService::NewStub(im::rpc::MakeChannel(address)));
  }
}

void AccessClient::SendPeerMessage(rpc::SendPeerMessageRequest request, Done<rpc::SendReply> done) {
  std::unique_lock<std::mutex> lock(impl_->send_mu);
  impl_->send_queue.push_back({std::move(request), std::move(done)});
  impl_->SendQueuedLocked(lock);
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

IM_ACCESS_CALL(SendGroupMessage, rpc::SendGroupMessageRequest, rpc::SendReply)
IM_ACCESS_CALL(SyncPeer, rpc::SyncRequest, rpc::SyncReply)
IM_ACCESS_CALL(SyncGroup, rpc::SyncRequest, rpc::SyncReply)
IM_ACCESS_CALL(GetSyncInfo, rpc::GetSyncInfoRequest, rpc::GetSyncInfoReply)

#undef IM_ACCESS_CALL

}  // namespace im::sync
