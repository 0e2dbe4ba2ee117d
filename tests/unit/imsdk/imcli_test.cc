// imcli --script as a real process against the fake cluster (in this process).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/imsdk/fake_server.h"

namespace im::sdk::testing {
namespace {

using Json = nlohmann::json;

// Runs imcli with `args`, feeding `input` on stdin; returns its stdout lines as JSON.
std::vector<Json> RunImcli(const std::string& args, const std::string& input, int* exit_code) {
  char tmpl[] = "/tmp/imcli_test_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string in_path = dir + "/in.txt";
  std::ofstream(in_path) << input;
  std::string cmd = std::string(IMCLI_BIN) + " --script " + args + " < " + in_path;
  FILE* p = popen(cmd.c_str(), "r");
  std::vector<Json> out;
  if (p == nullptr) return out;
  std::string line;
  char buf[4096];
  while (fgets(buf, sizeof buf, p) != nullptr) {
    line += buf;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      Json j = Json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
      if (!j.is_discarded()) out.push_back(j);
      line.clear();
    }
  }
  int status = pclose(p);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::filesystem::remove_all(dir);
  return out;
}

std::vector<Json> Events(const std::vector<Json>& all, const std::string& name) {
  std::vector<Json> out;
  for (const auto& j : all)
    if (j.value("event", "") == name) out.push_back(j);
  return out;
}

TEST(Imcli, ScriptModeSendsReceivesAndPrintsJsonLines) {
  FakeCluster cluster;
  cluster.AddUser(707, "t707");
  cluster.AddUser(708, "t708");
  FakeServer notify(&cluster, true), sync(&cluster, false);
  cluster.InjectPeer(708, 707, "waiting for you");
  std::string args = "--notify 127.0.0.1:" + std::to_string(notify.port()) +
                     " --sync 127.0.0.1:" + std::to_string(sync.port()) +
                     " --uid 707 --token t707";
  int code = -1;
  auto lines = RunImcli(args,
                        "/to 708 hi there\n/wait\n/offsets\n/history 0 10\n/bogus\n/group 1\n",
                        &code);
  EXPECT_EQ(code, 0);
  auto states = Events(lines, "state");
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.front()["state"], "connecting");
  auto msgs = Events(lines, "message");
  ASSERT_EQ(msgs.size(), 2u);  // the stored one, then the sender copy of our send
  EXPECT_EQ(msgs[0]["from"], 708);
  EXPECT_EQ(msgs[0]["to"], 707);
  EXPECT_EQ(msgs[0]["offset"], 1);
  EXPECT_EQ(msgs[0]["content"], "waiting for you");
  EXPECT_EQ(msgs[1]["from"], 707);
  EXPECT_EQ(msgs[1]["offset"], 2);
  auto sent = Events(lines, "sent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["code"], 200);
  EXPECT_EQ(sent[0]["offset"], 2);
  EXPECT_EQ(sent[0]["msgid"], 1);
  auto offsets = Events(lines, "offsets");
  ASSERT_EQ(offsets.size(), 1u);
  EXPECT_EQ(offsets[0]["offsets"]["0"], 2);
  EXPECT_EQ(Events(lines, "history").size(), 2u);
  EXPECT_EQ(Events(lines, "error").size(), 2u);  // /bogus and a /group without text
  ASSERT_EQ(cluster.Peer(708).size(), 1u);
  EXPECT_EQ(cluster.Peer(708)[0].content, "hi there");
}

TEST(Imcli, BadFlagsExitWithUsage) {
  int code = -1;
  RunImcli("--uid 707", "", &code);
  EXPECT_EQ(code, 2);
}

}  // namespace
}  // namespace im::sdk::testing
