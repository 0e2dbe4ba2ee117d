#include "tests/integration/notify/notify_test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>

#include "common/auth/token_store.h"
#include "common/net/client_protocol.h"
#include "common/redis/redis_client.h"
#include "proto/access.grpc.pb.h"
#include "proto/im_client.pb.h"

namespace im::testing {

// ---------------- RawClient ----------------

RawClient::~RawClient() { Close(); }

RawClient::RawClient(RawClient&& other) noexcept : fd_(other.fd_), decoder_(std::move(other.decoder_)) {
  other.fd_ = -1;
}

void RawClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawClient::Connect(int port, const std::string& source_ip) {
  Close();
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return false;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!source_ip.empty()) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source_ip.c_str(), &src.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Close();
    return false;
  }
  return true;
}

bool RawClient::SendRaw(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawClient::Send(std::int64_t uid, std::int16_t cmdid, std::int32_t seq,
                     const google::protobuf::MessageLite& body) {
  return SendRaw(net::EncodeFrame(uid, cmdid, seq, body));
}

std::optional<ReceivedFrame> RawClient::Read(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    net::ParseResult r = decoder_.Next();
    if (r.status == net::ParseStatus::kFrame) {
      return ReceivedFrame{r.frame.header, std::string(r.frame.body)};
    }
    if (r.status != net::ParseStatus::kNeedMore || fd_ < 0) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    decoder_.Append(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

std::optional<ReceivedFrame> RawClient::ReadCmd(std::int16_t cmdid, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto f = Read(left);
    if (!f) return std::nullopt;
    if (f->header.cmdid == cmdid) return f;
  }
}

bool RawClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (fd_ >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;  // EOF or reset
  }
  return true;
}

bool RawClient::SendLogin(std::int64_t uid, const std::string& token, std::int64_t device_id,
                          std::int32_t platform) {
  client::ImLogin login;
  login.set_token(token);
  login.set_device_id(device_id);
  login.set_platform(platform);
  login.set_client_version("test/1");
  return Send(uid, net::kCmdLogin, 1, login);
}

int RawClient::Login(std::int64_t uid, const std::string& token, std::int64_t device_id, std::int32_t platform) {
  if (!SendLogin(uid, token, device_id, platform)) return -1;
  auto f = Read(std::chrono::seconds(10));
  if (!f || f->header.cmdid != net::kCmdLoginRes) return -1;
  client::ImLoginRes res;
  if (!res.ParseFromString(f->body)) return -1;
  return res.code();
}

// ---------------- FakeAccess ----------------

struct FakeAccess::State {
  mutable std::mutex mu;
  std::map<std::int64_t, rpc::SyncPoint> peer;
  std::map<std::int64_t, std::vector<rpc::SyncPoint>> groups;
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> acks;
  std::int64_t sync_info_calls = 0;
  std::int64_t sync_info_uids = 0;
};

struct FakeAccess::Service final : rpc::AccessService::CallbackService {
  explicit Service(std::shared_ptr<State> s) : state(std::move(s)) {}

  grpc::ServerUnaryReactor* GetSyncInfo(grpc::CallbackServerContext* context, const rpc::GetSyncInfoRequest* request,
                                        rpc::GetSyncInfoReply* reply) override {
    {
      std::lock_guard<std::mutex> lock(state->mu);
      ++state->sync_info_calls;
      state->sync_info_uids += request->uids_size();
      for (auto uid : request->uids()) {
        auto it = state->peer.find(uid);
        *reply->add_peer() = it == state->peer.end() ? rpc::SyncPoint() : it->second;
      }
    }
    auto* r = context->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  grpc::ServerUnaryReactor* GetSyncOffsets(grpc::CallbackServerContext* context,
                                           const rpc::GetSyncOffsetsRequest* request,
                                           rpc::GetSyncOffsetsReply* reply) override {
    {
      std::lock_guard<std::mutex> lock(state->mu);
      reply->set_code(200);
      auto it = state->peer.find(request->uid());
      *reply->add_latest() = it == state->peer.end() ? rpc::SyncPoint() : it->second;
      for (const auto& g : state->groups[request->uid()]) *reply->add_latest() = g;
      for (const auto& [key, offset] : state->acks) {
        if (key.first != request->uid()) continue;
        rpc::SyncPoint* p = reply->add_acked();
        p->set_gid(key.second);
        p->set_offset(offset);
      }
    }
    auto* r = context->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  grpc::ServerUnaryReactor* AckOffset(grpc::CallbackServerContext* context, const rpc::AckOffsetRequest* request,
                                      rpc::AckOffsetReply*) override {
    {
      std::lock_guard<std::mutex> lock(state->mu);
      state->acks[{request->uid(), request->gid()}] = request->offset();
    }
    auto* r = context->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  std::shared_ptr<State> state;
};

FakeAccess::FakeAccess() : state_(std::make_shared<State>()) {}
FakeAccess::~FakeAccess() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

bool FakeAccess::Start() {
  service_ = std::make_unique<Service>(state_);
  for (int attempt = 0; attempt < 5 && !server_; ++attempt) {
    const int port = PickFreePort();
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(), &bound);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (server_ && bound == port) {
      port_ = port;
    } else {
      server_.reset();
    }
  }
  return server_ != nullptr;
}

void FakeAccess::SetPeer(std::int64_t uid, std::int64_t msgid, std::int64_t offset) {
  std::lock_guard<std::mutex> lock(state_->mu);
  rpc::SyncPoint& p = state_->peer[uid];
  p.set_gid(0);
  p.set_msgid(msgid);
  p.set_offset(offset);
}

void FakeAccess::SetGroup(std::int64_t uid, std::int64_t gid, std::int64_t msgid, std::int64_t offset) {
  std::lock_guard<std::mutex> lock(state_->mu);
  rpc::SyncPoint p;
  p.set_gid(gid);
  p.set_msgid(msgid);
  p.set_offset(offset);
  state_->groups[uid].push_back(p);
}

std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> FakeAccess::acks() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->acks;
}
std::int64_t FakeAccess::sync_info_calls() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->sync_info_calls;
}
std::int64_t FakeAccess::sync_info_uids() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->sync_info_uids;
}

