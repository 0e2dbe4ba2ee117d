#pragma once
// On-disk format of storage_server's RocksDB database (docs/architecture.md,
// "Storage keys and values"). Pure functions over bytes; no RocksDB here.
//
// Column families and keys (all integers big-endian, so keys sort by number):
//   records  kind(1) id(8) offset(8)                        -> Record
//   default  'h' kind(1) id(8)                              -> retention floor (8)
//            'c'                                            -> last msgid (8)
// A sequence's newest (msgid, offset) is its last record (retention never
// removes it); its oldest retained offset is the retention floor, written
// only when retention trims, else 1. So an append writes its record, its
// idempotency key and the msgid counter, and nothing per sequence.
//   idempotency sender(8) device(8) client_msgid(8) kind(1) id(8) -> Dedupe
//            (sender-major: one device's client msgids mostly grow, so its
//            keys are appended where its last one went in; see engine.cc)
// Databases written before that held the same entries in a column family
// `dedupe` keyed kind(1) id(8) sender(8) device(8) client_msgid(8); the
// engine copies them over once on open and drops it.
// Values start with a format version byte (1).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace im::storage {

enum class SeqKind : std::uint8_t { kPeer = 0, kGroup = 1 };

/// A sequence: a user's peer sequence or a group's sequence.
struct SeqKey {
  SeqKind kind = SeqKind::kPeer;
  std::int64_t id = 0;
  bool operator==(const SeqKey& o) const { return kind == o.kind && id == o.id; }
};

struct SeqKeyHash {
  std::size_t operator()(const SeqKey& k) const {
    return std::hash<std::int64_t>()(k.id) * 2 + static_cast<std::size_t>(k.kind);
  }
};

/// Identifies one client send (sender uid, device, client msgid).
struct IdempotencyKey {
  std::int64_t sender_uid = 0;
  std::int64_t device_id = 0;
  std::int64_t client_msgid = 0;
};

/// One stored record of a sequence.
struct StoredRecord {
  std::int64_t offset = 0;
  std::int64_t msgid = 0;
  std::int64_t pre_msgid = 0;
  std::int64_t sender_uid = 0;
  std::int64_t device_id = 0;
  std::int32_t cmd = 0;
  std::int64_t timestamp_ms = 0;  // server time of the append
  std::string raw;
};

/// Per sequence: newest record and oldest retained offset. All 0: empty.
/// Not stored as such (see the key layout above).
struct SequenceHead {
  std::int64_t newest_msgid = 0;
  std::int64_t newest_offset = 0;
  std::int64_t oldest_offset = 0;
};

/// What an idempotency key resolved to, and when it was stored.
struct DedupeEntry {
  std::int64_t msgid = 0;
  std::int64_t offset = 0;
  std::int64_t pre_msgid = 0;
  std::int64_t timestamp_ms = 0;
};

inline constexpr std::size_t kSeqPrefixBytes = 9;   // kind + id
inline constexpr std::size_t kRecordKeyBytes = 17;  // kind + id + offset
inline constexpr std::size_t kDedupeKeyBytes = 33;  // sender + device + client msgid + kind + id
inline constexpr std::size_t kDedupeDeviceBytes = 16;  // the sender + device prefix of a dedupe key
inline constexpr char kHeadTag = 'h';
inline constexpr std::string_view kMsgidCounterKey = "c";

std::string RecordKey(const SeqKey& seq, std::int64_t offset);
/// Splits a record key; false if `key` is not one.
bool ParseRecordKey(std::string_view key, SeqKey* seq, std::int64_t* offset);
/// A key that sorts after every record key of `seq` below `offset` and right
/// before RecordKey(seq, offset), and is no record key itself (18 bytes): the
/// start of a range tombstone, kept out of the memtable's insert hints.
/// offset >= 1.
std::string RecordRangeStart(const SeqKey& seq, std::int64_t offset);
std::string HeadKey(const SeqKey& seq);
bool ParseHeadKey(std::string_view key, SeqKey* seq);
std::string DedupeKey(const SeqKey& seq, const IdempotencyKey& key);
/// Splits a dedupe key of the old `dedupe` column family (sequence first);
/// false if `key` is not one.
bool ParseLegacyDedupeKey(std::string_view key, SeqKey* seq, IdempotencyKey* idempotency_key);

/// `offset` is not stored in the value (it is in the key).
std::string EncodeRecord(const StoredRecord& record);
bool DecodeRecord(std::string_view value, std::int64_t offset, StoredRecord* record);
/// Only (msgid, pre_msgid) of an encoded record, without copying raw.
std::optional<std::pair<std::int64_t, std::int64_t>> RecordIds(std::string_view value);
/// Only the timestamp of an encoded record, without copying raw.
std::optional<std::int64_t> RecordTimestamp(std::string_view value);

std::string EncodeDedupe(const DedupeEntry& entry);
bool DecodeDedupe(std::string_view value, DedupeEntry* entry);
/// The msgid counter and the retention floor: one int64.
std::string EncodeCounter(std::int64_t value);
bool DecodeCounter(std::string_view value, std::int64_t* out);

}  // namespace im::storage
