#pragma once
// The access_server daemon: owns the clients (storage, route, Redis, MySQL),
// the handler pool and the gRPC server.

#include <memory>

#include "absl/status/statusor.h"
#include "access_server/access_config.h"
#include "common/daemon/daemon.h"

namespace im::access {

/// Process entry point (main.cc calls only this).
int Main(int argc, char** argv);

absl::StatusOr<std::unique_ptr<daemon::Daemon>> CreateAccessServer(const AccessConfig& config,
                                                                  const daemon::DaemonContext& context);

}  // namespace im::access
