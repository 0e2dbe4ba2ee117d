// admin_qim against a private MariaDB and Redis: schema migrations (from
// empty, re-run, two instances at once), every HTTP endpoint of
// PROTOCOL.md §7 with its error answers, concurrent registration, password
// and token hygiene in the database and the log, token expiry and
// revocation, and the directory change channel.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "admin_qim/schema.h"
#include "common/auth/token_store.h"
#include "common/db/mysql_pool.h"
#include "common/redis/redis_client.h"
#include "tests/integration/admin/admin_test_util.h"

namespace im::admin {
namespace {

using nlohmann::json;
using testing::AdminProcess;
using testing::Http;
using testing::HttpResult;
using testing::ReadFile;

const std::string kAuth = std::string("Bearer ") + testing::kSecret;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

json Body(const HttpResult& r) { return json::parse(r.body, nullptr, false); }

// Waits up to `timeout` for `predicate`.
template <typename Predicate>
bool WaitUntil(Predicate predicate, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return predicate();
}

db::MysqlOptions PoolOptions(im::testing::PrivateMariaDb& db) {
  db::MysqlOptions o;
  o.port = db.port();
  o.user = db.user();
  o.password = db.password();
  o.database = db.database();
  o.pool_size = 2;
  return o;
}

// ---- migrations ----

TEST(SchemaMigrationTest, MigratesEmptyDatabaseThenRerunsAsNoOp) {
  im::testing::PrivateMariaDb db;
  ASSERT_TRUE(db.Start().ok());
  db::MysqlPool pool(PoolOptions(db));
  auto first = Migrate(pool);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 0);
  auto second = Migrate(pool);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, LatestSchemaVersion());

  auto tables = db.Query("SHOW TABLES FROM im");
  ASSERT_TRUE(tables.ok());
  for (const char* t : {"schema_version", "user_id", "credentials", "node_list", "im_groups", "group_members",
                        "friends", "blocks", "bans", "acked_offsets", "change_clock"}) {
    EXPECT_NE(tables->find(t), std::string::npos) << t << " missing in " << *tables;
  }
  EXPECT_EQ(Trim(*db.Query("SELECT COUNT(*) FROM im.schema_version")), std::to_string(LatestSchemaVersion()));
  EXPECT_EQ(Trim(*db.Query("SELECT id, no FROM im.user_id")), "1\tsystem");
  // The seed's column types, exactly.
  auto columns = db.Query(
      "SELECT COLUMN_NAME, COLUMN_TYPE, COLUMN_KEY, EXTRA FROM information_schema.COLUMNS "
      "WHERE TABLE_SCHEMA='im' AND TABLE_NAME='user_id' ORDER BY ORDINAL_POSITION");
  ASSERT_TRUE(columns.ok());
  EXPECT_EQ(Trim(*columns), "id\tint(10) unsigned\tPRI\tauto_increment\nno\tvarchar(32)\tUNI\t");
  auto nodes = db.Query(
      "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS "
      "WHERE TABLE_SCHEMA='im' AND TABLE_NAME='node_list'");
  EXPECT_EQ(Trim(*nodes), "id,tcp_port,udp_port,weight,server_type,tcp_protocol,address,disabled");
}

