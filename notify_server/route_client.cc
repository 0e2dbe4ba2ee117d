#include "notify_server/route_client.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common/log/log.h"
#include "common/rpc/grpc_util.h"
#include "proto/route.grpc.pb.h"

namespace im::notify {

class AttachStream;

struct RouteClient::Shard {
  int index = 0;
  std::string address;
  std::unique_ptr<rpc::RouteService::Stub> stub;
  std::mutex mu;
  AttachStream* stream = nullptr;  // guarded by mu; null while disconnected
  std::chrono::steady_clock::time_point next_attempt{};
  int backoff_ms = 0;
  bool was_connected = false;  // for logging transitions once
  RouteClient* client = nullptr;
};

struct RouteClient::Loop {
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  int live_streams = 0;  // streams not yet through OnDone
  std::thread thread;
};

// One Attach call. Writes one message at a time; changes queued meanwhile are
// merged into the last queued message. A hold keeps OnDone away until the
// reader saw the end and no write is in flight. Deletes itself in OnDone().
class AttachStream final : public grpc::ClientBidiReactor<rpc::NotifyToRoute, rpc::RouteToNotify> {
 public:
  AttachStream(RouteClient::Shard* shard, RouteClient::Loop* loop, std::function<void(rpc::RouteToNotify&)>* deliver,
               std::size_t max_queued)
      : shard_(shard), loop_(loop), deliver_(deliver), max_queued_(max_queued) {}

  // Shard lock held.
  void EnqueueLocked(rpc::NotifyToRoute message) {
    if (broken_) return;
    if (!queue_.empty() && !queue_.back().has_hello() && !message.snapshot()) {
      for (auto& p : *message.mutable_presence()) queue_.back().add_presence()->Swap(&p);
    } else if (queue_.size() >= max_queued_) {
      // Cannot keep up: restart the stream, whose snapshot makes presence whole.
      broken_ = true;
      context_.TryCancel();
      return;
    } else {
      queue_.push_back(std::move(message));
    }
    if (started_ && !writing_) WriteNextLocked();
  }

  void Begin() {
    std::lock_guard<std::mutex> lock(shard_->mu);
    shard_->stub->async()->Attach(&context_, this);
    AddHold();
    StartRead(&incoming_);
    StartCall();
    started_ = true;
    WriteNextLocked();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard<std::mutex> lock(shard_->mu);
      broken_ = true;
      queue_.clear();
      if (!writing_ && !hold_removed_) {
        hold_removed_ = true;
        RemoveHold();
      }
      return;
    }
    (*deliver_)(incoming_);
    incoming_.Clear();
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(shard_->mu);
    writing_ = false;
    if (ok && !confirmed_) {
      confirmed_ = true;
      shard_->backoff_ms = 0;
      shard_->was_connected = true;
      IM_LOG_INFO(log::Rpc(), "route shard {} ({}) attached", shard_->index, shard_->address);
    }
    if (!ok) broken_ = true;
    if (broken_) {
      if (!hold_removed_) {
        hold_removed_ = true;
        RemoveHold();
      }
      return;
    }
    WriteNextLocked();
  }

  void OnDone(const grpc::Status& status) override {
    {
      std::lock_guard<std::mutex> lock(shard_->mu);
      if (shard_->stream == this) shard_->stream = nullptr;
      const int initial = shard_->client->options().reconnect_initial_ms;
      shard_->backoff_ms = shard_->backoff_ms == 0
                               ? initial
                               : std::min(shard_->backoff_ms * 2, shard_->client->options().reconnect_max_ms);
      shard_->next_attempt = std::chrono::steady_clock::now() + std::chrono::milliseconds(shard_->backoff_ms);
      if (shard_->was_connected || confirmed_) {
        IM_LOG_WARN(log::Rpc(), "route shard {} ({}) stream ended: {} {}; reconnecting", shard_->index,
                    shard_->address, static_cast<int>(status.error_code()), status.error_message());
        shard_->was_connected = false;
      }
    }
    {
      std::lock_guard<std::mutex> lock(loop_->mu);
      --loop_->live_streams;
    }
    loop_->cv.notify_all();
    delete this;
  }

