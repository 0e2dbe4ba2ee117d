#pragma once
// admin_qim's HTTP API (docs/protocol.md §7, PROTOCOL.md §7): JSON in, JSON
// out, errors as {"code": <status>, "desp": "<reason>"}.
//
//   GET    /v1/nodes                          anyone
//   POST   /v1/accounts                       admin  {"no","password"} -> {"uid","no"}
//   GET    /v1/accounts/{no}                  admin  -> {"uid","no","banned"}
//   POST   /v1/tokens                         user {"no","password"} (rate limited) or admin {"uid"}
//   DELETE /v1/tokens/{uid}                   admin  revoke every token of uid
//   POST   /v1/groups                         admin  {"name","owner","members"} -> {"gid"}
//   GET    /v1/groups/{gid}                   admin  -> {"gid","name","owner","members","muted"}
//   DELETE /v1/groups/{gid}                   admin
//   POST   /v1/groups/{gid}/members           admin  {"uids":[…]}
//   DELETE /v1/groups/{gid}/members/{uid}     admin
//   POST   /v1/friends                        admin  {"uid","friend"}
//   POST   /v1/blocks                         admin  {"uid","blocked"}
//   POST   /v1/bans                           admin  {"uid"}
//   DELETE /v1/bans/{uid}                     admin
//
// Admin calls need `Authorization: Bearer <admin secret>`.

#include <functional>
#include <string>

#include "admin_qim/admin_ops.h"
#include "admin_qim/rate_limiter.h"
#include "common/http/http_server.h"

namespace im::admin {

struct HttpApiOptions {
  std::string admin_secret;  // must not be empty
};

/// Thread safe: Handle() may run on several HTTP threads at once.
class HttpApi {
 public:
  /// `ops` and `login_limiter` are not owned.
  HttpApi(AdminOps* ops, RateLimiter* login_limiter, HttpApiOptions options);

  http::HttpResponse Handle(const http::HttpRequest& request);

 private:
  bool IsAdmin(const http::HttpRequest& request) const;
  http::HttpResponse Route(const http::HttpRequest& request);

  AdminOps* ops_;
  RateLimiter* login_limiter_;
  HttpApiOptions options_;
};

/// True when `header` is "Bearer <secret>" (constant time in the secret).
bool BearerMatches(const std::string& header, const std::string& secret);

}  // namespace im::admin
