#pragma once
// The sync_server daemon ("chat-sync server"): client TCP on :31983 for
// sends and pulls, forwarding to access_server.

#include <memory>

#include "absl/status/statusor.h"
#include "common/daemon/daemon.h"
#include "sync_server/sync_config.h"

namespace im::sync {

/// Process entry point (main.cc calls only this).
int Main(int argc, char** argv);

absl::StatusOr<std::unique_ptr<daemon::Daemon>> CreateSyncServer(const SyncConfig& config,
                                                                 const daemon::DaemonContext& context);

}  // namespace im::sync
