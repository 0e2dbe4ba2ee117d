// The qim console as a child process against a real admin_qim (private
// MariaDB and Redis): one-shot commands, their effect checked through the
// HTTP API, errors a person can act on, and the line-by-line mode.
#include <gtest/gtest.h>

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/auth/token_store.h"
#include "common/redis/redis_client.h"
#include "tests/integration/admin/admin_test_util.h"

namespace im::admin {
namespace {

using nlohmann::json;
using testing::AdminProcess;
using testing::Http;
using testing::HttpResult;

struct QimRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

// The cells of the first table row whose first cell is `key`.
std::vector<std::string> RowOf(const std::string& table, const std::string& key) {
  std::istringstream lines(table);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<std::string> cells;
    std::string w;
    while (words >> w) cells.push_back(w);
    if (!cells.empty() && cells[0] == key) return cells;
  }
  return {};
}

class QimConsoleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new im::testing::TempDir("qim");
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
    auto admin = AdminProcess::Start(*db_, *redis_, dir_->path());
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

  // qim with the endpoint and secret as flags.
  static QimRun Qim(std::vector<std::string> args) {
    std::vector<std::string> argv = {QIM_BIN, "--endpoint", admin_->grpc_endpoint(), "--secret", testing::kSecret};
    argv.insert(argv.end(), args.begin(), args.end());
    QimRun r;
    r.code = im::testing::RunCommand(argv, &r.output);
    return r;
  }
  static auth::TokenCheck CheckToken(std::int64_t uid, const std::string& token) {
    redis::RedisOptions o;
    o.port = redis_->port();
    redis::RedisClient client(o);
    auto check = auth::TokenStore(&client).Check(uid, token);
    EXPECT_TRUE(check.ok()) << check.status();
    return check.ok() ? *check : auth::TokenCheck::kInvalid;
  }
  static json Get(const std::string& path) {
    HttpResult r = Http(admin_->http_port(), "GET", path);
    return json::parse(r.body, nullptr, false);
  }

  static im::testing::TempDir* dir_;
  static im::testing::PrivateMariaDb* db_;
  static im::testing::PrivateRedis* redis_;
  static AdminProcess* admin_;
  static std::string setup_error_;
};

im::testing::TempDir* QimConsoleTest::dir_ = nullptr;
im::testing::PrivateMariaDb* QimConsoleTest::db_ = nullptr;
im::testing::PrivateRedis* QimConsoleTest::redis_ = nullptr;
AdminProcess* QimConsoleTest::admin_ = nullptr;
std::string QimConsoleTest::setup_error_;

