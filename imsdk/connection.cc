#include "imsdk/connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>

#include <chrono>

#include "proto/im_client.pb.h"

namespace im::sdk {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
std::int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Connection::Connection(asio::io_context& io, std::string name)
    : io_(io), name_(std::move(name)), socket_(io), connect_timer_(io) {}

Connection::~Connection() {
  boost::system::error_code ec;
  socket_.close(ec);
}

void Connection::Start(const std::string& host, int port, int connect_timeout_ms,
                       std::int64_t uid, std::string login_body, LoginHandler done) {
  uid_ = uid;
  login_handler_ = std::move(done);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    // A host name: resolve synchronously (loopback and IP literals are the norm
    // for node lists; a name costs one resolver call here).
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      auto self = shared_from_this();
      asio::post(io_, [self, host] { self->Fail("cannot resolve " + host); });
      return;
    }
    address = results.begin()->endpoint().address();
  }
  auto self = shared_from_this();
  connect_timer_.expires_after(std::chrono::milliseconds(connect_timeout_ms));
  // One deadline for connect + login: a server that accepts but never answers
  // the login does not hold the link forever.
  connect_timer_.async_wait([self](boost::system::error_code e) {
    if (e || self->closed_ || self->logged_in_) return;
    self->Fail(self->open_ ? "login timeout" : "connect timeout");
  });
  socket_.async_connect(tcp::endpoint(address, static_cast<unsigned short>(port)),
                        [self, login_body = std::move(login_body)](boost::system::error_code e) {
                          if (self->closed_) return;
                          if (e) {
                            self->Fail("connect: " + e.message());
                            return;
                          }
                          boost::system::error_code ignored;
                          self->socket_.set_option(tcp::no_delay(true), ignored);
                          self->open_ = true;
                          std::int32_t seq = self->NextSeq();
                          self->pending_[seq] = [self](const net::FrameHeader& h,
                                                       std::string_view body) {
                            if (h.cmdid != im::client::IM_CMD_LOGIN_RES) return false;
                            im::client::ImLoginRes res;
                            if (!res.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
                              self->Fail("undecodable login answer");
                              return true;
                            }
                            self->connect_timer_.cancel();
                            auto done = std::move(self->login_handler_);
                            self->login_handler_ = nullptr;
                            if (res.code() == 200) self->logged_in_ = true;
                            if (done) done(res.code(), res.desp());
                            return true;
                          };
                          self->WriteFrame(im::client::IM_CMD_LOGIN, seq, login_body);
                          self->ReadLoop();
                        });
}

std::int32_t Connection::NextSeq() {
  seq_ = seq_ >= 0x7fffffff ? 1 : seq_ + 1;
  return seq_;
}

std::int32_t Connection::Request(std::int16_t cmd, const google::protobuf::MessageLite& body,
                                 ResponseHandler handler) {
  if (!open_ || closed_) return 0;
  std::int32_t seq = NextSeq();
  if (handler) pending_[seq] = std::move(handler);
  WriteFrame(cmd, seq, body.SerializeAsString());
  return seq;
}

bool Connection::Send(std::int16_t cmd, const google::protobuf::MessageLite& body) {
  if (!open_ || closed_) return false;
  WriteFrame(cmd, NextSeq(), body.SerializeAsString());
  return true;
}

void Connection::WriteFrame(std::int16_t cmd, std::int32_t seq, const std::string& body) {
  std::string frame;
  net::FrameHeader header;
  header.imuid = uid_;
  header.cmdid = cmd;
  header.seq = seq;
  if (!net::AppendFrame(header, body, &frame)) {
    // Callers check sizes; a body this large is a bug upstream. Drop it.
    return;
  }
  last_send_ms_ = SteadyMs();
  write_queue_.push_back(std::move(frame));
  if (!writing_) FlushWrites();
}

void Connection::FlushWrites() {
  if (write_queue_.empty() || closed_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(write_queue_.front()),
                    [self](boost::system::error_code e, std::size_t) {
                      if (self->closed_) return;
                      if (e) {
                        self->Fail("write: " + e.message());
                        return;
                      }
                      self->write_queue_.pop_front();
                      self->FlushWrites();
                    });
}

void Connection::ReadLoop() {
  auto self = shared_from_this();
  socket_.async_read_some(asio::buffer(read_buf_), [self](boost::system::error_code e,
                                                          std::size_t n) {
    if (self->closed_) return;
    if (e) {
      self->Fail(e == asio::error::eof ? "closed by server" : "read: " + e.message());
      return;
    }
    self->decoder_.Append(std::string_view(self->read_buf_, n));
    for (;;) {
      net::ParseResult r = self->decoder_.Next();
      if (r.status == net::ParseStatus::kNeedMore) break;
      if (r.status != net::ParseStatus::kFrame) {
        self->Fail(std::string("bad frame from server: ") + net::ParseStatusName(r.status));
        return;
      }
      self->OnFrame(r.frame.header, r.frame.body);
      if (self->closed_) return;
    }
    self->ReadLoop();
  });
}

void Connection::OnFrame(const net::FrameHeader& header, std::string_view body) {
  if (header.seq != 0) {
    auto it = pending_.find(header.seq);
    if (it != pending_.end()) {
      // Copy: the handler may issue requests that rehash pending_.
      ResponseHandler handler = it->second;
      bool done = handler(header, body);
      if (closed_) return;
      if (done) pending_.erase(header.seq);
      if (header.cmdid != im::client::IM_CMD_ERROR) return;
    }
  }
  if (header.cmdid == im::client::IM_CMD_ERROR) {
    im::client::ImError err;
    err.ParseFromArray(body.data(), static_cast<int>(body.size()));
    if (login_handler_) {
      auto done = std::move(login_handler_);
      login_handler_ = nullptr;
      Close();
      done(err.code() == 0 ? 400 : err.code(), err.desp());
      return;
    }
    if (frame_handler_) frame_handler_(header, body);
    if (!closed_) Fail("server error " + std::to_string(err.code()) + ": " + err.desp());
    return;
  }
  if (frame_handler_) frame_handler_(header, body);
}

void Connection::Fail(const std::string& reason) {
  if (closed_) return;
  auto login = std::move(login_handler_);
  login_handler_ = nullptr;
  auto on_close = std::move(close_handler_);
  close_handler_ = nullptr;
  Close();
  if (login) {
    login(0, reason);
  } else if (on_close) {
    on_close(reason);
  }
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  open_ = false;
  logged_in_ = false;
  connect_timer_.cancel();
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  pending_.clear();
  frame_handler_ = nullptr;
  login_handler_ = nullptr;
  close_handler_ = nullptr;
}

}  // namespace im::sdk
