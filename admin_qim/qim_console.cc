#include "admin_qim/qim_console.h"

#include <editline/readline.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <toml++/toml.h>
#include <vector>

#include "common/rpc/grpc_util.h"
#include "common/rpc/tls.h"
#include "proto/admin.grpc.pb.h"

namespace im::qim {
namespace {

constexpr char kDefaultEndpoint[] = "127.0.0.1:50081";

struct Settings {
  std::string endpoint;
  std::string secret;
  std::string config_file;
  int timeout_ms = 5000;
  rpc::TlsOptions tls;  // admin_qim's gRPC with [tls] on: this console's certificate and the CA
};

// Fills what flags left empty from the environment, then from the config file.
// Returns "" or an error a person can act on.
std::string ResolveSettings(Settings* s) {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (s->endpoint.empty()) s->endpoint = env("QIM_ENDPOINT");
  if (s->secret.empty()) s->secret = env("QIM_SECRET");
  if (s->tls.cert_file.empty()) s->tls.cert_file = env("QIM_TLS_CERT");
  if (s->tls.key_file.empty()) s->tls.key_file = env("QIM_TLS_KEY");
  if (s->tls.ca_file.empty()) s->tls.ca_file = env("QIM_TLS_CA");
  std::string file = s->config_file;
  bool explicit_file = !file.empty();
  if (file.empty()) {
    file = env("QIM_CONFIG");
    explicit_file = !file.empty();
  }
  if (file.empty() && !env("HOME").empty()) file = env("HOME") + "/.config/qim/config.toml";
  if (!file.empty() && (s->endpoint.empty() || s->secret.empty())) {
    if (access(file.c_str(), R_OK) == 0) {
      try {
        toml::table t = toml::parse_file(file);
        if (s->endpoint.empty()) s->endpoint = t["endpoint"].value_or(std::string());
        if (s->secret.empty()) s->secret = t["secret"].value_or(std::string());
      } catch (const toml::parse_error& e) {
        return "cannot read config file " + file + ": " + std::string(e.description());
      }
    } else if (explicit_file) {
      return "cannot read config file " + file;
    }
  }
  if (s->endpoint.empty()) s->endpoint = kDefaultEndpoint;
  if (s->tls.enabled() && (s->tls.key_file.empty() || s->tls.ca_file.empty())) {
    return "--tls-cert needs --tls-key and --tls-ca (env QIM_TLS_KEY, QIM_TLS_CA)";
  }
  if (absl::Status tls = rpc::InstallTls(s->tls); !tls.ok()) return std::string(tls.message());
  if (s->secret.empty()) {
    return "no admin secret: pass --secret, set QIM_SECRET, or put secret = \"...\" in " +
           (file.empty() ? std::string("~/.config/qim/config.toml") : file);
  }
  return "";
}

// ---- output ----

using Row = std::vector<std::string>;

void PrintTable(std::ostream& out, const Row& header, const std::vector<Row>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const Row& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  auto line = [&](const Row& r) {
    std::string text;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < r.size() ? r[i] : "";
      text += cell;
      if (i + 1 < width.size()) text += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << "\n";
  };
  line(header);
  Row rule;
  for (std::size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const Row& r : rows) line(r);
}

std::string Str(std::int64_t v) { return std::to_string(v); }
std::string YesNo(bool b) { return b ? "yes" : "no"; }
std::string ServerType(int t) { return t == 1 ? "notify" : t == 2 ? "sync" : Str(t); }

std::string JoinIds(const google::protobuf::RepeatedField<std::int64_t>& ids) {
  std::string out;
  for (int i = 0; i < ids.size(); ++i) out += (i ? "," : "") + Str(ids[i]);
  return out;
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT: return "invalid argument";
    case grpc::StatusCode::NOT_FOUND: return "not found";
    case grpc::StatusCode::ALREADY_EXISTS: return "already exists";
    case grpc::StatusCode::PERMISSION_DENIED: return "permission denied";
    case grpc::StatusCode::UNAUTHENTICATED: return "unauthenticated";
    case grpc::StatusCode::UNAVAILABLE: return "unavailable";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "timed out";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "rate limited";
    default: return "error " + std::to_string(static_cast<int>(code));
  }
}

// ---- the console ----

class Console {
 public:
  Console(Settings settings, std::ostream& out, std::ostream& err)
      : settings_(std::move(settings)), out_(out), err_(err) {}

