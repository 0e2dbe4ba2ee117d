#include "common/net/tcp_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <future>
#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <chrono>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/config/config.h"
#include "common/net/host_port.h"
#include "common/log/log.h"
#include "common/net/client_protocol.h"
#include "proto/im_client.pb.h"

namespace im::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The read buffer shared by every session of one io thread ("zero-buffer
// read"): an idle session holds no read buffer; only the bytes of a partial
// frame are kept per session.
constexpr std::size_t kThreadReadBuffer = 64 << 10;
// Owned by the thread: freed when the io thread exits.
thread_local std::unique_ptr<char[]> tls_read_buffer;
thread_local const void* tls_server = nullptr;
thread_local int tls_thread_index = -1;

class AsioSession;
class TlsRelay;

}  // namespace

struct ThreadState {
  asio::io_context io{1};
  std::unordered_map<std::uint64_t, std::shared_ptr<AsioSession>> sessions;
  std::unordered_map<TlsRelay*, std::weak_ptr<TlsRelay>> relays;  // TLS connections of this thread
  std::unique_ptr<asio::steady_timer> sweep_timer;
  std::thread thread;
};

struct TcpServer::Impl {
  Impl(TcpServerOptions o, SessionHandler* h) : options(std::move(o)), handler(h) {}

  void Accept();
  void OnAccepted(const boost::system::error_code& ec, tcp::socket socket, int index);
  // Starts a session on `socket`, which belongs to threads[index]->io. Acceptor
  // thread (plain) or threads[index] (TLS).
  void StartSession(tcp::socket socket, int index);
  void AcceptTls();
  void OnTlsAccepted(const boost::system::error_code& ec, tcp::socket socket, int index);
  void Sweep(int index);
  bool OnThread(int index) const { return tls_server == this && tls_thread_index == index; }

  TcpServerOptions options;
  SessionHandler* handler;
  std::vector<std::unique_ptr<ThreadState>> threads;
  std::unique_ptr<tcp::acceptor> acceptor;  // on threads[0]
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::unique_ptr<asio::ssl::context> ssl;     // with options.tls.listen
  std::unique_ptr<tcp::acceptor> tls_acceptor;  // on threads[0]
  std::size_t next_tls_thread = 0;
  int tls_port = 0;
  std::atomic<std::uint64_t> tls_handshake_failures_total{0};
  std::atomic<bool> accepting{false};
  bool fd_exhausted = false;  // acceptor thread only
  std::size_t next_thread = 0;
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<std::uint64_t> connections{0}, accepted_total{0}, refused_total{0}, fd_exhausted_total{0},
      dropped_slow_total{0}, protocol_errors_total{0};
  int port = 0;
};

namespace {

class AsioSession final : public Session {
 public:
  enum class State : std::uint8_t { kAwaitLogin, kLoggingIn, kLoggedIn, kClosed };

  AsioSession(TcpServer::Impl* server, int thread_index, tcp::socket socket)
      : server_(server), socket_(std::move(socket)) {
    thread_index_ = static_cast<std::int16_t>(thread_index);
  }

  void Begin(std::uint64_t id) {
    id_ = id;
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
    socket_.set_option(tcp::no_delay(true), ec);
    deadline_ms_ = NowMs() + server_->options.limits.login_timeout_ms;
    WaitRead();
  }

  void Send(std::string frame) override {
    if (server_->OnThread(thread_index_)) return SendInLoop(std::move(frame));
    asio::post(socket_.get_executor(),
               [self = Self(), f = std::move(frame)]() mutable { self->SendInLoop(std::move(f)); });
  }

  void SendInLoop(std::string frame) override {
    if (state_ == State::kClosed || close_after_write_ || frame.empty()) return;
    // A frame bigger than the whole limit is still accepted onto an empty
    // queue (a client that reads promptly gets it); only a backlog of
    // unsent bytes behind it counts against the limit.
    if (out_bytes_ > 0 && out_bytes_ + frame.size() > server_->options.limits.max_output_bytes) {
      ++server_->dropped_slow_total;
      IM_LOG_WARN(log::Net(), "conn={} uid={} output queue over {} bytes: dropping the client", id_, uid_,
                  server_->options.limits.max_output_bytes);
      // Abortive close: the unsent backlog in the kernel is discarded too.
      boost::system::error_code ec;
      socket_.set_option(asio::socket_base::linger(true, 0), ec);
      return CloseNow();
    }
    if (out_.empty() && !write_waiting_) {
      // Fast path: nothing queued, write straight from the frame.
      boost::system::error_code ec;
      const std::size_t n = socket_.write_some(asio::buffer(frame), ec);
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return CloseNow();
      if (!ec && n == frame.size()) return;
      if (!ec) frame.erase(0, n);
    }
    out_bytes_ += frame.size();
    out_.push_back(std::move(frame));
    if (!write_waiting_) Flush();
  }

