#include "tests/support/raw_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <google/protobuf/message_lite.h>

#include <algorithm>

#include "proto/im_client.pb.h"

namespace im::testing {

RawClient::~RawClient() { Close(); }

bool RawClient::Connect(int port, const std::string& host) {
  Close();
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return false;
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Close();
    return false;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  decoder_ = net::FrameDecoder();
  pending_.clear();
  closed_by_peer_ = false;
  return true;
}

void RawClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawClient::SendBytes(const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool RawClient::Send(std::int64_t uid, std::int16_t cmdid, std::int32_t seq, const google::protobuf::MessageLite& body) {
  std::string frame;
  net::FrameHeader header;
  header.imuid = uid;
  header.cmdid = cmdid;
  header.seq = seq;
  if (!net::AppendFrame(header, body.SerializeAsString(), &frame)) return false;
  return SendBytes(frame);
}

bool RawClient::Fill(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0 || closed_by_peer_) return false;
  // Rounded up, and at least one look: a deadline already reached still
  // takes bytes that are waiting.
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count()))) <= 0) return false;
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    closed_by_peer_ = true;
    return false;
  }
  decoder_.Append(std::string_view(buf, static_cast<std::size_t>(n)));
  while (true) {
    net::ParseResult r = decoder_.Next();
    if (r.status != net::ParseStatus::kFrame) break;
    pending_.push_back(RawFrame{r.frame.header, std::string(r.frame.body)});
  }
  return true;
}

std::optional<RawFrame> RawClient::Read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pending_.empty()) {
    if (!Fill(deadline)) return std::nullopt;
  }
  RawFrame frame = std::move(pending_.front());
  pending_.pop_front();
  return frame;
}

std::optional<RawFrame> RawClient::WaitFor(std::int16_t cmdid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t checked = 0;
  while (true) {
    for (; checked < pending_.size(); ++checked) {
      if (pending_[checked].header.cmdid == cmdid) {
        RawFrame frame = std::move(pending_[checked]);
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(checked));
        return frame;
      }
    }
    if (!Fill(deadline)) return std::nullopt;
  }
}

bool RawClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_by_peer_) {
    if (!Fill(deadline) && !closed_by_peer_) return false;
  }
  return true;
}

int RawClient::Login(std::int64_t uid, const std::string& token, std::int64_t device_id) {
  uid_ = uid;
  client::ImLogin login;
  login.set_token(token);
  login.set_device_id(device_id);
  login.set_platform(1);
  login.set_client_version("test");
  if (!Send(uid, client::IM_CMD_LOGIN, NextSeq(), login)) return 0;
  auto res = WaitFor(client::IM_CMD_LOGIN_RES);
  if (!res) return 0;
  return res->As<client::ImLoginRes>().code();
}

}  // namespace im::testing
