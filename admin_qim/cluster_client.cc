#include "admin_qim/cluster_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/http/http_client.h"
#include "common/http/prometheus_text.h"
#include "common/rpc/grpc_util.h"
#include "proto/access.grpc.pb.h"
#include "proto/route.grpc.pb.h"

namespace im::admin {
namespace {

absl::Status Unreachable(const std::string& what, const std::string& address, const grpc::Status& status) {
  return absl::UnavailableError(what + " at " + address + " cannot be reached: " + status.error_message() +
                                " (grpc code " + std::to_string(status.error_code()) + ")");
}

class GrpcClusterClient final : public ClusterClient {
 public:
  explicit GrpcClusterClient(ClusterClientOptions options) : options_(std::move(options)) {
    if (!options_.access_address.empty()) {
      access_ = rpc::AccessService::NewStub(rpc::MakeChannel(options_.access_address));
    }
    for (const auto& address : options_.route_addresses) {
      routes_.push_back(rpc::RouteService::NewStub(rpc::MakeChannel(address)));
    }
  }

  absl::StatusOr<SystemMessageResult> SendSystemMessage(std::int64_t from_uid, std::int64_t to_uid, std::int64_t gid,
                                                        int msg_type, const std::string& content) override {
    if (!access_) {
      return absl::UnavailableError(
          "system messages need an access_server: set access.address in admin_qim's config");
    }
    rpc::ChatPayload payload;
    payload.set_from_uid(from_uid);
    payload.set_to_uid(gid != 0 ? 0 : to_uid);
    payload.set_gid(gid);
    payload.set_msg_type(msg_type);
    payload.set_timestamp(static_cast<std::int32_t>(std::time(nullptr)));
    payload.set_content(content);
    rpc::SendReply reply;
    grpc::ClientContext ctx;
    ctx.set_deadline(rpc::DeadlineAfter(options_.rpc_timeout_ms));
    grpc::Status status;
    if (gid != 0) {
      rpc::SendGroupMessageRequest request;
      *request.mutable_message() = payload;
      request.set_len(static_cast<std::int32_t>(content.size()));
      status = access_->SendGroupMessage(&ctx, request, &reply);
    } else {
      rpc::SendPeerMessageRequest request;
      *request.mutable_message() = payload;
      request.set_len(static_cast<std::int32_t>(content.size()));
      status = access_->SendPeerMessage(&ctx, request, &reply);
    }
    if (!status.ok()) return Unreachable("access_server", options_.access_address, status);
    return SystemMessageResult{reply.code(), reply.desp(), reply.offset()};
  }

  absl::StatusOr<std::vector<OnlineDeviceInfo>> QueryOnline(std::int64_t uid) override {
    if (routes_.empty()) {
      return absl::UnavailableError("online status needs route_server: set route.addresses in admin_qim's config");
    }
    const std::size_t shard = static_cast<std::size_t>(uid) % routes_.size();
    rpc::QueryOnlineRequest request;
    request.add_uids(uid);
    rpc::QueryOnlineReply reply;
    grpc::ClientContext ctx;
    ctx.set_deadline(rpc::DeadlineAfter(options_.rpc_timeout_ms));
    grpc::Status status = routes_[shard]->QueryOnline(&ctx, request, &reply);
    if (!status.ok()) return Unreachable("route_server", options_.route_addresses[shard], status);
    std::vector<OnlineDeviceInfo> out;
    for (const auto& user : reply.users()) {
      if (user.uid() != uid) continue;
      for (const auto& d : user.devices()) out.push_back({d.device_id(), d.platform(), d.notify_address()});
    }
    return out;
  }

  absl::StatusOr<PresenceTotals> Presence() override {
    if (routes_.empty()) {
      return absl::UnavailableError("online totals need route_server: set route.addresses in admin_qim's config");
    }
    PresenceTotals totals;
    for (std::size_t shard = 0; shard < routes_.size(); ++shard) {
      rpc::PresenceStatsReply reply;
      grpc::ClientContext ctx;
      ctx.set_deadline(rpc::DeadlineAfter(options_.rpc_timeout_ms));
      grpc::Status status = routes_[shard]->PresenceStats(&ctx, rpc::PresenceStatsRequest(), &reply);
      if (!status.ok()) return Unreachable("route_server", options_.route_addresses[shard], status);
      totals.online_users += reply.online_users();
      totals.online_devices += reply.online_devices();
    }
    return totals;
  }

 private:
  ClusterClientOptions options_;
  std::unique_ptr<rpc::AccessService::Stub> access_;
  std::vector<std::unique_ptr<rpc::RouteService::Stub>> routes_;
};

}  // namespace

std::unique_ptr<ClusterClient> NewGrpcClusterClient(ClusterClientOptions options) {
  return std::make_unique<GrpcClusterClient>(std::move(options));
}

bool ProbeTcp(const std::string& host, int port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || found == nullptr) return false;
  bool ok = false;
  for (addrinfo* ai = found; ai != nullptr && !ok; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, timeout_ms) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
      }
    }
    close(fd);
  }
  freeaddrinfo(found);
  return ok;
}

AdminScrape ScrapeAdminEndpoint(const std::string& admin_endpoint, int server_type, int timeout_ms) {
  AdminScrape out;
  const std::string base = "http://" + admin_endpoint;
  http::FetchResult health;
  if (!http::Fetch(base, "GET", "/healthz", "", timeout_ms, &health, &out.error)) return out;
  out.reachable = true;
  out.healthy = health.status == 200;
  if (!out.healthy) out.error = "/healthz answered " + std::to_string(health.status);
  // Each daemon counts its client connections under its own name.
  const char* series = server_type == 1 ? "im_notify_state{what=\"connections\"}"
                       : server_type == 2 ? "im_sync_connections"
                                          : nullptr;
  if (series == nullptr) return out;
  http::FetchResult metrics;
  std::string error;
  if (!http::Fetch(base, "GET", "/metrics", "", timeout_ms, &metrics, &error)) {
    if (out.error.empty()) out.error = error;
    return out;
  }
  if (auto value = http::FindSample(metrics.body, series); metrics.status == 200 && value) {
    out.connections = static_cast<std::int64_t>(*value);
  } else if (out.error.empty()) {
    out.error = std::string("/metrics has no ") + series;
  }
  return out;
}

}  // namespace im::admin