  void SendAndClose(std::string frame) override {
    if (!server_->OnThread(thread_index_)) {
      asio::post(socket_.get_executor(),
                 [self = Self(), f = std::move(frame)]() mutable { self->SendAndClose(std::move(f)); });
      return;
    }
    if (state_ == State::kClosed) return;
    if (!frame.empty() && !close_after_write_) {
      out_bytes_ += frame.size();
      out_.push_back(std::move(frame));
    }
    close_after_write_ = true;
    if (!write_waiting_) Flush();
  }

  void Close() override {
    if (!server_->OnThread(thread_index_)) {
      asio::post(socket_.get_executor(), [self = Self()] { self->CloseNow(); });
      return;
    }
    CloseNow();
  }

  void FinishLogin(std::int32_t code, std::string desp) override {
    if (!server_->OnThread(thread_index_)) {
      asio::post(socket_.get_executor(),
                 [self = Self(), code, d = std::move(desp)]() mutable { self->FinishLogin(code, std::move(d)); });
      return;
    }
    if (state_ != State::kLoggingIn) return;
    client::ImLoginRes res;
    res.set_code(code);
    res.set_desp(desp);
    res.set_uid(uid_);
    res.set_server_time(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
    std::string frame = EncodeFrame(uid_, kCmdLoginRes, login_seq_, res);
    if (code != kCodeOk) {
      IM_LOG_INFO(log::Net(), "conn={} uid={} login refused: {} {}", id_, uid_, code, desp);
      return SendAndClose(std::move(frame));
    }
    state_ = State::kLoggedIn;
    deadline_ms_ = NowMs();  // idle timeout counts from here
    // Registered before the client can see the 200, so that a later login of
    // the same device always finds this one. Pushes that find the session are
    // posted to this thread and so are queued behind the LOGIN_RES.
    server_->handler->OnLoggedIn(Self());
    if (state_ != State::kLoggedIn) return;
    SendInLoop(std::move(frame));
    if (state_ != State::kLoggedIn) return;
    // Frames that arrived behind the login, then the socket again.
    if (!pending_.empty()) {
      std::string buffered;
      buffered.swap(pending_);
      if (!Consume(buffered)) return;
    }
    if (state_ == State::kLoggedIn) WaitRead();
  }

  // The sweep's checks, on the session's thread.
  bool Expired(std::int64_t now) const {
    if (state_ == State::kAwaitLogin || state_ == State::kLoggingIn) return now >= deadline_ms_;
    return state_ == State::kLoggedIn && server_->options.limits.idle_timeout_ms > 0 &&
           now - deadline_ms_ >= server_->options.limits.idle_timeout_ms;
  }
  void CloseExpired(std::int64_t now) {
    if (state_ == State::kLoggedIn) {
      IM_LOG_INFO(log::Net(), "conn={} uid={} idle for {} ms: closing", id_, uid_, now - deadline_ms_);
    } else {
      IM_LOG_INFO(log::Net(), "conn={} no login within {} ms: closing", id_,
                  server_->options.limits.login_timeout_ms);
    }
    CloseNow();
  }

  void CloseNow() {
    if (state_ == State::kClosed) return;
    const bool was_logged_in = state_ == State::kLoggedIn;
    state_ = State::kClosed;
    boost::system::error_code ec;
    socket_.close(ec);
    std::vector<std::string>().swap(out_);
    std::string().swap(pending_);
    out_bytes_ = 0;
    --server_->connections;
    auto self = Self();
    server_->threads[thread_index_]->sessions.erase(id_);
    if (was_logged_in) server_->handler->OnClose(self);
  }

 private:
  std::shared_ptr<AsioSession> Self() { return std::static_pointer_cast<AsioSession>(shared_from_this()); }

  void WaitRead() {
    if (read_waiting_) return;
    read_waiting_ = true;
    socket_.async_wait(tcp::socket::wait_read, [self = Self()](const boost::system::error_code& ec) {
      self->read_waiting_ = false;
      if (self->state_ == State::kClosed) return;
      if (ec) return self->CloseNow();
      self->OnReadable();
    });
  }

  void OnReadable() {
    if (tls_read_buffer == nullptr) tls_read_buffer.reset(new char[kThreadReadBuffer]);
    for (int round = 0; round < 4; ++round) {
      boost::system::error_code ec;
      const std::size_t n = socket_.read_some(asio::buffer(tls_read_buffer.get(), kThreadReadBuffer), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) return CloseNow();  // EOF or reset
      std::string_view data(tls_read_buffer.get(), n);
      if (!pending_.empty()) {
        pending_.append(data);
        std::string buffered;
        buffered.swap(pending_);
        if (!Consume(buffered)) return;
      } else if (!Consume(data)) {
        return;
      }
      if (state_ != State::kLoggedIn && state_ != State::kAwaitLogin) return;  // login pending: stop reading
      if (n < kThreadReadBuffer) break;
    }
    if (pending_.capacity() > 4096 && pending_.size() < 1024) pending_.shrink_to_fit();
    if (state_ == State::kLoggedIn || state_ == State::kAwaitLogin) WaitRead();
  }

  // Parses and handles every whole frame in `data`; a trailing partial frame
  // (or, while a login is pending, everything left) goes to pending_.
  // Returns false when the session closed.
  bool Consume(std::string_view data) {
    const std::size_t max_body = server_->options.limits.max_body;
    while (!data.empty()) {
      if (state_ == State::kLoggingIn) {
        pending_.append(data);
        return true;
      }
      ParseResult r = ParseFrame(data, max_body);
      if (r.status == ParseStatus::kNeedMore) {
        pending_.append(data);
        return true;
      }
      if (r.status != ParseStatus::kFrame) {
        ProtocolError(0, kCodeBadRequest, ParseStatusName(r.status));
        return false;
      }
      data.remove_prefix(r.consumed);
      if (!HandleFrame(r.frame)) return false;
    }
    return true;
  }

  void ProtocolError(std::int32_t seq, std::int32_t code, std::string_view why) {
    ++server_->protocol_errors_total;
    IM_LOG_INFO(log::Net(), "conn={} uid={} protocol error {}: {}", id_, uid_, code, why);
    SendAndClose(ErrorFrame(uid_, seq, code, why));
  }

  bool HandleFrame(const Frame& frame) {
    const FrameHeader& h = frame.header;
    if (state_ == State::kAwaitLogin) {
      if (h.cmdid != kCmdLogin) {
        ProtocolError(h.seq, kCodeUnauthorized, "not logged in");
        return false;
      }
      client::ImLogin login;
      if (!login.ParseFromArray(frame.body.data(), static_cast<int>(frame.body.size()))) {
        ProtocolError(h.seq, kCodeBadRequest, "undecodable ImLogin");
        return false;
      }
      uid_ = h.imuid;
      device_id_ = login.device_id();
      platform_ = login.platform();
      login_seq_ = h.seq;
      state_ = State::kLoggingIn;
      server_->handler->OnLogin(Self(), login);
      return state_ != State::kClosed;
    }
    // Logged in.
    if (h.imuid != uid_) {
      ProtocolError(h.seq, kCodeBadRequest, "header uid differs from the logged-in uid");
      return false;
    }
    const std::int64_t now = NowMs();
    const std::int64_t second = now / 1000;
    if (second != rate_second_) {
      rate_second_ = second;
      rate_count_ = 0;
    }
    if (++rate_count_ > server_->options.limits.max_requests_per_second) {
      ProtocolError(h.seq, kCodeTooManyRequests, "request rate limit exceeded");
      return false;
    }
    deadline_ms_ = now;
    if (h.cmdid == kCmdLogin) {
      ProtocolError(h.seq, kCodeBadRequest, "already logged in");
      return false;
    }
    if (!server_->handler->OnFrame(Self(), frame)) {
      if (state_ == State::kClosed) return false;
      ProtocolError(h.seq, kCodeBadRequest, std::string("unknown command ") + std::to_string(h.cmdid));
      return false;
    }
    return state_ != State::kClosed;
  }

  void Flush() {
    while (!out_.empty()) {
      thread_local std::vector<asio::const_buffer> buffers;
      buffers.clear();
      for (std::size_t i = out_head_; i < out_.size() && buffers.size() < 64; ++i) {
        const std::string& s = out_[i];
        const std::size_t skip = i == out_head_ ? out_head_offset_ : 0;
        buffers.push_back(asio::buffer(s.data() + skip, s.size() - skip));
      }
      boost::system::error_code ec;
      std::size_t n = socket_.write_some(buffers, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        write_waiting_ = true;
        socket_.async_wait(tcp::socket::wait_write, [self = Self()](const boost::system::error_code& e) {
          self->write_waiting_ = false;
          if (self->state_ == State::kClosed) return;
          if (e) return self->CloseNow();
          self->Flush();
        });
        return;
      }
      if (ec) return CloseNow();
      out_bytes_ -= n;
      while (n > 0) {
        std::string& s = out_[out_head_];
        const std::size_t left = s.size() - out_head_offset_;
        if (n >= left) {
          n -= left;
          std::string().swap(s);
          ++out_head_;
          out_head_offset_ = 0;
        } else {
          out_head_offset_ += n;
          n = 0;
        }
      }
      if (out_head_ == out_.size()) {
        out_.clear();
        out_head_ = 0;
        if (out_.capacity() > 1) std::vector<std::string>().swap(out_);
      }
    }
    if (close_after_write_) {
      boost::system::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_send, ec);
      CloseNow();
    }
  }

