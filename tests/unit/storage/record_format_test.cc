#include "storage_server/record_format.h"

#include <gtest/gtest.h>

#include "common/base/shard_map.h"

namespace im::storage {
namespace {

TEST(RecordFormatTest, RecordKeysSortByOffsetWithinASequence) {
  const SeqKey a{SeqKind::kPeer, 7};
  EXPECT_LT(RecordKey(a, 255), RecordKey(a, 256));
  EXPECT_LT(RecordKey(a, 1), RecordKey(a, int64_t{1} << 40));
  // Every record of uid 7 sorts before any of uid 8, and peer before group.
  EXPECT_LT(RecordKey(a, int64_t{1} << 50), RecordKey({SeqKind::kPeer, 8}, 1));
  EXPECT_LT(RecordKey({SeqKind::kPeer, 9}, 5), RecordKey({SeqKind::kGroup, 1}, 1));
  SeqKey seq;
  int64_t offset = 0;
  ASSERT_TRUE(ParseRecordKey(RecordKey({SeqKind::kGroup, 123456789012}, 42), &seq, &offset));
  EXPECT_EQ(seq, (SeqKey{SeqKind::kGroup, 123456789012}));
  EXPECT_EQ(offset, 42);
  EXPECT_FALSE(ParseRecordKey("short", &seq, &offset));
}

TEST(RecordFormatTest, RecordRoundTripsWithBinaryRaw) {
  StoredRecord r;
  r.msgid = (int64_t{1} << 53) - 1;
  r.pre_msgid = 99;
  r.sender_uid = 1001;
  r.device_id = -3;
  r.cmd = -7;
  r.timestamp_ms = 1700000000123;
  r.raw = std::string("a\0b\xff", 4);
  StoredRecord back;
  ASSERT_TRUE(DecodeRecord(EncodeRecord(r), 5, &back));
  EXPECT_EQ(back.offset, 5);
  EXPECT_EQ(back.msgid, r.msgid);
  EXPECT_EQ(back.pre_msgid, r.pre_msgid);
  EXPECT_EQ(back.sender_uid, r.sender_uid);
  EXPECT_EQ(back.device_id, r.device_id);
  EXPECT_EQ(back.cmd, r.cmd);
  EXPECT_EQ(back.timestamp_ms, r.timestamp_ms);
  EXPECT_EQ(back.raw, r.raw);
  EXPECT_EQ(RecordTimestamp(EncodeRecord(r)), r.timestamp_ms);
  EXPECT_EQ(RecordIds(EncodeRecord(r)), std::make_pair(r.msgid, r.pre_msgid));
  // Truncated or of an unknown version: rejected, never read past the end.
  const std::string encoded = EncodeRecord(r);
  for (size_t n = 0; n < 45; ++n) EXPECT_FALSE(DecodeRecord(encoded.substr(0, n), 1, &back)) << n;
  EXPECT_FALSE(DecodeRecord("\x02" + encoded.substr(1), 1, &back));
}

TEST(RecordFormatTest, DedupeAndCounterRoundTrip) {  DedupeEntry d{5, 6, 4, 77};
  DedupeEntry db;
  ASSERT_TRUE(DecodeDedupe(EncodeDedupe(d), &db));
  EXPECT_EQ(db.msgid, 5);
  EXPECT_EQ(db.offset, 6);
  EXPECT_EQ(db.pre_msgid, 4);
  EXPECT_EQ(db.timestamp_ms, 77);
  int64_t c = 0;
  ASSERT_TRUE(DecodeCounter(EncodeCounter(123456), &c));
  EXPECT_EQ(c, 123456);
  EXPECT_FALSE(DecodeCounter("x", &c));
  SeqKey seq;
  ASSERT_TRUE(ParseHeadKey(HeadKey({SeqKind::kGroup, 9}), &seq));
  EXPECT_EQ(seq, (SeqKey{SeqKind::kGroup, 9}));
  EXPECT_FALSE(ParseHeadKey(std::string(kMsgidCounterKey), &seq));
  // A range start sorts between offset - 1 and offset of its sequence, and is no record key.
  const std::string start = RecordRangeStart({SeqKind::kPeer, 3}, 256);
  EXPECT_LT(RecordKey({SeqKind::kPeer, 3}, 255), start);
  EXPECT_LT(start, RecordKey({SeqKind::kPeer, 3}, 256));
  EXPECT_LT(RecordKey({SeqKind::kPeer, 2}, INT64_MAX), RecordRangeStart({SeqKind::kPeer, 3}, 1));
  int64_t parsed_offset = 0;
  EXPECT_FALSE(ParseRecordKey(start, &seq, &parsed_offset));
  // The key of a peer copy and of a receiver copy with the same idempotency key differ.
  EXPECT_NE(DedupeKey({SeqKind::kPeer, 1}, {1, 2, 3}), DedupeKey({SeqKind::kPeer, 2}, {1, 2, 3}));
  // Sender-major: one device's keys share a prefix and sort by client msgid.
  const std::string k1 = DedupeKey({SeqKind::kGroup, 9}, {1, 2, 3});
  const std::string k2 = DedupeKey({SeqKind::kPeer, 1}, {1, 2, 4});
  ASSERT_EQ(k1.size(), kDedupeKeyBytes);
  EXPECT_EQ(k1.substr(0, kDedupeDeviceBytes), k2.substr(0, kDedupeDeviceBytes));
  EXPECT_LT(k1, k2);
  EXPECT_NE(DedupeKey({SeqKind::kPeer, 1}, {1, 3, 3}).substr(0, kDedupeDeviceBytes), k1.substr(0, kDedupeDeviceBytes));
  // The old layout (sequence first) parses back; anything else does not.
  IdempotencyKey parsed;
  std::string legacy(1, '\1');
  for (int64_t v : {9, 1, 2, 3}) legacy.append(std::string(7, '\0') + static_cast<char>(v));
  ASSERT_TRUE(ParseLegacyDedupeKey(legacy, &seq, &parsed));
  EXPECT_EQ(seq, (SeqKey{SeqKind::kGroup, 9}));
  EXPECT_EQ(parsed.sender_uid, 1);
  EXPECT_EQ(parsed.device_id, 2);
  EXPECT_EQ(parsed.client_msgid, 3);
  EXPECT_FALSE(ParseLegacyDedupeKey(legacy.substr(1), &seq, &parsed));
  legacy[0] = '\7';
  EXPECT_FALSE(ParseLegacyDedupeKey(legacy, &seq, &parsed));
}

TEST(ShardMapTest, IdModuloShardCount) {
  EXPECT_EQ(base::ShardOf(10, 1), 0);
  EXPECT_EQ(base::ShardOf(10, 4), 2);
  EXPECT_EQ(base::ShardOf(7, 4), 3);
  EXPECT_TRUE(base::ShardOwns(1, 2, 3));
  EXPECT_FALSE(base::ShardOwns(0, 2, 3));
  // A negative id (never valid) still maps into range.
  const int s = base::ShardOf(-1, 3);
  EXPECT_GE(s, 0);
  EXPECT_LT(s, 3);
}

}  // namespace
}  // namespace im::storage
