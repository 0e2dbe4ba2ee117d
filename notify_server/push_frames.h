#pragma once
// Turns a route Notification into the client push body (docs/protocol.md §4,
// §5.3): 337/338 carrying the message, or 321/336 carrying only the new
// offsets when the content is above the push limit or data push is off.

#include <cstdint>
#include <string>

#include "proto/route.pb.h"

namespace im::notify {

struct PushOptions {
  bool data_enabled = true;          // false: always 321/336
  std::size_t max_data_bytes = 4096;  // content larger than this: 321/336
};

struct PushBody {
  std::int16_t cmdid = 0;
  std::string body;  // serialized protobuf
};

/// The push for `n`, the same for every addressed user. Pure; thread safe.
PushBody BuildPush(const rpc::Notification& n, const PushOptions& options);

}  // namespace im::notify
