#include "imsdk/node_selector.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace im::sdk {

bool ParseNodeConfig(const std::string& json, std::vector<ServerNode>* nodes,
                     std::int64_t* timestamp, std::string* error) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    if (error) *error = "node config is not a JSON object";
    return false;
  }
  auto info = doc.find("confgiinfo");
  if (info == doc.end() || !info->is_object()) {
    if (error) *error = "node config has no confgiinfo object";
    return false;
  }
  auto array = info->find("node_array");
  if (array == info->end() || !array->is_array()) {
    if (error) *error = "node config has no confgiinfo.node_array";
    return false;
  }
  nodes->clear();
  for (const auto& row : *array) {
    if (!row.is_object()) continue;
    auto num = [&](const char* key) -> std::int64_t {
      auto it = row.find(key);
      if (it == row.end()) return 0;
      if (it->is_number_integer()) return it->get<std::int64_t>();
      if (it->is_boolean()) return it->get<bool>() ? 1 : 0;
      return 0;
    };
    ServerNode n;
    n.id = num("id");
    n.tcp_port = static_cast<int>(num("tcp_port"));
    n.weight = static_cast<int>(num("weight"));
    n.server_type = static_cast<int>(num("server_type"));
    n.disabled = num("disabled") != 0;
    auto addr = row.find("address");
    if (addr != row.end() && addr->is_string()) n.address = addr->get<std::string>();
    if (n.address.empty() || n.tcp_port <= 0 || n.tcp_port > 65535) continue;
    nodes->push_back(std::move(n));
  }
  if (timestamp != nullptr) {
    auto ts = doc.find("confgiinfo_timestamp");
    *timestamp = (ts != doc.end() && ts->is_number_integer()) ? ts->get<std::int64_t>() : 0;
  }
  return true;
}

bool SplitHostPort(const std::string& addr, std::string* host, int* port) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= addr.size()) return false;
  int p = 0;
  for (std::size_t i = colon + 1; i < addr.size(); ++i) {
    if (addr[i] < '0' || addr[i] > '9') return false;
    p = p * 10 + (addr[i] - '0');
    if (p > 65535) return false;
  }
  if (p <= 0) return false;
  *host = addr.substr(0, colon);
  *port = p;
  return true;
}

const ServerNode* NodeSelector::Choose(int type) {
  std::vector<const ServerNode*> all;
  for (const auto& n : nodes_) {
    if (n.server_type == type && !n.disabled && n.weight > 0) all.push_back(&n);
  }
  if (all.empty()) return nullptr;
  std::vector<const ServerNode*> fresh;
  for (const auto* n : all) {
    if (failed_.count(n->id) == 0) fresh.push_back(n);
  }
  if (fresh.empty()) {
    // Every node of this type failed: forget the failures and try them all again.
    for (const auto* n : all) failed_.erase(n->id);
    fresh = all;
  }
  std::int64_t total = 0;
  for (const auto* n : fresh) total += n->weight;
  std::uniform_int_distribution<std::int64_t> pick(0, total - 1);
  std::int64_t r = pick(rng_);
  for (const auto* n : fresh) {
    if (r < n->weight) return n;
    r -= n->weight;
  }
  return fresh.back();
}

int Backoff::NextDelayMs() {
  int d = delay_ms_;
  delay_ms_ = std::min(max_ms_, std::max(1, delay_ms_ * 2));
  std::uniform_int_distribution<int> jitter(d / 2, std::max(d / 2, d));
  return jitter(rng_);
}

}  // namespace im::sdk
