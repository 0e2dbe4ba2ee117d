// imbench command line (boost program_options).
#include <boost/program_options.hpp>
#include <cstdlib>
#include <sstream>

#include "bench/imbench/imbench.h"
#include "common/net/host_port.h"

namespace im::bench {
namespace po = boost::program_options;

namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

bool ParseOptions(int argc, char** argv, Options* o, std::string* error, bool* help) {
  *help = false;
  std::string notify = Env("IMBENCH_NOTIFY", "127.0.0.1:21983");
  std::string sync = Env("IMBENCH_SYNC", "127.0.0.1:31983");
  std::string watch = Env("IMBENCH_WATCH", "");
  o->admin = Env("IMBENCH_ADMIN", o->admin);
  o->admin_secret = Env("IMBENCH_SECRET", "");
  po::options_description d(
      "imbench: end-to-end load for the qim cluster (docs/protocol.md).\n"
      "Addresses and secret default to $IMBENCH_NOTIFY, $IMBENCH_SYNC, $IMBENCH_ADMIN, $IMBENCH_SECRET\n"
      "(set by imbench_cluster), $IMBENCH_WATCH gives name=pid,... to profile.\nOptions");
  // clang-format off
  d.add_options()
    ("help,h", "this text")
    ("mode", po::value(&o->mode)->default_value(o->mode),
     "peer: users send to random users | group: M groups of S, senders inside | idle: notify connections "
     "that only heartbeat | mixed: peer load plus users that disconnect, stay offline and pull after "
     "reconnecting | coldpull: --count messages to one offline user, which then logs in and pulls them all | setup: create accounts (--write-accounts) and exit")
    ("notify", po::value(&notify)->default_value(notify), "notify_server host:port list (comma-separated)")
    ("sync", po::value(&sync)->default_value(sync), "sync_server host:port list (comma-separated)")
    ("admin", po::value(&o->admin)->default_value(o->admin), "admin_qim HTTP host:port")
    ("admin-secret", po::value(&o->admin_secret), "admin_qim admin secret (prefer $IMBENCH_SECRET)")
    ("accounts", po::value(&o->accounts_file), "prepared accounts: one 'uid [token]' per line (tokens issued when missing)")
    ("accounts-offset", po::value(&o->accounts_offset)->default_value(0), "first line of --accounts to use")
    ("write-accounts", po::value(&o->write_accounts), "write the accounts used as 'uid token' lines")
    ("account-prefix", po::value(&o->account_prefix), "account numbers: prefix + index (default: imb<unix time>_)")
    ("admin-concurrency", po::value(&o->admin_concurrency)->default_value(o->admin_concurrency), "parallel admin_qim calls at set-up")
    ("users", po::value(&o->users)->default_value(o->users), "users (peer, mixed, idle); group mode uses groups*group-size")
    ("senders", po::value(&o->senders)->default_value(0), "peer/mixed: users that send (0: all)")
    ("rate", po::value(&o->rate)->default_value(0), "open loop: messages/s in total; 0: closed loop")
    ("inflight", po::value(&o->inflight)->default_value(o->inflight), "closed loop: sends in flight per sender")
    ("max-inflight", po::value(&o->max_inflight)->default_value(o->max_inflight), "open loop: unanswered sends per sender before it skips a turn")
    ("duration", po::value(&o->duration_s)->default_value(o->duration_s), "seconds of load (0: until --count)")
    ("count", po::value(&o->count)->default_value(0), "stop after this many sends (0: --duration only)")
    ("size", po::value(&o->size)->default_value(o->size), "message content bytes (push data up to notify's push.max_data_bytes)")
    ("groups", po::value(&o->groups)->default_value(o->groups), "group mode: number of groups")
    ("group-size", po::value(&o->group_size)->default_value(o->group_size), "group mode: members per group (all online)")
    ("group-senders", po::value(&o->group_senders)->default_value(o->group_senders), "group mode: senders per group")
    ("heartbeat-ms", po::value(&o->heartbeat_ms)->default_value(o->heartbeat_ms), "PING interval per connection")
    ("reconnect-per-s", po::value(&o->reconnect_per_s)->default_value(o->reconnect_per_s), "mixed: fraction of users that reconnect each second")
    ("offline-ms", po::value(&o->offline_ms)->default_value(o->offline_ms), "mixed: time a reconnecting user stays offline")
    ("threads", po::value(&o->threads)->default_value(o->threads), "io threads of imbench")
    ("conn-rate", po::value(&o->conn_rate)->default_value(o->conn_rate), "frames/s per sync connection at most (servers close above server.max_requests_per_second); 0: no cap")
    ("connect-concurrency", po::value(&o->connect_concurrency)->default_value(o->connect_concurrency), "logins in progress at once")
    ("steady-after", po::value(&o->steady_after_s)->default_value(o->steady_after_s),
     "also report latency without the first seconds of load (cold caches); 0: off")
    ("warmup-ms", po::value(&o->warmup_ms)->default_value(o->warmup_ms), "pause after logins before the load")
    ("gap-grace-ms", po::value(&o->gap_grace_ms)->default_value(o->gap_grace_ms), "an offset gap older than this is pulled")
    ("settle", po::value(&o->settle_s)->default_value(o->settle_s), "seconds to wait for answers and deliveries after the load")
    ("json", po::value(&o->json), "write the report as JSON to this file")
    ("watch", po::value(&watch)->default_value(watch), "name=pid,... processes whose CPU and RSS to report")
    ("verbose,v", po::bool_switch(&o->verbose), "log connection failures");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, d), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
  if (vm.count("help") != 0) {
    std::ostringstream out;
    out << d;
    *error = out.str();
    *help = true;
    return false;
  }
  o->notify = SplitList(notify);
  o->sync = SplitList(sync);
  o->watch = SplitList(watch);
  const std::vector<std::string> modes = {"peer", "group", "idle", "mixed", "coldpull", "setup"};
  if (std::find(modes.begin(), modes.end(), o->mode) == modes.end()) {
    *error = "--mode: '" + o->mode + "' is not peer, group, idle, mixed, coldpull or setup";
    return false;
  }
  for (const auto& [key, list] : {std::pair{"--notify", &o->notify}, std::pair{"--sync", &o->sync}}) {
    if (list->empty()) {
      *error = std::string(key) + ": empty";
      return false;
    }
    if (std::string e = net::CheckHostPorts(key, *list); !e.empty()) {
      *error = e;
      return false;
    }
  }
  if (std::string e = net::CheckHostPort("--admin", o->admin); !e.empty()) {
    *error = e;
    return false;
  }
  if (o->users < 1 || o->groups < 1 || o->group_size < 2 || o->group_senders < 1 || o->group_senders > o->group_size) {
    *error = "--users, --groups must be >= 1, --group-size >= 2, 1 <= --group-senders <= --group-size";
    return false;
  }
  if (o->mode == "group") o->users = o->groups * o->group_size;
  if (o->mode == "coldpull" && o->count <= 0) {
    *error = "--count: coldpull needs the number of offline messages";
    return false;
  }
  if ((o->mode == "peer" || o->mode == "mixed" || o->mode == "coldpull") && o->users < 2) {
    *error = "--users: peer load needs at least 2 users";
    return false;
  }
  if (o->size < 24 || o->size > 65000) {
    *error = "--size: 24..65000 bytes (content carries the sender and msgid)";
    return false;
  }
  if (o->threads < 1 || o->inflight < 1 || o->max_inflight < 1 || o->heartbeat_ms < 100) {
    *error = "--threads, --inflight, --max-inflight >= 1; --heartbeat-ms >= 100";
    return false;
  }
  if (o->duration_s <= 0 && o->count <= 0 && o->mode != "setup") {
    *error = "bound the run: --duration and/or --count";
    return false;
  }
  if (o->accounts_file.empty() && o->admin_secret.empty()) {
    *error = "accounts: give --accounts FILE or the admin secret (--admin-secret / $IMBENCH_SECRET)";
    return false;
  }
  return true;
}

}  // namespace im::bench
