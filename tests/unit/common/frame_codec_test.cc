// Unit tests of the client frame codec (docs/protocol.md §1).
//
// The golden byte arrays below are written by hand from the protocol table
// (16-byte big-endian header: uint16 body_len = 14 + len(body), int64 imuid,
// int16 cmdid, int32 seq); they are never produced by the code under test.

#include "common/net/frame_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace im::net {
namespace {

// Builds a std::string from literal bytes (may contain NULs).
std::string Bytes(std::initializer_list<unsigned char> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

std::string Encode(const FrameHeader& header, std::string_view body) {
  std::string out;
  EXPECT_TRUE(AppendFrame(header, body, &out));
  return out;
}

FrameHeader Header(std::int64_t imuid, std::int16_t cmdid, std::int32_t seq) {
  FrameHeader h;
  h.imuid = imuid;
  h.cmdid = cmdid;
  h.seq = seq;
  return h;
}

// ---------------------------------------------------------------------------
// Constants.

TEST(FrameCodecTest, Constants) {
  EXPECT_EQ(kHeaderSize, 16u);
  EXPECT_EQ(kBodyLenOverhead, 14u);
  EXPECT_EQ(kMaxBodySize, 65521u);  // protocol.md §1: largest body is 65521 bytes
}

TEST(FrameCodecTest, StatusNamesAreDistinct) {
  const std::string frame = ParseStatusName(ParseStatus::kFrame);
  const std::string more = ParseStatusName(ParseStatus::kNeedMore);
  const std::string bad = ParseStatusName(ParseStatus::kBadLength);
  const std::string big = ParseStatusName(ParseStatus::kTooBig);
  EXPECT_NE(frame, more);
  EXPECT_NE(frame, bad);
  EXPECT_NE(frame, big);
  EXPECT_NE(more, bad);
  EXPECT_NE(more, big);
  EXPECT_NE(bad, big);
}

// ---------------------------------------------------------------------------
// Golden bytes.

// HEART_PING (301 = 0x012D) from imuid 707 (0x2C3), seq 1, 4-byte body.
const std::string kPingGolden = Bytes({
    0x00, 0x12,                                      // body_len = 14 + 4 = 18
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xC3,  // imuid 707
    0x01, 0x2D,                                      // cmdid 301
    0x00, 0x00, 0x00, 0x01,                          // seq 1
    0x08, 0x00, 0x10, 0x07,                          // body
});

TEST(FrameCodecGoldenTest, HeartPingEncode) {
  const std::string body = Bytes({0x08, 0x00, 0x10, 0x07});
  EXPECT_EQ(Encode(Header(707, 301, 1), body), kPingGolden);
}

TEST(FrameCodecGoldenTest, HeartPingWriteHeader) {
  char head[kHeaderSize];
  WriteHeader(Header(707, 301, 1), 4, head);
  EXPECT_EQ(std::string(head, kHeaderSize), kPingGolden.substr(0, 16));
}

TEST(FrameCodecGoldenTest, HeartPingParse) {
  const ParseResult r = ParseFrame(kPingGolden);
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.consumed, 20u);
  EXPECT_EQ(r.frame.header.imuid, 707);
  EXPECT_EQ(r.frame.header.cmdid, 301);
  EXPECT_EQ(r.frame.header.seq, 1);
  EXPECT_EQ(r.frame.body, Bytes({0x08, 0x00, 0x10, 0x07}));
  // The body view points into the parsed buffer.
  EXPECT_EQ(r.frame.body.data(), kPingGolden.data() + 16);
}

// Negative values: two's complement, big-endian. Empty body.
const std::string kNegativeGolden = Bytes({
    0x00, 0x0E,                                      // body_len = 14
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,  // imuid -2
    0xFF, 0xFD,                                      // cmdid -3
    0xFF, 0xFF, 0xFF, 0xFC,                          // seq -4
});

TEST(FrameCodecGoldenTest, NegativeFieldsEncode) {
  EXPECT_EQ(Encode(Header(-2, -3, -4), ""), kNegativeGolden);
}

TEST(FrameCodecGoldenTest, NegativeFieldsParse) {
  const ParseResult r = ParseFrame(kNegativeGolden);
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.consumed, 16u);
  EXPECT_EQ(r.frame.header.imuid, -2);
  EXPECT_EQ(r.frame.header.cmdid, -3);
  EXPECT_EQ(r.frame.header.seq, -4);
  EXPECT_TRUE(r.frame.body.empty());
}

