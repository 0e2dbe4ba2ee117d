#include "common/http/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

namespace im::http {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
}  // namespace

bool Fetch(const std::string& base_url, const std::string& method, const std::string& path,
           const std::string& json_body, int timeout_ms, FetchResult* response, std::string* error) {
  const std::string scheme = "http://";
  if (base_url.compare(0, scheme.size(), scheme) != 0) {
    *error = "url must start with http://: " + base_url;
    return false;
  }
  std::string rest = base_url.substr(scheme.size());
  std::string prefix;
  auto slash = rest.find('/');
  if (slash != std::string::npos) {
    prefix = rest.substr(slash);
    rest = rest.substr(0, slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  }
  std::string host = rest;
  std::string port = "80";
  auto colon = rest.rfind(':');
  if (colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  asio::io_context io;
  beast::tcp_stream stream(io);
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) {
    *error = "resolve " + rest + ": " + ec.message();
    return false;
  }
  http::request<http::string_body> req(
      method == "POST" ? http::verb::post : (method == "DELETE" ? http::verb::delete_ : http::verb::get),
      prefix + path, 11);
  req.set(http::field::host, rest);
  req.set(http::field::user_agent, "qim");
  if (!json_body.empty() || method == "POST") {
    req.set(http::field::content_type, "application/json");
    req.body() = json_body;
    req.prepare_payload();
  }
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  // Async operations with the stream's timeout, run to completion here.
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](beast::error_code e, const auto&) {
    if (e) {
      ec = e;
      return;
    }
    stream.expires_after(timeout);
    http::async_write(stream, req, [&](beast::error_code e2, std::size_t) {
      if (e2) {
        ec = e2;
        return;
      }
      stream.expires_after(timeout);
      http::async_read(stream, buffer, res, [&](beast::error_code e3, std::size_t) { ec = e3; });
    });
  });
  io.run();
  if (ec) {
    *error = method + " " + base_url + path + ": " + ec.message();
    return false;
  }
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  response->status = static_cast<int>(res.result_int());
  response->body = std::move(res.body());
  return true;
}

}  // namespace im::http