TEST_F(QimConsoleTest, OneShotCommandsTakeEffect) {
  QimRun created = Qim({"account", "create", "zxt77", "--password", "zxt77-password"});
  ASSERT_EQ(created.code, 0) << created.output;
  EXPECT_NE(created.output.find("zxt77"), std::string::npos);
  json account = Get("/v1/accounts/zxt77");
  ASSERT_TRUE(account.contains("uid")) << account;
  const std::int64_t uid = account["uid"];
  const std::string u = std::to_string(uid);

  ASSERT_EQ(Qim({"account", "create", "zxt78", "--password", "zxt78-password"}).code, 0);
  const std::int64_t uid2 = Get("/v1/accounts/zxt78")["uid"];
  const std::string u2 = std::to_string(uid2);

  QimRun got = Qim({"account", "get", "zxt77"});
  EXPECT_EQ(got.code, 0) << got.output;
  EXPECT_NE(got.output.find("UID"), std::string::npos) << got.output;  // a table
  EXPECT_NE(got.output.find(u), std::string::npos);
  QimRun list = Qim({"account", "list", "--search", "zxt"});
  EXPECT_EQ(list.code, 0);
  EXPECT_NE(list.output.find("zxt78"), std::string::npos) << list.output;

  QimRun token = Qim({"token", u});
  EXPECT_EQ(token.code, 0) << token.output;
  EXPECT_NE(token.output.find("86400s"), std::string::npos) << token.output;
  const std::vector<std::string> token_row = RowOf(token.output, u);
  ASSERT_EQ(token_row.size(), 3u) << token.output;
  EXPECT_EQ(CheckToken(uid, token_row[1]), auth::TokenCheck::kValid);
  EXPECT_EQ(Qim({"revoke", u}).code, 0);
  EXPECT_EQ(CheckToken(uid, token_row[1]), auth::TokenCheck::kInvalid);
  QimRun by_uid = Qim({"account", "get", "--uid", u});
  EXPECT_EQ(by_uid.code, 0) << by_uid.output;
  EXPECT_EQ(RowOf(by_uid.output, u), (std::vector<std::string>{u, "zxt77", "no"})) << by_uid.output;

  QimRun group = Qim({"group", "create", "ops", "--owner", u, "--members", u + "," + u2});
  ASSERT_EQ(group.code, 0) << group.output;
  // The gid is in the table; find it through its known range.
  const auto at = group.output.find("\n900");
  ASSERT_NE(at, std::string::npos) << group.output;
  const std::string gid = group.output.substr(at + 1, group.output.find(' ', at) - at - 1);
  EXPECT_EQ(Get("/v1/groups/" + gid)["members"], json({uid, uid2}));

  ASSERT_EQ(Qim({"account", "create", "zxt79", "--password", "zxt79-password"}).code, 0);
  const std::int64_t uid3 = Get("/v1/accounts/zxt79")["uid"];
  QimRun add = Qim({"group", "add-member", gid, std::to_string(uid3)});
  EXPECT_EQ(add.code, 0) << add.output;
  EXPECT_EQ(Get("/v1/groups/" + gid)["members"], json({uid, uid2, uid3}));
  EXPECT_EQ(Qim({"group", "remove-member", gid, u2}).code, 0);
  EXPECT_EQ(Get("/v1/groups/" + gid)["members"], json({uid, uid3}));
  EXPECT_EQ(Qim({"group", "mute", gid, "--uid", u}).code, 0);
  EXPECT_EQ(Get("/v1/groups/" + gid)["muted_members"], json({uid}));
  EXPECT_EQ(Qim({"group", "mute", gid}).code, 0);
  EXPECT_EQ(Get("/v1/groups/" + gid)["muted"], true);

  // Node 1's admin endpoint is admin_qim's own: /healthz answers, /metrics has no connection count.
  const std::string admin_endpoint = "127.0.0.1:" + std::to_string(admin_->admin_port());
  QimRun node = Qim({"node", "add", "--address", "127.0.0.1", "--tcp-port", std::to_string(admin_->http_port()),
                     "--udp-port", "21985", "--type", "notify", "--weight", "70", "--admin", admin_endpoint});
  ASSERT_EQ(node.code, 0) << node.output;
  ASSERT_EQ(Qim({"node", "add", "--address", "127.0.0.1", "--tcp-port", "1", "--type", "sync"}).code, 0);
  json nodes = Get("/v1/nodes")["confgiinfo"]["node_array"];
  ASSERT_EQ(nodes.size(), 2u) << nodes;
  EXPECT_EQ(nodes[0]["weight"], 70);
  EXPECT_EQ(nodes[0]["server_type"], 1);
  EXPECT_EQ(nodes[1]["server_type"], 2);
  const std::string node_id = std::to_string(nodes[1]["id"].get<std::int64_t>());
  EXPECT_FALSE(nodes[0].contains("admin_endpoint"));  // operators' business, not SDKs'
  QimRun listed = Qim({"node", "list"});
  EXPECT_EQ(listed.code, 0);
  EXPECT_NE(listed.output.find("DISABLED"), std::string::npos) << listed.output;
  EXPECT_EQ(RowOf(listed.output, "1").back(), admin_endpoint) << listed.output;
  const std::int64_t before = Get("/v1/nodes")["confgiinfo_timestamp"];
  QimRun disabled = Qim({"node", "disable", node_id});
  EXPECT_EQ(disabled.code, 0) << disabled.output;
  EXPECT_EQ(Get("/v1/nodes")["confgiinfo"]["node_array"][1]["disabled"], 1);
  EXPECT_GT(Get("/v1/nodes")["confgiinfo_timestamp"].get<std::int64_t>(), before);  // SDKs see a change
  EXPECT_EQ(Qim({"node", "enable", node_id}).code, 0);
  EXPECT_EQ(Get("/v1/nodes")["confgiinfo"]["node_array"][1]["disabled"], 0);
  EXPECT_EQ(Qim({"node", "disable", node_id}).code, 0);

  // stats: node 1 is checked by its /healthz, node 2 (no admin endpoint,
  // nothing listening) by a TCP probe. Without route_server the online
  // counts are unknown, and stats says why.
  QimRun stats = Qim({"stats"});
  ASSERT_EQ(stats.code, 0) << stats.output;
  EXPECT_NE(stats.output.find("accounts: 3"), std::string::npos) << stats.output;
  EXPECT_NE(stats.output.find("groups: 1"), std::string::npos) << stats.output;
  const auto row1 = RowOf(stats.output, "1");
  ASSERT_GE(row1.size(), 7u) << stats.output;
  EXPECT_EQ(std::vector<std::string>(row1.begin(), row1.begin() + 7),
            (std::vector<std::string>{"1", "notify", "127.0.0.1:" + std::to_string(admin_->http_port()), "no", "yes",
                                      "healthz", "-"}))
      << stats.output;
  EXPECT_NE(stats.output.find("/metrics has no im_notify_state"), std::string::npos) << stats.output;
  const auto row2 = RowOf(stats.output, "2");
  ASSERT_GE(row2.size(), 7u) << stats.output;
  EXPECT_EQ(std::vector<std::string>(row2.begin(), row2.begin() + 7),
            (std::vector<std::string>{"2", "sync", "127.0.0.1:1", "yes", "no", "tcp", "-"}))
      << stats.output;
  EXPECT_NE(stats.output.find("online users: unknown (online totals need route_server"), std::string::npos)
      << stats.output;

  EXPECT_EQ(Qim({"friend", u, u2}).code, 0);
  EXPECT_EQ(Qim({"block", u2, u}).code, 0);

  QimRun ban = Qim({"ban", u});
  EXPECT_EQ(ban.code, 0) << ban.output;
  EXPECT_EQ(Get("/v1/accounts/zxt77")["banned"], true);
  HttpResult login = Http(admin_->http_port(), "POST", "/v1/tokens",
                          json{{"no", "zxt77"}, {"password", "zxt77-password"}}.dump(), "");
  EXPECT_EQ(login.status, 403) << login.body;
  EXPECT_EQ(Qim({"unban", u}).code, 0);
  EXPECT_EQ(Get("/v1/accounts/zxt77")["banned"], false);

  QimRun shown = Qim({"group", "get", gid});
  EXPECT_EQ(RowOf(shown.output, gid),
            (std::vector<std::string>{gid, "ops", u, "yes", u + "," + std::to_string(uid3)}))
      << shown.output;
  EXPECT_EQ(Qim({"group", "delete", gid}).code, 0);
  EXPECT_EQ(Http(admin_->http_port(), "GET", "/v1/groups/" + gid).status, 404);

  // Every write is in the audit log, attributed to the gRPC caller; no password.
  const std::string log = testing::ReadFile(admin_->log_path());
  for (const char* action : {"action=account.create no=zxt77", "action=token.issue uid=", "action=group.create",
                             "action=group.add_members", "action=node.add", "action=node.disable", "action=ban",
                             "action=unban", "action=group.delete", "action=friend.add", "action=block"}) {
    EXPECT_NE(log.find(action), std::string::npos) << action;
  }
  EXPECT_NE(log.find("audit who=grpc-admin@"), std::string::npos);
  EXPECT_EQ(log.find("zxt77-password"), std::string::npos);
}