// Every header byte distinct, so any byte-order or offset mistake shows.
// Body length 0x0102 = 258 so that body_len's high byte is non-zero.
TEST(FrameCodecGoldenTest, DistinctBytesPinOrder) {
  const std::string body(0x0102 - 14, 'x');  // body_len = 0x0102
  const std::string expected_header = Bytes({
      0x01, 0x02,                                      // body_len 258
      0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // imuid
      0x09, 0x0A,                                      // cmdid
      0x0B, 0x0C, 0x0D, 0x0E,                          // seq
  });
  const FrameHeader h = Header(0x1122334455667788LL, 0x090A, 0x0B0C0D0E);
  const std::string encoded = Encode(h, body);
  ASSERT_EQ(encoded.size(), 16u + body.size());
  EXPECT_EQ(encoded.substr(0, 16), expected_header);
  EXPECT_EQ(encoded.substr(16), body);

  const std::string golden = expected_header + body;
  const ParseResult r = ParseFrame(golden);
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.consumed, 16u + 244u);
  EXPECT_EQ(r.frame.header.imuid, 0x1122334455667788LL);
  EXPECT_EQ(r.frame.header.cmdid, 0x090A);
  EXPECT_EQ(r.frame.header.seq, 0x0B0C0D0E);
  EXPECT_EQ(r.frame.body, body);
}

// Extremes of each signed field.
TEST(FrameCodecGoldenTest, MinValues) {
  const std::string golden = Bytes({
      0x00, 0x0F,                                      // body_len 15
      0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // INT64_MIN
      0x80, 0x00,                                      // INT16_MIN
      0x80, 0x00, 0x00, 0x00,                          // INT32_MIN
      0x5A,                                            // body "Z"
  });
  const FrameHeader h = Header(std::numeric_limits<std::int64_t>::min(),
                               std::numeric_limits<std::int16_t>::min(),
                               std::numeric_limits<std::int32_t>::min());
  EXPECT_EQ(Encode(h, "Z"), golden);
  const ParseResult r = ParseFrame(golden);
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.frame.header.imuid, std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(r.frame.header.cmdid, std::numeric_limits<std::int16_t>::min());
  EXPECT_EQ(r.frame.header.seq, std::numeric_limits<std::int32_t>::min());
  EXPECT_EQ(r.frame.body, "Z");
}

TEST(FrameCodecGoldenTest, MaxValues) {
  const std::string golden = Bytes({
      0x00, 0x0E,                                      // body_len 14
      0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // INT64_MAX
      0x7F, 0xFF,                                      // INT16_MAX
      0x7F, 0xFF, 0xFF, 0xFF,                          // INT32_MAX
  });
  const FrameHeader h = Header(std::numeric_limits<std::int64_t>::max(),
                               std::numeric_limits<std::int16_t>::max(),
                               std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(Encode(h, ""), golden);
  const ParseResult r = ParseFrame(golden);
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.frame.header.imuid, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(r.frame.header.cmdid, std::numeric_limits<std::int16_t>::max());
  EXPECT_EQ(r.frame.header.seq, std::numeric_limits<std::int32_t>::max());
}

TEST(FrameCodecGoldenTest, AppendFrameAppends) {
  std::string out = "prefix";
  ASSERT_TRUE(AppendFrame(Header(707, 301, 1), Bytes({0x08, 0x00, 0x10, 0x07}), &out));
  EXPECT_EQ(out, "prefix" + kPingGolden);
}

// ---------------------------------------------------------------------------
// Lengths.

std::string HeaderWithBodyLen(std::uint16_t body_len) {
  std::string s = Bytes({static_cast<unsigned char>(body_len >> 8),
                         static_cast<unsigned char>(body_len & 0xFF)});
  s += Bytes({0, 0, 0, 0, 0, 0, 0x02, 0xC3, 0x01, 0x2D, 0, 0, 0, 1});
  return s;
}

TEST(FrameCodecLengthTest, BodyLenBelow14IsBadLength) {
  for (std::uint16_t body_len : {0, 1, 2, 13}) {
    SCOPED_TRACE(body_len);
    // Detected from the two length bytes alone ...
    const std::string full = HeaderWithBodyLen(body_len) + std::string(64, 'x');
    EXPECT_EQ(ParseFrame(full.substr(0, 2)).status, ParseStatus::kBadLength);
    // ... and with plenty of bytes.
    const ParseResult r = ParseFrame(full);
    EXPECT_EQ(r.status, ParseStatus::kBadLength);
    EXPECT_EQ(r.consumed, 0u);
  }
}

TEST(FrameCodecLengthTest, BodyLen14IsEmptyFrame) {
  const std::string full = HeaderWithBodyLen(14) + "trailing";
  const ParseResult r = ParseFrame(full);
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.consumed, 16u);
  EXPECT_TRUE(r.frame.body.empty());
  EXPECT_EQ(r.frame.header.imuid, 707);
  EXPECT_EQ(r.frame.header.cmdid, 301);
  EXPECT_EQ(r.frame.header.seq, 1);
}

