#pragma once
// What the session-handler fuzzers share: fuzzed frames into a
// net::SessionHandler from a logged-in FakeSession, and the checks on what
// the handler sent back.

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/frame_codec.h"
#include "common/net/session.h"
#include "tests/fuzz/fake_session.h"
#include "tests/fuzz/fuzz_check.h"

namespace im::fuzz {

/// Feeds 1–6 fuzzed frames for the session's uid to `handler` (stopping once
/// the session closes): half of the time a command of `served`, otherwise any
/// command id. Checks OnFrame returns true exactly for `served` commands.
/// Returns the command ids handed over.
inline std::vector<std::int16_t> FeedFrames(FuzzedDataProvider& in, net::SessionHandler& handler,
                                            const std::shared_ptr<FakeSession>& session,
                                            const std::vector<std::int16_t>& served) {
  std::vector<std::int16_t> fed;
  const int frames = in.ConsumeIntegralInRange(1, 6);
  for (int i = 0; i < frames && !session->closed(); ++i) {
    net::Frame frame;
    frame.header.imuid = session->uid();
    frame.header.seq = in.ConsumeIntegral<std::int32_t>();
    frame.header.cmdid = in.ConsumeBool()
                             ? served[in.ConsumeIntegralInRange<std::size_t>(0, served.size() - 1)]
                             : in.ConsumeIntegral<std::int16_t>();
    const std::string body = in.ConsumeRandomLengthString(net::kMaxBodySize);
    frame.body = body;
    const bool known = std::find(served.begin(), served.end(), frame.header.cmdid) != served.end();
    FUZZ_CHECK(handler.OnFrame(session, frame) == known);
    fed.push_back(frame.header.cmdid);
  }
  return fed;
}

/// Every Send() holds whole, decodable frames (a pull answer may hold
/// several), all for `uid`.
inline void CheckSent(const std::vector<std::string>& sent, std::int64_t uid) {
  for (const std::string& out : sent) {
    std::string_view rest = out;
    while (!rest.empty()) {
      net::ParseResult r = net::ParseFrame(rest);
      FUZZ_CHECK(r.status == net::ParseStatus::kFrame);
      FUZZ_CHECK(r.frame.header.imuid == uid);
      rest.remove_prefix(r.consumed);
    }
  }
}

}  // namespace im::fuzz