TEST_F(QimConsoleTest, ErrorsSayWhatToDo) {
  QimRun dup = Qim({"account", "create", "dupe1", "--password", "dupe1-password"});
  ASSERT_EQ(dup.code, 0) << dup.output;
  dup = Qim({"account", "create", "dupe1", "--password", "dupe1-password"});
  EXPECT_EQ(dup.code, 1);
  EXPECT_NE(dup.output.find("already exists"), std::string::npos) << dup.output;

  QimRun missing = Qim({"account", "get", "no-such-account"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.output.find("not found"), std::string::npos) << missing.output;

  std::string out;
  EXPECT_EQ(im::testing::RunCommand({QIM_BIN, "--endpoint", admin_->grpc_endpoint(), "--secret", "wrong-secret",
                                     "account", "get", "dupe1"},
                                    &out),
            1);
  EXPECT_NE(out.find("unauthenticated"), std::string::npos) << out;
  EXPECT_NE(out.find("QIM_SECRET"), std::string::npos) << out;

  EXPECT_EQ(im::testing::RunCommand({"env", "-u", "QIM_SECRET", "HOME=/nonexistent", QIM_BIN, "--endpoint",
                                     admin_->grpc_endpoint(), "node", "list"},
                                    &out),
            2);
  EXPECT_NE(out.find("no admin secret"), std::string::npos) << out;

  const std::string nowhere = "127.0.0.1:" + std::to_string(im::testing::PickFreePort());
  EXPECT_EQ(im::testing::RunCommand({QIM_BIN, "--endpoint", nowhere, "--secret", "x", "--timeout-ms", "1000", "node",
                                     "list"},
                                    &out),
            1);
  EXPECT_NE(out.find(nowhere), std::string::npos) << out;

  EXPECT_EQ(Qim({"group", "add-member", "123456", "2"}).code, 1);
  EXPECT_EQ(Qim({"account", "create"}).code, 2);  // usage
  EXPECT_EQ(Qim({"frobnicate"}).code, 2);
}

TEST_F(QimConsoleTest, SystemMessagesAndOnlineStatusNeedTheirDaemons) {
  ASSERT_EQ(Qim({"account", "create", "lonely", "--password", "lonely-password"}).code, 0);
  const std::string uid = std::to_string(Get("/v1/accounts/lonely")["uid"].get<std::int64_t>());
  QimRun send = Qim({"send", "--to", uid, "hello from ops"});
  EXPECT_EQ(send.code, 1);
  EXPECT_NE(send.output.find("unavailable"), std::string::npos) << send.output;
  EXPECT_NE(send.output.find("access.address"), std::string::npos) << send.output;
  QimRun online = Qim({"online", uid});
  EXPECT_EQ(online.code, 1);
  EXPECT_NE(online.output.find("route.addresses"), std::string::npos) << online.output;
}

TEST_F(QimConsoleTest, ConfiguredButUnreachableDaemonsAreUnavailable) {
  const std::string dead = "127.0.0.1:" + std::to_string(im::testing::PickFreePort());
  auto admin = AdminProcess::Start(*db_, *redis_, dir_->path(),
                                   {"--access.address", dead, "--route.addresses", dead, "--cluster.rpc_timeout_ms",
                                    "500"});
  ASSERT_TRUE(admin.ok()) << admin.status();
  std::string out;
  const std::vector<std::string> base = {QIM_BIN, "--endpoint", (*admin)->grpc_endpoint(), "--secret",
                                         testing::kSecret};
  auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  EXPECT_EQ(im::testing::RunCommand(with({"send", "--group", "9001", "hi"}), &out), 1);
  EXPECT_NE(out.find("access_server at " + dead + " cannot be reached"), std::string::npos) << out;
  EXPECT_EQ(im::testing::RunCommand(with({"online", "2"}), &out), 1);
  EXPECT_NE(out.find("route_server at " + dead + " cannot be reached"), std::string::npos) << out;
}

TEST_F(QimConsoleTest, ReadsCommandsLineByLineFromAPipe) {
  const std::string script =
      "account create piped1 --password piped1-password\n"
      "# a comment\n"
      "\n"
      "account get piped1\n"
      "node list\n"
      "quit\n"
      "account create never --password never-password\n";
  std::string out;
  const int code = im::testing::RunCommand(
      {"sh", "-c", "printf '%s' \"$1\" | \"$0\" --endpoint \"$2\" --secret \"$3\"", QIM_BIN, script,
       admin_->grpc_endpoint(), testing::kSecret},
      &out);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("piped1"), std::string::npos) << out;
  EXPECT_EQ(Http(admin_->http_port(), "GET", "/v1/accounts/piped1").status, 200);
  EXPECT_EQ(Http(admin_->http_port(), "GET", "/v1/accounts/never").status, 404);  // after quit

  // A failing line makes the piped session exit non-zero, and later lines still run.
  const int failed = im::testing::RunCommand(
      {"sh", "-c", "printf '%s' \"$1\" | QIM_ENDPOINT=\"$2\" QIM_SECRET=\"$3\" \"$0\"", QIM_BIN,
       "account get nobody-at-all\naccount create piped2 --password piped2-password\n", admin_->grpc_endpoint(),
       testing::kSecret},
      &out);
  EXPECT_EQ(failed, 1) << out;
  EXPECT_EQ(Http(admin_->http_port(), "GET", "/v1/accounts/piped2").status, 200);
}

