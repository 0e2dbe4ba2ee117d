#pragma once
// Server discovery data (docs/protocol.md §7): the node list of GET /v1/nodes,
// weighted random choice among enabled nodes of a type, preferring nodes that
// did not just fail; and the reconnect backoff of §9. Pure logic, no sockets.
// Not thread safe (used on the SDK thread).

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace im::sdk {

inline constexpr int kNotifyServer = 1;
inline constexpr int kSyncServer = 2;

struct ServerNode {
  std::int64_t id = 0;
  std::string address;
  int tcp_port = 0;
  int weight = 0;
  int server_type = 0;
  bool disabled = false;
};

/// Parses the {"confgiinfo":{"node_array":[…]},"confgiinfo_timestamp":N} JSON.
/// False (and *error) when the shape is wrong; bad rows are skipped.
bool ParseNodeConfig(const std::string& json, std::vector<ServerNode>* nodes,
                     std::int64_t* timestamp, std::string* error);

/// Splits "host:port". False when malformed.
bool SplitHostPort(const std::string& addr, std::string* host, int* port);

class NodeSelector {
 public:
  explicit NodeSelector(std::uint64_t seed = std::random_device{}()) : rng_(seed) {}

  void SetNodes(std::vector<ServerNode> nodes) { nodes_ = std::move(nodes); failed_.clear(); }
  const std::vector<ServerNode>& nodes() const { return nodes_; }

  /// Weighted random choice among enabled nodes of `type` with weight > 0,
  /// skipping nodes marked failed while any other candidate exists. Null if none.
  const ServerNode* Choose(int type);
  /// Remembers that `id` failed; cleared when every node of its type failed.
  void MarkFailed(std::int64_t id) { failed_.insert(id); }
  void MarkGood(std::int64_t id) { failed_.erase(id); }

 private:
  std::vector<ServerNode> nodes_;
  std::set<std::int64_t> failed_;
  std::mt19937_64 rng_;
};

/// Exponential backoff with jitter: delay d starts at `initial`, doubles per
/// failure up to `max`; each wait is uniform in [d/2, d]. Reset() after a login.
class Backoff {
 public:
  Backoff(int initial_ms, int max_ms, std::uint64_t seed = std::random_device{}())
      : initial_ms_(initial_ms), max_ms_(max_ms), delay_ms_(initial_ms), rng_(seed) {}
  int NextDelayMs();
  void Reset() { delay_ms_ = initial_ms_; }

 private:
  int initial_ms_;
  int max_ms_;
  int delay_ms_;
  std::mt19937_64 rng_;
};

}  // namespace im::sdk
