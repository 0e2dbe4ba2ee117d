// libFuzzer target for notify_server's client request handling: a real
// notify_server (CreateNotifyServer, not started: no listener, no route or
// Redis connection) is driven through its net::SessionHandler interface as
// TcpServer would, with fuzzed frames (heartbeat 301, ack 319, sync offsets
// 340 and any other command id) from a logged-in session. Its AccessClient
// talks real gRPC to an in-process fake access_server (fake_access.h).
// Checked: no crash; each heartbeat and offsets query is answered (or the
// session is closed) within 5 s; every frame sent is whole and decodable, for
// the session's uid; unserved commands return false.
#include <fuzzer/FuzzedDataProvider.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/daemon/daemon.h"
#include "common/log/log.h"
#include "common/net/client_protocol.h"
#include "common/net/frame_codec.h"
#include "notify_server/notify_server.h"
#include "tests/fuzz/fake_access.h"
#include "tests/fuzz/handler_fuzz.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace im;

struct World {
  World() {
    std::string address;
    server = fuzz::ServeFakeAccess(&access_service, &address);
    notify::NotifyConfig config;
    config.listen = "127.0.0.1:0";
    config.threads = 1;
    config.access_address = address;
    config.access_timeout_ms = 5000;
    config.redis_port = 1;  // never used: logins are not fuzzed here
    config.route_addresses = {"127.0.0.1:1"};
    daemon::DaemonContext context{"notify_server", &registry, &health, 0};
    auto created = notify::CreateNotifyServer(config, context);
    FUZZ_CHECK(created.ok());
    daemon = std::move(*created);
    handler = dynamic_cast<net::SessionHandler*>(daemon.get());
    FUZZ_CHECK(handler != nullptr);
  }
  fuzz::FakeAccess access_service;
  std::unique_ptr<grpc::Server> server;
  prometheus::Registry registry;
  daemon::Health health;
  std::unique_ptr<daemon::Daemon> daemon;
  net::SessionHandler* handler = nullptr;
};

World& TheWorld() {
  static World* world = new World();  // never destroyed: gRPC threads outlive main
  return *world;
}

const std::vector<std::int16_t> kCommands = {net::kCmdHeartPing, net::kCmdAckOffset, net::kCmdGetSyncOffsets};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& world = TheWorld();
  FuzzedDataProvider in(data, size);
  const std::int64_t uid = in.ConsumeIntegralInRange<std::int64_t>(1, 1000);
  auto session = std::make_shared<fuzz::FakeSession>(uid, in.ConsumeIntegralInRange<std::int64_t>(0, 3));
  world.handler->OnLoggedIn(session);
  std::size_t answers_expected = 0;
  for (std::int16_t cmdid : fuzz::FeedFrames(in, *world.handler, session, kCommands)) {
    if (cmdid == net::kCmdHeartPing || cmdid == net::kCmdGetSyncOffsets) ++answers_expected;
  }
  // Every heartbeat and offsets query gets its answer (or the session closed).
  std::vector<std::string> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    for (std::string& s : session->TakeOutput()) out.push_back(std::move(s));
    if (out.size() >= answers_expected || session->closed()) break;
    FUZZ_CHECK(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  fuzz::CheckSent(out, uid);
  world.handler->OnClose(session);
  return 0;
}