  TcpServer::Impl* server_;
  tcp::socket socket_;
  std::string pending_;             // bytes of an incomplete frame
  std::vector<std::string> out_;    // queued frames, out_[out_head_] partly written
  std::size_t out_head_ = 0;
  std::uint32_t out_head_offset_ = 0;
  std::uint32_t out_bytes_ = 0;
  std::int64_t deadline_ms_ = 0;    // login deadline, then time of the last frame
  std::int64_t rate_second_ = 0;
  std::int32_t rate_count_ = 0;
  std::int32_t login_seq_ = 0;
  State state_ = State::kAwaitLogin;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  bool close_after_write_ = false;
};

// One TLS client connection: does the handshake, then relays plaintext both
// ways between the TLS stream and one end of a socketpair whose other end is
// an ordinary AsioSession. Lives on one io thread; either side closing closes
// both. Holds two 16 KiB buffers besides OpenSSL's own.
class TlsRelay final : public std::enable_shared_from_this<TlsRelay> {
 public:
  TlsRelay(TcpServer::Impl* server, int index, tcp::socket socket)
      : server_(server), index_(index), tls_(std::move(socket), *server->ssl), plain_(server->threads[index]->io),
        handshake_timer_(server->threads[index]->io) {}

  void Begin() {
    server_->threads[index_]->relays.emplace(this, shared_from_this());
    boost::system::error_code ec;
    tls_.next_layer().set_option(tcp::no_delay(true), ec);
    handshake_timer_.expires_after(std::chrono::milliseconds(server_->options.tls.handshake_timeout_ms));
    handshake_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (e || self->handshaken_ || self->closed_) return;
      ++self->server_->tls_handshake_failures_total;
      IM_LOG_INFO(log::Net(), "tls: no handshake within {} ms: closing",
                  self->server_->options.tls.handshake_timeout_ms);
      self->Close();
    });
    tls_.async_handshake(asio::ssl::stream_base::server,
                         [self = shared_from_this()](const boost::system::error_code& e) { self->OnHandshake(e); });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    handshake_timer_.cancel();
    tls_.next_layer().close(ec);
    plain_.close(ec);
    server_->threads[index_]->relays.erase(this);
  }

 private:
  using unix_socket = asio::local::stream_protocol::socket;

  void OnHandshake(const boost::system::error_code& ec) {
    if (closed_) return;
    handshake_timer_.cancel();
    if (ec) {
      ++server_->tls_handshake_failures_total;
      IM_LOG_INFO(log::Net(), "tls handshake failed: {}", ec.message());
      return Close();
    }
    handshaken_ = true;
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      IM_LOG_WARN(log::Net(), "tls: socketpair: {}", std::strerror(errno));
      return Close();
    }
    boost::system::error_code e1, e2;
    plain_.assign(asio::local::stream_protocol(), fds[0], e1);
    // The session's end: Asio's socket calls work on any stream fd (TCP-only
    // options such as TCP_NODELAY fail quietly).
    tcp::socket session_end(server_->threads[index_]->io);
    session_end.assign(tcp::v4(), fds[1], e2);
    if (e1 || e2) {
      if (e1) ::close(fds[0]);
      if (e2) ::close(fds[1]);
      return Close();
    }
    server_->StartSession(std::move(session_end), index_);
    ReadTls();
    ReadPlain();
  }

  void ReadTls() {
    tls_.async_read_some(asio::buffer(from_client_),
                         [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                           if (self->closed_) return;
                           if (ec) return self->Close();
                           asio::async_write(self->plain_, asio::buffer(self->from_client_.data(), n),
                                             [self](const boost::system::error_code& e, std::size_t) {
                                               if (self->closed_) return;
                                               if (e) return self->Close();
                                               self->ReadTls();
                                             });
                         });
  }

  void ReadPlain() {
    plain_.async_read_some(asio::buffer(to_client_),
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                             if (self->closed_) return;
                             if (ec) return self->Close();  // the session closed: so does the client
                             asio::async_write(self->tls_, asio::buffer(self->to_client_.data(), n),
                                               [self](const boost::system::error_code& e, std::size_t) {
                                                 if (self->closed_) return;
                                                 if (e) return self->Close();
                                                 self->ReadPlain();
                                               });
                           });
  }

  TcpServer::Impl* server_;
  int index_;
  asio::ssl::stream<tcp::socket> tls_;
  unix_socket plain_;
  asio::steady_timer handshake_timer_;
  std::array<char, 16384> from_client_;
  std::array<char, 16384> to_client_;
  bool handshaken_ = false;
  bool closed_ = false;
};

}  // namespace

