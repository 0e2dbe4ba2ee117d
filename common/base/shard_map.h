#pragma once
// The shard map shared by every daemon that routes by uid or gid
// (docs/architecture.md "Sharding and scaling out"): storage shards and route
// shards are `id % shard_count`, the same on every daemon. Header only.

#include <cstdint>

namespace im::base {

/// The shard that owns `id` (a uid or gid) among `shard_count` shards:
/// `id % shard_count`, computed on the unsigned value so that a negative id
/// (never valid, but possible in a malformed request) still maps into
/// [0, shard_count). `shard_count` must be >= 1. Thread safe.
inline int ShardOf(std::int64_t id, int shard_count) {
  return static_cast<int>(static_cast<std::uint64_t>(id) % static_cast<std::uint64_t>(shard_count));
}

/// True when shard `shard_id` of `shard_count` owns `id`. Thread safe.
inline bool ShardOwns(int shard_id, int shard_count, std::int64_t id) {
  return ShardOf(id, shard_count) == shard_id;
}

}  // namespace im::base
