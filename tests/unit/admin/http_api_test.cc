// HttpApi over AdminOps with in-memory fakes: routing, auth, JSON errors,
// and that a rejected request reaches no store.
#include "admin_qim/http_api.h"
#include "common/http/prometheus_text.h"
#include "tests/unit/admin/admin_fakes.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

namespace im::admin {
namespace {

using fakes::FakeCluster;
using fakes::FakeRedis;
using fakes::FakeStore;
using http::FindSample;

using nlohmann::json;

constexpr char kSecret[] = "unit-test-secret-0123";

class HttpApiUnitTest : public ::testing::Test {
 protected:
  HttpApiUnitTest()
      : ops_(&store_, &redis_, &redis_, &cluster_, AdminOpsOptions{}),
        limiter_(0.001, 2),
        api_(&ops_, &limiter_, HttpApiOptions{kSecret}) {}

  http::HttpResponse Call(const std::string& method, const std::string& path, const std::string& body = "",
                          bool admin = true) {
    http::HttpRequest r;
    r.method = method;
    r.path = path;
    r.target = path;
    r.body = body;
    r.remote = "10.1.2.3";
    if (admin) r.headers["authorization"] = std::string("Bearer ") + kSecret;
    return api_.Handle(r);
  }

  FakeStore store_;
  FakeRedis redis_;
  FakeCluster cluster_;
  AdminOps ops_;
  RateLimiter limiter_;
  HttpApi api_;
};

TEST_F(HttpApiUnitTest, NodesUseTheSeedShape) {
  // The admin endpoint is for operators; SDKs never see it.
  store_.nodes = {NodeRecord{3, 21983, 21985, 100, 1, "", "127.0.0.1", true, "127.0.0.1:9083"}};
  auto r = Call("GET", "/v1/nodes", "", false);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body),
            json::parse(R"({"confgiinfo":{"node_array":[{"id":3,"tcp_port":21983,"udp_port":21985,"weight":100,)"
                        R"("server_type":1,"tcp_protocol":"","address":"127.0.0.1","disabled":1}]},)"
                        R"("confgiinfo_timestamp":1582004741})"));
}

TEST_F(HttpApiUnitTest, AdminCallsNeedTheSecretAndTouchNothingWithout) {
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/v1/accounts"}, {"GET", "/v1/accounts/x"}, {"POST", "/v1/groups"},
           {"POST", "/v1/groups/9001/members"}, {"DELETE", "/v1/groups/9001/members/2"}, {"POST", "/v1/friends"},
           {"POST", "/v1/blocks"}, {"POST", "/v1/bans"}, {"DELETE", "/v1/tokens/2"}}) {
    auto r = Call(method, path, R"({"no":"a1","password":"secret-1","uid":2,"uids":[2],"name":"g","owner":2})", false);
    EXPECT_EQ(r.status, 401) << method << " " << path << " " << r.body;
    EXPECT_EQ(json::parse(r.body)["code"], 401);
  }
  EXPECT_EQ(store_.writes, 0);
  EXPECT_FALSE(BearerMatches("Bearer " + std::string(kSecret) + "x", kSecret));
  EXPECT_FALSE(BearerMatches("bearer " + std::string(kSecret), kSecret));
  EXPECT_FALSE(BearerMatches("Bearer ", ""));
  EXPECT_TRUE(BearerMatches("Bearer " + std::string(kSecret), kSecret));
}