void AddClientTlsKeys(config::Schema& schema, ClientTlsOptions* options) {
  schema.Add("server.tls_listen", &options->listen,
             "host:port of a second client listener speaking the same protocol inside TLS; empty: none");
  schema.Add("server.tls_cert_file", &options->cert_file, "PEM certificate chain of the TLS listener");
  schema.Add("server.tls_key_file", &options->key_file, "PEM private key of server.tls_cert_file");
  schema.AddCheck([options]() -> std::string {
    if (options->listen.empty()) return "";
    if (std::string e = CheckHostPort("server.tls_listen", options->listen); !e.empty()) return e;
    if (options->cert_file.empty() || options->key_file.empty()) {
      return "server.tls_cert_file, server.tls_key_file: required with server.tls_listen";
    }
    return "";
  });
}

void TcpServer::Impl::Accept() {
  if (!accepting.load()) return;
  const std::size_t index = next_thread++ % threads.size();
  acceptor->async_accept(threads[index]->io,
                         [this, index](const boost::system::error_code& ec, tcp::socket socket) {
                           OnAccepted(ec, std::move(socket), static_cast<int>(index));
                         });
}

void TcpServer::Impl::OnAccepted(const boost::system::error_code& ec, tcp::socket socket, int index) {
  if (!accepting.load()) return;
  if (ec) {
    if (ec.value() == EMFILE || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
        ec.value() == ENOMEM) {
      ++fd_exhausted_total;
      if (!fd_exhausted) {
        fd_exhausted = true;
        IM_LOG_ERROR(log::Net(), "accept: {} (out of file descriptors): serving existing connections, "
                     "retrying every {} ms", ec.message(), options.accept_retry_ms);
      }
      accept_retry->expires_after(std::chrono::milliseconds(options.accept_retry_ms));
      accept_retry->async_wait([this](const boost::system::error_code& e) {
        if (!e) Accept();
      });
      return;
    }
    if (ec == asio::error::operation_aborted) return;
    IM_LOG_WARN(log::Net(), "accept: {}", ec.message());
    return Accept();
  }
  if (fd_exhausted) {
    fd_exhausted = false;
    IM_LOG_INFO(log::Net(), "accept: file descriptors available, accepting again");
  }
  ++accepted_total;
  if (connections.load() >= static_cast<std::uint64_t>(options.max_connections)) {
    ++refused_total;
    boost::system::error_code ignored;
    socket.close(ignored);
    return Accept();
  }
  StartSession(std::move(socket), index);
  Accept();
}

