#pragma once
// The client frame codec (docs/protocol.md §1): pure functions over byte spans.
// No sockets, no allocation on the parse path, no exceptions.
//
//   offset 0  uint16 body_len   = 14 + len(body)        (big-endian, as every field)
//   offset 2  int64  imuid
//   offset 10 int16  cmdid
//   offset 12 int32  seq
//   offset 16 body

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace im::net {

inline constexpr std::size_t kHeaderSize = 16;
// `body_len` counts the 14 header bytes after itself plus the body.
inline constexpr std::size_t kBodyLenOverhead = 14;
// The largest body a 16-bit body_len can describe: 65535 - 14.
inline constexpr std::size_t kMaxBodySize = 65535 - kBodyLenOverhead;

struct FrameHeader {
  std::int64_t imuid = 0;
  std::int16_t cmdid = 0;
  std::int32_t seq = 0;
};

struct Frame {
  FrameHeader header;
  std::string_view body;  // points into the parsed buffer
};

enum class ParseStatus {
  kFrame,      // one whole frame parsed; `consumed` bytes belong to it
  kNeedMore,   // the buffer holds a prefix of a valid frame
  kBadLength,  // body_len < 14: the stream is not our protocol
  kTooBig,     // body larger than the configured maximum
};

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  std::size_t consumed = 0;
  Frame frame;
};

/// Parses the frame at the front of `data`, reading no byte past its end.
/// `max_body` (<= kMaxBodySize) is the largest body accepted. Pure; thread safe.
ParseResult ParseFrame(std::string_view data, std::size_t max_body = kMaxBodySize);

/// Appends one encoded frame to `out`. Returns false (and appends nothing) when
/// the body is larger than kMaxBodySize.
bool AppendFrame(const FrameHeader& header, std::string_view body, std::string* out);

/// Writes the 16 header bytes for a body of `body_size` bytes. Precondition:
/// body_size <= kMaxBodySize (larger sizes cannot be expressed).
void WriteHeader(const FrameHeader& header, std::size_t body_size, char out[kHeaderSize]);

const char* ParseStatusName(ParseStatus status);

/// Incremental decoder over a byte stream split or coalesced in any way.
/// Not thread safe: one per connection.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_body = kMaxBodySize) : max_body_(max_body) {}

  /// Appends bytes read from the stream.
  void Append(std::string_view bytes);

  /// Returns the next whole frame, kNeedMore when none is complete yet, or an
  /// error status, after which the decoder keeps returning that error.
  /// The frame's body stays valid until the next Append().
  ParseResult Next();

  /// Bytes buffered and not yet returned as frames.
  std::size_t buffered() const { return buffer_.size() - read_pos_; }

 private:
  std::size_t max_body_;
  std::string buffer_;
  std::size_t read_pos_ = 0;
  ParseStatus error_ = ParseStatus::kNeedMore;  // sticky once an error is seen
};

}  // namespace im::net