TEST_F(HttpApiUnitTest, BadBodiesAre400AndReachNoStore) {
  for (const char* body : {"", "{", "null", "[]", "\"x\"", R"({"no":1,"password":"p"})",
                                  R"({"no":"ok1","password":12345678})", R"({"no":"","password":"secret-1"})"}) {
    auto r = Call("POST", "/v1/accounts", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    json j = json::parse(r.body);
    EXPECT_EQ(j["code"], 400);
    EXPECT_FALSE(j["desp"].get<std::string>().empty());
  }
  EXPECT_EQ(Call("POST", "/v1/groups/9001/members", R"({"uids":[]})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/groups/9001/members", R"({"uids":[-4]})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/groups", R"({"name":"","owner":2})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/friends", R"({"uid":2,"friend":2})").status, 400);
  EXPECT_EQ(store_.writes, 0);
}

TEST_F(HttpApiUnitTest, StatusesMapToHttpCodes) {
  EXPECT_EQ(Call("POST", "/v1/accounts", R"({"no":"zxt77","password":"secret-1"})").status, 200);
  EXPECT_EQ(Call("POST", "/v1/accounts", R"({"no":"zxt77","password":"secret-1"})").status, 409);
  EXPECT_EQ(Call("GET", "/v1/accounts/none").status, 404);
  ASSERT_EQ(Call("POST", "/v1/accounts", R"({"no":"a@b.c","password":"secret-1"})").status, 200);
  EXPECT_EQ(json::parse(Call("GET", "/v1/accounts/a%40b.c").body)["no"], "a@b.c");
  EXPECT_EQ(Call("GET", "/v1/accounts/a%4").status, 400);  // '%' is not allowed in a number
  EXPECT_EQ(Call("POST", "/v1/groups/9002/members", R"({"uids":[2]})").status, 404);
  EXPECT_EQ(Call("POST", "/v1/groups/9001/members", R"({"uids":[2]})").status, 200);
  EXPECT_EQ(redis_.events.back(), R"({"kind":"group","id":9001,"uids":[2]})");
  EXPECT_EQ(Call("PUT", "/v1/accounts").status, 405);
  EXPECT_EQ(Call("GET", "/v2/nodes").status, 404);
  EXPECT_EQ(Call("GET", "/v1/nodes/extra", "", false).status, 404);
}

TEST_F(HttpApiUnitTest, UserLoginsAreRateLimitedAndCheckThePassword) {
  ASSERT_EQ(Call("POST", "/v1/accounts", R"({"no":"zxt77","password":"secret-1"})").status, 200);
  auto ok = Call("POST", "/v1/tokens", R"({"no":"zxt77","password":"secret-1"})", false);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["token"], "token-2");
  EXPECT_EQ(Call("POST", "/v1/tokens", R"({"no":"zxt77","password":"secret-2"})", false).status, 401);
  EXPECT_EQ(Call("POST", "/v1/tokens", R"({"no":"zxt77","password":"secret-1"})", false).status, 429);
  EXPECT_EQ(Call("POST", "/v1/tokens", R"({"uid":2})", false).status, 401);
  EXPECT_EQ(Call("POST", "/v1/tokens", R"({"uid":2})").status, 200);
}

}  // namespace
}  // namespace im::admin

namespace im::admin {
namespace {

TEST(PrometheusSampleTest, FindsTheExactSeriesOnly) {
  const std::string text =
      "# HELP im_notify_state notify_server state\n"
      "# TYPE im_notify_state gauge\n"
      "im_notify_state{what=\"connections_total\"} 9\n"
      "im_notify_state{what=\"connections\"} 1234\n"
      "im_sync_connections 7 1700000000000\n"
      "im_sync_connections_total 3\n"
      "im_bad NaNope\n";
  EXPECT_EQ(FindSample(text, "im_notify_state{what=\"connections\"}"), 1234.0);
  EXPECT_EQ(FindSample(text, "im_sync_connections"), 7.0);  // a timestamp after the value is ignored
  EXPECT_EQ(FindSample(text, "im_notify_state"), std::nullopt);
  EXPECT_EQ(FindSample(text, "im_missing"), std::nullopt);
  EXPECT_EQ(FindSample(text, "im_bad"), std::nullopt);
  EXPECT_EQ(FindSample("", "im_sync_connections"), std::nullopt);
}

}  // namespace
}  // namespace im::admin