TEST(FrameCodecLengthTest, ConfiguredMaximum) {
  // Body of exactly max_body: accepted.
  const std::string ok = HeaderWithBodyLen(14 + 100) + std::string(100, 'b');
  const ParseResult r = ParseFrame(ok, 100);
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.frame.body.size(), 100u);

  // One byte over: kTooBig, detected from the length bytes alone.
  const std::string big = HeaderWithBodyLen(14 + 101) + std::string(101, 'b');
  EXPECT_EQ(ParseFrame(big, 100).status, ParseStatus::kTooBig);
  EXPECT_EQ(ParseFrame(big.substr(0, 2), 100).status, ParseStatus::kTooBig);
  EXPECT_EQ(ParseFrame(big.substr(0, 16), 100).status, ParseStatus::kTooBig);
  // Accepted under the default maximum.
  EXPECT_EQ(ParseFrame(big).status, ParseStatus::kFrame);

  // max_body 0: only empty bodies.
  EXPECT_EQ(ParseFrame(HeaderWithBodyLen(14), 0).status, ParseStatus::kFrame);
  EXPECT_EQ(ParseFrame(HeaderWithBodyLen(15) + "x", 0).status, ParseStatus::kTooBig);
}

TEST(FrameCodecLengthTest, AppendFrameRefusesOversizedBody) {
  const std::string body(kMaxBodySize + 1, 'z');
  std::string out = "keep";
  EXPECT_FALSE(AppendFrame(Header(1, 2, 3), body, &out));
  EXPECT_EQ(out, "keep");  // nothing appended
}

TEST(FrameCodecLengthTest, MaxBodyRoundTrips) {
  std::string body(kMaxBodySize, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 + 3);
  std::string out;
  ASSERT_TRUE(AppendFrame(Header(707, 399, 42), body, &out));
  ASSERT_EQ(out.size(), 2u + 65535u);
  EXPECT_EQ(static_cast<unsigned char>(out[0]), 0xFF);  // body_len 65535
  EXPECT_EQ(static_cast<unsigned char>(out[1]), 0xFF);

  const ParseResult r = ParseFrame(out);
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.consumed, out.size());
  EXPECT_EQ(r.frame.header.imuid, 707);
  EXPECT_EQ(r.frame.header.cmdid, 399);
  EXPECT_EQ(r.frame.header.seq, 42);
  EXPECT_EQ(r.frame.body, body);

  FrameDecoder decoder;
  decoder.Append(out);
  const ParseResult d = decoder.Next();
  ASSERT_EQ(d.status, ParseStatus::kFrame);
  EXPECT_EQ(d.frame.body, body);
  EXPECT_EQ(decoder.buffered(), 0u);
}

// ---------------------------------------------------------------------------
// Partial input.

