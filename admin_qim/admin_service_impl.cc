#include "admin_qim/admin_service_impl.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "admin_qim/admin_ops.h"
#include "admin_qim/http_api.h"
#include "common/log/log.h"
#include "common/rpc/grpc_util.h"
#include "proto/admin.grpc.pb.h"

namespace im::admin {
namespace {

/// A fixed set of threads running queued tasks. Thread safe.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping, and every queued task ran
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

void ToProto(const AccountRecord& a, rpc::Account* out) {
  out->set_uid(a.uid);
  out->set_no(a.no);
  out->set_banned(a.banned);
  out->set_created_at(a.created_at);
}

void ToProto(const NodeRecord& n, rpc::Node* out) {
  out->set_id(n.id);
  out->set_tcp_port(n.tcp_port);
  out->set_udp_port(n.udp_port);
  out->set_weight(n.weight);
  out->set_server_type(n.server_type);
  out->set_tcp_protocol(n.tcp_protocol);
  out->set_address(n.address);
  out->set_disabled(n.disabled);
  out->set_admin_endpoint(n.admin_endpoint);
}

class AdminServiceImpl final : public rpc::AdminService::CallbackService {
 public:
  AdminServiceImpl(AdminOps* ops, AdminServiceOptions options)
      : ops_(ops), options_(std::move(options)), pool_(options_.workers) {}

