#include "admin_qim/http_api.h"

#include <sodium.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "common/log/log.h"

namespace im::admin {
namespace {

using nlohmann::json;

http::HttpResponse Json(int status, const json& body) {
  // replace: a stored name with invalid UTF-8 must not make dump() throw.
  return {status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"};
}

http::HttpResponse Error(int status, const std::string& desp) {
  return Json(status, json{{"code", status}, {"desp", desp}});
}

int HttpStatusOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists: return 409;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded: return 503;
    default: return 500;
  }
}

http::HttpResponse FromStatus(const absl::Status& s) { return Error(HttpStatusOf(s), std::string(s.message())); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes ("zxt%4077" -> "zxt@77"); a malformed escape stays as it is.
std::string PercentDecode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// The path's segments, each percent-decoded.
std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) out.push_back(PercentDecode(path.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

std::optional<std::int64_t> ParseId(const std::string& text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::strtoll(text.c_str(), nullptr, 10);
}

// Decodes a request body that must be a JSON object; the error names the problem.
absl::StatusOr<json> ParseObject(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("malformed JSON body");
  if (!j.is_object()) return absl::InvalidArgumentError("the JSON body must be an object");
  return j;
}

absl::StatusOr<std::string> GetString(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return absl::InvalidArgumentError(std::string("missing field '") + key + "'");
  if (!it->is_string()) return absl::InvalidArgumentError(std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

absl::StatusOr<std::int64_t> GetInt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return absl::InvalidArgumentError(std::string("missing field '") + key + "'");
  if (!it->is_number_integer()) return absl::InvalidArgumentError(std::string("field '") + key + "' must be an integer");
  return it->get<std::int64_t>();
}

absl::StatusOr<std::vector<std::int64_t>> GetIntArray(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return absl::InvalidArgumentError(std::string("missing field '") + key + "'");
    return std::vector<std::int64_t>{};
  }
  if (!it->is_array()) return absl::InvalidArgumentError(std::string("field '") + key + "' must be an array of uids");
  std::vector<std::int64_t> out;
  for (const auto& v : *it) {
    if (!v.is_number_integer()) return absl::InvalidArgumentError(std::string("field '") + key + "' must hold integers");
    out.push_back(v.get<std::int64_t>());
  }
  return out;
}

// Request handlers: each returns the answer for one route.

http::HttpResponse GetNodes(AdminOps& ops) {
  auto changed_at = ops.NodeListChangedAt();
  if (!changed_at.ok()) return FromStatus(changed_at.status());
  auto nodes = ops.ListNodes();
  if (!nodes.ok()) return FromStatus(nodes.status());
  json array = json::array();
  for (const NodeRecord& n : *nodes) {
    array.push_back(json{{"id", n.id},
                         {"tcp_port", n.tcp_port},
                         {"udp_port", n.udp_port},
                         {"weight", n.weight},
                         {"server_type", n.server_type},
                         {"tcp_protocol", n.tcp_protocol},
                         {"address", n.address},
                         {"disabled", n.disabled ? 1 : 0}});
  }
  // "confgiinfo" (sic): the spelling deployed SDKs read.
  return Json(200, json{{"confgiinfo", json{{"node_array", array}}},
                        {"confgiinfo_timestamp", *changed_at}});
}

json AccountJson(const AccountRecord& a) { return json{{"uid", a.uid}, {"no", a.no}, {"banned", a.banned}}; }

}  // namespace

bool BearerMatches(const std::string& header, const std::string& secret) {
  static constexpr char kPrefix[] = "Bearer ";
  constexpr std::size_t kPrefixLen = sizeof kPrefix - 1;
  if (secret.empty() || header.size() != kPrefixLen + secret.size()) return false;
  if (header.compare(0, kPrefixLen, kPrefix) != 0) return false;
  return sodium_memcmp(header.data() + kPrefixLen, secret.data(), secret.size()) == 0;
}

HttpApi::HttpApi(AdminOps* ops, RateLimiter* login_limiter, HttpApiOptions options)
    : ops_(ops), login_limiter_(login_limiter), options_(std::move(options)) {}

bool HttpApi::IsAdmin(const http::HttpRequest& request) const {
  auto it = request.headers.find("authorization");
  return it != request.headers.end() && BearerMatches(it->second, options_.admin_secret);
}

http::HttpResponse HttpApi::Handle(const http::HttpRequest& request) {
  try {
    return Route(request);
  } catch (const std::exception& e) {
    // Nothing below should throw; if it does, the request fails, not the daemon.
    IM_LOG_ERROR(log::Http(), "{} {}: unexpected exception: {}", request.method, request.path, e.what());
    return Error(500, "internal error");
  }
}

http::HttpResponse HttpApi::Route(const http::HttpRequest& request) {
  const std::vector<std::string> seg = Segments(request.path);
  const std::string& method = request.method;
  if (seg.size() < 2 || seg[0] != "v1") return Error(404, "no such endpoint: " + request.path);
  const std::string& resource = seg[1];
  const bool admin = IsAdmin(request);
  const std::string who = std::string(admin ? "http-admin@" : "http-user@") + request.remote;

  auto require_admin = [&]() -> std::optional<http::HttpResponse> {
    if (admin) return std::nullopt;
    return Error(401, "this call needs the admin secret: Authorization: Bearer <secret>");
  };
  auto method_not_allowed = [&] { return Error(405, "method " + method + " not allowed on " + request.path); };

  if (resource == "nodes" && seg.size() == 2) {
    if (method != "GET") return method_not_allowed();
    return GetNodes(*ops_);
  }

  if (resource == "tokens" && seg.size() == 2) {
    if (method != "POST") return method_not_allowed();
    auto body = ParseObject(request.body);
    if (!body.ok()) return FromStatus(body.status());
    if (body->contains("uid")) {
      if (auto denied = require_admin()) return *denied;
      auto uid = GetInt(*body, "uid");
      if (!uid.ok()) return FromStatus(uid.status());
      auto token = ops_->IssueToken(who, *uid);
      if (!token.ok()) return FromStatus(token.status());
      return Json(200, json{{"uid", token->uid}, {"token", token->token}, {"expires_in", token->expires_in}});
    }
    if (!admin && !login_limiter_->Allow(request.remote)) {
      IM_LOG_WARN(log::Http(), "rate limited token requests from {}", request.remote);
      return Error(429, "too many token requests from this address; retry later");
    }
    auto no = GetString(*body, "no");
    if (!no.ok()) return FromStatus(no.status());
    auto password = GetString(*body, "password");
    if (!password.ok()) return FromStatus(password.status());
    auto token = ops_->Login(who, *no, *password);
    if (!token.ok()) return FromStatus(token.status());
    return Json(200, json{{"uid", token->uid}, {"token", token->token}, {"expires_in", token->expires_in}});
  }

  // Everything below is for operators.
  if (auto denied = require_admin()) {
    const bool known = resource == "accounts" || resource == "tokens" || resource == "groups" ||
                       resource == "friends" || resource == "blocks" || resource == "bans";
    if (!known) return Error(404, "no such endpoint: " + request.path);
    return *denied;
  }

  if (resource == "accounts") {
    if (seg.size() == 2) {
      if (method != "POST") return method_not_allowed();
      auto body = ParseObject(request.body);
      if (!body.ok()) return FromStatus(body.status());
      auto no = GetString(*body, "no");
      if (!no.ok()) return FromStatus(no.status());
      auto password = GetString(*body, "password");
      if (!password.ok()) return FromStatus(password.status());
      auto account = ops_->CreateAccount(who, *no, *password);
      if (!account.ok()) return FromStatus(account.status());
      return Json(200, json{{"uid", account->uid}, {"no", account->no}});
    }
    if (seg.size() == 3) {
      if (method != "GET") return method_not_allowed();
      auto account = ops_->GetAccount(seg[2]);
      if (!account.ok()) return FromStatus(account.status());
      return Json(200, AccountJson(*account));
    }
  }

  if (resource == "tokens" && seg.size() == 3) {
    if (method != "DELETE") return method_not_allowed();
    auto uid = ParseId(seg[2]);
    if (!uid) return Error(400, "uid in the path must be a number");
    if (absl::Status s = ops_->RevokeTokens(who, *uid); !s.ok()) return FromStatus(s);
    return Json(200, json::object());
  }

  if (resource == "groups") {
    if (seg.size() == 2) {
      if (method != "POST") return method_not_allowed();
      auto body = ParseObject(request.body);
      if (!body.ok()) return FromStatus(body.status());
      auto name = GetString(*body, "name");
      if (!name.ok()) return FromStatus(name.status());
      auto owner = GetInt(*body, "owner");
      if (!owner.ok()) return FromStatus(owner.status());
      auto members = GetIntArray(*body, "members", false);
      if (!members.ok()) return FromStatus(members.status());
      auto gid = ops_->CreateGroup(who, *name, *owner, *members);
      if (!gid.ok()) return FromStatus(gid.status());
      return Json(200, json{{"gid", *gid}});
    }
    auto gid = ParseId(seg[2]);
    if (!gid) return Error(400, "gid in the path must be a number");
    if (seg.size() == 3) {
      if (method == "GET") {
        auto group = ops_->GetGroup(*gid);
        if (!group.ok()) return FromStatus(group.status());
        return Json(200, json{{"gid", group->gid},
                              {"name", group->name},
                              {"owner", group->owner},
                              {"members", group->members},
                              {"muted_members", group->muted_members},
                              {"muted", group->muted}});
      }
      if (method == "DELETE") {
        if (absl::Status s = ops_->DeleteGroup(who, *gid); !s.ok()) return FromStatus(s);
        return Json(200, json::object());
      }
      return method_not_allowed();
    }
    if (seg[3] == "members" && seg.size() == 4) {
      if (method != "POST") return method_not_allowed();
      auto body = ParseObject(request.body);
      if (!body.ok()) return FromStatus(body.status());
      auto uids = GetIntArray(*body, "uids", true);
      if (!uids.ok()) return FromStatus(uids.status());
      if (absl::Status s = ops_->AddMembers(who, *gid, *uids); !s.ok()) return FromStatus(s);
      return Json(200, json::object());
    }
    if (seg[3] == "members" && seg.size() == 5) {
      if (method != "DELETE") return method_not_allowed();
      auto uid = ParseId(seg[4]);
      if (!uid) return Error(400, "uid in the path must be a number");
      if (absl::Status s = ops_->RemoveMember(who, *gid, *uid); !s.ok()) return FromStatus(s);
      return Json(200, json::object());
    }
  }

  if ((resource == "friends" || resource == "blocks") && seg.size() == 2) {
    if (method != "POST") return method_not_allowed();
    auto body = ParseObject(request.body);
    if (!body.ok()) return FromStatus(body.status());
    auto uid = GetInt(*body, "uid");
    if (!uid.ok()) return FromStatus(uid.status());
    auto other = GetInt(*body, resource == "friends" ? "friend" : "blocked");
    if (!other.ok()) return FromStatus(other.status());
    absl::Status s = resource == "friends" ? ops_->AddFriend(who, *uid, *other) : ops_->Block(who, *uid, *other);
    if (!s.ok()) return FromStatus(s);
    return Json(200, json::object());
  }

  if (resource == "bans") {
    if (seg.size() == 2) {
      if (method != "POST") return method_not_allowed();
      auto body = ParseObject(request.body);
      if (!body.ok()) return FromStatus(body.status());
      auto uid = GetInt(*body, "uid");
      if (!uid.ok()) return FromStatus(uid.status());
      if (absl::Status s = ops_->SetBanned(who, *uid, true); !s.ok()) return FromStatus(s);
      return Json(200, json::object());
    }
    if (seg.size() == 3) {
      if (method != "DELETE") return method_not_allowed();
      auto uid = ParseId(seg[2]);
      if (!uid) return Error(400, "uid in the path must be a number");
      if (absl::Status s = ops_->SetBanned(who, *uid, false); !s.ok()) return FromStatus(s);
      return Json(200, json::object());
    }
  }

  return Error(404, "no such endpoint: " + request.path);
}

}  // namespace im::admin