void TcpServer::Impl::StartSession(tcp::socket socket, int index) {
  ++connections;
  // The socket belongs to threads[index]->io; start it there.
  auto session = std::make_shared<AsioSession>(this, index, std::move(socket));
  const std::uint64_t id = next_id++;
  asio::post(threads[index]->io, [this, index, session, id] {
    threads[index]->sessions.emplace(id, session);
    session->Begin(id);
  });
}

void TcpServer::Impl::AcceptTls() {
  if (!accepting.load()) return;
  const std::size_t index = next_tls_thread++ % threads.size();
  tls_acceptor->async_accept(threads[index]->io,
                             [this, index](const boost::system::error_code& ec, tcp::socket socket) {
                               OnTlsAccepted(ec, std::move(socket), static_cast<int>(index));
                             });
}

void TcpServer::Impl::OnTlsAccepted(const boost::system::error_code& ec, tcp::socket socket, int index) {
  if (!accepting.load() || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors or a transient error: try again shortly.
    IM_LOG_WARN(log::Net(), "tls accept: {}", ec.message());
    auto timer = std::make_shared<asio::steady_timer>(threads[0]->io, std::chrono::milliseconds(options.accept_retry_ms));
    timer->async_wait([this, timer](const boost::system::error_code& e) {
      if (!e) AcceptTls();
    });
    return;
  }
  ++accepted_total;
  if (connections.load() >= static_cast<std::uint64_t>(options.max_connections)) {
    ++refused_total;
    boost::system::error_code ignored;
    socket.close(ignored);
    return AcceptTls();
  }
  auto relay = std::make_shared<TlsRelay>(this, index, std::move(socket));
  asio::post(threads[index]->io, [relay] { relay->Begin(); });
  AcceptTls();
}