// ---------------- processes ----------------

namespace {
std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

RouteProcess::RouteProcess(std::string dir, int port) : dir_(std::move(dir)), port_(port) {}

bool RouteProcess::Start() {
  if (port_ == 0) port_ = PickFreePort();
  auto child = ChildProcess::Start({ROUTE_SERVER_BIN, "--server.listen", "127.0.0.1:" + std::to_string(port_),
                                    "--admin.listen", "127.0.0.1:0", "--log.level", "debug"},
                                   dir_ + "/route.log");
  if (!child.ok()) return false;
  process_ = std::move(*child);
  return WaitForPort(port_, std::chrono::seconds(10));
}

void RouteProcess::Stop() {
  process_.Signal(SIGTERM);
  process_.Wait(std::chrono::seconds(10));
}

std::string RouteProcess::log() const { return ReadFile(dir_ + "/route.log"); }

NotifyProcess::NotifyProcess(std::string dir, std::string name, NotifyOptions options)
    : dir_(std::move(dir)), name_(std::move(name)), options_(std::move(options)) {}

bool NotifyProcess::Start() {
  port_ = PickFreePort();
  admin_port_ = PickFreePort();
  std::string routes;
  for (const auto& r : options_.route_addresses) routes += (routes.empty() ? "" : ",") + r;
  std::vector<std::string> argv = {NOTIFY_SERVER_BIN,
                                   "--server.listen",
                                   "127.0.0.1:" + std::to_string(port_),
                                   "--admin.listen",
                                   "127.0.0.1:" + std::to_string(admin_port_),
                                   "--redis.host",
                                   options_.redis_address.substr(0, options_.redis_address.rfind(':')),
                                   "--redis.port",
                                   options_.redis_address.substr(options_.redis_address.rfind(':') + 1),
                                   "--access.address",
                                   options_.access_address,
                                   "--route.addresses",
                                   routes,
                                   "--route.reconnect_max_ms",
                                   "300",
                                   "--server.threads",
                                   "2",
                                   "--log.level",
                                   "debug"};
  argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  if (options_.fd_limit > 0) {
    std::string command = "ulimit -n " + std::to_string(options_.fd_limit) + " && exec";
    for (const auto& a : argv) command += " '" + a + "'";
    argv = {"/bin/bash", "-c", command};
  }
  auto child = ChildProcess::Start(argv, dir_ + "/" + name_ + ".log");
  if (!child.ok()) return false;
  process_ = std::move(*child);
  return WaitForPort(port_, std::chrono::seconds(10));
}

int NotifyProcess::Stop() {
  process_.Signal(SIGTERM);
  return process_.Wait(std::chrono::seconds(10));
}

std::string NotifyProcess::log() const { return ReadFile(dir_ + "/" + name_ + ".log"); }

std::string NotifyProcess::Metrics() const {
  std::string out;
  RunCommand({"curl", "-s", "-m", "5", "http://127.0.0.1:" + std::to_string(admin_port_) + "/metrics"}, &out);
  return out;
}

std::string IssueToken(int redis_port, std::int64_t uid, std::int64_t lifetime_s) {
  redis::RedisOptions o;
  o.port = redis_port;
  redis::RedisClient client(o);
  auth::TokenStore store(&client);
  auto token = store.Issue(uid, lifetime_s);
  return token.ok() ? *token : std::string();
}

bool RevokeTokens(int redis_port, std::int64_t uid) {
  redis::RedisOptions o;
  o.port = redis_port;
  redis::RedisClient client(o);
  auth::TokenStore store(&client);
  return store.RevokeAll(uid).ok();
}

}  // namespace im::testing
