#pragma once
// The RouteService gRPC surface (proto/route.proto) over a PresenceTable.
// Keep grpcpp out of includers: only route_server.cc includes this.

#include <atomic>
#include <memory>

#include "proto/route.grpc.pb.h"
#include "route_server/presence_table.h"

namespace im::route {

struct RouteServiceOptions {
  std::size_t max_queued_messages = 10000;  // per node; beyond it deliveries are dropped (clients repair by pull)
  std::size_t max_batch_notifications = 512;  // merged into one RouteToNotify while a write is in flight
};

class RouteServiceImpl final : public rpc::RouteService::CallbackService {
 public:
  RouteServiceImpl(PresenceTable* table, RouteServiceOptions options) : table_(table), options_(options) {}

  grpc::ServerBidiReactor<rpc::NotifyToRoute, rpc::RouteToNotify>* Attach(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context, const rpc::PublishRequest* request,
                                    rpc::PublishReply* reply) override;
  grpc::ServerUnaryReactor* PresenceStats(grpc::CallbackServerContext* context,
                                          const rpc::PresenceStatsRequest* request,
                                          rpc::PresenceStatsReply* reply) override;
  grpc::ServerUnaryReactor* QueryOnline(grpc::CallbackServerContext* context, const rpc::QueryOnlineRequest* request,
                                        rpc::QueryOnlineReply* reply) override;
  grpc::ServerUnaryReactor* Kick(grpc::CallbackServerContext* context, const rpc::KickRequest* request,
                                 rpc::KickReply* reply) override;

  std::uint64_t dropped_messages() const { return dropped_.load(); }

  /// Ends every Attach stream (shutdown). Thread safe.
  void FinishAll();

 private:
  friend class AttachReactor;
  PresenceTable* table_;
  RouteServiceOptions options_;
  std::atomic<std::uint64_t> dropped_{0};
  std::mutex streams_mu_;
  std::unordered_set<class AttachReactor*> streams_;
};

}  // namespace im::route