  // Runs one call: returns 0, or 1 after printing why it failed.
  template <typename Request, typename Reply, typename Method>
  int Call(const char* what, Method method, const Request& request, Reply* reply) {
    if (!stub_) stub_ = rpc::AdminService::NewStub(rpc::MakeChannel(settings_.endpoint));
    grpc::ClientContext ctx;
    ctx.set_deadline(rpc::DeadlineAfter(settings_.timeout_ms));
    ctx.AddMetadata("authorization", "Bearer " + settings_.secret);
    grpc::Status status = ((*stub_).*method)(&ctx, request, reply);
    if (status.ok()) return 0;
    err_ << "qim: " << what << " failed: " << CodeName(status.error_code()) << ": " << status.error_message() << "\n";
    switch (status.error_code()) {
      case grpc::StatusCode::UNAUTHENTICATED:
        err_ << "  hint: admin_qim refused the admin secret; pass --secret or set QIM_SECRET (auth.admin_secret "
                "in admin_qim's config)\n";
        break;
      case grpc::StatusCode::UNAVAILABLE:
        if (status.error_message().find("admin_qim") == std::string::npos &&
            status.error_message().find("connect") != std::string::npos) {
          err_ << "  hint: is admin_qim running at " << settings_.endpoint
               << "? pass --endpoint or set QIM_ENDPOINT\n";
        }
        break;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        err_ << "  hint: admin_qim at " << settings_.endpoint << " did not answer within " << settings_.timeout_ms
             << " ms (--timeout-ms)\n";
        break;
      default:
        break;
    }
    return 1;
  }

  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const Settings& settings() const { return settings_; }

 private:
  Settings settings_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<rpc::AdminService::Stub> stub_;
};

using Stub = rpc::AdminService::Stub;

void PrintAccounts(Console& c, const std::vector<const rpc::Account*>& accounts) {
  std::vector<Row> rows;
  for (const auto* a : accounts) rows.push_back({Str(a->uid()), a->no(), YesNo(a->banned())});
  PrintTable(c.out(), {"UID", "NO", "BANNED"}, rows);
}

void PrintGroup(Console& c, const rpc::Group& g) {
  PrintTable(c.out(), {"GID", "NAME", "OWNER", "MUTED", "MEMBERS"},
             {{Str(g.gid()), g.name(), Str(g.owner()), YesNo(g.muted()), JoinIds(g.members())}});
}

void PrintNodes(Console& c, const rpc::NodeList& list) {
  std::vector<Row> rows;
  for (const auto& n : list.nodes()) {
    rows.push_back({Str(n.id()), ServerType(n.server_type()), n.address(), Str(n.tcp_port()), Str(n.udp_port()),
                    Str(n.weight()), n.tcp_protocol(), YesNo(n.disabled()),
                    n.admin_endpoint().empty() ? "-" : n.admin_endpoint()});
  }
  PrintTable(c.out(), {"ID", "TYPE", "ADDRESS", "TCP", "UDP", "WEIGHT", "PROTOCOL", "DISABLED", "ADMIN"}, rows);
}

// Every command: its options live here while the app parses one command line.
struct Commands {
  CLI::App app{"qim: operators' console for admin_qim (gRPC AdminService)", "qim"};
  std::function<int(Console&)> action;  // set by the chosen subcommand

  std::string no, password, search, name, text, address, protocol, admin_endpoint, type = "notify";
  std::int64_t uid = 0, other = 0, gid = 0, owner = 0, after = 0, node_id = 0;
  int limit = 100, tcp_port = 0, udp_port = 0, weight = 100, msg_type = 0;
  bool off = false, disabled = false, quit = false;
  std::vector<std::int64_t> members, uids;

