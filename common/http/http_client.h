#pragma once
// A small blocking HTTP/1.1 client (Beast): the SDK's bootstrap calls to
// admin_qim (docs/protocol.md §7) and admin_qim's scrapes of the daemons'
// /healthz and /metrics. Thread safe (no shared state); blocks the caller for
// at most `timeout_ms` per step (connect, write, read).

#include <string>

namespace im::http {

struct FetchResult {
  int status = 0;
  std::string body;
};

/// `base_url` is "http://host:port" (an optional path prefix is kept). Returns
/// false with *error on a connection or protocol failure; an HTTP error
/// status is a success with that status.
bool Fetch(const std::string& base_url, const std::string& method, const std::string& path,
           const std::string& json_body, int timeout_ms, FetchResult* response, std::string* error);

}  // namespace im::http
