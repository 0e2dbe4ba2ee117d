#include "route_server/route_service_impl.h"

#include <deque>

#include "common/log/log.h"

namespace im::route {

// One notify_server's Attach stream. Reads presence, writes deliveries with
// one write in flight; while it is in flight new deliveries are merged into
// the last queued message. Deletes itself in OnDone().
class AttachReactor final : public grpc::ServerBidiReactor<rpc::NotifyToRoute, rpc::RouteToNotify> {
 public:
  // The sink handed to the table; outlives the reactor (the table may hold it
  // a moment longer), so it points at the reactor only under its lock.
  struct Sink final : NodeSink {
    void Deliver(rpc::RouteToNotify message) override {
      std::lock_guard<std::mutex> lock(mu);
      if (reactor != nullptr) reactor->EnqueueLocked(std::move(message));
    }
    std::mutex mu;
    AttachReactor* reactor = nullptr;
  };

  AttachReactor(RouteServiceImpl* service, std::string peer)
      : service_(service), peer_(std::move(peer)), sink_(std::make_shared<Sink>()) {
    sink_->reactor = this;
    {
      std::lock_guard<std::mutex> lock(service_->streams_mu_);
      service_->streams_.insert(this);
    }
    StartRead(&incoming_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return FinishOnce(grpc::Status::OK);
    if (!attached_) {
      if (!incoming_.has_hello() || incoming_.hello().node_id().empty()) {
        IM_LOG_WARN(log::Rpc(), "attach from {} without hello: refusing", peer_);
        return FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "first message must carry a hello"));
      }
      node_id_ = incoming_.hello().node_id();
      handle_ = service_->table_->AddNode(node_id_, incoming_.hello().client_address(), sink_);
      attached_ = true;
      IM_LOG_INFO(log::Rpc(), "node {} ({}) attached from {}", node_id_, incoming_.hello().client_address(), peer_);
    }
    service_->table_->Apply(handle_, incoming_);
    incoming_.Clear();
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(sink_->mu);
    writing_ = false;
    if (finish_wanted_) return Finish(finish_status_);
    if (!ok) {
      queue_.clear();
      return;
    }
    WriteNextLocked();
  }

  void OnDone() override {
    {
      std::lock_guard<std::mutex> lock(sink_->mu);
      sink_->reactor = nullptr;
    }
    if (attached_) {
      service_->table_->RemoveNode(handle_);
      IM_LOG_INFO(log::Rpc(), "node {} detached: its presence is dropped", node_id_);
    }
    {
      std::lock_guard<std::mutex> lock(service_->streams_mu_);
      service_->streams_.erase(this);
    }
    delete this;
  }

  void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }

  void FinishOnce(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(sink_->mu);
    if (finished_) return;
    finished_ = true;
    queue_.clear();
    if (writing_) {  // finish after the write in flight
      finish_wanted_ = true;
      finish_status_ = status;
      return;
    }
    Finish(status);
  }

 private:
  void EnqueueLocked(rpc::RouteToNotify message) {
    if (finished_) return;
    if (!queue_.empty() && queue_.back().notifications_size() + message.notifications_size() <=
                               static_cast<int>(service_->options_.max_batch_notifications)) {
      rpc::RouteToNotify& last = queue_.back();
      for (auto& n : *message.mutable_notifications()) last.add_notifications()->Swap(&n);
      for (auto uid : message.kick_uids()) last.add_kick_uids(uid);
    } else if (queue_.size() >= service_->options_.max_queued_messages) {
      ++service_->dropped_;
      return;
    } else {
      queue_.push_back(std::move(message));
    }
    if (!writing_) WriteNextLocked();
  }

  void WriteNextLocked() {
    if (finished_ || queue_.empty()) return;
    outgoing_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&outgoing_);
  }

  RouteServiceImpl* service_;
  std::string peer_;
  std::shared_ptr<Sink> sink_;
  rpc::NotifyToRoute incoming_;
  rpc::RouteToNotify outgoing_;
  std::deque<rpc::RouteToNotify> queue_;  // guarded by sink_->mu
  bool writing_ = false;                  // guarded by sink_->mu
  bool finished_ = false;                 // guarded by sink_->mu
  bool finish_wanted_ = false;            // guarded by sink_->mu
  grpc::Status finish_status_;            // guarded by sink_->mu
  bool attached_ = false;                 // reader side only
  std::string node_id_;
  PresenceTable::NodeHandle handle_ = 0;
};

grpc::ServerBidiReactor<rpc::NotifyToRoute, rpc::RouteToNotify>* RouteServiceImpl::Attach(
    grpc::CallbackServerContext* context) {
  return new AttachReactor(this, context->peer());
}

grpc::ServerUnaryReactor* RouteServiceImpl::Publish(grpc::CallbackServerContext* context,
                                                    const rpc::PublishRequest* request, rpc::PublishReply* reply) {
  reply->set_delivered_devices(table_->Route(*request));
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* RouteServiceImpl::QueryOnline(grpc::CallbackServerContext* context,
                                                        const rpc::QueryOnlineRequest* request,
                                                        rpc::QueryOnlineReply* reply) {
  *reply = table_->Query({request->uids().begin(), request->uids().end()});
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* RouteServiceImpl::PresenceStats(grpc::CallbackServerContext* context,
                                                          const rpc::PresenceStatsRequest*,
                                                          rpc::PresenceStatsReply* reply) {
  reply->set_online_users(static_cast<std::int64_t>(table_->online_users()));
  reply->set_online_devices(static_cast<std::int64_t>(table_->online_devices()));
  reply->set_notify_nodes(static_cast<std::int64_t>(table_->nodes()));
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* RouteServiceImpl::Kick(grpc::CallbackServerContext* context,
                                                 const rpc::KickRequest* request, rpc::KickReply*) {
  table_->Kick({request->uids().begin(), request->uids().end()});
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

void RouteServiceImpl::FinishAll() {
  std::lock_guard<std::mutex> lock(streams_mu_);
  for (AttachReactor* r : streams_) r->FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "route_server stopping"));
}

}  // namespace im::route
