#include "common/net/host_port.h"

namespace im::net {

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 >= address.size()) return false;
  std::string h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p = 0;
  for (std::size_t i = colon + 1; i < address.size(); ++i) {
    if (address[i] < '0' || address[i] > '9') return false;
    p = p * 10 + (address[i] - '0');
    if (p > 65535) return false;
  }
  if (h.empty()) return false;
  *host = h;
  *port = p;
  return true;
}

std::string CheckHostPort(const std::string& key, const std::string& value) {
  std::string host;
  int port = 0;
  return SplitHostPort(value, &host, &port) ? "" : key + ": '" + value + "' is not host:port";
}

std::string CheckHostPorts(const std::string& key, const std::vector<std::string>& values) {
  for (const std::string& value : values) {
    if (std::string problem = CheckHostPort(key, value); !problem.empty()) return problem;
  }
  return "";
}

}  // namespace im::net