void TcpServer::Impl::Sweep(int index) {
  ThreadState& t = *threads[index];
  const std::int64_t now = NowMs();
  std::vector<std::shared_ptr<AsioSession>> expired;
  for (auto& [id, session] : t.sessions) {
    (void)id;
    if (session->Expired(now)) expired.push_back(session);
  }
  for (auto& session : expired) session->CloseExpired(now);
  t.sweep_timer->expires_after(std::chrono::milliseconds(options.sweep_interval_ms));
  t.sweep_timer->async_wait([this, index](const boost::system::error_code& ec) {
    if (!ec) Sweep(index);
  });
}

namespace {

// A listening acceptor on `listen` (host:port) bound to `io`; `key` names the
// config key in errors.
absl::Status OpenAcceptor(asio::io_context& io, const std::string& key, const std::string& listen, int backlog,
                          std::unique_ptr<tcp::acceptor>* out) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(listen, &host, &port)) return absl::InvalidArgumentError(key + ": not host:port: " + listen);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(key + ": bad address " + host + ": " + ec.message());
  auto acceptor = std::make_unique<tcp::acceptor>(io);
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(backlog, ec);
  if (ec) return absl::UnavailableError("listen on " + listen + ": " + ec.message());
  *out = std::move(acceptor);
  return absl::OkStatus();
}

}  // namespace