TEST(SchemaMigrationTest, ConcurrentMigrationsApplyEachVersionOnce) {
  im::testing::PrivateMariaDb db;
  ASSERT_TRUE(db.Start().ok());
  std::atomic<int> ok{0}, applied_from_zero{0};
  std::vector<std::thread> threads;
  std::vector<absl::Status> errors(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      db::MysqlPool pool(PoolOptions(db));
      auto found = Migrate(pool);
      if (found.ok()) {
        ++ok;
        if (*found == 0) ++applied_from_zero;
      } else {
        errors[i] = found.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4) << errors[0] << " | " << errors[1] << " | " << errors[2] << " | " << errors[3];
  EXPECT_EQ(applied_from_zero.load(), 1);  // the others found it done
  EXPECT_EQ(Trim(*db.Query("SELECT COUNT(*) FROM im.schema_version")), std::to_string(LatestSchemaVersion()));
  EXPECT_EQ(Trim(*db.Query("SELECT COUNT(*) FROM im.user_id")), "1");
  EXPECT_EQ(Trim(*db.Query("SELECT COUNT(*) FROM im.change_clock")), "1");
}

TEST(SchemaMigrationTest, UpgradesADatabaseAtAnOlderVersion) {
  im::testing::PrivateMariaDb db;
  ASSERT_TRUE(db.Start().ok());
  // A database left at version 1 by an older admin_qim.
  ASSERT_TRUE(db.Query("CREATE TABLE im.schema_version (version INT NOT NULL PRIMARY KEY, description VARCHAR(255) "
                       "NOT NULL, applied_at BIGINT NOT NULL); INSERT INTO im.schema_version VALUES (1, 'v1', 0)")
                  .ok());
  for (const std::string& statement : Migrations()[0].statements) ASSERT_TRUE(db.Query("USE im; " + statement).ok());
  db::MysqlPool pool(PoolOptions(db));
  auto found = Migrate(pool);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, 1);
  EXPECT_EQ(Trim(*db.Query("SELECT GROUP_CONCAT(version ORDER BY version) FROM im.schema_version")), "1,2,3");
  EXPECT_EQ(Trim(*db.Query("SELECT COUNT(*) FROM im.change_clock")), "1");
  EXPECT_EQ(Trim(*db.Query("SELECT COUNT(*) FROM im.node_admin")), "0");
  // A database newer than the binary is refused, not touched.
  ASSERT_TRUE(db.Query("INSERT INTO im.schema_version VALUES (99, 'future', 0)").ok());
  auto newer = Migrate(pool);
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition) << newer.status();
}

TEST(SchemaMigrationTest, TwoAdminQimInstancesStartAtOnceOnEmptyDatabase) {
  im::testing::TempDir dir;
  im::testing::PrivateMariaDb db;
  im::testing::PrivateRedis redis;
  ASSERT_TRUE(db.Start().ok());
  ASSERT_TRUE(redis.Start().ok());
  auto a = testing::Launch(db, redis, dir.path(), {}, false);
  auto b = testing::Launch(db, redis, dir.path(), {}, false);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->WaitHealthy().ok()) << ReadFile((*a)->log_path());
  ASSERT_TRUE((*b)->WaitHealthy().ok()) << ReadFile((*b)->log_path());
  EXPECT_EQ(Trim(*db.Query("SELECT COUNT(*) FROM im.schema_version")), std::to_string(LatestSchemaVersion()));
  // Both serve.
  EXPECT_EQ(Http((*a)->http_port(), "GET", "/v1/nodes").status, 200);
  EXPECT_EQ(Http((*b)->http_port(), "GET", "/v1/nodes").status, 200);
  for (auto* p : {a->get(), b->get()}) {
    p->process().Signal(SIGTERM);
    EXPECT_EQ(p->process().Wait(std::chrono::seconds(10)), 0);
  }
  const std::string logs = ReadFile((*a)->log_path()) + ReadFile((*b)->log_path());
  std::size_t applied = 0;
  for (std::size_t at = logs.find("applied migration 1 "); at != std::string::npos;
       at = logs.find("applied migration 1 ", at + 1)) {
    ++applied;
  }
  EXPECT_EQ(applied, 1u) << logs;
  EXPECT_NE(logs.find("schema: up to date at version " + std::to_string(LatestSchemaVersion())), std::string::npos)
      << logs;
}

// ---- the HTTP API: one MariaDB, Redis and admin_qim for the suite ----

class HttpApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new im::testing::TempDir("admin_http");
    db_ = new im::testing::PrivateMariaDb();
    redis_ = new im::testing::PrivateRedis();
    // Failures here are reported by SetUp(): a fatal failure in
    // SetUpTestSuite would only mark the tests skipped.
    if (absl::Status s = db_->Start(); !s.ok()) {
      setup_error_ = "mariadb: " + std::string(s.message());
      return;
    }
    if (absl::Status s = redis_->Start(); !s.ok()) {
      setup_error_ = "redis: " + std::string(s.message());
      return;
    }
    auto admin = AdminProcess::Start(*db_, *redis_, dir_->path(), {"--auth.login_burst", "1000"});
    if (!admin.ok()) {
      setup_error_ = "admin_qim: " + std::string(admin.status().message());
      return;
    }
    admin_ = admin->release();
  }
  static void TearDownTestSuite() {
    delete admin_;
    delete redis_;
    delete db_;
    delete dir_;
    admin_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(admin_, nullptr) << setup_error_; }

  static int port() { return admin_->http_port(); }
  static HttpResult Post(const std::string& path, const json& body, const std::string& auth = kAuth) {
    return Http(port(), "POST", path, body.dump(), auth);
  }
  static std::int64_t CreateAccount(const std::string& no, const std::string& password = "pass-word-1") {
    HttpResult r = Post("/v1/accounts", {{"no", no}, {"password", password}});
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r).value("uid", std::int64_t{0});
  }
  static std::string Sql(const std::string& sql) {
    auto out = db_->Query(sql);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? Trim(*out) : "";
  }
  static auth::TokenCheck CheckToken(std::int64_t uid, const std::string& token) {
    redis::RedisOptions o;
    o.port = redis_->port();
    redis::RedisClient client(o);
    auto check = auth::TokenStore(&client).Check(uid, token);
    EXPECT_TRUE(check.ok()) << check.status();
    return check.ok() ? *check : auth::TokenCheck::kInvalid;
  }

  static im::testing::TempDir* dir_;
  static im::testing::PrivateMariaDb* db_;
  static im::testing::PrivateRedis* redis_;
  static AdminProcess* admin_;
  static std::string setup_error_;
};

im::testing::TempDir* HttpApiTest::dir_ = nullptr;
im::testing::PrivateMariaDb* HttpApiTest::db_ = nullptr;
im::testing::PrivateRedis* HttpApiTest::redis_ = nullptr;
AdminProcess* HttpApiTest::admin_ = nullptr;
std::string HttpApiTest::setup_error_;

TEST_F(HttpApiTest, NodesHaveTheSeedShapeWithDisabledMarked) {
  Sql("DELETE FROM im.node_list");
  Sql("INSERT INTO im.node_list (id, tcp_port, udp_port, weight, server_type, tcp_protocol, address, disabled) VALUES "
      "(1, 21983, 21985, 100, 1, '', '127.0.0.1', 0), (2, 31983, 31985, 50, 2, 'tcp', '10.0.0.2', 1)");
  HttpResult r = Http(port(), "GET", "/v1/nodes", "", "");  // anyone
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), 2u) << j;
  ASSERT_TRUE(j.contains("confgiinfo_timestamp") && j["confgiinfo_timestamp"].is_number_integer());
  EXPECT_GT(j["confgiinfo_timestamp"].get<std::int64_t>(), 1582004741);
  ASSERT_TRUE(j["confgiinfo"].is_object());
  EXPECT_EQ(j["confgiinfo"].size(), 1u);
  const json& nodes = j["confgiinfo"]["node_array"];
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0], json::parse(R"({"id":1,"tcp_port":21983,"udp_port":21985,"weight":100,"server_type":1,)"
                                  R"("tcp_protocol":"","address":"127.0.0.1","disabled":0})"));
  EXPECT_EQ(nodes[1], json::parse(R"({"id":2,"tcp_port":31983,"udp_port":31985,"weight":50,"server_type":2,)"
                                  R"("tcp_protocol":"tcp","address":"10.0.0.2","disabled":1})"));
  EXPECT_EQ(Http(port(), "POST", "/v1/nodes", "{}", "").status, 405);
  const std::string metrics = Http(admin_->admin_port(), "GET", "/metrics", "", "").body;
  EXPECT_NE(metrics.find("im_admin_http_requests_total{code=\"405\"}"), std::string::npos) << metrics;
}

