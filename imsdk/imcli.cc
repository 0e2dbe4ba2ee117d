#include "imsdk/imcli.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "imsdk/imsdk.h"

namespace im::sdk {
namespace {

using Json = nlohmann::json;

class Cli {
 public:
  explicit Cli(bool script) : script_(script) {}

  void Print(const Json& event, const std::string& human) {
    std::lock_guard<std::mutex> lock(out_mu_);
    if (script_) {
      std::cout << event.dump(-1, ' ', false, Json::error_handler_t::replace) << std::endl;
    } else {
      std::cout << human << std::endl;
    }
  }

  static std::string Clock(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    return buf;
  }

  void OnMessage(const Message& m) {
    Json e = {{"event", "message"}, {"group", m.group_id}, {"from", m.from_uid},
              {"to", m.to_uid},     {"offset", m.offset},  {"msgid", m.msgid},
              {"time", m.timestamp}, {"type", m.msg_type}, {"content", m.content}};
    std::ostringstream h;
    h << "[" << Clock(m.timestamp) << "] ";
    if (m.group_id != 0) h << "group " << m.group_id << " ";
    h << m.from_uid << " -> " << (m.group_id != 0 ? m.group_id : m.to_uid) << " #" << m.offset
      << ": " << m.content;
    Print(e, h.str());
  }

  void OnSent(const SendResult& r) {
    Json e = {{"event", "sent"}, {"msgid", r.msgid}, {"app_id", r.app_msg_id},
              {"to", r.to},      {"group", r.is_group}, {"code", r.code},
              {"offset", r.offset}};
    if (!r.desp.empty()) e["desp"] = r.desp;
    std::ostringstream h;
    h << "(sent #" << r.msgid << " to " << r.to << ": code " << r.code;
    if (r.code == 200) h << ", offset " << r.offset;
    h << ")";
    Print(e, h.str());
    {
      std::lock_guard<std::mutex> lock(mu_);
      outstanding_.erase(r.msgid);
    }
    cv_.notify_all();
  }

  void OnState(State s, int code, const std::string& desp) {
    Json e = {{"event", "state"}, {"state", StateName(s)}};
    if (code != 0) e["code"] = code;
    if (!desp.empty()) e["desp"] = desp;
    std::string human = std::string("(") + StateName(s) + (code ? " " + std::to_string(code) : "") +
                        (desp.empty() ? "" : ": " + desp) + ")";
    Print(e, human);
    {
      std::lock_guard<std::mutex> lock(mu_);
      state_ = s;
    }
    cv_.notify_all();
  }

  bool WaitState(State want, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return state_ == want || state_ == State::kAuthFailed; }) &&
           state_ == want;
  }

  /// Runs `send` and records its msgid, under the lock OnSent takes, so an
  /// answer arriving before `send` returns is not missed.
  std::int32_t Send(const std::function<std::int32_t()>& send) {
    std::lock_guard<std::mutex> lock(mu_);
    std::int32_t msgid = send();
    if (msgid > 0) outstanding_.insert(msgid);
    return msgid;
  }

  bool WaitSends(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return outstanding_.empty(); });
  }

  void ResetState() {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = State::kConnecting;
    outstanding_.clear();
  }

  bool script() const { return script_; }

 private:
  bool script_;
  std::mutex out_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::kStopped;
  std::set<std::int32_t> outstanding_;
};

void Error(Cli& cli, const std::string& desp) {
  cli.Print(Json{{"event", "error"}, {"desp", desp}}, "error: " + desp);
}

}  // namespace

