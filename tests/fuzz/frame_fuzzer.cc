// libFuzzer target for the client frame codec and the client protocol bodies.
//
// The input is a byte stream fed to a FrameDecoder in chunks. The chunk sizes
// and the configured maximum body size are taken from the end of the input
// (FuzzedDataProvider), the stream bytes from the front, so a corpus of raw
// frames stays meaningful. Checked invariants:
//   - every frame has body size <= max_body and consumed == 16 + body size;
//   - re-encoding a frame with AppendFrame gives back exactly its bytes;
//   - decoding the same bytes at once with ParseFrame gives the same frames,
//     the same final status, and the same number of unconsumed bytes;
//   - an error status is sticky;
//   - each body that parses as the message type of its command re-serializes
//     to bytes that parse again and serialize identically.

#include <fuzzer/FuzzedDataProvider.h>
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/frame_codec.h"
#include "proto/im_client.pb.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using im::net::FrameDecoder;
using im::net::kHeaderSize;
using im::net::kMaxBodySize;
using im::net::ParseFrame;
using im::net::ParseResult;
using im::net::ParseStatus;

struct Decoded {
  std::int64_t imuid;
  std::int16_t cmdid;
  std::int32_t seq;
  std::string body;
  std::size_t consumed;
  bool operator==(const Decoded& o) const {
    return imuid == o.imuid && cmdid == o.cmdid && seq == o.seq && body == o.body &&
           consumed == o.consumed;
  }
};

Decoded ToDecoded(const ParseResult& r) {
  return Decoded{r.frame.header.imuid, r.frame.header.cmdid, r.frame.header.seq,
                 std::string(r.frame.body), r.consumed};
}

void CheckFrame(const ParseResult& r, std::size_t max_body) {
  FUZZ_CHECK(r.status == ParseStatus::kFrame);
  FUZZ_CHECK(r.frame.body.size() <= max_body);
  FUZZ_CHECK(r.consumed == kHeaderSize + r.frame.body.size());
}

// Parses `body` as T; when it parses, its serialization must round-trip.
template <typename T>
void CheckBody(std::string_view body) {
  T m;
  if (!m.ParseFromArray(body.data(), static_cast<int>(body.size()))) return;
  const std::string once = m.SerializeAsString();
  FUZZ_CHECK(once.size() == m.ByteSizeLong());
  T again;
  FUZZ_CHECK(again.ParseFromString(once));
  FUZZ_CHECK(again.SerializeAsString() == once);
}

void CheckBodies(std::int16_t cmdid, std::string_view body) {
  using namespace im::client;
  switch (cmdid) {
    case IM_CMD_LOGIN: CheckBody<ImLogin>(body); break;
    case IM_CMD_LOGIN_RES: CheckBody<ImLoginRes>(body); break;
    case IM_CMD_HEART_PING:
    case IM_CMD_HEART_PONG:
    case IM_CMD_NOTIFY_SYNC:
    case IM_CMD_GROUP_NOTIFY_SYNC: CheckBody<UserMsgSyncInfo>(body); break;
    case IM_CMD_CLIENT_SEND_IM:  // both directions share the id
      CheckBody<ImClientSendMsg>(body);
      CheckBody<ImClientSendMsgSync>(body);
      break;
    case IM_CMD_CLIENT_SEND_IM_RES: CheckBody<ImClientSendMsgRes>(body); break;
    case IM_CMD_SYNC_PULL: CheckBody<ImSyncPull>(body); break;
    case IM_CMD_SYNC_PULL_RES: CheckBody<ImSyncPullRes>(body); break;
    case IM_CMD_ACK_OFFSET: CheckBody<ImAckOffset>(body); break;
    case IM_CMD_GROUP_SEND_IM:  // both directions share the id
      CheckBody<ImGroupSendMsg>(body);
      CheckBody<ImGroupSendMsgSync>(body);
      break;
    case IM_CMD_GROUP_SEND_IM_RES: CheckBody<ImGroupSendMsgRes>(body); break;
    case IM_CMD_NOTIFY_SYNC_HAS_CHATDATA: CheckBody<ImSyncNotifyWithData>(body); break;
    case IM_CMD_GROUP_NOTIFY_SYNC_HAS_CHATDATA: CheckBody<ImGroupSyncNotifyWithData>(body); break;
    case IM_CMD_GET_SYNC_OFFSETS: CheckBody<ImGetSyncOffsets>(body); break;
    case IM_CMD_GET_SYNC_OFFSETS_RES: CheckBody<ImSyncOffsets>(body); break;
    case IM_CMD_ERROR: CheckBody<ImError>(body); break;
    default: break;  // unknown command: the server answers IM_CMD_ERROR
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in proto3 strings is logged on every parse; keep quiet.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  static constexpr std::size_t kMaxBodies[8] = {kMaxBodySize, kMaxBodySize, kMaxBodySize,
                                                kMaxBodySize, 0, 16, 300, 4096};
  const std::size_t max_body = kMaxBodies[fdp.ConsumeIntegral<std::uint8_t>() & 7];

  // Feed the stream in chunks; every chunk-size byte comes from the tail.
  FrameDecoder decoder(max_body);
  std::string all;  // exactly the bytes fed, in order
  std::vector<Decoded> frames;
  ParseStatus status = ParseStatus::kNeedMore;
  while (fdp.remaining_bytes() > 0) {
    const std::uint8_t b = fdp.ConsumeIntegral<std::uint8_t>();
    const std::size_t chunk = b < 240 ? b % 64 : static_cast<std::size_t>(b - 239) * 4096;
    const std::string bytes = fdp.ConsumeBytesAsString(chunk);
    decoder.Append(bytes);
    all += bytes;
    for (;;) {
      const ParseResult r = decoder.Next();
      if (status != ParseStatus::kNeedMore) FUZZ_CHECK(r.status == status);  // sticky
      if (r.status != ParseStatus::kFrame) {
        status = r.status;
        break;
      }
      CheckFrame(r, max_body);
      frames.push_back(ToDecoded(r));
    }
  }
  if (status == ParseStatus::kNeedMore) {
    // Nothing stays buffered that ParseFrame could have returned.
    FUZZ_CHECK(decoder.Next().status == ParseStatus::kNeedMore);
  }

  // Reference: the whole buffer at once.
  std::string_view rest = all;
  std::size_t index = 0;
  ParseStatus ref_status;
  for (;;) {
    const ParseResult r = ParseFrame(rest, max_body);
    if (r.status != ParseStatus::kFrame) {
      ref_status = r.status;
      break;
    }
    CheckFrame(r, max_body);
    FUZZ_CHECK(index < frames.size());
    FUZZ_CHECK(frames[index] == ToDecoded(r));

    std::string reencoded;
    FUZZ_CHECK(im::net::AppendFrame(r.frame.header, r.frame.body, &reencoded));
    FUZZ_CHECK(reencoded == rest.substr(0, r.consumed));

    CheckBodies(r.frame.header.cmdid, r.frame.body);
    rest.remove_prefix(r.consumed);
    ++index;
  }
  FUZZ_CHECK(index == frames.size());
  FUZZ_CHECK(ref_status == status);
  if (status == ParseStatus::kNeedMore) FUZZ_CHECK(decoder.buffered() == rest.size());
  return 0;
}