 private:
  void WriteNextLocked() {
    if (broken_ || writing_ || queue_.empty()) return;
    outgoing_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&outgoing_);
  }

  RouteClient::Shard* shard_;
  RouteClient::Loop* loop_;
  std::function<void(rpc::RouteToNotify&)>* deliver_;
  std::size_t max_queued_;
  grpc::ClientContext context_;
  rpc::RouteToNotify incoming_;
  rpc::NotifyToRoute outgoing_;
  std::deque<rpc::NotifyToRoute> queue_;  // guarded by shard_->mu
  bool started_ = false, writing_ = false, broken_ = false, hold_removed_ = false, confirmed_ = false;
};

RouteClient::RouteClient(RouteClientOptions options, SessionRegistry* registry,
                         std::function<void(rpc::RouteToNotify&)> deliver)
    : options_(std::move(options)), registry_(registry), deliver_(std::move(deliver)),
      loop_(std::make_unique<Loop>()) {
  for (std::size_t i = 0; i < options_.addresses.size(); ++i) {
    auto shard = std::make_unique<Shard>();
    shard->index = static_cast<int>(i);
    shard->address = options_.addresses[i];
    rpc::ChannelOptions channel_options;
    channel_options.reconnect_backoff_max_ms = options_.reconnect_max_ms;
    shard->stub = rpc::RouteService::NewStub(rpc::MakeChannel(shard->address, channel_options));
    shard->client = this;
    shards_.push_back(std::move(shard));
  }
}

RouteClient::~RouteClient() { Stop(); }

void RouteClient::Start() { loop_->thread = std::thread([this] { Reconnector(); }); }

void RouteClient::Stop() {
  {
    std::lock_guard<std::mutex> lock(loop_->mu);
    if (loop_->stopping) return;
    loop_->stopping = true;
  }
  loop_->cv.notify_all();
  if (loop_->thread.joinable()) loop_->thread.join();
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    if (shard->stream != nullptr) shard->stream->Cancel();
  }
  std::unique_lock<std::mutex> lock(loop_->mu);
  loop_->cv.wait(lock, [&] { return loop_->live_streams == 0; });
}

void RouteClient::OnPresence(const rpc::DevicePresence& presence) {
  if (shards_.empty()) return;
  Shard& shard = *shards_[static_cast<std::uint64_t>(presence.uid()) % shards_.size()];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.stream == nullptr) return;  // the next snapshot covers it
  rpc::NotifyToRoute message;
  *message.add_presence() = presence;
  shard.stream->EnqueueLocked(std::move(message));
}

int RouteClient::connected_shards() const {
  int n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    if (shard->stream != nullptr && shard->was_connected) ++n;
  }
  return n;
}

void RouteClient::Connect(Shard& shard) {
  AttachStream* stream = nullptr;
  const std::size_t count = shards_.size();
  // Registry lock, then shard lock: changes after the snapshot queue behind it.
  registry_->Snapshot([&](const std::vector<rpc::DevicePresence>& all) {
    rpc::NotifyToRoute first;
    first.mutable_hello()->set_node_id(options_.node_id);
    first.mutable_hello()->set_client_address(options_.client_address);
    first.set_snapshot(true);
    for (const auto& p : all) {
      if (static_cast<std::uint64_t>(p.uid()) % count == static_cast<std::uint64_t>(shard.index)) {
        *first.add_presence() = p;
      }
    }
    std::lock_guard<std::mutex> lock(shard.mu);
    stream = new AttachStream(&shard, loop_.get(), &deliver_, options_.max_queued_messages);
    stream->EnqueueLocked(std::move(first));
    shard.stream = stream;
  });
  {
    std::lock_guard<std::mutex> lock(loop_->mu);
    ++loop_->live_streams;
  }
  stream->Begin();
}

void RouteClient::Reconnector() {
  std::unique_lock<std::mutex> lock(loop_->mu);
  while (!loop_->stopping) {
    lock.unlock();
    for (auto& shard : shards_) {
      bool need = false;
      {
        std::lock_guard<std::mutex> shard_lock(shard->mu);
        need = shard->stream == nullptr && std::chrono::steady_clock::now() >= shard->next_attempt;
      }
      if (need) Connect(*shard);
    }
    lock.lock();
    loop_->cv.wait_for(lock, std::chrono::milliseconds(50));
  }
}

}  // namespace im::notify
