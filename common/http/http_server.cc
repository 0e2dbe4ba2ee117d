#include "common/http/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <optional>
#include <thread>
#include <vector>

#include "common/log/log.h"
#include "common/net/host_port.h"

namespace im::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// One connection: read a request, answer it, repeat while keep-alive.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const HttpServerOptions& options, const HttpHandler& handler)
      : stream_(std::move(socket)), options_(options), handler_(handler) {}

  void Start() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(options_.body_limit);
    stream_.expires_after(std::chrono::milliseconds(options_.read_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->OnRead(ec);
                      });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      HttpResponse too_big{413, "application/json", R"({"code":413,"desp":"request body too large"})"};
      Write(too_big, 11, false);
      return;
    }
    if (ec) return;  // closed, timed out or malformed: drop the connection
    const auto& message = parser_->get();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    const auto question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) request.query = request.target.substr(question + 1);
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[name] = std::string(field.value());
    }
    request.body = message.body();
    beast::error_code ignored;
    const auto endpoint = stream_.socket().remote_endpoint(ignored);
    request.remote = endpoint.address().to_string(ignored);
    HttpResponse response;
    try {
      response = handler_(request);
    } catch (const std::exception& e) {
      IM_LOG_ERROR(log::Http(), "handler for {} {} threw: {}", request.method, request.path, e.what());
      response = HttpResponse{500, "application/json", R"({"code":500,"desp":"internal error"})"};
    }
    Write(response, message.version(), message.keep_alive());
  }

  // Answers in the request's HTTP version: an HTTP/1.0 client that asked for
  // keep-alive needs "Connection: keep-alive" back, which Beast adds only to
  // a 1.0 response (1.1 keeps connections open by default).
  void Write(const HttpResponse& response, unsigned version, bool keep_alive) {
    auto reply = std::make_shared<bhttp::response<bhttp::string_body>>();
    reply->version(version);
    reply->result(static_cast<bhttp::status>(response.status));
    reply->set(bhttp::field::server, "qim");
    reply->set(bhttp::field::content_type, response.content_type);
    reply->keep_alive(keep_alive);
    reply->body() = response.body;
    reply->prepare_payload();
    bhttp::async_write(stream_, *reply,
                       [self = shared_from_this(), reply, keep_alive](beast::error_code ec, std::size_t) {
                         if (ec || !keep_alive) {
                           beast::error_code ignored;
                           self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                           return;
                         }
                         self->Read();
                       });
  }

  beast::tcp_stream stream_;
  const HttpServerOptions& options_;
  const HttpHandler& handler_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
};

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  int port = 0;
  bool started = false;

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        std::make_shared<Connection>(std::move(socket), options, handler)->Start();
        Accept();
        return;
      }
      // EMFILE and friends: retry shortly instead of spinning or giving up.
      IM_LOG_WARN(log::Http(), "http accept failed: {}", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](beast::error_code) { Accept(); });
    });
  }
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler) : impl_(new Impl) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start() {
  std::string host;
  int port = 0;
  if (!net::SplitHostPort(impl_->options.listen, &host, &port)) {
    return absl::InvalidArgumentError("'" + impl_->options.listen + "' is not host:port");
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError("'" + host + "' is not an IP address");
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError("cannot listen on " + impl_->options.listen + ": " + ec.message());
  }
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->Accept();
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
  impl_->started = true;
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!impl_->started) return;
  impl_->started = false;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

int HttpServer::port() const { return impl_->port; }

}  // namespace im::http
