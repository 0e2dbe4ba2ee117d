#pragma once
// Client protocol helpers shared by notify_server and sync_server
// (docs/protocol.md §2, §6): command ids, result codes and frame building.
// Protobuf only; no sockets.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/net/frame_codec.h"

namespace google::protobuf {
class MessageLite;
}

namespace im::net {

/// Command ids (docs/protocol.md §2); the same numbers as im.client.ImCmd.
enum Cmd : std::int16_t {
  kCmdLogin = 300,
  kCmdHeartPing = 301,
  kCmdHeartPong = 302,
  kCmdLoginRes = 303,
  kCmdClientSendIm = 315,
  kCmdClientSendImRes = 316,
  kCmdSyncPull = 317,
  kCmdSyncPullRes = 318,
  kCmdAckOffset = 319,
  kCmdNotifySync = 321,
  kCmdGroupSendIm = 328,
  kCmdGroupSendImRes = 329,
  kCmdGroupNotifySync = 336,
  kCmdNotifySyncHasChatData = 337,
  kCmdGroupNotifySyncHasChatData = 338,
  kCmdGetSyncOffsets = 340,
  kCmdGetSyncOffsetsRes = 341,
  kCmdError = 399,
};

/// Result codes (docs/protocol.md §6).
enum Code : std::int32_t {
  kCodeOk = 200,
  kCodeNotFriends = 201,
  kCodeBadRequest = 400,
  kCodeUnauthorized = 401,
  kCodeForbidden = 403,
  kCodeNotFound = 404,
  kCodeTooManyRequests = 429,
  kCodeInternal = 500,
  kCodeUnavailable = 503,
};

/// "IM_CMD_LOGIN" etc. for logs; "unknown" for ids outside the table.
const char* CmdName(std::int16_t cmdid);

/// A whole frame: header for (uid, cmd, seq) followed by the serialized
/// message. Returns "" when the body is larger than kMaxBodySize. Thread safe.
std::string EncodeFrame(std::int64_t uid, std::int16_t cmdid, std::int32_t seq,
                        const google::protobuf::MessageLite& body);

/// A whole frame around an already serialized body ("" when too large).
std::string EncodeRawFrame(std::int64_t uid, std::int16_t cmdid, std::int32_t seq, std::string_view body);

/// An IM_CMD_ERROR frame with ImError{code, desp}. Thread safe.
std::string ErrorFrame(std::int64_t uid, std::int32_t seq, std::int32_t code, std::string_view desp);

}  // namespace im::net