// qim on a pseudo-terminal, as a person would run it.
class PtyQim {
 public:
  PtyQim(const std::vector<std::string>& argv, const std::string& history_file) {
    pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      setenv("QIM_HISTORY", history_file.c_str(), 1);
      setenv("TERM", "dumb", 1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~PtyQim() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }
  bool started() const { return pid_ > 0; }
  // Types once qim waits for a key: its main thread is blocked in read() on
  // the terminal (fd 0). Keys typed while the line editor is still setting up
  // the terminal can be echoed by the line discipline or flushed away.
  void Type(const std::string& keys) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    const std::string syscall_file = "/proc/" + std::to_string(pid_) + "/syscall";
    for (;;) {
      std::ifstream in(syscall_file);
      std::string nr, fd;
      in >> nr >> fd;
      if ((nr == "0" && fd == "0x0") || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }
  // Reads until `text` has appeared in the output since the last match, or 10 s pass.
  bool WaitFor(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto at = screen_.find(text, consumed_); at != std::string::npos) {
        consumed_ = at + text.size();
        return true;
      }
      pollfd p{master_, POLLIN, 0};
      if (poll(&p, 1, 100) != 1) continue;
      char buf[4096];
      const ssize_t n = read(master_, buf, sizeof buf);
      if (n <= 0) return false;
      screen_.append(buf, static_cast<std::size_t>(n));
    }
    return false;
  }
  // The exit code, or -1 when qim does not exit within 10 s.
  int Wait() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      // Drain the output so qim never blocks writing it; EIO once it closed the terminal.
      char buf[4096];
      pollfd p{master_, POLLIN, 0};
      if (poll(&p, 1, 20) == 1 && read(master_, buf, sizeof buf) > 0) continue;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  const std::string& screen() const { return screen_; }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string screen_;
  std::size_t consumed_ = 0;
};