  explicit Commands(Settings* settings) {
    app.require_subcommand(0, 1);
    if (settings != nullptr) {
      app.add_option("--endpoint", settings->endpoint, "admin_qim gRPC address host:port (env QIM_ENDPOINT)");
      app.add_option("--secret", settings->secret, "admin secret (env QIM_SECRET)");
      app.add_option("--config", settings->config_file,
                     "config file with endpoint/secret (env QIM_CONFIG; default ~/.config/qim/config.toml)");
      app.add_option("--timeout-ms", settings->timeout_ms, "deadline of each call")->check(CLI::Range(1, 600000));
      app.add_option("--tls-cert", settings->tls.cert_file,
                     "PEM client certificate when admin_qim's gRPC uses TLS ([tls]; env QIM_TLS_CERT)");
      app.add_option("--tls-key", settings->tls.key_file, "PEM key of --tls-cert (env QIM_TLS_KEY)");
      app.add_option("--tls-ca", settings->tls.ca_file, "PEM CA that admin_qim's certificate chains to (env QIM_TLS_CA)");
    }
    AddAccount();
    AddUserCommands();
    AddGroup();
    AddNode();
    AddMisc();
  }

  void AddAccount() {
    auto* account = app.add_subcommand("account", "accounts: create, get, list")->require_subcommand(1);
    auto* create = account->add_subcommand("create", "create an account");
    create->add_option("no", no, "account number (1-32 of letters, digits, _ . @ -)")->required();
    create->add_option("--password", password, "password (6-128 bytes)")->required();
    create->callback([this] {
      action = [this](Console& c) {
        rpc::CreateAccountRequest req;
        req.set_no(no);
        req.set_password(password);
        rpc::Account reply;
        if (int rc = c.Call("account create", &Stub::CreateAccount, req, &reply)) return rc;
        PrintAccounts(c, {&reply});
        return 0;
      };
    });
    auto* get = account->add_subcommand("get", "show one account by number (or --uid)");
    get->add_option("no", no, "account number");
    get->add_option("--uid", uid, "look up by uid instead");
    get->callback([this] {
      action = [this](Console& c) {
        if (no.empty() && uid == 0) {
          c.err() << "qim: account get needs an account number or --uid\n";
          return 2;
        }
        rpc::GetAccountRequest req;
        req.set_no(no);
        req.set_uid(uid);
        rpc::Account reply;
        if (int rc = c.Call("account get", &Stub::GetAccount, req, &reply)) return rc;
        PrintAccounts(c, {&reply});
        return 0;
      };
    });
    auto* list = account->add_subcommand("list", "list accounts");
    list->add_option("--search", search, "substring of the account number");
    list->add_option("--limit", limit, "at most this many")->check(CLI::Range(1, 1000));
    list->add_option("--after", after, "only uids greater than this (paging)");
    list->callback([this] {
      action = [this](Console& c) {
        rpc::ListAccountsRequest req;
        req.set_search(search);
        req.set_limit(limit);
        req.set_after_uid(after);
        rpc::ListAccountsReply reply;
        if (int rc = c.Call("account list", &Stub::ListAccounts, req, &reply)) return rc;
        std::vector<const rpc::Account*> accounts;
        for (const auto& a : reply.accounts()) accounts.push_back(&a);
        PrintAccounts(c, accounts);
        return 0;
      };
    });
  }

  // token / revoke / ban / unban / online: one uid each.
  void AddUserCommands() {
    auto* token = app.add_subcommand("token", "issue a login token for a uid");
    token->add_option("uid", uid, "user id")->required();
    token->callback([this] {
      action = [this](Console& c) {
        rpc::IssueTokenRequest req;
        req.set_uid(uid);
        rpc::IssueTokenReply reply;
        if (int rc = c.Call("token", &Stub::IssueToken, req, &reply)) return rc;
        PrintTable(c.out(), {"UID", "TOKEN", "EXPIRES_IN"},
                   {{Str(reply.uid()), reply.token(), Str(reply.expires_in()) + "s"}});
        return 0;
      };
    });
    struct Simple {
      const char* name;
      const char* help;
      grpc::Status (Stub::*method)(grpc::ClientContext*, const rpc::UserRequest&, rpc::Empty*);
      const char* done;
    };
    for (const Simple& s : {Simple{"revoke", "revoke every token of a uid and disconnect it", &Stub::RevokeTokens,
                                   "tokens revoked"},
                            Simple{"ban", "ban a uid: revoke its tokens, disconnect it, refuse its sends", &Stub::Ban,
                                   "banned"},
                            Simple{"unban", "lift a ban", &Stub::Unban, "unbanned"}}) {
      auto* cmd = app.add_subcommand(s.name, s.help);
      cmd->add_option("uid", uid, "user id")->required();
      cmd->callback([this, s] {
        action = [this, s](Console& c) {
          rpc::UserRequest req;
          req.set_uid(uid);
          rpc::Empty reply;
          if (int rc = c.Call(s.name, s.method, req, &reply)) return rc;
          c.out() << "uid " << uid << ": " << s.done << "\n";
          return 0;
        };
      });
    }
    auto* online = app.add_subcommand("online", "show where a uid is online");
    online->add_option("uid", uid, "user id")->required();
    online->callback([this] {
      action = [this](Console& c) {
        rpc::UserRequest req;
        req.set_uid(uid);
        rpc::OnlineStatus reply;
        if (int rc = c.Call("online", &Stub::GetOnlineStatus, req, &reply)) return rc;
        c.out() << "uid " << uid << ": " << (reply.online() ? "online" : "offline") << "\n";
        if (reply.devices_size() > 0) {
          std::vector<Row> rows;
          for (const auto& d : reply.devices()) rows.push_back({Str(d.device_id()), Str(d.platform()), d.notify_address()});
          PrintTable(c.out(), {"DEVICE", "PLATFORM", "NOTIFY"}, rows);
        }
        return 0;
      };
    });
  }

