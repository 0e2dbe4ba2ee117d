// libFuzzer target for admin_qim's JSON HTTP API: HttpApi::Handle over a real
// AdminOps with in-memory fakes (tests/unit/admin/admin_fakes.h) for MariaDB,
// Redis and the cluster. The input chooses the method, a path built from the
// API's resources and fuzzed segments, whether the admin secret is sent, and
// the body (usually JSON). Checked: no crash, a status in 200..599, a JSON
// error body for every 4xx/5xx, and no write to the store without the secret
// except account-free calls.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "admin_qim/http_api.h"
#include "common/log/log.h"
#include "tests/unit/admin/admin_fakes.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace im;
using namespace im::admin;

constexpr char kSecret[] = "fuzz-admin-secret-0123";
const char* const kMethods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
const char* const kResources[] = {"nodes", "tokens", "accounts", "groups", "friends", "blocks", "bans", "stats"};

std::string Segment(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: return std::to_string(in.ConsumeIntegral<std::int64_t>());
    case 1: return std::to_string(in.ConsumeIntegralInRange<std::int64_t>(0, 10));
    case 2: return in.ConsumeBool() ? "members" : "ann";
    default: return in.ConsumeRandomLengthString(24);
  }
}

bool Init() {
  log::Options options;
  options.level = "off";
  (void)log::Init(options);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool initialised = Init();
  (void)initialised;
  FuzzedDataProvider in(data, size);
  fakes::FakeStore store;
  fakes::FakeRedis redis;
  fakes::FakeCluster cluster;
  AdminOpsOptions ops_options;
  ops_options.password_cost.opslimit = 1;  // libsodium's minimum cost: the fuzzer is not about hashing
  ops_options.password_cost.memlimit_bytes = 8192;
  AdminOps ops(&store, &redis, &redis, &cluster, ops_options);
  RateLimiter limiter(1000, 1000);
  HttpApi api(&ops, &limiter, HttpApiOptions{kSecret});
  // A pre-existing account, so lookups and logins can succeed.
  (void)ops.CreateAccount("setup", "ann", "password1");
  const int writes_before = store.writes;

  const int calls = in.ConsumeIntegralInRange(1, 3);
  bool any_admin = false;
  for (int i = 0; i < calls; ++i) {
    http::HttpRequest r;
    r.method = kMethods[in.ConsumeIntegralInRange(0, 5)];
    r.path = in.ConsumeBool() ? "/v1/" : "/" + in.ConsumeRandomLengthString(8) + "/";
    r.path += in.ConsumeBool() ? std::string(kResources[in.ConsumeIntegralInRange(0, 7)])
                               : in.ConsumeRandomLengthString(12);
    const int extra = in.ConsumeIntegralInRange(0, 3);
    for (int s = 0; s < extra; ++s) r.path += "/" + Segment(in);
    r.target = r.path;
    r.remote = "10.0.0." + std::to_string(in.ConsumeIntegralInRange(1, 3));
    const bool admin = in.ConsumeBool();
    any_admin = any_admin || admin;
    if (admin) r.headers["authorization"] = std::string("Bearer ") + kSecret;
    else if (in.ConsumeBool()) r.headers["authorization"] = in.ConsumeRandomLengthString(40);
    r.body = i + 1 == calls ? in.ConsumeRemainingBytesAsString() : in.ConsumeRandomLengthString(256);
    const http::HttpResponse res = api.Handle(r);
    FUZZ_CHECK(res.status >= 200 && res.status <= 599);
    if (res.status >= 400) {
      // Every error is a JSON object (docs/protocol.md §7).
      auto body = nlohmann::json::parse(res.body, nullptr, /*allow_exceptions=*/false);
      FUZZ_CHECK(!body.is_discarded() && body.is_object());
    }
  }
  // Without the secret nothing but user logins reaches the store, and those read only.
  if (!any_admin) FUZZ_CHECK(store.writes == writes_before);
  return 0;
}
