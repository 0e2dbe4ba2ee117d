// Golden tests of the client protocol bodies (docs/protocol.md §2, §3).
//
// Every expected byte string below is computed by hand from the protobuf wire
// format: tag = (field_number << 3) | wire_type, wire type 0 (varint) for
// int32/int64/bool, 2 (length-delimited) for bytes/string/messages. Each field
// k is set to the value k (or "ab"/"cd" for strings), so the bytes name the
// field numbers: a renumbered, retyped or added field breaks these tests.

#include <gtest/gtest.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/net/frame_codec.h"
#include "proto/im_client.pb.h"

namespace im::client {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::MessageDifferencer;

std::string Bytes(std::initializer_list<unsigned char> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

std::string Hex(const std::string& s) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out += ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

// Checks that `m` has every field set, serializes to exactly `expected`, and
// that `expected` parses back into a message equal to `m`.
void ExpectGolden(const Message& m, const std::string& expected) {
  std::vector<const FieldDescriptor*> set_fields;
  m.GetReflection()->ListFields(m, &set_fields);
  EXPECT_EQ(static_cast<int>(set_fields.size()), m.GetDescriptor()->field_count())
      << m.GetDescriptor()->full_name() << ": the golden test must set every field";

  EXPECT_EQ(Hex(m.SerializeAsString()), Hex(expected)) << m.GetDescriptor()->full_name();

  std::unique_ptr<Message> parsed(m.New());
  ASSERT_TRUE(parsed->ParseFromString(expected)) << m.GetDescriptor()->full_name();
  EXPECT_TRUE(MessageDifferencer::Equals(*parsed, m))
      << "parsed: " << parsed->ShortDebugString() << "\nwant:   " << m.ShortDebugString();
}

// ---------------------------------------------------------------------------
// C++ types of the generated accessors: the wire bytes of small values do not
// distinguish int32 from int64, these do.

#define IM_PIN_TYPE(Msg, getter, T)                                               \
  static_assert(std::is_same_v<decltype(std::declval<const Msg&>().getter()), T>, \
                #Msg "." #getter " has the wrong type")

IM_PIN_TYPE(UserMsgSyncInfo, groupid, int64_t);
IM_PIN_TYPE(UserMsgSyncInfo, synckey, int64_t);
IM_PIN_TYPE(UserMsgSyncInfo, offset, int64_t);

IM_PIN_TYPE(ImSyncNotifyWithData, offset, int64_t);
IM_PIN_TYPE(ImSyncNotifyWithData, nextsynckey, int64_t);
IM_PIN_TYPE(ImSyncNotifyWithData, fromuid, int64_t);
IM_PIN_TYPE(ImSyncNotifyWithData, touid, int64_t);
IM_PIN_TYPE(ImSyncNotifyWithData, timestamp, int32_t);
IM_PIN_TYPE(ImSyncNotifyWithData, synckey, int32_t);  // int32 in the peer notify
IM_PIN_TYPE(ImSyncNotifyWithData, len, int32_t);
IM_PIN_TYPE(ImSyncNotifyWithData, msgtype, int32_t);
IM_PIN_TYPE(ImSyncNotifyWithData, msgflag, int32_t);
IM_PIN_TYPE(ImSyncNotifyWithData, presynckey, int64_t);
IM_PIN_TYPE(ImSyncNotifyWithData, content, const std::string&);

IM_PIN_TYPE(ImGroupSyncNotifyWithData, offset, int64_t);
IM_PIN_TYPE(ImGroupSyncNotifyWithData, nextsynckey, int64_t);
IM_PIN_TYPE(ImGroupSyncNotifyWithData, fromuid, int64_t);
IM_PIN_TYPE(ImGroupSyncNotifyWithData, togroupid, int64_t);
IM_PIN_TYPE(ImGroupSyncNotifyWithData, timestamp, int32_t);
IM_PIN_TYPE(ImGroupSyncNotifyWithData, synckey, int64_t);  // int64 in the group notify
IM_PIN_TYPE(ImGroupSyncNotifyWithData, len, int32_t);
IM_PIN_TYPE(ImGroupSyncNotifyWithData, msgtype, int32_t);
IM_PIN_TYPE(ImGroupSyncNotifyWithData, msgflag, int32_t);
IM_PIN_TYPE(ImGroupSyncNotifyWithData, presynckey, int64_t);
IM_PIN_TYPE(ImGroupSyncNotifyWithData, content, const std::string&);

IM_PIN_TYPE(ImClientSendMsg, head, const Head&);
IM_PIN_TYPE(ImClientSendMsg, offset, int64_t);
IM_PIN_TYPE(ImClientSendMsg, nextoffset, int64_t);
IM_PIN_TYPE(ImClientSendMsg, fromuid, int64_t);
IM_PIN_TYPE(ImClientSendMsg, touid, int64_t);
IM_PIN_TYPE(ImClientSendMsg, timestamp, int32_t);
IM_PIN_TYPE(ImClientSendMsg, msgid, int32_t);
IM_PIN_TYPE(ImClientSendMsg, len, int32_t);
IM_PIN_TYPE(ImClientSendMsg, msgtype, int32_t);
IM_PIN_TYPE(ImClientSendMsg, msgflag, int32_t);
IM_PIN_TYPE(ImClientSendMsg, preoffset, int64_t);
IM_PIN_TYPE(ImClientSendMsg, content, const std::string&);

IM_PIN_TYPE(ImClientSendMsgRes, head, const Head&);
IM_PIN_TYPE(ImClientSendMsgRes, touid, int64_t);
IM_PIN_TYPE(ImClientSendMsgRes, len, int32_t);
IM_PIN_TYPE(ImClientSendMsgRes, msgid, int32_t);
IM_PIN_TYPE(ImClientSendMsgRes, code, int32_t);
IM_PIN_TYPE(ImClientSendMsgRes, offset, int64_t);

IM_PIN_TYPE(ImGroupSendMsg, head, const Head&);
IM_PIN_TYPE(ImGroupSendMsg, offset, int64_t);
IM_PIN_TYPE(ImGroupSendMsg, nextoffset, int64_t);
IM_PIN_TYPE(ImGroupSendMsg, fromuid, int64_t);
IM_PIN_TYPE(ImGroupSendMsg, togroupid, int64_t);
IM_PIN_TYPE(ImGroupSendMsg, timestamp, int32_t);
IM_PIN_TYPE(ImGroupSendMsg, msgid, int32_t);
IM_PIN_TYPE(ImGroupSendMsg, len, int32_t);
IM_PIN_TYPE(ImGroupSendMsg, msgtype, int32_t);
IM_PIN_TYPE(ImGroupSendMsg, msgflag, int32_t);
IM_PIN_TYPE(ImGroupSendMsg, preoffset, int64_t);
IM_PIN_TYPE(ImGroupSendMsg, content, const std::string&);

IM_PIN_TYPE(ImGroupSendMsgRes, head, const Head&);
IM_PIN_TYPE(ImGroupSendMsgRes, togroupid, int64_t);
IM_PIN_TYPE(ImGroupSendMsgRes, len, int32_t);
IM_PIN_TYPE(ImGroupSendMsgRes, msgid, int32_t);
IM_PIN_TYPE(ImGroupSendMsgRes, code, int32_t);
IM_PIN_TYPE(ImGroupSendMsgRes, offset, int64_t);
IM_PIN_TYPE(ImGroupSendMsgRes, desp, const std::string&);

IM_PIN_TYPE(ImClientSendMsgSync, offset, int64_t);
IM_PIN_TYPE(ImClientSendMsgSync, nextoffset, int64_t);
IM_PIN_TYPE(ImClientSendMsgSync, fromuid, int64_t);
IM_PIN_TYPE(ImClientSendMsgSync, touid, int64_t);
IM_PIN_TYPE(ImClientSendMsgSync, timestamp, int32_t);
IM_PIN_TYPE(ImClientSendMsgSync, msgid, int32_t);
IM_PIN_TYPE(ImClientSendMsgSync, len, int32_t);
IM_PIN_TYPE(ImClientSendMsgSync, msgtype, int32_t);
IM_PIN_TYPE(ImClientSendMsgSync, msgflag, int32_t);
IM_PIN_TYPE(ImClientSendMsgSync, preoffset, int64_t);
IM_PIN_TYPE(ImClientSendMsgSync, content, const std::string&);

IM_PIN_TYPE(ImGroupSendMsgSync, offset, int64_t);
IM_PIN_TYPE(ImGroupSendMsgSync, nextoffset, int64_t);
IM_PIN_TYPE(ImGroupSendMsgSync, fromuid, int64_t);
IM_PIN_TYPE(ImGroupSendMsgSync, togroupid, int64_t);
IM_PIN_TYPE(ImGroupSendMsgSync, timestamp, int32_t);
IM_PIN_TYPE(ImGroupSendMsgSync, msgid, int32_t);
IM_PIN_TYPE(ImGroupSendMsgSync, len, int32_t);
IM_PIN_TYPE(ImGroupSendMsgSync, msgtype, int32_t);
IM_PIN_TYPE(ImGroupSendMsgSync, msgflag, int32_t);
IM_PIN_TYPE(ImGroupSendMsgSync, preoffset, int64_t);
IM_PIN_TYPE(ImGroupSendMsgSync, touid, int64_t);
IM_PIN_TYPE(ImGroupSendMsgSync, content, const std::string&);

IM_PIN_TYPE(ImLogin, token, const std::string&);
IM_PIN_TYPE(ImLogin, device_id, int64_t);
IM_PIN_TYPE(ImLogin, platform, int32_t);
IM_PIN_TYPE(ImLogin, client_version, const std::string&);

IM_PIN_TYPE(ImLoginRes, code, int32_t);
IM_PIN_TYPE(ImLoginRes, desp, const std::string&);
IM_PIN_TYPE(ImLoginRes, uid, int64_t);
IM_PIN_TYPE(ImLoginRes, server_time, int64_t);

IM_PIN_TYPE(ImSyncPull, groupid, int64_t);
IM_PIN_TYPE(ImSyncPull, offset, int64_t);
IM_PIN_TYPE(ImSyncPull, limit, int32_t);

IM_PIN_TYPE(ImSyncPullRes, code, int32_t);
IM_PIN_TYPE(ImSyncPullRes, groupid, int64_t);
IM_PIN_TYPE(ImSyncPullRes, lastoffset, int64_t);
IM_PIN_TYPE(ImSyncPullRes, serveroffset, int64_t);
IM_PIN_TYPE(ImSyncPullRes, hasmore, bool);
IM_PIN_TYPE(ImSyncPullRes, desp, const std::string&);

IM_PIN_TYPE(ImAckOffset, groupid, int64_t);
IM_PIN_TYPE(ImAckOffset, offset, int64_t);

IM_PIN_TYPE(ImSyncOffsets, latest, const google::protobuf::RepeatedPtrField<UserMsgSyncInfo>&);
IM_PIN_TYPE(ImSyncOffsets, acked, const google::protobuf::RepeatedPtrField<UserMsgSyncInfo>&);

IM_PIN_TYPE(ImError, code, int32_t);
IM_PIN_TYPE(ImError, desp, const std::string&);

#undef IM_PIN_TYPE

// ---------------------------------------------------------------------------
// Seed messages.

TEST(ClientProtoGoldenTest, Head) {
  Head m;
  EXPECT_EQ(m.GetDescriptor()->field_count(), 0);
  ExpectGolden(m, "");
}

TEST(ClientProtoGoldenTest, UserMsgSyncInfo) {
  UserMsgSyncInfo m;
  m.set_groupid(1);
  m.set_synckey(2);
  m.set_offset(3);
  ExpectGolden(m, Bytes({
                      0x08, 0x01,  // GroupId = 1
                      0x10, 0x02,  // SyncKey = 2
                      0x18, 0x03,  // OffSet = 3
                  }));
}

TEST(ClientProtoGoldenTest, ImSyncNotifyWithData) {
  ImSyncNotifyWithData m;
  m.set_offset(1);
  m.set_nextsynckey(2);
  m.set_fromuid(3);
  m.set_touid(4);
  m.set_timestamp(5);
  m.set_synckey(6);
  m.set_len(7);
  m.set_msgtype(8);
  m.set_msgflag(9);
  m.set_presynckey(10);
  m.set_content("ab");
  ExpectGolden(m, Bytes({
                      0x08, 0x01,              // offset = 1
                      0x10, 0x02,              // nextSynckey = 2
                      0x18, 0x03,              // fromUID = 3
                      0x20, 0x04,              // toUID = 4
                      0x28, 0x05,              // timestamp = 5
                      0x30, 0x06,              // synckey = 6
                      0x38, 0x07,              // len = 7
                      0x40, 0x08,              // msgType = 8
                      0x48, 0x09,              // msgFlag = 9
                      0x50, 0x0A,              // preSynckey = 10
                      0x5A, 0x02, 0x61, 0x62,  // content = "ab" (11, wire type 2)
                  }));
}

TEST(ClientProtoGoldenTest, ImGroupSyncNotifyWithData) {
  ImGroupSyncNotifyWithData m;
  m.set_offset(1);
  m.set_nextsynckey(2);
  m.set_fromuid(3);
  m.set_togroupid(4);
  m.set_timestamp(5);
  m.set_synckey(6);
  m.set_len(7);
  m.set_msgtype(8);
  m.set_msgflag(9);
  m.set_presynckey(10);
  m.set_content("ab");
  ExpectGolden(m, Bytes({
                      0x08, 0x01,              // offset = 1
                      0x10, 0x02,              // nextSynckey = 2
                      0x18, 0x03,              // fromUID = 3
                      0x20, 0x04,              // ToGroupid = 4
                      0x28, 0x05,              // timestamp = 5
                      0x30, 0x06,              // synckey = 6 (int64)
                      0x38, 0x07,              // len = 7
                      0x40, 0x08,              // msgType = 8
                      0x48, 0x09,              // msgFlag = 9
                      0x50, 0x0A,              // preSynckey = 10
                      0x5A, 0x02, 0x61, 0x62,  // content = "ab" (11)
                  }));
}

TEST(ClientProtoGoldenTest, ImClientSendMsg) {
  ImClientSendMsg m;
  m.mutable_head();
  m.set_offset(2);
  m.set_nextoffset(3);
  m.set_fromuid(4);
  m.set_touid(5);
  m.set_timestamp(6);
  m.set_msgid(7);
  m.set_len(8);
  m.set_msgtype(9);
  m.set_msgflag(10);
  m.set_preoffset(11);
  m.set_content("ab");
  ExpectGolden(m, Bytes({
                      0x0A, 0x00,              // head = {} (1, wire type 2, length 0)
                      0x10, 0x02,              // offset = 2
                      0x18, 0x03,              // nextOffset = 3
                      0x20, 0x04,              // fromUID = 4
                      0x28, 0x05,              // toUID = 5
                      0x30, 0x06,              // timestamp = 6
                      0x38, 0x07,              // msgid = 7
                      0x40, 0x08,              // len = 8
                      0x48, 0x09,              // msgType = 9
                      0x50, 0x0A,              // msgFlag = 10
                      0x58, 0x0B,              // preOffset = 11
                      0x62, 0x02, 0x61, 0x62,  // content = "ab" (12)
                  }));
}

TEST(ClientProtoGoldenTest, ImClientSendMsgRes) {
  ImClientSendMsgRes m;
  m.mutable_head();
  m.set_touid(2);
  m.set_len(3);
  m.set_msgid(4);
  m.set_code(5);
  m.set_offset(6);
  ExpectGolden(m, Bytes({
                      0x0A, 0x00,  // head = {}
                      0x10, 0x02,  // toUID = 2
                      0x18, 0x03,  // len = 3
                      0x20, 0x04,  // msgid = 4
                      0x28, 0x05,  // code = 5
                      0x30, 0x06,  // offset = 6
                  }));
}

TEST(ClientProtoGoldenTest, ImGroupSendMsg) {
  ImGroupSendMsg m;
  m.mutable_head();
  m.set_offset(2);
  m.set_nextoffset(3);
  m.set_fromuid(4);
  m.set_togroupid(5);
  m.set_timestamp(6);
  m.set_msgid(7);
  m.set_len(8);
  m.set_msgtype(9);
  m.set_msgflag(10);
  m.set_preoffset(11);
  m.set_content("ab");
  ExpectGolden(m, Bytes({
                      0x0A, 0x00,              // head = {}
                      0x10, 0x02,              // offset = 2
                      0x18, 0x03,              // nextOffset = 3
                      0x20, 0x04,              // fromUID = 4
                      0x28, 0x05,              // toGroupid = 5
                      0x30, 0x06,              // timestamp = 6
                      0x38, 0x07,              // msgid = 7
                      0x40, 0x08,              // len = 8
                      0x48, 0x09,              // msgType = 9
                      0x50, 0x0A,              // msgFlag = 10
                      0x58, 0x0B,              // PreOffset = 11
                      0x62, 0x02, 0x61, 0x62,  // content = "ab" (12)
                  }));
}

TEST(ClientProtoGoldenTest, ImGroupSendMsgRes) {
  ImGroupSendMsgRes m;
  m.mutable_head();
  m.set_togroupid(2);
  m.set_len(3);
  m.set_msgid(4);
  m.set_code(5);
  m.set_offset(6);
  m.set_desp("ab");
  ExpectGolden(m, Bytes({
                      0x0A, 0x00,              // head = {}
                      0x10, 0x02,              // toGroupid = 2
                      0x18, 0x03,              // len = 3
                      0x20, 0x04,              // msgid = 4
                      0x28, 0x05,              // code = 5
                      0x30, 0x06,              // offset = 6
                      0x3A, 0x02, 0x61, 0x62,  // desp = "ab" (7)
                  }));
}

TEST(ClientProtoGoldenTest, ImClientSendMsgSync) {
  ImClientSendMsgSync m;
  m.set_offset(1);
  m.set_nextoffset(2);
  m.set_fromuid(3);
  m.set_touid(4);
  m.set_timestamp(5);
  m.set_msgid(6);
  m.set_len(7);
  m.set_msgtype(8);
  m.set_msgflag(9);
  m.set_preoffset(10);
  m.set_content("ab");
  ExpectGolden(m, Bytes({
                      0x08, 0x01,              // offset = 1
                      0x10, 0x02,              // nextOffset = 2
                      0x18, 0x03,              // fromUID = 3
                      0x20, 0x04,              // toUID = 4
                      0x28, 0x05,              // timestamp = 5
                      0x30, 0x06,              // msgid = 6
                      0x38, 0x07,              // len = 7
                      0x40, 0x08,              // msgType = 8
                      0x48, 0x09,              // msgFlag = 9
                      0x50, 0x0A,              // preOffset = 10
                      0x5A, 0x02, 0x61, 0x62,  // content = "ab" (11)
                  }));
}

TEST(ClientProtoGoldenTest, ImGroupSendMsgSync) {
  ImGroupSendMsgSync m;
  m.set_offset(1);
  m.set_nextoffset(2);
  m.set_fromuid(3);
  m.set_togroupid(4);
  m.set_timestamp(5);
  m.set_msgid(6);
  m.set_len(7);
  m.set_msgtype(8);
  m.set_msgflag(9);
  m.set_preoffset(10);
  m.set_touid(11);
  m.set_content("ab");
  ExpectGolden(m, Bytes({
                      0x08, 0x01,              // offset = 1
                      0x10, 0x02,              // nextOffset = 2
                      0x18, 0x03,              // fromUID = 3
                      0x20, 0x04,              // toGroupid = 4
                      0x28, 0x05,              // timestamp = 5
                      0x30, 0x06,              // msgid = 6
                      0x38, 0x07,              // len = 7
                      0x40, 0x08,              // msgType = 8
                      0x48, 0x09,              // msgFlag = 9
                      0x50, 0x0A,              // PreOffset = 10
                      0x58, 0x0B,              // toUID = 11
                      0x62, 0x02, 0x61, 0x62,  // content = "ab" (12)
                  }));
}

// ---------------------------------------------------------------------------
// This project's messages.

TEST(ClientProtoGoldenTest, ImLogin) {
  ImLogin m;
  m.set_token("ab");
  m.set_device_id(2);
  m.set_platform(3);
  m.set_client_version("cd");
  ExpectGolden(m, Bytes({
                      0x0A, 0x02, 0x61, 0x62,  // token = "ab" (1)
                      0x10, 0x02,              // device_id = 2
                      0x18, 0x03,              // platform = 3
                      0x22, 0x02, 0x63, 0x64,  // client_version = "cd" (4)
                  }));
}

TEST(ClientProtoGoldenTest, ImLoginRes) {
  ImLoginRes m;
  m.set_code(1);
  m.set_desp("ab");
  m.set_uid(3);
  m.set_server_time(4);
  ExpectGolden(m, Bytes({
                      0x08, 0x01,              // code = 1
                      0x12, 0x02, 0x61, 0x62,  // desp = "ab" (2)
                      0x18, 0x03,              // uid = 3
                      0x20, 0x04,              // server_time = 4
                  }));
}

TEST(ClientProtoGoldenTest, ImSyncPull) {
  ImSyncPull m;
  m.set_groupid(1);
  m.set_offset(2);
  m.set_limit(3);
  ExpectGolden(m, Bytes({
                      0x08, 0x01,  // groupId = 1
                      0x10, 0x02,  // offset = 2
                      0x18, 0x03,  // limit = 3
                  }));
}

TEST(ClientProtoGoldenTest, ImSyncPullRes) {
  ImSyncPullRes m;
  m.set_code(1);
  m.set_groupid(2);
  m.set_lastoffset(3);
  m.set_serveroffset(4);
  m.set_hasmore(true);
  m.set_desp("ab");
  ExpectGolden(m, Bytes({
                      0x08, 0x01,              // code = 1
                      0x10, 0x02,              // groupId = 2
                      0x18, 0x03,              // lastOffset = 3
                      0x20, 0x04,              // serverOffset = 4
                      0x28, 0x01,              // hasMore = true (5)
                      0x32, 0x02, 0x61, 0x62,  // desp = "ab" (6)
                  }));
}

TEST(ClientProtoGoldenTest, ImAckOffset) {
  ImAckOffset m;
  m.set_groupid(1);
  m.set_offset(2);
  ExpectGolden(m, Bytes({
                      0x08, 0x01,  // groupId = 1
                      0x10, 0x02,  // offset = 2
                  }));
}

TEST(ClientProtoGoldenTest, ImGetSyncOffsets) {
  ImGetSyncOffsets m;
  EXPECT_EQ(m.GetDescriptor()->field_count(), 0);
  ExpectGolden(m, "");
}

TEST(ClientProtoGoldenTest, ImSyncOffsets) {
  ImSyncOffsets m;
  UserMsgSyncInfo* a = m.add_latest();
  a->set_groupid(1);
  a->set_synckey(2);
  a->set_offset(3);
  UserMsgSyncInfo* b = m.add_latest();
  b->set_groupid(4);
  b->set_synckey(5);
  b->set_offset(6);
  UserMsgSyncInfo* c = m.add_acked();
  c->set_groupid(7);
  c->set_synckey(8);
  c->set_offset(9);
  ExpectGolden(m, Bytes({
                      0x0A, 0x06,                          // latest[0] (1), 6 bytes
                      0x08, 0x01, 0x10, 0x02, 0x18, 0x03,  //   {1, 2, 3}
                      0x0A, 0x06,                          // latest[1] (1), 6 bytes
                      0x08, 0x04, 0x10, 0x05, 0x18, 0x06,  //   {4, 5, 6}
                      0x12, 0x06,                          // acked[0] (2), 6 bytes
                      0x08, 0x07, 0x10, 0x08, 0x18, 0x09,  //   {7, 8, 9}
                  }));
}

TEST(ClientProtoGoldenTest, ImError) {
  ImError m;
  m.set_code(1);
  m.set_desp("ab");
  ExpectGolden(m, Bytes({
                      0x08, 0x01,              // code = 1
                      0x12, 0x02, 0x61, 0x62,  // desp = "ab" (2)
                  }));
}

// ---------------------------------------------------------------------------
// Encoding details.

TEST(ClientProtoGoldenTest, EmptyHeadEncodesAsTagAndZeroLength) {
  const std::string kEmptyHead = Bytes({0x0A, 0x00});
  ImClientSendMsg a;
  a.mutable_head();
  EXPECT_EQ(Hex(a.SerializeAsString()), Hex(kEmptyHead));
  ImClientSendMsgRes b;
  b.mutable_head();
  EXPECT_EQ(Hex(b.SerializeAsString()), Hex(kEmptyHead));
  ImGroupSendMsg c;
  c.mutable_head();
  EXPECT_EQ(Hex(c.SerializeAsString()), Hex(kEmptyHead));
  ImGroupSendMsgRes d;
  d.mutable_head();
  EXPECT_EQ(Hex(d.SerializeAsString()), Hex(kEmptyHead));

  // Unset head: nothing at all; and the bytes parse back with head present.
  EXPECT_EQ(ImClientSendMsg().SerializeAsString(), "");
  ImClientSendMsg parsed;
  ASSERT_TRUE(parsed.ParseFromString(kEmptyHead));
  EXPECT_TRUE(parsed.has_head());
}

TEST(ClientProtoGoldenTest, NegativeInt32IsTenByteVarint) {
  // int32 -1 is sign-extended to 64 bits: nine 0xFF and a final 0x01.
  ImError m;
  m.set_code(-1);
  m.set_desp("ab");
  ExpectGolden(m, Bytes({
                      0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,  // code
                      0x12, 0x02, 0x61, 0x62,  // desp = "ab"
                  }));
}

TEST(ClientProtoGoldenTest, NegativeValues) {
  // int32 -2 sign-extends to 64 bits: 0xFFFFFFFFFFFFFFFE, 10 varint bytes.
  ImSyncNotifyWithData n;
  n.set_synckey(-2);
  EXPECT_EQ(Hex(n.SerializeAsString()),
            Hex(Bytes({0x30, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01})));
  // int64 -1.
  UserMsgSyncInfo u;
  u.set_groupid(-1);
  EXPECT_EQ(Hex(u.SerializeAsString()),
            Hex(Bytes({0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01})));
  // A two-byte varint: 300 = 0xAC 0x02.
  ImSyncPull p;
  p.set_limit(300);
  EXPECT_EQ(Hex(p.SerializeAsString()), Hex(Bytes({0x18, 0xAC, 0x02})));
  // int64 beyond 32 bits: 2^32 = 0x80 0x80 0x80 0x80 0x10.
  ImAckOffset a;
  a.set_offset(int64_t{1} << 32);
  EXPECT_EQ(Hex(a.SerializeAsString()), Hex(Bytes({0x10, 0x80, 0x80, 0x80, 0x80, 0x10})));
}

// ---------------------------------------------------------------------------
// Schema: names, numbers and types of every message, from protocol.md §3.

std::string Schema(const Descriptor* d) {
  std::string out;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (!out.empty()) out += ' ';
    out += f->name() + "=" + std::to_string(f->number()) + ":";
    if (f->is_repeated()) out += "repeated ";
    out += f->type() == FieldDescriptor::TYPE_MESSAGE ? f->message_type()->name()
                                                      : std::string(f->type_name());
  }
  return out;
}

TEST(ClientProtoSchemaTest, EveryMessageMatchesProtocol) {
  const std::vector<std::pair<std::string, std::string>> kSchema = {
      {"Head", ""},
      {"UserMsgSyncInfo", "GroupId=1:int64 SyncKey=2:int64 OffSet=3:int64"},
      {"ImSyncNotifyWithData",
       "offset=1:int64 nextSynckey=2:int64 fromUID=3:int64 toUID=4:int64 timestamp=5:int32 "
       "synckey=6:int32 len=7:int32 msgType=8:int32 msgFlag=9:int32 preSynckey=10:int64 "
       "content=11:bytes"},
      {"ImGroupSyncNotifyWithData",
       "offset=1:int64 nextSynckey=2:int64 fromUID=3:int64 ToGroupid=4:int64 timestamp=5:int32 "
       "synckey=6:int64 len=7:int32 msgType=8:int32 msgFlag=9:int32 preSynckey=10:int64 "
       "content=11:bytes"},
      {"ImClientSendMsg",
       "head=1:Head offset=2:int64 nextOffset=3:int64 fromUID=4:int64 toUID=5:int64 "
       "timestamp=6:int32 msgid=7:int32 len=8:int32 msgType=9:int32 msgFlag=10:int32 "
       "preOffset=11:int64 content=12:bytes"},
      {"ImClientSendMsgRes",
       "head=1:Head toUID=2:int64 len=3:int32 msgid=4:int32 code=5:int32 offset=6:int64"},
      {"ImGroupSendMsg",
       "head=1:Head offset=2:int64 nextOffset=3:int64 fromUID=4:int64 toGroupid=5:int64 "
       "timestamp=6:int32 msgid=7:int32 len=8:int32 msgType=9:int32 msgFlag=10:int32 "
       "PreOffset=11:int64 content=12:bytes"},
      {"ImGroupSendMsgRes",
       "head=1:Head toGroupid=2:int64 len=3:int32 msgid=4:int32 code=5:int32 offset=6:int64 "
       "desp=7:string"},
      {"ImClientSendMsgSync",
       "offset=1:int64 nextOffset=2:int64 fromUID=3:int64 toUID=4:int64 timestamp=5:int32 "
       "msgid=6:int32 len=7:int32 msgType=8:int32 msgFlag=9:int32 preOffset=10:int64 "
       "content=11:bytes"},
      {"ImGroupSendMsgSync",
       "offset=1:int64 nextOffset=2:int64 fromUID=3:int64 toGroupid=4:int64 timestamp=5:int32 "
       "msgid=6:int32 len=7:int32 msgType=8:int32 msgFlag=9:int32 PreOffset=10:int64 "
       "toUID=11:int64 content=12:bytes"},
      {"ImLogin", "token=1:string device_id=2:int64 platform=3:int32 client_version=4:string"},
      {"ImLoginRes", "code=1:int32 desp=2:string uid=3:int64 server_time=4:int64"},
      {"ImSyncPull", "groupId=1:int64 offset=2:int64 limit=3:int32"},
      {"ImSyncPullRes",
       "code=1:int32 groupId=2:int64 lastOffset=3:int64 serverOffset=4:int64 hasMore=5:bool "
       "desp=6:string"},
      {"ImAckOffset", "groupId=1:int64 offset=2:int64"},
      {"ImGetSyncOffsets", ""},
      {"ImSyncOffsets", "latest=1:repeated UserMsgSyncInfo acked=2:repeated UserMsgSyncInfo"},
      {"ImError", "code=1:int32 desp=2:string"},
  };
  const google::protobuf::FileDescriptor* file = Head::descriptor()->file();
  EXPECT_EQ(file->package(), "im.client");
  EXPECT_EQ(file->syntax(), google::protobuf::FileDescriptor::SYNTAX_PROTO3);
  EXPECT_EQ(file->message_type_count(), static_cast<int>(kSchema.size()));
  for (const auto& [name, schema] : kSchema) {
    const Descriptor* d = file->FindMessageTypeByName(name);
    ASSERT_NE(d, nullptr) << name;
    EXPECT_EQ(Schema(d), schema) << name;
    EXPECT_EQ(d->nested_type_count(), 0) << name;
    EXPECT_EQ(d->oneof_decl_count(), 0) << name;
  }
}

// ---------------------------------------------------------------------------
// Command ids (protocol.md §2).

static_assert(IM_CMD_UNKNOWN == 0);
static_assert(IM_CMD_LOGIN == 300);
static_assert(IM_CMD_HEART_PING == 301);
static_assert(IM_CMD_HEART_PONG == 302);
static_assert(IM_CMD_LOGIN_RES == 303);
static_assert(IM_CMD_CLIENT_SEND_IM == 315);
static_assert(IM_CMD_CLIENT_SEND_IM_RES == 316);
static_assert(IM_CMD_SYNC_PULL == 317);
static_assert(IM_CMD_SYNC_PULL_RES == 318);
static_assert(IM_CMD_ACK_OFFSET == 319);
static_assert(IM_CMD_NOTIFY_SYNC == 321);
static_assert(IM_CMD_GROUP_SEND_IM == 328);
static_assert(IM_CMD_GROUP_SEND_IM_RES == 329);
static_assert(IM_CMD_GROUP_NOTIFY_SYNC == 336);
static_assert(IM_CMD_NOTIFY_SYNC_HAS_CHATDATA == 337);
static_assert(IM_CMD_GROUP_NOTIFY_SYNC_HAS_CHATDATA == 338);
static_assert(IM_CMD_GET_SYNC_OFFSETS == 340);
static_assert(IM_CMD_GET_SYNC_OFFSETS_RES == 341);
static_assert(IM_CMD_ERROR == 399);

TEST(ClientProtoCmdTest, EnumMatchesProtocolTable) {
  const std::vector<std::pair<int, std::string>> kTable = {
      {300, "IM_CMD_LOGIN"},
      {301, "IM_CMD_HEART_PING"},
      {302, "IM_CMD_HEART_PONG"},
      {303, "IM_CMD_LOGIN_RES"},
      {315, "IM_CMD_CLIENT_SEND_IM"},
      {316, "IM_CMD_CLIENT_SEND_IM_RES"},
      {317, "IM_CMD_SYNC_PULL"},
      {318, "IM_CMD_SYNC_PULL_RES"},
      {319, "IM_CMD_ACK_OFFSET"},
      {321, "IM_CMD_NOTIFY_SYNC"},
      {328, "IM_CMD_GROUP_SEND_IM"},
      {329, "IM_CMD_GROUP_SEND_IM_RES"},
      {336, "IM_CMD_GROUP_NOTIFY_SYNC"},
      {337, "IM_CMD_NOTIFY_SYNC_HAS_CHATDATA"},
      {338, "IM_CMD_GROUP_NOTIFY_SYNC_HAS_CHATDATA"},
      {340, "IM_CMD_GET_SYNC_OFFSETS"},
      {341, "IM_CMD_GET_SYNC_OFFSETS_RES"},
      {399, "IM_CMD_ERROR"},
  };
  const google::protobuf::EnumDescriptor* e = ImCmd_descriptor();
  // The table plus IM_CMD_UNKNOWN, nothing else.
  EXPECT_EQ(e->value_count(), static_cast<int>(kTable.size()) + 1);
  for (const auto& [number, name] : kTable) {
    ImCmd value = IM_CMD_UNKNOWN;
    ASSERT_TRUE(ImCmd_Parse(name, &value)) << name;
    EXPECT_EQ(static_cast<int>(value), number) << name;
    EXPECT_EQ(ImCmd_Name(static_cast<ImCmd>(number)), name);
  }
  for (int i = 0; i < e->value_count(); ++i) {
    const auto* v = e->value(i);
    if (v->number() == IM_CMD_UNKNOWN) {
      EXPECT_EQ(v->name(), "IM_CMD_UNKNOWN");
      continue;
    }
    bool found = false;
    for (const auto& [number, name] : kTable) {
      if (number == v->number() && name == v->name()) found = true;
    }
    EXPECT_TRUE(found) << "enum value " << v->name() << " = " << v->number()
                       << " is not in protocol.md §2";
  }
}

// ---------------------------------------------------------------------------
// Round trip of every (command, body) pair through the frame codec.

// Sets every field of `m` to a distinct non-default value, via reflection so
// that a field added later is populated too.
void Populate(Message* m, int* counter) {
  const Reflection* r = m->GetReflection();
  const Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const int repeat = f->is_repeated() ? 2 : 1;
    for (int k = 0; k < repeat; ++k) {
      const int n = ++*counter;
      const bool negative = (n % 2) == 1;
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT64: {
          const int64_t v = negative ? -(int64_t{1} << 40) - n : (int64_t{1} << 40) + n;
          f->is_repeated() ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_INT32: {
          const int32_t v = negative ? -100000 - n : 100000 + n;
          f->is_repeated() ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_BOOL:
          f->is_repeated() ? r->AddBool(m, f, true) : r->SetBool(m, f, true);
          break;
        case FieldDescriptor::CPPTYPE_STRING: {
          std::string v;
          if (f->type() == FieldDescriptor::TYPE_BYTES) {
            v.resize(200 + n);
            for (std::size_t j = 0; j < v.size(); ++j) v[j] = static_cast<char>(j * 13 + n);
          } else {
            v = "text-" + std::to_string(n);  // proto3 strings must be UTF-8
          }
          f->is_repeated() ? r->AddString(m, f, v) : r->SetString(m, f, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE:
          Populate(f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f), counter);
          break;
        default:
          ADD_FAILURE() << "unexpected field type in " << f->full_name();
      }
    }
  }
}

struct CmdBody {
  int number;        // from protocol.md §2
  ImCmd cmd;         // the generated enum value
  const Descriptor* body;
};

std::vector<CmdBody> CmdBodyTable() {
  return {
      {300, IM_CMD_LOGIN, ImLogin::descriptor()},
      {303, IM_CMD_LOGIN_RES, ImLoginRes::descriptor()},
      {301, IM_CMD_HEART_PING, UserMsgSyncInfo::descriptor()},
      {302, IM_CMD_HEART_PONG, UserMsgSyncInfo::descriptor()},
      {315, IM_CMD_CLIENT_SEND_IM, ImClientSendMsg::descriptor()},      // C→S
      {315, IM_CMD_CLIENT_SEND_IM, ImClientSendMsgSync::descriptor()},  // S→C
      {316, IM_CMD_CLIENT_SEND_IM_RES, ImClientSendMsgRes::descriptor()},
      {317, IM_CMD_SYNC_PULL, ImSyncPull::descriptor()},
      {318, IM_CMD_SYNC_PULL_RES, ImSyncPullRes::descriptor()},
      {319, IM_CMD_ACK_OFFSET, ImAckOffset::descriptor()},
      {321, IM_CMD_NOTIFY_SYNC, UserMsgSyncInfo::descriptor()},
      {328, IM_CMD_GROUP_SEND_IM, ImGroupSendMsg::descriptor()},      // C→S
      {328, IM_CMD_GROUP_SEND_IM, ImGroupSendMsgSync::descriptor()},  // S→C
      {329, IM_CMD_GROUP_SEND_IM_RES, ImGroupSendMsgRes::descriptor()},
      {336, IM_CMD_GROUP_NOTIFY_SYNC, UserMsgSyncInfo::descriptor()},
      {337, IM_CMD_NOTIFY_SYNC_HAS_CHATDATA, ImSyncNotifyWithData::descriptor()},
      {338, IM_CMD_GROUP_NOTIFY_SYNC_HAS_CHATDATA, ImGroupSyncNotifyWithData::descriptor()},
      {340, IM_CMD_GET_SYNC_OFFSETS, ImGetSyncOffsets::descriptor()},
      {341, IM_CMD_GET_SYNC_OFFSETS_RES, ImSyncOffsets::descriptor()},
      {399, IM_CMD_ERROR, ImError::descriptor()},
  };
}

std::unique_ptr<Message> NewMessage(const Descriptor* d) {
  const Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(d);
  return std::unique_ptr<Message>(prototype->New());
}

TEST(ClientProtoCmdTest, TableCoversEveryCommandAndMessage) {
  const std::vector<CmdBody> table = CmdBodyTable();
  EXPECT_EQ(table.size(), 20u);  // 18 ids, 315 and 328 in both directions
  std::set<int> numbers;
  std::set<std::string> bodies = {"Head"};  // only nested, never a frame body
  for (const CmdBody& e : table) {
    numbers.insert(e.number);
    bodies.insert(e.body->name());
  }
  const google::protobuf::EnumDescriptor* cmds = ImCmd_descriptor();
  for (int i = 0; i < cmds->value_count(); ++i) {
    if (cmds->value(i)->number() == IM_CMD_UNKNOWN) continue;
    EXPECT_EQ(numbers.count(cmds->value(i)->number()), 1u) << cmds->value(i)->name();
  }
  EXPECT_EQ(numbers.size(), 18u);
  const google::protobuf::FileDescriptor* file = Head::descriptor()->file();
  for (int i = 0; i < file->message_type_count(); ++i) {
    EXPECT_EQ(bodies.count(file->message_type(i)->name()), 1u)
        << file->message_type(i)->name() << " is the body of no command";
  }
}

TEST(ClientProtoCmdTest, EveryCommandRoundTripsThroughFrames) {
  const std::vector<CmdBody> table = CmdBodyTable();
  std::vector<std::unique_ptr<Message>> sent;
  std::string stream;
  int counter = 0;
  for (std::size_t i = 0; i < table.size(); ++i) {
    const CmdBody& e = table[i];
    EXPECT_EQ(static_cast<int>(e.cmd), e.number) << e.body->name();
    std::unique_ptr<Message> body = NewMessage(e.body);
    Populate(body.get(), &counter);
    std::vector<const FieldDescriptor*> set_fields;
    body->GetReflection()->ListFields(*body, &set_fields);
    EXPECT_EQ(static_cast<int>(set_fields.size()), e.body->field_count()) << e.body->name();

    im::net::FrameHeader header;
    header.imuid = 707 + static_cast<int64_t>(i);
    header.cmdid = static_cast<int16_t>(e.cmd);
    header.seq = (i % 2 == 0) ? static_cast<int32_t>(i + 1) : -static_cast<int32_t>(i + 1);
    ASSERT_TRUE(im::net::AppendFrame(header, body->SerializeAsString(), &stream));
    sent.push_back(std::move(body));
  }

  // Decode in small uneven chunks.
  im::net::FrameDecoder decoder;
  std::size_t next = 0;
  std::size_t pos = 0;
  for (std::size_t chunk = 1; pos < stream.size(); chunk = chunk % 11 + 1) {
    const std::size_t n = std::min(chunk, stream.size() - pos);
    decoder.Append(std::string_view(stream).substr(pos, n));
    pos += n;
    for (;;) {
      const im::net::ParseResult r = decoder.Next();
      if (r.status == im::net::ParseStatus::kNeedMore) break;
      ASSERT_EQ(r.status, im::net::ParseStatus::kFrame);
      ASSERT_LT(next, table.size());
      const CmdBody& e = table[next];
      SCOPED_TRACE(e.body->name());
      EXPECT_EQ(r.frame.header.imuid, 707 + static_cast<int64_t>(next));
      EXPECT_EQ(r.frame.header.cmdid, e.number);
      EXPECT_EQ(r.frame.header.cmdid, static_cast<int>(e.cmd));
      EXPECT_EQ(r.frame.header.seq, (next % 2 == 0) ? static_cast<int32_t>(next + 1)
                                                    : -static_cast<int32_t>(next + 1));
      std::unique_ptr<Message> got = NewMessage(e.body);
      ASSERT_TRUE(got->ParseFromArray(r.frame.body.data(), static_cast<int>(r.frame.body.size())));
      EXPECT_TRUE(MessageDifferencer::Equals(*got, *sent[next]))
          << "got:  " << got->ShortDebugString() << "\nsent: " << sent[next]->ShortDebugString();
      EXPECT_EQ(got->SerializeAsString(), sent[next]->SerializeAsString());
      ++next;
    }
  }
  EXPECT_EQ(next, table.size());
  EXPECT_EQ(decoder.buffered(), 0u);
}

}  // namespace
}  // namespace im::client