TEST_F(HttpApiTest, AccountsCreateGetConflictAndAuth) {
  HttpResult created = Post("/v1/accounts", {{"no", "zxt77"}, {"password", "secret-77"}});
  ASSERT_EQ(created.status, 200) << created.body;
  json c = Body(created);
  EXPECT_EQ(c["no"], "zxt77");
  const std::int64_t uid = c["uid"].get<std::int64_t>();
  EXPECT_GE(uid, 2);  // uid 1 is the system account

  HttpResult got = Http(port(), "GET", "/v1/accounts/zxt77");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Body(got)["uid"], uid);
  EXPECT_EQ(Body(got)["no"], "zxt77");

  HttpResult dup = Post("/v1/accounts", {{"no", "zxt77"}, {"password", "other-pass"}});
  EXPECT_EQ(dup.status, 409) << dup.body;
  EXPECT_EQ(Body(dup)["code"], 409);
  EXPECT_NE(Body(dup)["desp"].get<std::string>().find("zxt77"), std::string::npos);

  HttpResult missing = Http(port(), "GET", "/v1/accounts/nobody");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Body(missing)["code"], 404);

  EXPECT_EQ(Http(port(), "GET", "/v1/accounts/zxt77", "", "").status, 401);
  EXPECT_EQ(Http(port(), "GET", "/v1/accounts/zxt77", "", "Bearer wrong").status, 401);
  EXPECT_EQ(Post("/v1/accounts", {{"no", "x1"}, {"password", "secret-1"}}, "").status, 401);
  EXPECT_EQ(Post("/v1/accounts", {{"no", "x1"}, {"password", "secret-1"}}, "Bearer nope").status, 401);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM im.user_id WHERE no = 'x1'"), "0");
  EXPECT_EQ(Http(port(), "GET", "/v1/nothing-here").status, 404);
}

TEST_F(HttpApiTest, MalformedRequestsGetClear400AndWriteNothing) {
  const std::string before = Sql("SELECT COUNT(*) FROM im.user_id");
  struct Case {
    std::string body;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{{"{\"no\":\"bad1\",", "malformed JSON"},
                                         {"not json", "malformed JSON"},
                                         {"[1,2]", "must be an object"},
                                         {"{\"password\":\"secret-1\"}", "missing field 'no'"},
                                         {"{\"no\":7,\"password\":\"secret-1\"}", "'no' must be a string"},
                                         {"{\"no\":\"bad1\"}", "missing field 'password'"},
                                         {"{\"no\":\"bad one\",\"password\":\"secret-1\"}", "may hold only"},
                                         {"{\"no\":\"bad1\",\"password\":\"123\"}", "password must have"},
                                         {"{\"no\":\"a234567890123456789012345678901234\",\"password\":\"secret-1\"}",
                                          "1 to 32"}}) {
    HttpResult r = Http(port(), "POST", "/v1/accounts", c.body, kAuth);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    json j = Body(r);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j["code"], 400);
    EXPECT_NE(j["desp"].get<std::string>().find(c.reason), std::string::npos) << c.body << " -> " << r.body;
  }
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM im.user_id"), before);

  const std::string groups_before = Sql("SELECT COUNT(*) FROM im.im_groups");
  EXPECT_EQ(Http(port(), "POST", "/v1/groups", "{\"name\":\"g\",\"owner\":", kAuth).status, 400);
  EXPECT_EQ(Post("/v1/groups", {{"name", "g"}, {"owner", "707"}}).status, 400);
  EXPECT_EQ(Post("/v1/groups", {{"name", "g"}, {"owner", 2}, {"members", {"x"}}}).status, 400);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM im.im_groups"), groups_before);
  EXPECT_EQ(Http(port(), "POST", "/v1/groups/abc/members", "{\"uids\":[2]}", kAuth).status, 400);
  EXPECT_EQ(Http(port(), "POST", "/v1/friends", "{\"uid\":2,", kAuth).status, 400);
  EXPECT_EQ(Http(port(), "POST", "/v1/blocks", "{\"uid\":2}", kAuth).status, 400);
  EXPECT_EQ(Http(port(), "POST", "/v1/tokens", "{{", "").status, 400);
}