  void AddGroup() {
    auto* group = app.add_subcommand("group", "groups: create, get, delete, add-member, remove-member, mute")
                      ->require_subcommand(1);
    auto* create = group->add_subcommand("create", "create a group");
    create->add_option("name", name, "group name")->required();
    create->add_option("--owner", owner, "owner uid (always a member)")->required();
    create->add_option("--members", members, "member uids, comma separated")->delimiter(',');
    create->callback([this] {
      action = [this](Console& c) {
        rpc::CreateGroupRequest req;
        req.set_name(name);
        req.set_owner(owner);
        for (auto m : members) req.add_members(m);
        rpc::Group reply;
        if (int rc = c.Call("group create", &Stub::CreateGroup, req, &reply)) return rc;
        PrintGroup(c, reply);
        return 0;
      };
    });
    auto* get = group->add_subcommand("get", "show a group and its members");
    get->add_option("gid", gid, "group id")->required();
    get->callback([this] {
      action = [this](Console& c) {
        rpc::GroupRequest req;
        req.set_gid(gid);
        rpc::Group reply;
        if (int rc = c.Call("group get", &Stub::GetGroup, req, &reply)) return rc;
        PrintGroup(c, reply);
        return 0;
      };
    });
    auto* del = group->add_subcommand("delete", "delete a group");
    del->add_option("gid", gid, "group id")->required();
    del->callback([this] {
      action = [this](Console& c) {
        rpc::GroupRequest req;
        req.set_gid(gid);
        rpc::Empty reply;
        if (int rc = c.Call("group delete", &Stub::DeleteGroup, req, &reply)) return rc;
        c.out() << "group " << gid << " deleted\n";
        return 0;
      };
    });
    auto* add = group->add_subcommand("add-member", "add users to a group");
    add->add_option("gid", gid, "group id")->required();
    add->add_option("uids", uids, "user ids")->required()->delimiter(',');
    add->callback([this] {
      action = [this](Console& c) {
        rpc::MembersRequest req;
        req.set_gid(gid);
        for (auto u : uids) req.add_uids(u);
        rpc::Empty reply;
        if (int rc = c.Call("group add-member", &Stub::AddMembers, req, &reply)) return rc;
        c.out() << "group " << gid << ": added " << req.uids_size() << " member(s)\n";
        return 0;
      };
    });
    auto* remove = group->add_subcommand("remove-member", "remove a user from a group");
    remove->add_option("gid", gid, "group id")->required();
    remove->add_option("uid", uid, "user id")->required();
    remove->callback([this] {
      action = [this](Console& c) {
        rpc::MemberRequest req;
        req.set_gid(gid);
        req.set_uid(uid);
        rpc::Empty reply;
        if (int rc = c.Call("group remove-member", &Stub::RemoveMember, req, &reply)) return rc;
        c.out() << "group " << gid << ": removed uid " << uid << "\n";
        return 0;
      };
    });
    auto* mute = group->add_subcommand("mute", "mute a member (--uid) or the whole group");
    mute->add_option("gid", gid, "group id")->required();
    mute->add_option("--uid", uid, "the member to mute; omitted: the whole group");
    mute->add_flag("--off", off, "unmute instead");
    mute->callback([this] {
      action = [this](Console& c) {
        rpc::MuteRequest req;
        req.set_gid(gid);
        req.set_uid(uid);
        req.set_muted(!off);
        rpc::Empty reply;
        if (int rc = c.Call("group mute", &Stub::SetMuted, req, &reply)) return rc;
        c.out() << "group " << gid << (uid ? " uid " + Str(uid) : std::string()) << (off ? ": unmuted\n" : ": muted\n");
        return 0;
      };
    });
  }

