#include "bench/imbench/admin_api.h"

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/net/host_port.h"

namespace im::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct AdminApi::Connection {
  asio::io_context io;
  beast::tcp_stream stream{io};
  bool open = false;
};

AdminApi::AdminApi(std::string address, std::string secret)
    : secret_(std::move(secret)), connection_(std::make_unique<Connection>()) {
  int port = 0;
  if (!net::SplitHostPort(address, &host_, &port)) host_ = address;
  port_ = std::to_string(port);
}

AdminApi::~AdminApi() = default;

absl::StatusOr<AdminApi::Answer> AdminApi::Call(const std::string& method, const std::string& target,
                                                const std::string& body) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    Connection& c = *connection_;
    if (!c.open) {
      asio::ip::tcp::resolver resolver(c.io);
      auto endpoints = resolver.resolve(host_, port_, ec);
      if (ec) return absl::UnavailableError("resolve " + host_ + ": " + ec.message());
      c.stream.expires_after(std::chrono::seconds(10));
      c.stream.connect(endpoints, ec);
      if (ec) return absl::UnavailableError("connect admin_qim " + host_ + ":" + port_ + ": " + ec.message());
      c.open = true;
    }
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host_);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::authorization, "Bearer " + secret_);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    c.stream.expires_after(std::chrono::seconds(30));
    http::write(c.stream, req, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    if (!ec) http::read(c.stream, buffer, res, ec);
    if (ec) {
      // A keep-alive connection the server closed: reconnect once.
      c.stream.socket().close(ec);
      c.open = false;
      continue;
    }
    if (!res.keep_alive()) {
      c.stream.socket().close(ec);
      c.open = false;
    }
    return Answer{static_cast<int>(res.result_int()), res.body()};
  }
  return absl::UnavailableError(method + " " + target + ": connection to admin_qim failed");
}

namespace {
absl::Status Failed(const std::string& what, int status, const std::string& body) {
  return absl::InternalError(what + " -> HTTP " + std::to_string(status) + ": " + body);
}
}  // namespace

absl::StatusOr<std::int64_t> AdminApi::EnsureAccount(const std::string& no, const std::string& password) {
  auto created = Call("POST", "/v1/accounts", nlohmann::json{{"no", no}, {"password", password}}.dump());
  if (!created.ok()) return created.status();
  if (created->status == 409) created = Call("GET", "/v1/accounts/" + no, "");
  if (!created.ok()) return created.status();
  if (created->status != 200) return Failed("account " + no, created->status, created->body);
  auto j = nlohmann::json::parse(created->body, nullptr, false);
  if (j.is_discarded() || !j.contains("uid")) return Failed("account " + no, created->status, created->body);
  return j["uid"].get<std::int64_t>();
}

absl::StatusOr<std::string> AdminApi::IssueToken(std::int64_t uid) {
  auto answer = Call("POST", "/v1/tokens", nlohmann::json{{"uid", uid}}.dump());
  if (!answer.ok()) return answer.status();
  auto j = nlohmann::json::parse(answer->body, nullptr, false);
  if (answer->status != 200 || j.is_discarded() || !j.contains("token")) {
    return Failed("token for " + std::to_string(uid), answer->status, answer->body);
  }
  return j["token"].get<std::string>();
}

absl::StatusOr<std::int64_t> AdminApi::CreateGroup(const std::string& name, const std::vector<std::int64_t>& members) {
  if (members.empty()) return absl::InvalidArgumentError("a group needs members");
  constexpr std::size_t kChunk = 2000;
  const std::vector<std::int64_t> first(members.begin(), members.begin() + std::min(kChunk, members.size()));
  auto created = Call("POST", "/v1/groups",
                      nlohmann::json{{"name", name}, {"owner", members[0]}, {"members", first}}.dump());
  if (!created.ok()) return created.status();
  auto j = nlohmann::json::parse(created->body, nullptr, false);
  if (created->status != 200 || j.is_discarded() || !j.contains("gid")) {
    return Failed("group " + name, created->status, created->body);
  }
  const std::int64_t gid = j["gid"].get<std::int64_t>();
  for (std::size_t start = kChunk; start < members.size(); start += kChunk) {
    const std::vector<std::int64_t> chunk(members.begin() + start,
                                          members.begin() + std::min(members.size(), start + kChunk));
    auto added = Call("POST", "/v1/groups/" + std::to_string(gid) + "/members", nlohmann::json{{"uids", chunk}}.dump());
    if (!added.ok()) return added.status();
    if (added->status != 200) return Failed("members of group " + std::to_string(gid), added->status, added->body);
  }
  return gid;
}

absl::StatusOr<std::vector<std::pair<std::int64_t, std::string>>> CreateAccounts(
    const std::string& admin, const std::string& secret, const std::string& prefix, int count, int concurrency) {
  std::vector<std::pair<std::int64_t, std::string>> accounts(static_cast<std::size_t>(count));
  std::atomic<int> next{0};
  std::mutex mu;
  absl::Status first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, concurrency); ++t) {
    threads.emplace_back([&] {
      AdminApi api(admin, secret);
      for (int i = next++; i < count; i = next++) {
        auto uid = api.EnsureAccount(prefix + std::to_string(i), "imbench-password");
        absl::StatusOr<std::string> token = uid.ok() ? api.IssueToken(*uid) : uid.status();
        if (!token.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.ok()) first_error = token.status();
          next = count;
          return;
        }
        accounts[static_cast<std::size_t>(i)] = {*uid, *token};
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!first_error.ok()) return first_error;
  return accounts;
}

}  // namespace im::bench