TEST_F(HttpApiTest, ConcurrentRegistrationOfTheSameNoCreatesOneAccount) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, conflict{0}, other{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      HttpResult r = Post("/v1/accounts", {{"no", "racer"}, {"password", "password-" + std::to_string(i)}});
      if (r.status == 200) {
        ++ok;
      } else if (r.status == 409) {
        ++conflict;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflict.load(), 7);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM im.user_id WHERE no = 'racer'"), "1");
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM im.credentials c JOIN im.user_id u ON u.id = c.uid WHERE u.no = 'racer'"), "1");
}

TEST_F(HttpApiTest, PasswordsAndTokensNeverStoredOrLoggedInClear) {
  const std::string password = "Clear-Text-Pa55word";
  const std::int64_t uid = CreateAccount("hygiene", password);
  HttpResult login = Post("/v1/tokens", {{"no", "hygiene"}, {"password", password}}, "");
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string token = Body(login)["token"];
  HttpResult bad = Post("/v1/tokens", {{"no", "hygiene"}, {"password", "Wrong-" + password}}, "");
  EXPECT_EQ(bad.status, 401);

  const std::string hash = Sql("SELECT password_hash FROM im.credentials WHERE uid = " + std::to_string(uid));
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find(password), std::string::npos);
  const std::string dump = Sql("SELECT * FROM im.user_id, im.credentials WHERE user_id.id = credentials.uid");
  EXPECT_EQ(dump.find(password), std::string::npos);

  const std::string log = ReadFile(admin_->log_path());
  EXPECT_NE(log.find("action=account.create no=hygiene"), std::string::npos) << log;
  EXPECT_NE(log.find("action=token.login no=hygiene"), std::string::npos) << log;
  EXPECT_EQ(log.find(password), std::string::npos);
  EXPECT_EQ(log.find(token), std::string::npos);
}

TEST_F(HttpApiTest, TokensForUsersAndAdmins) {
  const std::int64_t uid = CreateAccount("tok1", "tok1-password");
  HttpResult user = Post("/v1/tokens", {{"no", "tok1"}, {"password", "tok1-password"}}, "");
  ASSERT_EQ(user.status, 200) << user.body;
  json u = Body(user);
  EXPECT_EQ(u["uid"], uid);
  EXPECT_EQ(u["expires_in"], 86400);
  EXPECT_EQ(u["token"].get<std::string>().size(), 64u);
  EXPECT_EQ(CheckToken(uid, u["token"]), auth::TokenCheck::kValid);
  EXPECT_EQ(CheckToken(uid + 1, u["token"]), auth::TokenCheck::kInvalid);

  EXPECT_EQ(Post("/v1/tokens", {{"no", "tok1"}, {"password", "wrong-password"}}, "").status, 401);
  HttpResult unknown = Post("/v1/tokens", {{"no", "nobody-here"}, {"password", "whatever-1"}}, "");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(Body(unknown)["desp"], "wrong account number or password");

  HttpResult admin = Post("/v1/tokens", {{"uid", uid}});
  ASSERT_EQ(admin.status, 200) << admin.body;
  EXPECT_EQ(CheckToken(uid, Body(admin)["token"]), auth::TokenCheck::kValid);
  EXPECT_EQ(Post("/v1/tokens", {{"uid", uid}}, "").status, 401);  // uid form needs the secret
  EXPECT_EQ(Post("/v1/tokens", {{"uid", 999999}}).status, 404);
}