  void AddNode() {
    auto* node = app.add_subcommand("node", "node_list: list, add, disable, enable")->require_subcommand(1);
    auto* list = node->add_subcommand("list", "list nodes (what SDKs get from GET /v1/nodes)");
    list->callback([this] {
      action = [](Console& c) {
        rpc::NodeList reply;
        if (int rc = c.Call("node list", &Stub::ListNodes, rpc::Empty(), &reply)) return rc;
        PrintNodes(c, reply);
        return 0;
      };
    });
    auto* add = node->add_subcommand("add", "add a notify or sync server to node_list");
    add->add_option("--address", address, "address clients connect to")->required();
    add->add_option("--tcp-port", tcp_port, "TCP port")->required()->check(CLI::Range(1, 65535));
    add->add_option("--udp-port", udp_port, "UDP port (reserved)")->check(CLI::Range(0, 65535));
    add->add_option("--type", type, "notify (1) or sync (2)")
        ->check(CLI::IsMember({"notify", "sync", "1", "2"}));
    add->add_option("--weight", weight, "selection weight")->check(CLI::Range(0, 1000000));
    add->add_option("--protocol", protocol, "tcp_protocol column");
    add->add_flag("--disabled", disabled, "add it disabled");
    add->add_option("--admin", admin_endpoint,
                    "host:port of the node's /healthz and /metrics (for 'qim stats'; not shown to SDKs)");
    add->callback([this] {
      action = [this](Console& c) {
        rpc::Node req;
        req.set_address(address);
        req.set_tcp_port(tcp_port);
        req.set_udp_port(udp_port);
        req.set_weight(weight);
        req.set_server_type(type == "notify" || type == "1" ? 1 : 2);
        req.set_tcp_protocol(protocol);
        req.set_disabled(disabled);
        req.set_admin_endpoint(admin_endpoint);
        rpc::Node reply;
        if (int rc = c.Call("node add", &Stub::AddNode, req, &reply)) return rc;
        rpc::NodeList list;
        *list.add_nodes() = reply;
        PrintNodes(c, list);
        return 0;
      };
    });
    for (bool disable : {true, false}) {
      auto* cmd = node->add_subcommand(disable ? "disable" : "enable",
                                       disable ? "hide a node from SDKs" : "offer a node to SDKs again");
      cmd->add_option("id", node_id, "node id")->required();
      cmd->callback([this, disable] {
        action = [this, disable](Console& c) {
          rpc::NodeDisableRequest req;
          req.set_id(node_id);
          req.set_disabled(disable);
          rpc::Empty reply;
          if (int rc = c.Call(disable ? "node disable" : "node enable", &Stub::SetNodeDisabled, req, &reply)) return rc;
          c.out() << "node " << node_id << (disable ? " disabled\n" : " enabled\n");
          return 0;
        };
      });
    }
  }

