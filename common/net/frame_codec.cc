#include "common/net/frame_codec.h"

#include <cstring>

namespace im::net {
namespace {

std::uint64_t LoadBigEndian(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void StoreBigEndian(std::uint64_t v, int bytes, char* p) {
  for (int i = bytes - 1; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

}  // namespace

ParseResult ParseFrame(std::string_view data, std::size_t max_body) {
  ParseResult result;
  if (data.size() < 2) return result;  // kNeedMore
  const std::size_t body_len = LoadBigEndian(data.data(), 2);
  if (body_len < kBodyLenOverhead) {
    result.status = ParseStatus::kBadLength;
    return result;
  }
  const std::size_t body_size = body_len - kBodyLenOverhead;
  if (body_size > max_body) {
    result.status = ParseStatus::kTooBig;
    return result;
  }
  const std::size_t frame_size = 2 + body_len;
  if (data.size() < frame_size) return result;  // kNeedMore
  result.status = ParseStatus::kFrame;
  result.consumed = frame_size;
  result.frame.header.imuid = static_cast<std::int64_t>(LoadBigEndian(data.data() + 2, 8));
  result.frame.header.cmdid = static_cast<std::int16_t>(LoadBigEndian(data.data() + 10, 2));
  result.frame.header.seq = static_cast<std::int32_t>(LoadBigEndian(data.data() + 12, 4));
  result.frame.body = data.substr(kHeaderSize, body_size);
  return result;
}

void WriteHeader(const FrameHeader& header, std::size_t body_size, char out[kHeaderSize]) {
  StoreBigEndian(body_size + kBodyLenOverhead, 2, out);
  StoreBigEndian(static_cast<std::uint64_t>(header.imuid), 8, out + 2);
  StoreBigEndian(static_cast<std::uint16_t>(header.cmdid), 2, out + 10);
  StoreBigEndian(static_cast<std::uint32_t>(header.seq), 4, out + 12);
}

bool AppendFrame(const FrameHeader& header, std::string_view body, std::string* out) {
  if (body.size() > kMaxBodySize) return false;
  char head[kHeaderSize];
  WriteHeader(header, body.size(), head);
  out->append(head, kHeaderSize);
  out->append(body.data(), body.size());
  return true;
}

const char* ParseStatusName(ParseStatus status) {
  switch (status) {
    case ParseStatus::kFrame: return "frame";
    case ParseStatus::kNeedMore: return "need more data";
    case ParseStatus::kBadLength: return "body_len below 14";
    case ParseStatus::kTooBig: return "frame too big";
  }
  return "?";
}

void FrameDecoder::Append(std::string_view bytes) {
  if (error_ != ParseStatus::kNeedMore) return;  // the stream is dead: buffer nothing more
  // Drop what earlier frames consumed before growing the buffer, so it holds at
  // most one partial frame plus the new bytes.
  if (read_pos_ > 0) {
    buffer_.erase(0, read_pos_);
    read_pos_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
}

ParseResult FrameDecoder::Next() {
  if (error_ != ParseStatus::kNeedMore) {
    ParseResult sticky;
    sticky.status = error_;
    return sticky;
  }
  ParseResult result = ParseFrame(std::string_view(buffer_).substr(read_pos_), max_body_);
  switch (result.status) {
    case ParseStatus::kFrame:
      read_pos_ += result.consumed;
      break;
    case ParseStatus::kNeedMore:
      break;
    case ParseStatus::kBadLength:
    case ParseStatus::kTooBig:
      error_ = result.status;
      break;
  }
  return result;
}

}  // namespace im::net