TEST_F(HttpApiTest, RevocationAndBanKillTokensAndAreAnnounced) {
  const std::int64_t uid = CreateAccount("victim", "victim-password");
  const std::string kick_log = dir_->path() + "/subscribe.out";
  auto subscriber = im::testing::ChildProcess::Start(
      {"redis-cli", "-p", std::to_string(redis_->port()), "subscribe", "im:kick", "im:directory"}, kick_log);
  ASSERT_TRUE(subscriber.ok());
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(kick_log).find("im:directory") != std::string::npos; }));

  const std::string t1 = Body(Post("/v1/tokens", {{"uid", uid}}))["token"];
  ASSERT_EQ(CheckToken(uid, t1), auth::TokenCheck::kValid);
  ASSERT_EQ(Http(port(), "DELETE", "/v1/tokens/" + std::to_string(uid)).status, 200);
  EXPECT_EQ(CheckToken(uid, t1), auth::TokenCheck::kInvalid);

  const std::string t2 = Body(Post("/v1/tokens", {{"no", "victim"}, {"password", "victim-password"}}, ""))["token"];
  ASSERT_EQ(CheckToken(uid, t2), auth::TokenCheck::kValid);
  ASSERT_EQ(Post("/v1/bans", {{"uid", uid}}).status, 200);
  EXPECT_NE(CheckToken(uid, t2), auth::TokenCheck::kValid);
  HttpResult banned_login = Post("/v1/tokens", {{"no", "victim"}, {"password", "victim-password"}}, "");
  EXPECT_EQ(banned_login.status, 403) << banned_login.body;
  EXPECT_EQ(Post("/v1/tokens", {{"uid", uid}}).status, 403);
  EXPECT_EQ(Body(Http(port(), "GET", "/v1/accounts/victim"))["banned"], true);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM im.bans WHERE uid = " + std::to_string(uid)), "1");

  const std::string event = "{\"kind\":\"ban\",\"id\":" + std::to_string(uid) + "}";
  EXPECT_TRUE(WaitUntil([&] {
    const std::string seen = ReadFile(kick_log);
    return seen.find("im:kick\n" + std::to_string(uid)) != std::string::npos && seen.find(event) != std::string::npos;
  })) << ReadFile(kick_log);

  ASSERT_EQ(Http(port(), "DELETE", "/v1/bans/" + std::to_string(uid)).status, 200);
  EXPECT_EQ(Post("/v1/tokens", {{"no", "victim"}, {"password", "victim-password"}}, "").status, 200);
  EXPECT_EQ(Post("/v1/bans", {{"uid", 999999}}).status, 404);
  subscriber->Kill();
}

