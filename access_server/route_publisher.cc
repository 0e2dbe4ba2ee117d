#include "access_server/route_publisher.h"

#include <condition_variable>
#include <mutex>

#include "common/log/log.h"
#include "common/base/shard_map.h"
#include "common/rpc/grpc_util.h"
#include "proto/route.grpc.pb.h"

namespace im::access {

class RoutePublisher::Shard {
 public:
  Shard(const std::string& address, const RoutePublisherOptions& options)
      : address_(address), options_(options), stub_(rpc::RouteService::NewStub(im::rpc::MakeChannel(address))) {}

  void Publish(rpc::Notification notification) {
    std::unique_lock<std::mutex> lock(mu_);
    if (static_cast<std::size_t>(pending_.notifications_size()) >= options_.max_queued) {
      if (!overflow_logged_) {
        IM_LOG_WARN(log::Rpc(), "route {}: publish queue full, dropping notifications", address_);
        overflow_logged_ = true;
      }
      return;
    }
    *pending_.add_notifications() = std::move(notification);
    MaybeSendLocked(lock);
  }

  ~Shard() {
    // Wait for calls in flight: their callbacks use this object.
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [this] { return in_flight_ == 0; });
  }

 private:
  struct Call {
    grpc::ClientContext context;
    rpc::PublishRequest request;
    rpc::PublishReply reply;
  };

  void MaybeSendLocked(std::unique_lock<std::mutex>& lock) {
    while (pending_.notifications_size() > 0 && in_flight_ < options_.max_in_flight) {
      auto call = std::make_shared<Call>();
      call->request.Swap(&pending_);
      ++in_flight_;
      lock.unlock();
      call->context.set_deadline(im::rpc::DeadlineAfter(options_.timeout_ms));
      stub_->async()->Publish(&call->context, &call->request, &call->reply, [this, call](grpc::Status status) {
        if (!status.ok()) {
          IM_LOG_WARN(log::Rpc(), "route {}: Publish of {} notifications failed: {}", address_,
                      call->request.notifications_size(), status.error_message());
        }
        std::unique_lock<std::mutex> lock(mu_);
        --in_flight_;
        overflow_logged_ = false;
        MaybeSendLocked(lock);
        if (in_flight_ == 0) idle_.notify_all();
      });
      lock.lock();
    }
  }

  std::string address_;
  const RoutePublisherOptions& options_;
  std::unique_ptr<rpc::RouteService::Stub> stub_;
  std::mutex mu_;
  std::condition_variable idle_;
  rpc::PublishRequest pending_;  // guarded by mu_
  int in_flight_ = 0;            // guarded by mu_
  bool overflow_logged_ = false; // guarded by mu_
};

RoutePublisher::RoutePublisher(RoutePublisherOptions options) : options_(std::move(options)) {
  for (const auto& address : options_.addresses) shards_.push_back(std::make_unique<Shard>(address, options_));
}

RoutePublisher::~RoutePublisher() = default;

int RoutePublisher::ShardOf(std::int64_t uid) const {
  return base::ShardOf(uid, static_cast<int>(shards_.size()));
}

void RoutePublisher::Publish(const rpc::Notification& notification) {
  if (shards_.empty()) return;
  if (shards_.size() == 1) {
    shards_[0]->Publish(notification);
    return;
  }
  std::vector<rpc::Notification> parts(shards_.size());
  for (std::int64_t uid : notification.uids()) parts[ShardOf(uid)].add_uids(uid);
  for (std::size_t s = 0; s < parts.size(); ++s) {
    if (parts[s].uids_size() == 0) continue;
    rpc::Notification part = notification;
    part.mutable_uids()->Swap(parts[s].mutable_uids());
    shards_[s]->Publish(std::move(part));
  }
}

}  // namespace im::access