  void AddMisc() {
    auto* friends = app.add_subcommand("friend", "make two users mutual friends");
    friends->add_option("uid", uid, "user id")->required();
    friends->add_option("friend", other, "the other user id")->required();
    friends->callback([this] {
      action = [this](Console& c) {
        rpc::FriendRequest req;
        req.set_uid(uid);
        req.set_friend_uid(other);
        rpc::Empty reply;
        if (int rc = c.Call("friend", &Stub::AddFriend, req, &reply)) return rc;
        c.out() << "uid " << uid << " and uid " << other << " are friends\n";
        return 0;
      };
    });
    auto* block = app.add_subcommand("block", "make a user refuse messages from another");
    block->add_option("uid", uid, "the user who refuses")->required();
    block->add_option("blocked", other, "the refused user")->required();
    block->callback([this] {
      action = [this](Console& c) {
        rpc::BlockRequest req;
        req.set_uid(uid);
        req.set_blocked_uid(other);
        rpc::Empty reply;
        if (int rc = c.Call("block", &Stub::Block, req, &reply)) return rc;
        c.out() << "uid " << uid << " blocks uid " << other << "\n";
        return 0;
      };
    });
    auto* send = app.add_subcommand("send", "send a system message to a user or a group");
    auto* to = send->add_option("--to", uid, "receiving uid");
    auto* grp = send->add_option("--group", gid, "receiving group");
    to->excludes(grp);
    send->add_option("--type", msg_type, "msgType of the message");
    send->add_option("text", text, "message text")->required();
    send->callback([this] {
      action = [this](Console& c) {
        if ((uid == 0) == (gid == 0)) {
          c.err() << "qim: send needs exactly one of --to UID and --group GID\n";
          return 2;
        }
        rpc::SystemMessageRequest req;
        req.set_to_uid(uid);
        req.set_gid(gid);
        req.set_msg_type(msg_type);
        req.set_content(text);
        rpc::SystemMessageReply reply;
        if (int rc = c.Call("send", &Stub::SendSystemMessage, req, &reply)) return rc;
        c.out() << "sent: code " << reply.code() << ", offset " << reply.offset() << "\n";
        return reply.code() == 200 ? 0 : 1;
      };
    });
    auto* stats = app.add_subcommand("stats", "cluster overview: nodes with health and connections, totals");
    stats->callback([this] {
      action = [](Console& c) {
        rpc::ClusterOverviewReply reply;
        if (int rc = c.Call("stats", &Stub::ClusterOverview, rpc::Empty(), &reply)) return rc;
        std::vector<Row> rows;
        std::int64_t connections = 0;
        for (const auto& h : reply.nodes()) {
          const auto& n = h.node();
          if (h.connections() > 0) connections += h.connections();
          rows.push_back({Str(n.id()), ServerType(n.server_type()), n.address() + ":" + Str(n.tcp_port()),
                          YesNo(n.disabled()), YesNo(h.healthy()), h.checked_by(),
                          h.connections() < 0 ? "-" : Str(h.connections()), h.error()});
        }
        PrintTable(c.out(), {"ID", "TYPE", "ENDPOINT", "DISABLED", "HEALTHY", "CHECK", "CONNECTIONS", "NOTE"}, rows);
        c.out() << "accounts: " << reply.accounts() << "  groups: " << reply.groups()
                << "  client connections: " << connections << "\n";
        if (reply.presence_error().empty()) {
          c.out() << "online users: " << reply.online_users() << "  online devices: " << reply.online_devices()
                  << "\n";
        } else {
          c.out() << "online users: unknown (" << reply.presence_error() << ")\n";
        }
        return 0;
      };
    });
    auto* quit_cmd = app.add_subcommand("quit", "leave the interactive console");
    quit_cmd->alias("exit");
    quit_cmd->callback([this] { quit = true; });
  }
};

// ---- the prompt: line editing, history and completion (libedit) ----

// The history file: $QIM_HISTORY, else ~/.qim_history; "" when neither.
std::string HistoryFile() {
  if (const char* file = std::getenv("QIM_HISTORY"); file != nullptr && *file != '\0') return file;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return std::string(home) + "/.qim_history";
  return "";
}

constexpr int kHistoryLines = 1000;

// libedit's completion callbacks are plain functions; the prompt runs on one
// thread, so the current candidates can live here.
std::vector<std::string>& CompletionCandidates() {
  static std::vector<std::string> candidates;
  return candidates;
}

char* NextCompletion(const char*, int state) {
  static std::size_t next = 0;
  if (state == 0) next = 0;
  const auto& candidates = CompletionCandidates();
  if (next >= candidates.size()) return nullptr;
  return strdup(candidates[next++].c_str());  // libedit frees it
}

char** CompleteLine(const char* word, int start, int) {
  std::string before(rl_line_buffer, static_cast<std::size_t>(start));
  CompletionCandidates() = Completions(before + word);
  rl_attempted_completion_over = 1;  // no file-name completion as a fallback
  return rl_completion_matches(word, NextCompletion);
}

// Reads lines: from libedit on a terminal (editing, history saved to
// HistoryFile(), tab completion), else plainly from stdin.
class LineReader {
 public:
  explicit LineReader(bool tty) : tty_(tty) {
    if (!tty_) return;
    rl_readline_name = "qim";
    rl_attempted_completion_function = CompleteLine;
    using_history();
    stifle_history(kHistoryLines);
    history_file_ = HistoryFile();
    if (!history_file_.empty()) read_history(history_file_.c_str());
  }
  ~LineReader() {
    if (tty_) Save();
  }

