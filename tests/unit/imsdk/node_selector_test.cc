#include "imsdk/node_selector.h"

#include <gtest/gtest.h>

#include <map>

namespace im::sdk {
namespace {

const char* kConfig = R"({"confgiinfo":{"node_array":[
  {"id":1,"tcp_port":21983,"udp_port":21985,"weight":100,"server_type":1,"tcp_protocol":"","address":"10.0.0.1","disabled":0},
  {"id":2,"tcp_port":21983,"udp_port":21985,"weight":300,"server_type":1,"tcp_protocol":"","address":"10.0.0.2","disabled":0},
  {"id":3,"tcp_port":21983,"udp_port":21985,"weight":100,"server_type":1,"tcp_protocol":"","address":"10.0.0.3","disabled":1},
  {"id":4,"tcp_port":21983,"udp_port":21985,"weight":0,"server_type":1,"tcp_protocol":"","address":"10.0.0.4","disabled":0},
  {"id":5,"tcp_port":31983,"udp_port":31985,"weight":100,"server_type":2,"tcp_protocol":"","address":"10.0.0.5","disabled":0},
  {"id":6,"tcp_port":0,"weight":100,"server_type":2,"address":"bad port","disabled":0}
]},"confgiinfo_timestamp":1582004741})";

TEST(NodeConfig, ParsesTheSicSpelledShape) {
  std::vector<ServerNode> nodes;
  std::int64_t ts = 0;
  std::string error;
  ASSERT_TRUE(ParseNodeConfig(kConfig, &nodes, &ts, &error)) << error;
  EXPECT_EQ(ts, 1582004741);
  ASSERT_EQ(nodes.size(), 5u);  // the row with port 0 is skipped
  EXPECT_EQ(nodes[0].address, "10.0.0.1");
  EXPECT_TRUE(nodes[2].disabled);
  EXPECT_FALSE(ParseNodeConfig("[]", &nodes, &ts, &error));
  EXPECT_FALSE(ParseNodeConfig("{\"configinfo\":{}}", &nodes, &ts, &error));
  EXPECT_FALSE(ParseNodeConfig("not json", &nodes, &ts, &error));
}

TEST(NodeSelector, WeightedAmongEnabledNodesOfTheType) {
  std::vector<ServerNode> nodes;
  std::int64_t ts;
  std::string error;
  ASSERT_TRUE(ParseNodeConfig(kConfig, &nodes, &ts, &error));
  NodeSelector sel(42);
  sel.SetNodes(nodes);
  std::map<std::int64_t, int> picks;
  for (int i = 0; i < 4000; ++i) picks[sel.Choose(kNotifyServer)->id]++;
  EXPECT_EQ(picks.count(3), 0u);  // disabled
  EXPECT_EQ(picks.count(4), 0u);  // weight 0
  EXPECT_NEAR(picks[2] / 4000.0, 0.75, 0.05);
  EXPECT_EQ(sel.Choose(kSyncServer)->id, 5);
  EXPECT_EQ(sel.Choose(7), nullptr);
}

TEST(NodeSelector, PrefersNodesThatDidNotFail) {
  std::vector<ServerNode> nodes;
  std::int64_t ts;
  std::string error;
  ASSERT_TRUE(ParseNodeConfig(kConfig, &nodes, &ts, &error));
  NodeSelector sel(1);
  sel.SetNodes(nodes);
  sel.MarkFailed(2);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sel.Choose(kNotifyServer)->id, 1);
  sel.MarkFailed(1);  // every candidate failed: all are tried again
  const ServerNode* n = sel.Choose(kNotifyServer);
  ASSERT_NE(n, nullptr);
  EXPECT_TRUE(n->id == 1 || n->id == 2);
}

TEST(Backoff, DoublesWithJitterUpToTheCapAndResets) {
  Backoff b(1000, 60000, 7);
  int expected = 1000;
  for (int i = 0; i < 10; ++i) {
    int d = b.NextDelayMs();
    EXPECT_GE(d, expected / 2);
    EXPECT_LE(d, expected);
    expected = std::min(60000, expected * 2);
  }
  b.Reset();
  EXPECT_LE(b.NextDelayMs(), 1000);
}

TEST(SplitHostPort, Basics) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(SplitHostPort("127.0.0.1:21983", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 21983);
  EXPECT_FALSE(SplitHostPort("127.0.0.1", &host, &port));
  EXPECT_FALSE(SplitHostPort("h:0", &host, &port));
  EXPECT_FALSE(SplitHostPort("h:99999", &host, &port));
  EXPECT_FALSE(SplitHostPort(":80", &host, &port));
}

}  // namespace
}  // namespace im::sdk
