#include "common/net/client_protocol.h"

#include "proto/im_client.pb.h"

namespace im::net {

const char* CmdName(std::int16_t cmdid) {
  if (!client::ImCmd_IsValid(cmdid)) return "unknown";
  return client::ImCmd_Name(static_cast<client::ImCmd>(cmdid)).c_str();
}

std::string EncodeRawFrame(std::int64_t uid, std::int16_t cmdid, std::int32_t seq, std::string_view body) {
  std::string out;
  out.reserve(kHeaderSize + body.size());
  if (!AppendFrame(FrameHeader{uid, cmdid, seq}, body, &out)) return {};
  return out;
}

std::string EncodeFrame(std::int64_t uid, std::int16_t cmdid, std::int32_t seq,
                        const google::protobuf::MessageLite& body) {
  const std::size_t size = body.ByteSizeLong();
  if (size > kMaxBodySize) return {};
  std::string out(kHeaderSize + size, '\0');
  WriteHeader(FrameHeader{uid, cmdid, seq}, size, out.data());
  body.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out.data() + kHeaderSize));
  return out;
}

std::string ErrorFrame(std::int64_t uid, std::int32_t seq, std::int32_t code, std::string_view desp) {
  client::ImError error;
  error.set_code(code);
  error.set_desp(std::string(desp));
  return EncodeFrame(uid, kCmdError, seq, error);
}

}  // namespace im::net
