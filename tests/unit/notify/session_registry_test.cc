#include "notify_server/session_registry.h"

#include <gtest/gtest.h>

namespace im::notify {
namespace {

class FakeSession final : public net::Session {
 public:
  FakeSession(std::int64_t uid, std::int64_t device) {
    uid_ = uid;
    device_id_ = device;
    platform_ = 1;
  }
  void Send(std::string) override {}
  void SendInLoop(std::string) override {}
  void SendAndClose(std::string) override {}
  void Close() override {}
  void FinishLogin(std::int32_t, std::string) override {}
};

struct Recorder final : PresenceListener {
  void OnPresence(const rpc::DevicePresence& p) override { events.push_back(p); }
  std::vector<rpc::DevicePresence> events;
};

TEST(SessionRegistryTest, DevicesReplacementAndPresence) {
  SessionRegistry registry;
  Recorder recorder;
  registry.SetListener(&recorder);
  auto phone = std::make_shared<FakeSession>(1, 10);
  auto laptop = std::make_shared<FakeSession>(1, 11);
  EXPECT_EQ(registry.Add(phone), nullptr);
  EXPECT_EQ(registry.Add(laptop), nullptr);
  std::vector<net::SessionPtr> found;
  registry.Lookup(1, &found);
  EXPECT_EQ(found.size(), 2u);

  // A new login of the phone replaces the old one; the old one's close does
  // not take the device offline.
  auto phone2 = std::make_shared<FakeSession>(1, 10);
  EXPECT_EQ(registry.Add(phone2), phone);
  registry.Remove(phone);
  EXPECT_EQ(registry.sessions(), 2u);
  ASSERT_EQ(recorder.events.size(), 3u);
  EXPECT_TRUE(recorder.events.back().online());

  registry.Remove(phone2);
  registry.Remove(laptop);
  EXPECT_EQ(registry.sessions(), 0u);
  EXPECT_EQ(registry.users(), 0u);
  ASSERT_EQ(recorder.events.size(), 5u);
  EXPECT_FALSE(recorder.events.back().online());
  EXPECT_EQ(recorder.events.back().device_id(), 11);
}

TEST(SessionRegistryTest, SnapshotListsEveryDevice) {
  SessionRegistry registry;
  registry.Add(std::make_shared<FakeSession>(1, 10));
  registry.Add(std::make_shared<FakeSession>(2, 20));
  registry.Add(std::make_shared<FakeSession>(2, 21));
  std::size_t n = 0;
  registry.Snapshot([&](const std::vector<rpc::DevicePresence>& all) {
    n = all.size();
    for (const auto& p : all) EXPECT_TRUE(p.online());
  });
  EXPECT_EQ(n, 3u);
}

}  // namespace
}  // namespace im::notify
