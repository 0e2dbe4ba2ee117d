#include "common/log/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <mutex>

namespace im::log {
namespace {

constexpr std::array<const char*, 6> kComponents = {"main", "net", "rpc", "store", "db", "http"};

struct Loggers {
  std::mutex mu;
  std::array<std::shared_ptr<spdlog::logger>, kComponents.size()> loggers;

  Loggers() { Build(std::make_shared<spdlog::sinks::stderr_sink_mt>(), spdlog::level::info); }

  void Build(spdlog::sink_ptr sink, spdlog::level::level_enum level) {
    for (std::size_t i = 0; i < kComponents.size(); ++i) {
      auto logger = std::make_shared<spdlog::logger>(kComponents[i], sink);
      logger->set_level(level);
      logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %L %n t=%t %v", spdlog::pattern_time_type::utc);
      logger->flush_on(spdlog::level::warn);
      // A logger must never be replaced while another thread holds a reference:
      // Init() runs before other threads start.
      loggers[i] = std::move(logger);
    }
  }
};

Loggers& State() {
  static Loggers* state = new Loggers();  // never destroyed: threads may log at exit
  return *state;
}

}  // namespace

absl::Status Init(const Options& options) {
  const auto level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return absl::InvalidArgumentError("log.level: unknown level '" + options.level +
                                      "' (trace, debug, info, warn, error, critical, off)");
  }
  spdlog::sink_ptr sink;
  if (options.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
    } catch (const spdlog::spdlog_ex& e) {
      return absl::InvalidArgumentError("log.file: cannot open '" + options.file + "': " + e.what());
    }
  }
  Loggers& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  state.Build(std::move(sink), level);
  return absl::OkStatus();
}

spdlog::logger& Main() { return *State().loggers[0]; }
spdlog::logger& Net() { return *State().loggers[1]; }
spdlog::logger& Rpc() { return *State().loggers[2]; }
spdlog::logger& Store() { return *State().loggers[3]; }
spdlog::logger& Db() { return *State().loggers[4]; }
spdlog::logger& Http() { return *State().loggers[5]; }

}  // namespace im::log
