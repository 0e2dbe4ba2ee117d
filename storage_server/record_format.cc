#include "storage_server/record_format.h"

namespace im::storage {
namespace {

constexpr char kFormatVersion = 1;

void PutU64(std::string* out, std::uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(b, 8);
}

void PutI64(std::string* out, std::int64_t v) { PutU64(out, static_cast<std::uint64_t>(v)); }

std::uint64_t GetU64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::int64_t GetI64(const char* p) { return static_cast<std::int64_t>(GetU64(p)); }

void PutSeq(std::string* out, const SeqKey& seq) {
  out->push_back(static_cast<char>(seq.kind));
  PutI64(out, seq.id);
}

bool ValidKind(unsigned char c) { return c <= static_cast<unsigned char>(SeqKind::kGroup); }

// version(1) msgid pre_msgid sender device (8 each) cmd(4) timestamp(8) raw
constexpr std::size_t kRecordHeaderBytes = 1 + 8 * 4 + 4 + 8;

}  // namespace

std::string RecordKey(const SeqKey& seq, std::int64_t offset) {
  std::string key;
  key.reserve(kRecordKeyBytes);
  PutSeq(&key, seq);
  PutI64(&key, offset);
  return key;
}

bool ParseRecordKey(std::string_view key, SeqKey* seq, std::int64_t* offset) {
  if (key.size() != kRecordKeyBytes || !ValidKind(key[0])) return false;
  seq->kind = static_cast<SeqKind>(key[0]);
  seq->id = GetI64(key.data() + 1);
  *offset = GetI64(key.data() + 9);
  return true;
}

std::string RecordRangeStart(const SeqKey& seq, std::int64_t offset) {
  std::string key = RecordKey(seq, offset - 1);
  key.push_back('\0');
  return key;
}

std::string HeadKey(const SeqKey& seq) {
  std::string key(1, kHeadTag);
  PutSeq(&key, seq);
  return key;
}

bool ParseHeadKey(std::string_view key, SeqKey* seq) {
  if (key.size() != 1 + kSeqPrefixBytes || key[0] != kHeadTag || !ValidKind(key[1])) return false;
  seq->kind = static_cast<SeqKind>(key[1]);
  seq->id = GetI64(key.data() + 2);
  return true;
}

std::string DedupeKey(const SeqKey& seq, const IdempotencyKey& k) {
  std::string key;
  key.reserve(kDedupeKeyBytes);
  PutI64(&key, k.sender_uid);
  PutI64(&key, k.device_id);
  PutI64(&key, k.client_msgid);
  PutSeq(&key, seq);
  return key;
}

bool ParseLegacyDedupeKey(std::string_view key, SeqKey* seq, IdempotencyKey* k) {
  if (key.size() != kDedupeKeyBytes || !ValidKind(key[0])) return false;
  seq->kind = static_cast<SeqKind>(key[0]);
  seq->id = GetI64(key.data() + 1);
  k->sender_uid = GetI64(key.data() + 9);
  k->device_id = GetI64(key.data() + 17);
  k->client_msgid = GetI64(key.data() + 25);
  return true;
}

std::string EncodeRecord(const StoredRecord& r) {
  std::string v;
  v.reserve(kRecordHeaderBytes + r.raw.size());
  v.push_back(kFormatVersion);
  PutI64(&v, r.msgid);
  PutI64(&v, r.pre_msgid);
  PutI64(&v, r.sender_uid);
  PutI64(&v, r.device_id);
  const auto cmd = static_cast<std::uint32_t>(r.cmd);
  for (int shift = 24; shift >= 0; shift -= 8) v.push_back(static_cast<char>((cmd >> shift) & 0xff));
  PutI64(&v, r.timestamp_ms);
  v.append(r.raw);
  return v;
}

bool DecodeRecord(std::string_view v, std::int64_t offset, StoredRecord* r) {
  if (v.size() < kRecordHeaderBytes || v[0] != kFormatVersion) return false;
  const char* p = v.data() + 1;
  r->offset = offset;
  r->msgid = GetI64(p);
  r->pre_msgid = GetI64(p + 8);
  r->sender_uid = GetI64(p + 16);
  r->device_id = GetI64(p + 24);
  std::uint32_t cmd = 0;
  for (int i = 0; i < 4; ++i) cmd = (cmd << 8) | static_cast<unsigned char>(p[32 + i]);
  r->cmd = static_cast<std::int32_t>(cmd);
  r->timestamp_ms = GetI64(p + 36);
  r->raw.assign(v.data() + kRecordHeaderBytes, v.size() - kRecordHeaderBytes);
  return true;
}

std::optional<std::pair<std::int64_t, std::int64_t>> RecordIds(std::string_view v) {
  if (v.size() < kRecordHeaderBytes || v[0] != kFormatVersion) return std::nullopt;
  return std::make_pair(GetI64(v.data() + 1), GetI64(v.data() + 9));
}

std::optional<std::int64_t> RecordTimestamp(std::string_view v) {
  if (v.size() < kRecordHeaderBytes || v[0] != kFormatVersion) return std::nullopt;
  return GetI64(v.data() + 37);
}

std::string EncodeDedupe(const DedupeEntry& e) {
  std::string v(1, kFormatVersion);
  PutI64(&v, e.msgid);
  PutI64(&v, e.offset);
  PutI64(&v, e.pre_msgid);
  PutI64(&v, e.timestamp_ms);
  return v;
}

bool DecodeDedupe(std::string_view v, DedupeEntry* e) {
  if (v.size() != 33 || v[0] != kFormatVersion) return false;
  e->msgid = GetI64(v.data() + 1);
  e->offset = GetI64(v.data() + 9);
  e->pre_msgid = GetI64(v.data() + 17);
  e->timestamp_ms = GetI64(v.data() + 25);
  return true;
}

std::string EncodeCounter(std::int64_t value) {
  std::string v(1, kFormatVersion);
  PutI64(&v, value);
  return v;
}

bool DecodeCounter(std::string_view v, std::int64_t* out) {
  if (v.size() != 9 || v[0] != kFormatVersion) return false;
  *out = GetI64(v.data() + 1);
  return true;
}

}  // namespace im::storage