int RunImcli(int argc, char** argv) {
  CLI::App app{"imcli: a chat client on imsdk"};
  std::string admin, notify, sync, no, password, token, state_dir;
  std::int64_t uid = 0;
  std::int64_t device_id = 0;
  bool script = false;
  int heartbeat_ms = 30000;
  int wait_ms = 10000;
  app.add_option("--admin", admin, "admin_qim base URL (discovery + tokens), http://host:port");
  app.add_option("--notify", notify, "notify_server host:port (bypasses discovery, with --sync)");
  app.add_option("--sync", sync, "sync_server host:port (bypasses discovery, with --notify)");
  app.add_option("--no", no, "account number (token via admin_qim)");
  app.add_option("--password", password, "account password");
  app.add_option("--uid", uid, "uid (with --token)");
  app.add_option("--token", token, "login token (with --uid)");
  app.add_option("--state-dir", state_dir, "directory of the local store (default: in memory)");
  app.add_option("--device-id", device_id, "device id (default: generated, kept in the store)");
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval in ms");
  app.add_option("--wait-ms", wait_ms, "script mode: how long to wait for login and send answers");
  app.add_flag("--script", script, "read commands from stdin, print one JSON object per line");
  CLI11_PARSE(app, argc, argv);

  if ((notify.empty() != sync.empty())) {
    std::cerr << "imcli: --notify and --sync go together\n";
    return 2;
  }
  if (admin.empty() && notify.empty()) {
    std::cerr << "imcli: give --admin, or --notify and --sync\n";
    return 2;
  }
  bool by_token = uid > 0 && !token.empty();
  if (!by_token && no.empty()) {
    std::cerr << "imcli: give --no and --password, or --uid and --token\n";
    return 2;
  }
  if (!by_token && admin.empty()) {
    std::cerr << "imcli: --no needs --admin to get a token\n";
    return 2;
  }

  Cli cli(script);
  Options options;
  options.admin_url = admin;
  options.notify_addr = notify;
  options.sync_addr = sync;
  options.state_dir = state_dir;
  options.device_id = device_id;
  options.heartbeat_interval_ms = heartbeat_ms;
  options.client_version = "imcli/1.0";
  Callbacks callbacks;
  callbacks.on_message = [&cli](const Message& m) { cli.OnMessage(m); };
  callbacks.on_send_result = [&cli](const SendResult& r) { cli.OnSent(r); };
  ImSdk* sdk_for_state = nullptr;  // set below, before Startup(); callbacks start after it
  callbacks.on_state = [&cli, &sdk_for_state](State s, int code, const std::string& desp) {
    // People need their uid to be reached: say it when online.
    const bool online = s == State::kOnline && sdk_for_state != nullptr;
    cli.OnState(s, code, online ? "uid " + std::to_string(sdk_for_state->uid()) : desp);
  };
  callbacks.on_log = [](LogLevel level, const std::string& line) {
    if (level >= LogLevel::kWarn) std::cerr << "imsdk: " << line << "\n";
  };
  ImSdk sdk(options, callbacks);
  sdk_for_state = &sdk;
  if (by_token) {
    sdk.SetToken(uid, token);
  } else {
    sdk.SetAccount(no, password);
  }
  sdk.Startup();
  const auto wait = std::chrono::milliseconds(wait_ms);
  // Script mode: wait until logged in and caught up, so output is deterministic.
  auto wait_synced = [&] {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (!sdk.synced() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return sdk.synced();
  };
  if (script && !cli.WaitState(State::kOnline, wait)) {
    Error(cli, "not online after " + std::to_string(wait_ms) + " ms");
    return 1;
  }
  if (script) wait_synced();
  std::int64_t app_id = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    std::string rest;
    std::getline(in, rest);
    auto trim = [](std::string s) {
      std::size_t b = s.find_first_not_of(' ');
      return b == std::string::npos ? std::string() : s.substr(b);
    };
    if (cmd == "/to" || cmd == "/group") {
      std::istringstream args(rest);
      std::int64_t target = 0;
      args >> target;
      std::string text;
      std::getline(args, text);
      text = trim(text);
      if (target <= 0 || text.empty()) {
        Error(cli, "usage: " + cmd + " <id> <text>");
        continue;
      }
      std::int32_t msgid = cli.Send([&] {
        return cmd == "/to" ? sdk.SendPeerMsg(++app_id, target, 0, text)
                            : sdk.SendGroupMsg(++app_id, target, 0, text);
      });
      if (msgid <= 0) {
        Error(cli, "send refused: " + std::to_string(msgid));
        continue;
      }
    } else if (cmd == "/history") {
      std::istringstream args(rest);
      std::int64_t gid = 0;
      int n = 20;
      args >> gid >> n;
      for (const Message& m : sdk.History(gid, n)) {
        Json e = {{"event", "history"}, {"group", m.group_id}, {"from", m.from_uid},
                  {"to", m.to_uid},     {"offset", m.offset},  {"time", m.timestamp},
                  {"content", m.content}};
        cli.Print(e, "  [" + Cli::Clock(m.timestamp) + "] " + std::to_string(m.from_uid) + " #" +
                         std::to_string(m.offset) + ": " + m.content);
      }
    } else if (cmd == "/offsets") {
      Json offs = Json::object();
      std::string human = "offsets:";
      for (const auto& [gid, off] : sdk.Offsets()) {
        offs[std::to_string(gid)] = off;
        human += " " + std::to_string(gid) + "=" + std::to_string(off);
      }
      cli.Print(Json{{"event", "offsets"}, {"uid", sdk.uid()}, {"offsets", offs}}, human);
    } else if (cmd == "/switch") {
      std::istringstream args(rest);
      std::string new_no, new_password;
      args >> new_no >> new_password;
      if (new_no.empty()) {
        Error(cli, "usage: /switch <no> [password]");
        continue;
      }
      cli.ResetState();
      sdk.ChangeNo(new_no, new_password.empty() ? password : new_password, 0);
      if (script && !cli.WaitState(State::kOnline, wait)) Error(cli, "not online after switch");
      if (script) wait_synced();
    } else if (cmd == "/ack") {
      std::istringstream args(rest);
      std::int64_t gid = -1, off = -1;
      args >> gid >> off;
      if (gid < 0 || off < 0) {
        Error(cli, "usage: /ack <gid> <offset>");
        continue;
      }
      sdk.AckGroupOffset(gid, off);
    } else if (cmd == "/sleep") {
      int ms = std::atoi(trim(rest).c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    } else if (cmd == "/wait") {
      // Waits until every send of this session has its answer.
      if (!cli.WaitSends(wait)) Error(cli, "sends still unanswered");
      wait_synced();
    } else if (cmd == "/quit") {
      break;
    } else if (cmd == "/help") {
      cli.Print(Json{{"event", "help"}},
                "/to <uid> <text>, /group <gid> <text>, /history [gid] [n], /offsets, "
                "/switch <no> [password], /ack <gid> <offset>, /wait, /sleep <ms>, /quit");
    } else {
      Error(cli, "unknown command: " + cmd);
    }
  }
  cli.WaitSends(wait);
  if (script) wait_synced();
  return 0;
}

}  // namespace im::sdk