TEST_F(QimConsoleTest, PromptCompletesCommandsAndKeepsHistory) {
  const std::string history = dir_->path() + "/qim_history";
  std::remove(history.c_str());
  {
    PtyQim qim({QIM_BIN, "--endpoint", admin_->grpc_endpoint(), "--secret", testing::kSecret}, history);
    ASSERT_TRUE(qim.started());
    ASSERT_TRUE(qim.WaitFor("qim> ")) << qim.screen();
    // Tab completes the command and its subcommand; the completed line runs.
    qim.Type("no\t");
    ASSERT_TRUE(qim.WaitFor("node ")) << qim.screen();
    qim.Type("li\t");
    ASSERT_TRUE(qim.WaitFor("list")) << qim.screen();
    qim.Type("\n");
    EXPECT_TRUE(qim.WaitFor("DISABLED")) << qim.screen();  // the node table's header
    ASSERT_TRUE(qim.WaitFor("qim> ")) << qim.screen();
    qim.Type("account create ptyuser --password ptyuser-pass\n");
    ASSERT_TRUE(qim.WaitFor("qim> ")) << qim.screen();
    qim.Type("account get ptyuser\n");
    ASSERT_TRUE(qim.WaitFor("qim> ")) << qim.screen();
    qim.Type("quit\n");
    EXPECT_EQ(qim.Wait(), 0) << qim.screen();
  }
  EXPECT_EQ(Http(admin_->http_port(), "GET", "/v1/accounts/ptyuser").status, 200);
  // Both lines are in the history file (libedit escapes spaces as \040).
  std::ifstream in(history);
  std::stringstream saved;
  saved << in.rdbuf();
  std::string text = saved.str();
  for (std::size_t at; (at = text.find("\\040")) != std::string::npos;) text.replace(at, 4, " ");
  EXPECT_NE(text.find("node list"), std::string::npos) << text;
  EXPECT_NE(text.find("account get ptyuser"), std::string::npos) << text;
  EXPECT_EQ(text.find("ptyuser-pass"), std::string::npos) << text;  // lines with a password are not kept
  struct stat st {};
  ASSERT_EQ(stat(history.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A new session starts with that history: Ctrl-P (previous line) walks back through it.
  PtyQim again({QIM_BIN, "--endpoint", admin_->grpc_endpoint(), "--secret", testing::kSecret}, history);
  ASSERT_TRUE(again.WaitFor("qim> ")) << again.screen();
  again.Type("\x10");  // "quit", the last line
  EXPECT_TRUE(again.WaitFor("quit")) << again.screen();
  again.Type("\x10");
  EXPECT_TRUE(again.WaitFor("account get ptyuser")) << again.screen();
  again.Type("\x15quit\n");  // Ctrl-U clears the line
  EXPECT_EQ(again.Wait(), 0) << again.screen();
}

TEST_F(QimConsoleTest, ReadsEndpointAndSecretFromConfigFile) {
  const std::string config = dir_->path() + "/qim.toml";
  {
    FILE* f = fopen(config.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fprintf(f, "endpoint = \"%s\"\nsecret = \"%s\"\n", admin_->grpc_endpoint().c_str(), testing::kSecret);
    fclose(f);
  }
  std::string out;
  EXPECT_EQ(im::testing::RunCommand({"env", "-u", "QIM_SECRET", "-u", "QIM_ENDPOINT", "QIM_CONFIG=" + config, QIM_BIN,
                                     "node", "list"},
                                    &out),
            0)
      << out;
  EXPECT_EQ(im::testing::RunCommand({QIM_BIN, "--config", dir_->path() + "/missing.toml", "node", "list"}, &out), 2);
  EXPECT_NE(out.find("missing.toml"), std::string::npos) << out;
}

}  // namespace
}  // namespace im::admin