TEST_F(HttpApiTest, GroupsMembersFriendsBlocks) {
  const std::int64_t a = CreateAccount("ga"), b = CreateAccount("gb"), c = CreateAccount("gc");
  const std::string events = dir_->path() + "/directory.out";
  auto subscriber = im::testing::ChildProcess::Start(
      {"redis-cli", "-p", std::to_string(redis_->port()), "subscribe", "im:directory"}, events);
  ASSERT_TRUE(subscriber.ok());
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(events).find("im:directory") != std::string::npos; }));

  HttpResult created = Post("/v1/groups", {{"name", "team"}, {"owner", a}, {"members", {a, b}}});
  ASSERT_EQ(created.status, 200) << created.body;
  const std::int64_t gid = Body(created)["gid"];
  EXPECT_GE(gid, kFirstGroupId);
  const std::string g = "/v1/groups/" + std::to_string(gid);
  json group = Body(Http(port(), "GET", g));
  EXPECT_EQ(group["members"], json({a, b}));
  EXPECT_EQ(group["owner"], a);

  EXPECT_EQ(Post(g + "/members", {{"uids", {c}}}).status, 200);
  EXPECT_EQ(Body(Http(port(), "GET", g))["members"], json({a, b, c}));
  EXPECT_EQ(Post("/v1/groups/123456/members", {{"uids", {c}}}).status, 404);
  EXPECT_EQ(Post(g + "/members", {{"uids", {999999}}}).status, 404);
  EXPECT_EQ(Post(g + "/members", {{"uids", {c}}}, "").status, 401);
  EXPECT_EQ(Http(port(), "DELETE", g + "/members/" + std::to_string(b)).status, 200);
  EXPECT_EQ(Http(port(), "DELETE", g + "/members/" + std::to_string(b)).status, 404);
  EXPECT_EQ(Http(port(), "DELETE", "/v1/groups/123456/members/" + std::to_string(a)).status, 404);
  EXPECT_EQ(Body(Http(port(), "GET", g))["members"], json({a, c}));
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM im.group_members WHERE gid = " + std::to_string(gid) + " AND joined_at > 0"),
            "2");
  EXPECT_EQ(Post("/v1/groups", {{"name", "ghost"}, {"owner", 999999}}).status, 404);

  EXPECT_EQ(Post("/v1/friends", {{"uid", a}, {"friend", b}}).status, 200);
  EXPECT_EQ(Post("/v1/friends", {{"uid", a}, {"friend", b}}).status, 200);  // idempotent
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM im.friends WHERE uid IN (" + std::to_string(a) + "," + std::to_string(b) + ")"),
            "2");
  EXPECT_EQ(Post("/v1/friends", {{"uid", a}, {"friend", 999999}}).status, 404);
  EXPECT_EQ(Post("/v1/blocks", {{"uid", b}, {"blocked", a}}).status, 200);
  EXPECT_EQ(Sql("SELECT CONCAT(uid, ' ', blocked_uid) FROM im.blocks WHERE uid = " + std::to_string(b)),
            std::to_string(b) + " " + std::to_string(a));
  EXPECT_EQ(Post("/v1/blocks", {{"uid", b}, {"blocked", b}}).status, 400);

  EXPECT_EQ(Http(port(), "DELETE", g).status, 200);
  EXPECT_EQ(Http(port(), "GET", g).status, 404);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM im.group_members WHERE gid = " + std::to_string(gid)), "0");

  const std::string group_event = "{\"kind\":\"group\",\"id\":" + std::to_string(gid);
  EXPECT_TRUE(WaitUntil([&] {
    const std::string seen = ReadFile(events);
    return seen.find(group_event) != std::string::npos &&
           seen.find("{\"kind\":\"friend\",\"id\":" + std::to_string(b) + "}") != std::string::npos &&
           seen.find("{\"kind\":\"block\",\"id\":" + std::to_string(b) + "}") != std::string::npos;
  })) << ReadFile(events);
  subscriber->Kill();
}

// ---- separate instances for rate limiting and token expiry ----

class AdminInstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.Start().ok());
    ASSERT_TRUE(redis_.Start().ok());
  }
  im::testing::TempDir dir_;
  im::testing::PrivateMariaDb db_;
  im::testing::PrivateRedis redis_;
};

TEST_F(AdminInstanceTest, UserTokenRequestsAreRateLimitedPerAddress) {
  auto admin = AdminProcess::Start(db_, redis_, dir_.path(),
                                   {"--auth.login_burst", "3", "--auth.login_rate_per_s", "0.01"});
  ASSERT_TRUE(admin.ok()) << admin.status();
  const int port = (*admin)->http_port();
  const std::string body = json{{"no", "nobody"}, {"password", "password-1"}}.dump();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Http(port, "POST", "/v1/tokens", body, "").status, 401);
  HttpResult limited = Http(port, "POST", "/v1/tokens", body, "");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(Body(limited)["code"], 429);
  // Operators are not limited.
  EXPECT_EQ(Http(port, "POST", "/v1/tokens", body, kAuth).status, 401);
}

