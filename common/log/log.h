#pragma once
// Structured logging on spdlog: a fixed set of component loggers sharing one
// sink; each line is "<UTC time> <level> <component> t=<thread> <message>",
// and messages carry their fields as `key=value` pairs (conn=, uid=, …).
//
//   im::log::Init({.level = "info"});
//   IM_LOG_INFO(im::log::Net(), "conn={} uid={} login ok", conn_id, uid);

#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#if !defined(ABSL_USES_STD_STRING_VIEW)
// Debian's abseil has its own string_view (Status::message() returns it).
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename Context>
  auto format(absl::string_view s, Context& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};
#endif

namespace im::log {

struct Options {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string file;             // empty: stderr
};

/// Sets up the sink and every component logger. Call once at start-up,
/// before other threads log. Returns an error naming a bad level or format.
absl::Status Init(const Options& options);

/// The component loggers. Thread safe after Init(); before Init() they log to
/// stderr at info level.
spdlog::logger& Main();     // start-up, config, signals
spdlog::logger& Net();      // client TCP sessions
spdlog::logger& Rpc();      // gRPC servers and clients
spdlog::logger& Store();    // storage engine
spdlog::logger& Db();       // MySQL, Redis
spdlog::logger& Http();     // HTTP servers (admin, metrics)

}  // namespace im::log

#define IM_LOG_TRACE(logger, ...) (logger).trace(__VA_ARGS__)
#define IM_LOG_DEBUG(logger, ...) (logger).debug(__VA_ARGS__)
#define IM_LOG_INFO(logger, ...) (logger).info(__VA_ARGS__)
#define IM_LOG_WARN(logger, ...) (logger).warn(__VA_ARGS__)
#define IM_LOG_ERROR(logger, ...) (logger).error(__VA_ARGS__)