  grpc::ServerUnaryReactor* CreateAccount(grpc::CallbackServerContext* ctx, const rpc::CreateAccountRequest* req,
                                          rpc::Account* resp) override {
    return Run(ctx, [=](const std::string& who) -> absl::Status {
      auto account = ops_->CreateAccount(who, req->no(), req->password());
      if (!account.ok()) return account.status();
      ToProto(*account, resp);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* GetAccount(grpc::CallbackServerContext* ctx, const rpc::GetAccountRequest* req,
                                       rpc::Account* resp) override {
    return Run(ctx, [=](const std::string&) -> absl::Status {
      auto account = req->no().empty() ? ops_->GetAccount(req->uid()) : ops_->GetAccount(req->no());
      if (!account.ok()) return account.status();
      ToProto(*account, resp);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* ListAccounts(grpc::CallbackServerContext* ctx, const rpc::ListAccountsRequest* req,
                                         rpc::ListAccountsReply* resp) override {
    return Run(ctx, [=](const std::string&) -> absl::Status {
      auto accounts = ops_->ListAccounts(req->search(), req->limit(), req->after_uid());
      if (!accounts.ok()) return accounts.status();
      for (const auto& a : *accounts) ToProto(a, resp->add_accounts());
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* IssueToken(grpc::CallbackServerContext* ctx, const rpc::IssueTokenRequest* req,
                                       rpc::IssueTokenReply* resp) override {
    return Run(ctx, [=](const std::string& who) -> absl::Status {
      auto token = ops_->IssueToken(who, req->uid());
      if (!token.ok()) return token.status();
      resp->set_uid(token->uid);
      resp->set_token(token->token);
      resp->set_expires_in(token->expires_in);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* RevokeTokens(grpc::CallbackServerContext* ctx, const rpc::UserRequest* req,
                                         rpc::Empty*) override {
    return Run(ctx, [=](const std::string& who) { return ops_->RevokeTokens(who, req->uid()); });
  }

  grpc::ServerUnaryReactor* Ban(grpc::CallbackServerContext* ctx, const rpc::UserRequest* req, rpc::Empty*) override {
    return Run(ctx, [=](const std::string& who) { return ops_->SetBanned(who, req->uid(), true); });
  }

  grpc::ServerUnaryReactor* Unban(grpc::CallbackServerContext* ctx, const rpc::UserRequest* req, rpc::Empty*) override {
    return Run(ctx, [=](const std::string& who) { return ops_->SetBanned(who, req->uid(), false); });
  }

  grpc::ServerUnaryReactor* CreateGroup(grpc::CallbackServerContext* ctx, const rpc::CreateGroupRequest* req,
                                        rpc::Group* resp) override {
    return Run(ctx, [=](const std::string& who) -> absl::Status {
      std::vector<std::int64_t> members(req->members().begin(), req->members().end());
      auto gid = ops_->CreateGroup(who, req->name(), req->owner(), members);
      if (!gid.ok()) return gid.status();
      return FillGroup(*gid, resp);
    });
  }

  grpc::ServerUnaryReactor* GetGroup(grpc::CallbackServerContext* ctx, const rpc::GroupRequest* req,
                                     rpc::Group* resp) override {
    return Run(ctx, [=](const std::string&) { return FillGroup(req->gid(), resp); });
  }

  grpc::ServerUnaryReactor* DeleteGroup(grpc::CallbackServerContext* ctx, const rpc::GroupRequest* req,
                                        rpc::Empty*) override {
    return Run(ctx, [=](const std::string& who) { return ops_->DeleteGroup(who, req->gid()); });
  }

  grpc::ServerUnaryReactor* AddMembers(grpc::CallbackServerContext* ctx, const rpc::MembersRequest* req,
                                       rpc::Empty*) override {
    return Run(ctx, [=](const std::string& who) {
      return ops_->AddMembers(who, req->gid(), std::vector<std::int64_t>(req->uids().begin(), req->uids().end()));
    });
  }

  grpc::ServerUnaryReactor* RemoveMember(grpc::CallbackServerContext* ctx, const rpc::MemberRequest* req,
                                         rpc::Empty*) override {
    return Run(ctx, [=](const std::string& who) { return ops_->RemoveMember(who, req->gid(), req->uid()); });
  }

  grpc::ServerUnaryReactor* SetMuted(grpc::CallbackServerContext* ctx, const rpc::MuteRequest* req,
                                     rpc::Empty*) override {
    return Run(ctx, [=](const std::string& who) { return ops_->SetMuted(who, req->gid(), req->uid(), req->muted()); });
  }

  grpc::ServerUnaryReactor* AddFriend(grpc::CallbackServerContext* ctx, const rpc::FriendRequest* req,
                                      rpc::Empty*) override {
    return Run(ctx, [=](const std::string& who) { return ops_->AddFriend(who, req->uid(), req->friend_uid()); });
  }

  grpc::ServerUnaryReactor* Block(grpc::CallbackServerContext* ctx, const rpc::BlockRequest* req,
                                  rpc::Empty*) override {
    return Run(ctx, [=](const std::string& who) { return ops_->Block(who, req->uid(), req->blocked_uid()); });
  }

  grpc::ServerUnaryReactor* SendSystemMessage(grpc::CallbackServerContext* ctx, const rpc::SystemMessageRequest* req,
                                              rpc::SystemMessageReply* resp) override {
    return Run(ctx, [=](const std::string& who) -> absl::Status {
      auto result = ops_->SendSystemMessage(who, req->to_uid(), req->gid(), req->msg_type(), req->content());
      if (!result.ok()) return result.status();
      resp->set_code(result->code);
      resp->set_offset(result->offset);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* GetOnlineStatus(grpc::CallbackServerContext* ctx, const rpc::UserRequest* req,
                                            rpc::OnlineStatus* resp) override {
    return Run(ctx, [=](const std::string&) -> absl::Status {
      auto devices = ops_->QueryOnline(req->uid());
      if (!devices.ok()) return devices.status();
      resp->set_uid(req->uid());
      resp->set_online(!devices->empty());
      for (const auto& d : *devices) {
        auto* out = resp->add_devices();
        out->set_device_id(d.device_id);
        out->set_platform(d.platform);
        out->set_notify_address(d.notify_address);
      }
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* ListNodes(grpc::CallbackServerContext* ctx, const rpc::Empty*,
                                      rpc::NodeList* resp) override {
    return Run(ctx, [=](const std::string&) -> absl::Status {
      auto nodes = ops_->ListNodes();
      if (!nodes.ok()) return nodes.status();
      for (const auto& n : *nodes) ToProto(n, resp->add_nodes());
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* SetNodeDisabled(grpc::CallbackServerContext* ctx, const rpc::NodeDisableRequest* req,
                                            rpc::Empty*) override {
    return Run(ctx, [=](const std::string& who) { return ops_->SetNodeDisabled(who, req->id(), req->disabled()); });
  }

  grpc::ServerUnaryReactor* AddNode(grpc::CallbackServerContext* ctx, const rpc::Node* req, rpc::Node* resp) override {
    return Run(ctx, [=](const std::string& who) -> absl::Status {
      NodeRecord node{0, req->tcp_port(), req->udp_port(), req->weight(), req->server_type(), req->tcp_protocol(),
                      req->address(), req->disabled(), req->admin_endpoint()};
      auto added = ops_->AddNode(who, node);
      if (!added.ok()) return added.status();
      ToProto(*added, resp);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* ClusterOverview(grpc::CallbackServerContext* ctx, const rpc::Empty*,
                                            rpc::ClusterOverviewReply* resp) override {
    return Run(ctx, [=](const std::string&) -> absl::Status {
      auto overview = ops_->Overview();
      if (!overview.ok()) return overview.status();
      for (const auto& n : overview->nodes) {
        auto* out = resp->add_nodes();
        ToProto(n.node, out->mutable_node());
        out->set_healthy(n.healthy);
        out->set_connections(n.connections);
        out->set_checked_by(n.checked_by);
        out->set_error(n.error);
      }
      resp->set_accounts(overview->counts.accounts);
      resp->set_groups(overview->counts.groups);
      resp->set_online_users(overview->presence.online_users);
      resp->set_online_devices(overview->presence.online_devices);
      resp->set_presence_error(overview->presence_error);
      return absl::OkStatus();
    });
  }

 private:
  absl::Status FillGroup(std::int64_t gid, rpc::Group* resp) {
    auto group = ops_->GetGroup(gid);
    if (!group.ok()) return group.status();
    resp->set_gid(group->gid);
    resp->set_name(group->name);
    resp->set_owner(group->owner);
    resp->set_muted(group->muted);
    for (std::int64_t uid : group->members) resp->add_members(uid);
    return absl::OkStatus();
  }

  // Checks the secret, then runs `body(who)` on a worker and finishes the
  // call with its status.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, std::function<absl::Status(const std::string&)> body) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    const auto& metadata = ctx->client_metadata();
    auto it = metadata.find("authorization");
    const std::string header = it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
    if (!BearerMatches(header, options_.admin_secret)) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                   "the admin secret is missing or wrong (metadata authorization: Bearer <secret>)"));
      return reactor;
    }
    std::string who = "grpc-admin@" + ctx->peer();
    pool_.Submit([reactor, body = std::move(body), who = std::move(who)] {
      reactor->Finish(rpc::ToGrpcStatus(body(who)));
    });
    return reactor;
  }

  AdminOps* ops_;
  AdminServiceOptions options_;
  WorkerPool pool_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewAdminService(AdminOps* ops, AdminServiceOptions options) {
  return std::make_unique<AdminServiceImpl>(ops, std::move(options));
}

}  // namespace im::admin
