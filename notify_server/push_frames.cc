#include "notify_server/push_frames.h"

#include "common/net/client_protocol.h"
#include "proto/im_client.pb.h"

namespace im::notify {

PushBody BuildPush(const rpc::Notification& n, const PushOptions& options) {
  const rpc::ChatPayload& p = n.payload();
  const bool group = n.seq().kind() == rpc::SEQ_GROUP;
  const bool with_data = n.has_data() && options.data_enabled && p.content().size() <= options.max_data_bytes;
  PushBody out;
  if (!with_data) {
    client::UserMsgSyncInfo info;
    info.set_groupid(group ? n.seq().id() : 0);
    info.set_synckey(n.msgid());
    info.set_offset(n.offset());
    out.cmdid = group ? net::kCmdGroupNotifySync : net::kCmdNotifySync;
    out.body = info.SerializeAsString();
    return out;
  }
  if (group) {
    client::ImGroupSyncNotifyWithData m;
    m.set_offset(n.offset());
    m.set_nextsynckey(n.msgid());
    m.set_fromuid(p.from_uid());
    m.set_togroupid(n.seq().id());
    m.set_timestamp(p.timestamp());
    m.set_synckey(n.msgid());
    m.set_len(static_cast<std::int32_t>(p.content().size()));
    m.set_msgtype(p.msg_type());
    m.set_msgflag(p.msg_flag());
    m.set_presynckey(n.pre_msgid());
    m.set_content(p.content());
    out.cmdid = net::kCmdGroupNotifySyncHasChatData;
    out.body = m.SerializeAsString();
  } else {
    client::ImSyncNotifyWithData m;
    m.set_offset(n.offset());
    m.set_nextsynckey(n.msgid());
    m.set_fromuid(p.from_uid());
    m.set_touid(p.to_uid());
    m.set_timestamp(p.timestamp());
    m.set_synckey(static_cast<std::int32_t>(static_cast<std::uint32_t>(n.msgid() & 0xffffffff)));
    m.set_len(static_cast<std::int32_t>(p.content().size()));
    m.set_msgtype(p.msg_type());
    m.set_msgflag(p.msg_flag());
    m.set_presynckey(n.pre_msgid());
    m.set_content(p.content());
    out.cmdid = net::kCmdNotifySyncHasChatData;
    out.body = m.SerializeAsString();
  }
  return out;
}

}  // namespace im::notify