TEST_F(AdminInstanceTest, TokensExpireAfterTheConfiguredLifetime) {
  auto admin = AdminProcess::Start(db_, redis_, dir_.path(),
                                   {"--auth.token_lifetime_s", "1", "--auth.password_opslimit", "1",
                                    "--auth.password_memlimit_kib", "8192"});
  ASSERT_TRUE(admin.ok()) << admin.status();
  const int port = (*admin)->http_port();
  HttpResult acc = Http(port, "POST", "/v1/accounts", json{{"no", "shortlived"}, {"password", "password-1"}}.dump(), kAuth);
  ASSERT_EQ(acc.status, 200);
  const std::int64_t uid = Body(acc)["uid"];
  HttpResult tok = Http(port, "POST", "/v1/tokens", json{{"no", "shortlived"}, {"password", "password-1"}}.dump(), "");
  ASSERT_EQ(tok.status, 200);
  EXPECT_EQ(Body(tok)["expires_in"], 1);
  // The configured hash cost is recorded in the hash.
  auto hash = db_.Query("SELECT password_hash FROM im.credentials WHERE uid = " + std::to_string(uid));
  ASSERT_TRUE(hash.ok());
  EXPECT_NE(hash->find("$argon2id$v=19$m=8192,t=1,"), std::string::npos) << *hash;
  const std::string token = Body(tok)["token"];
  redis::RedisOptions o;
  o.port = redis_.port();
  redis::RedisClient client(o);
  auth::TokenStore store(&client);
  EXPECT_EQ(*store.Check(uid, token), auth::TokenCheck::kValid);
  EXPECT_TRUE(WaitUntil([&] { return *store.Check(uid, token) == auth::TokenCheck::kInvalid; }, std::chrono::seconds(4)));
}

TEST_F(AdminInstanceTest, DependencyOutagesGive503ThenRecover) {
  auto admin = AdminProcess::Start(db_, redis_, dir_.path());
  ASSERT_TRUE(admin.ok()) << admin.status();
  const int port = (*admin)->http_port();
  ASSERT_EQ(Http(port, "POST", "/v1/accounts", json{{"no", "sturdy"}, {"password", "password-1"}}.dump(), kAuth).status,
            200);

  db_.Stop();
  HttpResult down = Http(port, "GET", "/v1/accounts/sturdy");
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_NE(Body(down)["desp"].get<std::string>().find("mysql"), std::string::npos) << down.body;
  EXPECT_EQ(Http(port, "GET", "/v1/nodes", "", "").status, 503);
  ASSERT_TRUE(db_.Start().ok());
  EXPECT_TRUE(WaitUntil([&] { return Http(port, "GET", "/v1/accounts/sturdy").status == 200; }));

  redis_.Stop();
  HttpResult no_redis = Http(port, "POST", "/v1/tokens", json{{"no", "sturdy"}, {"password", "password-1"}}.dump(), "");
  EXPECT_EQ(no_redis.status, 503) << no_redis.body;
  ASSERT_TRUE(redis_.Start().ok());
  EXPECT_TRUE(WaitUntil([&] {
    return Http(port, "POST", "/v1/tokens", json{{"no", "sturdy"}, {"password", "password-1"}}.dump(), kAuth).status ==
           200;
  }));
  EXPECT_TRUE((*admin)->process().running());
}

TEST_F(AdminInstanceTest, BadConfigExitsNamingTheKey) {
  std::string out;
  EXPECT_EQ(im::testing::RunCommand({ADMIN_QIM_BIN, "--config", ADMIN_QIM_SAMPLE_CONFIG, "--print-config"}, &out), 0)
      << out;
  EXPECT_EQ(im::testing::RunCommand({ADMIN_QIM_BIN, "--auth.admin_secret", "short"}, &out), 2);
  EXPECT_NE(out.find("auth.admin_secret"), std::string::npos) << out;
  EXPECT_EQ(im::testing::RunCommand({ADMIN_QIM_BIN, "--auth.admin_secret", testing::kSecret, "--access.address", "nope"},
                                    &out),
            2);
  EXPECT_NE(out.find("access.address"), std::string::npos) << out;
}

}  // namespace
}  // namespace im::admin