// ParseFrame on every strict prefix of a frame returns kNeedMore and reads no
// byte past the prefix: the view passed ends exactly at the prefix, and the
// bytes that follow in memory are the real rest of the frame, so reading them
// would produce kFrame. Each prefix is also copied into an allocation of
// exactly its size, so a sanitizer build catches an over-read.
TEST(FrameCodecPartialTest, EveryPrefixNeedsMore) {
  const std::string body = "0123456789abcdefghij";
  const std::string frame = Encode(Header(707, 315, 9), body);
  for (std::size_t k = 0; k < frame.size(); ++k) {
    SCOPED_TRACE(k);
    const ParseResult in_place = ParseFrame(std::string_view(frame.data(), k));
    EXPECT_EQ(in_place.status, ParseStatus::kNeedMore);
    EXPECT_EQ(in_place.consumed, 0u);

    std::unique_ptr<char[]> exact(new char[k == 0 ? 1 : k]);
    std::copy(frame.data(), frame.data() + k, exact.get());
    const ParseResult copied = ParseFrame(std::string_view(exact.get(), k));
    EXPECT_EQ(copied.status, ParseStatus::kNeedMore);
  }
  const ParseResult whole = ParseFrame(frame);
  ASSERT_EQ(whole.status, ParseStatus::kFrame);
  EXPECT_EQ(whole.frame.body, body);
}

TEST(FrameCodecPartialTest, EmptyFramePrefixes) {
  const std::string frame = Encode(Header(1, 1, 1), "");
  for (std::size_t k = 0; k < frame.size(); ++k) {
    EXPECT_EQ(ParseFrame(std::string_view(frame.data(), k)).status, ParseStatus::kNeedMore)
        << k;
  }
}

// ---------------------------------------------------------------------------
// FrameDecoder over split and coalesced input.

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

std::ostream& operator<<(std::ostream& os, const Decoded& d) {
  return os << "{imuid=" << d.imuid << " cmdid=" << d.cmdid << " seq=" << d.seq
            << " body_size=" << d.body.size() << " consumed=" << d.consumed << "}";
}

struct DecodeOutcome {
  std::vector<Decoded> frames;
  ParseStatus final_status = ParseStatus::kNeedMore;
  std::size_t leftover = 0;
};

Decoded ToDecoded(const ParseResult& r) {
  return Decoded{r.frame.header.imuid, r.frame.header.cmdid, r.frame.header.seq,
                 std::string(r.frame.body), r.consumed};
}

// Reference: ParseFrame over the whole buffer at once.
DecodeOutcome ParseAll(std::string_view data, std::size_t max_body = kMaxBodySize) {
  DecodeOutcome out;
  for (;;) {
    const ParseResult r = ParseFrame(data, max_body);
    if (r.status != ParseStatus::kFrame) {
      out.final_status = r.status;
      out.leftover = data.size();
      return out;
    }
    out.frames.push_back(ToDecoded(r));
    data.remove_prefix(r.consumed);
  }
}

// Drains every complete frame from the decoder. Returns the last status.
ParseStatus Drain(FrameDecoder& decoder, std::vector<Decoded>* frames) {
  for (;;) {
    const ParseResult r = decoder.Next();
    if (r.status != ParseStatus::kFrame) return r.status;
    frames->push_back(ToDecoded(r));
  }
}

// Feeds `data` to a fresh decoder in chunks of the given sizes (the last chunk
// takes whatever remains).
DecodeOutcome DecodeChunked(std::string_view data, const std::vector<std::size_t>& sizes,
                            std::size_t max_body = kMaxBodySize) {
  DecodeOutcome out;
  FrameDecoder decoder(max_body);
  std::size_t pos = 0;
  ParseStatus status = ParseStatus::kNeedMore;
  for (std::size_t size : sizes) {
    if (pos >= data.size()) break;
    const std::size_t n = std::min(size, data.size() - pos);
    decoder.Append(data.substr(pos, n));
    pos += n;
    status = Drain(decoder, &out.frames);
  }
  if (pos < data.size()) {
    decoder.Append(data.substr(pos));
    status = Drain(decoder, &out.frames);
  }
  if (data.empty()) status = Drain(decoder, &out.frames);
  out.final_status = status;
  out.leftover = decoder.buffered();
  return out;
}

void ExpectSameOutcome(const DecodeOutcome& got, const DecodeOutcome& want) {
  EXPECT_EQ(got.frames, want.frames);
  EXPECT_EQ(got.final_status, want.final_status);
  if (want.final_status == ParseStatus::kNeedMore) {
    EXPECT_EQ(got.leftover, want.leftover);
  }
}

