#include "tests/unit/imsdk/fake_c_api.h"

#include <memory>

#include "tests/unit/imsdk/fake_server.h"

namespace {
std::unique_ptr<im::sdk::testing::FakeCluster> g_cluster;
std::unique_ptr<im::sdk::testing::FakeServer> g_notify;
std::unique_ptr<im::sdk::testing::FakeServer> g_sync;
}  // namespace

extern "C" {

void FakeStart(int* notify_port, int* sync_port) {
  g_cluster = std::make_unique<im::sdk::testing::FakeCluster>();
  g_cluster->AddUser(707, "t707");
  g_cluster->AddUser(708, "t708");
  g_notify = std::make_unique<im::sdk::testing::FakeServer>(g_cluster.get(), true);
  g_sync = std::make_unique<im::sdk::testing::FakeServer>(g_cluster.get(), false);
  *notify_port = g_notify->port();
  *sync_port = g_sync->port();
}

void FakeInjectPeer(int64_t from, int64_t to, const char* content) {
  g_cluster->InjectPeer(from, to, content);
}

int FakeLogins(void) { return g_cluster->logins.load(); }

int64_t FakeAcked(int64_t uid, int64_t gid) { return g_cluster->Acked(uid, gid); }

void FakeStop(void) {
  g_notify.reset();
  g_sync.reset();
  g_cluster.reset();
}

}  // extern "C"
