#include "common/daemon/daemon.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <future>
#include <iostream>
#include <thread>

#include "common/http/http_server.h"
#include "common/net/host_port.h"

namespace im::daemon {

void AddCommonKeys(config::Schema& schema, CommonConfig* config) {
  schema.Add("log.level", &config->log.level, "trace, debug, info, warn, error, critical or off");
  schema.Add("log.file", &config->log.file, "log file; empty logs to stderr");
  schema.Add("admin.listen", &config->admin_listen,
             "host:port of the admin HTTP endpoint (/metrics, /healthz); port 0 picks one");
  schema.Add("admin.drain_timeout_ms", &config->drain_timeout_ms,
             "on SIGTERM, time allowed to finish in-flight work", 0, 600000);
  schema.AddCheck([config] { return net::CheckHostPort("admin.listen", config->admin_listen); });
  rpc::AddTlsKeys(schema, &config->grpc_tls);
}

namespace {

http::HttpResponse ServeAdmin(const http::HttpRequest& request, prometheus::Registry& registry,
                              const Health& health) {
  if (request.method != "GET") return {405, "text/plain", "method not allowed\n"};
  if (request.path == "/metrics") {
    return {200, "text/plain; version=0.0.4", prometheus::TextSerializer().Serialize(registry.Collect())};
  }
  if (request.path == "/healthz" || request.path == "/health") {
    return health.serving() ? http::HttpResponse{200, "text/plain", "SERVING\n"}
                            : http::HttpResponse{503, "text/plain", "NOT_SERVING\n"};
  }
  return {404, "text/plain", "not found\n"};
}

}  // namespace

int RunDaemon(int argc, char** argv, const DaemonSpec& spec) {
  std::signal(SIGPIPE, SIG_IGN);

  CommonConfig common;
  config::Schema schema;
  AddCommonKeys(schema, &common);
  spec.declare_config(schema);
  config::CommandLine command_line;
  if (absl::Status s = config::ParseCommandLine(argc, argv, spec.name, schema, &command_line); !s.ok()) {
    std::cerr << spec.name << ": config error: " << s.message() << std::endl;
    return 2;
  }
  if (command_line.help) return 0;
  if (command_line.print_config) {
    std::cout << schema.Dump();
    return 0;
  }
  if (absl::Status s = log::Init(common.log); !s.ok()) {
    std::cerr << spec.name << ": config error: " << s.message() << std::endl;
    return 2;
  }
  IM_LOG_INFO(log::Main(), "{} starting pid={} config={}", spec.name, getpid(),
              command_line.config_file.empty() ? "(defaults and flags)" : command_line.config_file);
  if (absl::Status s = rpc::InstallTls(common.grpc_tls); !s.ok()) {
    IM_LOG_ERROR(log::Main(), "config error: {}", s.message());
    std::cerr << spec.name << ": config error: " << s.message() << std::endl;
    return 2;
  }
  if (common.grpc_tls.enabled()) {
    IM_LOG_INFO(log::Main(), "inter-daemon gRPC uses TLS (cert {}, CA {}, client certs {})",
                common.grpc_tls.cert_file, common.grpc_tls.ca_file,
                common.grpc_tls.require_client_cert ? "required" : "not requested");
  }

  // Signals are caught on a thread of their own, so a second one is seen
  // while the main thread drains.
  boost::asio::io_context signal_io;
  boost::asio::signal_set signals(signal_io, SIGTERM, SIGINT);
  std::promise<int> first_signal;
  std::function<void(const boost::system::error_code&, int)> on_signal;
  int signals_seen = 0;
  on_signal = [&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (++signals_seen == 1) {
      first_signal.set_value(signo);
      signals.async_wait(on_signal);
    } else {
      IM_LOG_WARN(log::Main(), "second signal {}: exiting without draining", signo);
      log::Main().flush();
      std::_Exit(1);
    }
  };
  signals.async_wait(on_signal);
  std::thread signal_thread([&] { signal_io.run(); });
  auto stop_signal_thread = [&] {
    signal_io.stop();
    signal_thread.join();
  };

  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge()
      .Name("im_build_info")
      .Help("Constant 1, labelled with the daemon name")
      .Register(*registry)
      .Add({{"daemon", spec.name}})
      .Set(1);
  auto& up_gauge = prometheus::BuildGauge()
                       .Name("im_serving")
                       .Help("1 while the daemon serves, 0 while starting or draining")
                       .Register(*registry)
                       .Add({});
  Health health;
  http::HttpServerOptions admin_options;
  admin_options.listen = common.admin_listen;
  http::HttpServer admin(admin_options,
                         [&](const http::HttpRequest& request) {
                           up_gauge.Set(health.serving() ? 1 : 0);
                           return ServeAdmin(request, *registry, health);
                         });
  if (absl::Status s = admin.Start(); !s.ok()) {
    IM_LOG_ERROR(log::Main(), "admin.listen: {}", s.message());
    stop_signal_thread();
    return 1;
  }
  IM_LOG_INFO(log::Main(), "admin http listening on {}:{} (/metrics, /healthz)",
              common.admin_listen.substr(0, common.admin_listen.rfind(':')), admin.port());

  DaemonContext context{spec.name, registry.get(), &health, admin.port()};
  auto created = spec.create(context);
  if (!created.ok()) {
    IM_LOG_ERROR(log::Main(), "{} cannot start: {}", spec.name, created.status().message());
    stop_signal_thread();
    return created.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::unique_ptr<Daemon> daemon = std::move(*created);
  if (absl::Status s = daemon->Start(); !s.ok()) {
    IM_LOG_ERROR(log::Main(), "{} cannot start: {}", spec.name, s.message());
    daemon->Stop();
    stop_signal_thread();
    return 1;
  }
  health.SetServing(true);
  IM_LOG_INFO(log::Main(), "{} serving", spec.name);

  const int signo = first_signal.get_future().get();
  IM_LOG_INFO(log::Main(), "{} received {}: draining (up to {} ms)", spec.name,
              signo == SIGTERM ? "SIGTERM" : "SIGINT", common.drain_timeout_ms);
  health.SetServing(false);
  daemon->Drain(std::chrono::steady_clock::now() + std::chrono::milliseconds(common.drain_timeout_ms));
  daemon->Stop();
  daemon.reset();
  admin.Stop();
  stop_signal_thread();
  IM_LOG_INFO(log::Main(), "{} stopped", spec.name);
  log::Main().flush();
  return 0;
}

}  // namespace im::daemon