TcpServer::TcpServer(TcpServerOptions options, SessionHandler* handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

TcpServer::~TcpServer() { Stop(); }

absl::Status TcpServer::Start() {
  std::string host;
  int port = 0;
  if (!SplitHostPort(impl_->options.listen, &host, &port)) {
    return absl::InvalidArgumentError("not host:port: " + impl_->options.listen);
  }
  int n = impl_->options.threads;
  if (n <= 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < n; ++i) {
    auto t = std::make_unique<ThreadState>();
    t->sweep_timer = std::make_unique<asio::steady_timer>(t->io);
    impl_->threads.push_back(std::move(t));
  }
  std::unique_ptr<tcp::acceptor> acceptor;
  if (absl::Status s = OpenAcceptor(impl_->threads[0]->io, "listen", impl_->options.listen, impl_->options.backlog,
                                    &acceptor);
      !s.ok()) {
    return s;
  }
  impl_->port = acceptor->local_endpoint().port();
  impl_->acceptor = std::move(acceptor);
  impl_->accept_retry = std::make_unique<asio::steady_timer>(impl_->threads[0]->io);
  if (!impl_->options.tls.listen.empty()) {
    if (absl::Status s = StartTlsListener(); !s.ok()) return s;
  }
  impl_->accepting = true;
  impl_->Accept();
  if (impl_->tls_acceptor) impl_->AcceptTls();
  for (int i = 0; i < n; ++i) {
    impl_->Sweep(i);
    ThreadState* t = impl_->threads[i].get();
    Impl* impl = impl_.get();
    t->thread = std::thread([t, impl, i] {
      tls_server = impl;
      tls_thread_index = i;
      auto guard = asio::make_work_guard(t->io);
      t->io.run();
    });
  }
  IM_LOG_INFO(log::Net(), "client protocol listening on {}:{} with {} io threads", host, impl_->port, n);
  return absl::OkStatus();
}

absl::Status TcpServer::StartTlsListener() {
  const TcpServerOptions& o = impl_->options;
  auto ssl = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  boost::system::error_code ec;
  ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                       asio::ssl::context::single_dh_use,
                   ec);
  ssl->use_certificate_chain_file(o.tls.cert_file, ec);
  if (ec) return absl::InvalidArgumentError("server.tls_cert_file: " + o.tls.cert_file + ": " + ec.message());
  ssl->use_private_key_file(o.tls.key_file, asio::ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError("server.tls_key_file: " + o.tls.key_file + ": " + ec.message());
  std::unique_ptr<tcp::acceptor> acceptor;
  if (absl::Status s = OpenAcceptor(impl_->threads[0]->io, "server.tls_listen", o.tls.listen, o.backlog, &acceptor);
      !s.ok()) {
    return s;
  }
  impl_->tls_port = acceptor->local_endpoint().port();
  impl_->tls_acceptor = std::move(acceptor);
  impl_->ssl = std::move(ssl);
  IM_LOG_INFO(log::Net(), "client protocol over TLS listening on {} (port {})", o.tls.listen, impl_->tls_port);
  return absl::OkStatus();
}

int TcpServer::port() const { return impl_->port; }
int TcpServer::tls_port() const { return impl_->tls_port; }
int TcpServer::threads() const { return static_cast<int>(impl_->threads.size()); }

void TcpServer::StopAccepting() {
  if (!impl_->acceptor || !impl_->accepting.exchange(false)) return;
  std::promise<void> done;
  asio::post(impl_->threads[0]->io, [this, &done] {
    boost::system::error_code ec;
    impl_->acceptor->close(ec);
    if (impl_->tls_acceptor) impl_->tls_acceptor->close(ec);
    impl_->accept_retry->cancel();
    done.set_value();
  });
  done.get_future().wait();
}

void TcpServer::Stop() {
  if (impl_->threads.empty()) return;
  StopAccepting();
  for (auto& t : impl_->threads) {
    if (!t->thread.joinable()) continue;
    std::promise<void> done;
    asio::post(t->io, [&t, &done] {
      std::vector<std::shared_ptr<AsioSession>> all;
      for (auto& [id, s] : t->sessions) {
        (void)id;
        all.push_back(s);
      }
      for (auto& s : all) s->CloseNow();
      std::vector<std::shared_ptr<TlsRelay>> relays;
      for (auto& [ptr, weak] : t->relays) {
        (void)ptr;
        if (auto r = weak.lock()) relays.push_back(std::move(r));
      }
      for (auto& r : relays) r->Close();
      t->sweep_timer->cancel();
      done.set_value();
    });
    done.get_future().wait();
  }
  for (auto& t : impl_->threads) {
    t->io.stop();
    if (t->thread.joinable()) t->thread.join();
  }
  impl_->acceptor.reset();
  impl_->tls_acceptor.reset();
  impl_->accept_retry.reset();
  impl_->threads.clear();
}

void TcpServer::Post(int thread_index, std::function<void()> fn) {
  asio::post(impl_->threads[thread_index]->io, std::move(fn));
}

TcpServerStats TcpServer::stats() const {
  TcpServerStats s;
  s.connections = impl_->connections.load();
  s.accepted_total = impl_->accepted_total.load();
  s.refused_total = impl_->refused_total.load();
  s.fd_exhausted_total = impl_->fd_exhausted_total.load();
  s.dropped_slow_total = impl_->dropped_slow_total.load();
  s.protocol_errors_total = impl_->protocol_errors_total.load();
  s.tls_handshake_failures_total = impl_->tls_handshake_failures_total.load();
  return s;
}

}  // namespace im::net