// Several frames of different sizes, including empty bodies and a body whose
// length needs both body_len bytes.
std::string MixedStream() {
  std::string s;
  s += Encode(Header(707, 301, 1), Bytes({0x08, 0x00, 0x10, 0x07}));
  s += Encode(Header(707, 340, 2), "");
  s += Encode(Header(-1, 315, -7), std::string(300, 'c'));
  s += Encode(Header(708, 399, 0), "x");
  s += Encode(Header(0, 0, 0), "");
  std::string patterned(57, '\0');
  for (std::size_t i = 0; i < patterned.size(); ++i) patterned[i] = static_cast<char>(i * 31);
  s += Encode(Header(9001, 328, 123456), patterned);
  s += Encode(Header(707, 302, 3), "");
  return s;
}

TEST(FrameDecoderTest, ReferenceDecodesAllFrames) {
  const std::string stream = MixedStream();
  const DecodeOutcome ref = ParseAll(stream);
  ASSERT_EQ(ref.frames.size(), 7u);
  EXPECT_EQ(ref.final_status, ParseStatus::kNeedMore);
  EXPECT_EQ(ref.leftover, 0u);
  EXPECT_EQ(ref.frames[0].imuid, 707);
  EXPECT_EQ(ref.frames[1].body, "");
  EXPECT_EQ(ref.frames[2].body, std::string(300, 'c'));
  EXPECT_EQ(ref.frames[2].imuid, -1);
  EXPECT_EQ(ref.frames[2].seq, -7);
  EXPECT_EQ(ref.frames[5].seq, 123456);
}

TEST(FrameDecoderTest, WholeBufferAtOnce) {
  const std::string stream = MixedStream();
  ExpectSameOutcome(DecodeChunked(stream, {stream.size()}), ParseAll(stream));
}

TEST(FrameDecoderTest, OneByteAtATime) {
  const std::string stream = MixedStream();
  const DecodeOutcome ref = ParseAll(stream);
  FrameDecoder decoder;
  DecodeOutcome got;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    decoder.Append(stream.substr(i, 1));
    ASSERT_EQ(Drain(decoder, &got.frames), ParseStatus::kNeedMore) << i;
  }
  got.leftover = decoder.buffered();
  ExpectSameOutcome(got, ref);
}

TEST(FrameDecoderTest, EverySplitPoint) {
  const std::string stream = MixedStream();
  const DecodeOutcome ref = ParseAll(stream);
  for (std::size_t k = 0; k <= stream.size(); ++k) {
    SCOPED_TRACE(k);
    ExpectSameOutcome(DecodeChunked(stream, {k}), ref);
    if (HasFailure()) return;
  }
}

TEST(FrameDecoderTest, RandomChunks) {
  const std::string stream = MixedStream();
  const DecodeOutcome ref = ParseAll(stream);
  std::mt19937 rng(20240611);
  for (int iter = 0; iter < 500; ++iter) {
    SCOPED_TRACE(iter);
    // Mix tiny chunks with ones spanning several frames.
    const std::size_t max_chunk = (iter % 3 == 0) ? 4 : (iter % 3 == 1) ? 40 : 400;
    std::uniform_int_distribution<std::size_t> dist(1, max_chunk);
    std::vector<std::size_t> sizes;
    for (std::size_t total = 0; total < stream.size();) {
      sizes.push_back(dist(rng));
      total += sizes.back();
    }
    ExpectSameOutcome(DecodeChunked(stream, sizes), ref);
    if (HasFailure()) return;
  }
}

TEST(FrameDecoderTest, EmptyAppendAndBuffered) {
  FrameDecoder decoder;
  EXPECT_EQ(decoder.Next().status, ParseStatus::kNeedMore);
  decoder.Append("");
  EXPECT_EQ(decoder.Next().status, ParseStatus::kNeedMore);
  EXPECT_EQ(decoder.buffered(), 0u);

  decoder.Append(kPingGolden.substr(0, 5));
  EXPECT_EQ(decoder.buffered(), 5u);
  EXPECT_EQ(decoder.Next().status, ParseStatus::kNeedMore);
  decoder.Append(kPingGolden.substr(5) + kNegativeGolden.substr(0, 3));
  EXPECT_EQ(decoder.buffered(), 23u);
  const ParseResult r = decoder.Next();
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.frame.header.imuid, 707);
  EXPECT_EQ(decoder.buffered(), 3u);
  EXPECT_EQ(decoder.Next().status, ParseStatus::kNeedMore);
  decoder.Append(kNegativeGolden.substr(3));
  const ParseResult n = decoder.Next();
  ASSERT_EQ(n.status, ParseStatus::kFrame);
  EXPECT_EQ(n.frame.header.seq, -4);
  EXPECT_EQ(decoder.buffered(), 0u);
}

