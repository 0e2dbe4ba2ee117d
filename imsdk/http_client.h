#pragma once
// A small blocking HTTP/1.1 client (Beast) for admin_qim's bootstrap API
// (docs/protocol.md §7). Thread safe (no shared state); blocks the caller for
// at most `timeout_ms`, so the SDK calls it from its blocking-work thread.

#include <string>

namespace im::sdk {

struct HttpResponse {
  int status = 0;
  std::string body;
};

/// `base_url` is "http://host:port" (an optional path prefix is kept). Returns
/// false with *error on a connection or protocol failure; an HTTP error
/// status is a success with that status.
bool HttpRequest(const std::string& base_url, const std::string& method, const std::string& path,
                 const std::string& json_body, int timeout_ms, HttpResponse* response,
                 std::string* error);

}  // namespace im::sdk
