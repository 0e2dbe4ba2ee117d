// libFuzzer target for sync_server's client request handling: fuzzed frames
// (send 315, group send 328, pull 317, ping 301 and any other command id) go
// to a real SyncSessionHandler as from a logged-in session, exactly as
// TcpServer hands them over (common/net/session.h). Behind the handler is a
// real AccessClient talking gRPC to an in-process fake access_server that
// accepts sends and gives them back on pulls, so fuzzed message content also
// flows through the pull answer path (downlink frames, byte budget).
// Checked for every input: the handler never crashes or hangs (every request
// is answered within 5 s), every frame it sends is one whole, decodable frame
// for the session's uid, and a command it does not serve returns false.
#include <fuzzer/FuzzedDataProvider.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/log/log.h"
#include "common/net/client_protocol.h"
#include "common/net/frame_codec.h"
#include "sync_server/access_client.h"
#include "sync_server/sync_session_handler.h"
#include "tests/fuzz/fake_access.h"
#include "tests/fuzz/handler_fuzz.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace im;

struct World {
  World() {
    std::string address;
    server = fuzz::ServeFakeAccess(&access_service, &address);
    sync::AccessClient::Options options;
    options.addresses = {address};
    access = std::make_unique<sync::AccessClient>(std::move(options));
    handler = std::make_unique<sync::SyncSessionHandler>(access.get(), nullptr, 16 << 10);
  }
  fuzz::FakeAccess access_service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<sync::AccessClient> access;
  std::unique_ptr<sync::SyncSessionHandler> handler;
};

World& TheWorld() {
  static World* world = new World();  // never destroyed: gRPC threads outlive main
  return *world;
}

const std::vector<std::int16_t> kCommands = {net::kCmdClientSendIm, net::kCmdGroupSendIm, net::kCmdSyncPull,
                                             net::kCmdHeartPing};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& world = TheWorld();
  FuzzedDataProvider in(data, size);
  const std::int64_t uid = in.ConsumeIntegralInRange<std::int64_t>(1, 1000);
  auto session = std::make_shared<im::fuzz::FakeSession>(uid, 1);
  world.handler->OnLoggedIn(session);
  fuzz::FeedFrames(in, *world.handler, session, kCommands);
  // Every request is answered: in-flight calls drain within a bound.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (world.handler->in_flight() > 0) {
    FUZZ_CHECK(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  fuzz::CheckSent(session->TakeOutput(), uid);
  world.handler->OnClose(session);
  return 0;
}