// ---------------------------------------------------------------------------
// Errors.

TEST(FrameDecoderTest, BadLengthAfterGoodFramesIsSticky) {
  std::string stream = Encode(Header(707, 301, 1), "ab");
  stream += Encode(Header(707, 340, 2), "");
  stream += Bytes({0x00, 0x0D});  // body_len 13: bad
  stream += std::string(20, '\0');
  const std::string good_after = Encode(Header(707, 301, 3), "cd");

  FrameDecoder decoder;
  decoder.Append(stream);
  ParseResult r = decoder.Next();
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.frame.header.seq, 1);
  EXPECT_EQ(r.frame.body, "ab");
  r = decoder.Next();
  ASSERT_EQ(r.status, ParseStatus::kFrame);
  EXPECT_EQ(r.frame.header.seq, 2);
  EXPECT_EQ(decoder.Next().status, ParseStatus::kBadLength);
  EXPECT_EQ(decoder.Next().status, ParseStatus::kBadLength);
  decoder.Append(good_after);
  EXPECT_EQ(decoder.Next().status, ParseStatus::kBadLength);
  EXPECT_EQ(decoder.Next().status, ParseStatus::kBadLength);
}

TEST(FrameDecoderTest, TooBigAfterGoodFramesIsSticky) {
  std::string stream = Encode(Header(707, 301, 1), std::string(100, 'a'));
  stream += Encode(Header(707, 301, 2), std::string(101, 'b'));  // over max 100
  stream += Encode(Header(707, 301, 3), "c");

  // Byte at a time: the good frame first, then the error as soon as the two
  // length bytes of the big frame arrive, and forever after.
  FrameDecoder decoder(100);
  std::vector<Decoded> frames;
  ParseStatus status = ParseStatus::kNeedMore;
  std::size_t error_at = 0;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    decoder.Append(stream.substr(i, 1));
    const ParseStatus s = Drain(decoder, &frames);
    if (status == ParseStatus::kNeedMore && s != ParseStatus::kNeedMore) error_at = i;
    if (status != ParseStatus::kNeedMore) {
      EXPECT_EQ(s, status) << i;
    }
    status = s;
  }
  EXPECT_EQ(status, ParseStatus::kTooBig);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].seq, 1);
  EXPECT_EQ(frames[0].body, std::string(100, 'a'));
  EXPECT_EQ(error_at, 116u + 1u);  // second length byte of frame 2
}

TEST(FrameDecoderTest, ErrorOutcomeMatchesReferenceAtEverySplit) {
  std::string stream = MixedStream();
  stream += Bytes({0x00, 0x01});  // bad length
  stream += Encode(Header(1, 1, 1), "never");
  const DecodeOutcome ref = ParseAll(stream);
  ASSERT_EQ(ref.frames.size(), 7u);
  ASSERT_EQ(ref.final_status, ParseStatus::kBadLength);
  for (std::size_t k = 0; k <= stream.size(); ++k) {
    SCOPED_TRACE(k);
    ExpectSameOutcome(DecodeChunked(stream, {k}), ref);
    if (HasFailure()) return;
  }
}

TEST(FrameDecoderTest, ConfiguredMaxAppliesToDecoder) {
  FrameDecoder decoder(3);
  decoder.Append(Encode(Header(1, 2, 3), "abc"));
  const ParseResult ok = decoder.Next();
  ASSERT_EQ(ok.status, ParseStatus::kFrame);
  EXPECT_EQ(ok.frame.body, "abc");
  decoder.Append(Encode(Header(1, 2, 3), "abcd"));
  EXPECT_EQ(decoder.Next().status, ParseStatus::kTooBig);
}

}  // namespace
}  // namespace im::net
