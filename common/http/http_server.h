#pragma once
// A small HTTP/1.1 server on Boost.Beast for the admin endpoints every daemon
// serves (/metrics, /healthz) and for admin_qim's API. Beast stays out of this
// header: handlers see plain structs.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace im::http {

struct HttpRequest {
  std::string method;  // "GET", "POST", …
  std::string target;  // path and query, as sent
  std::string path;    // target without the query
  std::string query;   // after '?', or ""
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;  // peer address
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

/// Called on one of the server's threads; may be called concurrently.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one
  int threads = 1;
  std::size_t body_limit = 1 << 20;  // larger bodies get 413
  int read_timeout_ms = 10000;       // a request not complete by then is dropped
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts serving. Errors name the address.
  absl::Status Start();
  /// Stops accepting, closes connections, joins threads. Idempotent.
  void Stop();
  /// The bound port (after Start()).
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace im::http