  bool Next(std::string* line) {
    if (!tty_) return static_cast<bool>(std::getline(std::cin, *line));
    char* read = readline("qim> ");
    if (read == nullptr) return false;
    *line = read;
    free(read);
    // A line with a password or secret is not remembered.
    if (line->find_first_not_of(" \t") != std::string::npos && line->find("--password") == std::string::npos &&
        line->find("--secret") == std::string::npos) {
      add_history(line->c_str());
      Save();  // as it goes, so a killed console keeps what was typed
    }
    return true;
  }

 private:
  void Save() {
    if (history_file_.empty()) return;
    write_history(history_file_.c_str());
    chmod(history_file_.c_str(), S_IRUSR | S_IWUSR);  // commands name accounts: the owner's only
  }

  bool tty_;
  std::string history_file_;
};

// Interactive: one command per line. Returns 0, or 1 when reading from a
// pipe and some command failed.
int Interactive(Console& console) {
  const bool tty = isatty(STDIN_FILENO) == 1;
  if (tty) {
    console.out() << "qim console on " << console.settings().endpoint
                  << ". 'help' lists commands, Tab completes, 'quit' leaves.\n";
  }
  LineReader reader(tty);
  int failures = 0;
  std::string line;
  for (;;) {
    if (!reader.Next(&line)) break;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    Commands commands(nullptr);
    if (line.compare(first, 4, "help") == 0) {
      console.out() << commands.app.help();
      continue;
    }
    try {
      commands.app.parse(line, false);
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) {
        commands.app.exit(e, console.out(), console.err());  // --help on a line
      } else {
        ++failures;
        console.err() << "qim: " << e.what() << " (type 'help', or add --help to a command)\n";
      }
      continue;
    }
    if (commands.quit) break;
    if (!commands.action) {
      console.err() << "qim: no command in '" << line << "'; try 'help'\n";
      ++failures;
      continue;
    }
    if (commands.action(console) != 0) ++failures;
  }
  if (tty) console.out() << "\n";
  return !tty && failures > 0 ? 1 : 0;
}

}  // namespace

std::vector<std::string> Completions(const std::string& line) {
  // Split into finished words and the word being typed.
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  std::string partial;
  if (!line.empty() && line.back() != ' ' && line.back() != '\t' && !words.empty()) {
    partial = words.back();
    words.pop_back();
  }
  Commands commands(nullptr);
  const CLI::App* app = &commands.app;
  for (const std::string& w : words) {
    if (w.rfind("-", 0) == 0) continue;  // an option or its value: stay at this command
    const CLI::App* sub = nullptr;
    for (const CLI::App* s : app->get_subcommands([](const CLI::App*) { return true; })) {
      if (s->check_name(w)) sub = s;
    }
    if (sub != nullptr) app = sub;
  }
  std::set<std::string> found;
  auto offer = [&](const std::string& candidate) {
    if (candidate.compare(0, partial.size(), partial) == 0) found.insert(candidate);
  };
  const auto subcommands = app->get_subcommands([](const CLI::App*) { return true; });
  for (const CLI::App* s : subcommands) offer(s->get_name());
  if (app == &commands.app) offer("help");
  // Options where a word starts with '-', or where no subcommand can follow.
  if (partial.rfind("-", 0) == 0 || subcommands.empty()) {
    for (const CLI::Option* o : app->get_options()) {
      for (const std::string& name : o->get_lnames()) offer("--" + name);
    }
  }
  return {found.begin(), found.end()};
}

int Main(int argc, char** argv) {
  Settings settings;
  Commands commands(&settings);
  commands.app.footer(
      "With no command, qim reads commands from stdin (a prompt on a terminal).\n"
      "Endpoint and secret: --endpoint/--secret, QIM_ENDPOINT/QIM_SECRET, or the config file.");
  try {
    commands.app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = commands.app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (std::string error = ResolveSettings(&settings); !error.empty()) {
    std::cerr << "qim: " << error << "\n";
    return 2;
  }
  Console console(settings, std::cout, std::cerr);
  if (commands.quit) return 0;
  if (commands.action) return commands.action(console);
  return Interactive(console);
}

}  // namespace im::qim
