#include "cache/response_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace brisk::cache {
namespace {

CachedResponse Sample() {
  CachedResponse value;
  value.body_json = R"({"id":"chatcmpl-1","choices":[{"message":{"content":"héllo"}}]})";
  value.sse_events = {R"({"delta":"hé"})", "", R"({"delta":"llo"})", std::string("a\0b", 3)};
  value.prompt_tokens = 17;
  value.completion_tokens = -3;  // not meaningful, but every int must survive the trip
  value.created_ms = 1'700'000'000'123;
  value.compute_time_us = std::numeric_limits<int64_t>::min();
  return value;
}

void ExpectSameResponse(const CachedResponse& a, const CachedResponse& b) {
  EXPECT_EQ(a.body_json, b.body_json);
  EXPECT_EQ(a.sse_events, b.sse_events);
  EXPECT_EQ(a.prompt_tokens, b.prompt_tokens);
  EXPECT_EQ(a.completion_tokens, b.completion_tokens);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.compute_time_us, b.compute_time_us);
}

bool SameResponse(const CachedResponse& a, const CachedResponse& b) {
  return a.body_json == b.body_json && a.sse_events == b.sse_events &&
         a.prompt_tokens == b.prompt_tokens && a.completion_tokens == b.completion_tokens &&
         a.created_ms == b.created_ms && a.compute_time_us == b.compute_time_us;
}

uint64_t ReadLittleEndian(const std::string& bytes, size_t offset, int num_bytes) {
  uint64_t value = 0;
  for (int i = 0; i < num_bytes; ++i) {
    value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

void WriteLittleEndian(std::string& bytes, size_t offset, uint64_t value, int num_bytes) {
  for (int i = 0; i < num_bytes; ++i) bytes[offset + i] = static_cast<char>(value >> (8 * i));
}

// Recomputes the trailing checksum after a deliberate edit.
void Reseal(std::string& bytes) {
  const std::string_view covered(bytes.data(), bytes.size() - 4);
  WriteLittleEndian(bytes, bytes.size() - 4, Crc32c(covered), 4);
}

TEST(ResponseCodecTest, Crc32cMatchesTheStandardCheckValues) {
  // The CRC-32C check value over "123456789" (RFC 3720, appendix B.4 and the CRC catalogue).
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  // RFC 3720 B.4: 32 bytes of zeros.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
}

TEST(ResponseCodecTest, RoundTripsEveryField) {
  const CachedResponse value = Sample();
  const absl::StatusOr<std::string> encoded = EncodeResponse(value, 1'700'000'060'000);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(static_cast<int64_t>(encoded->size()), EncodedResponseSize(value));
  const absl::StatusOr<DecodedResponse> decoded = DecodeResponse(*encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSameResponse(decoded->value, value);
  EXPECT_EQ(decoded->expires_at_unix_ms, 1'700'000'060'000);
}

TEST(ResponseCodecTest, RoundTripsAnEmptyResponseWithoutExpiry) {
  const CachedResponse empty;
  const absl::StatusOr<std::string> encoded = EncodeResponse(empty, kNoExpiry);
  ASSERT_TRUE(encoded.ok());
  // magic 4 + version 1 + 3 * 8 + 2 * 4 + body length 4 + event count 4 + checksum 4.
  EXPECT_EQ(encoded->size(), 49u);
  const absl::StatusOr<DecodedResponse> decoded = DecodeResponse(*encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSameResponse(decoded->value, empty);
  EXPECT_EQ(decoded->expires_at_unix_ms, kNoExpiry);
}

TEST(ResponseCodecTest, LayoutIsTheDocumentedOne) {
  CachedResponse value;
  value.body_json = "xy";
  value.sse_events = {"e"};
  value.prompt_tokens = 5;
  value.completion_tokens = 6;
  value.created_ms = 7;
  value.compute_time_us = 8;
  const std::string bytes = *EncodeResponse(value, 0x0102030405060708);
  ASSERT_EQ(bytes.size(), 37u + 4 + 2 + 4 + 4 + 1 + 4);
  EXPECT_EQ(bytes.substr(0, 4), "BRCR");
  EXPECT_EQ(bytes[4], 1);
  EXPECT_EQ(static_cast<uint8_t>(bytes[5]), 0x08);  // little-endian expiry
  EXPECT_EQ(ReadLittleEndian(bytes, 5, 8), 0x0102030405060708u);
  EXPECT_EQ(ReadLittleEndian(bytes, 13, 8), 7u);
  EXPECT_EQ(ReadLittleEndian(bytes, 21, 8), 8u);
  EXPECT_EQ(ReadLittleEndian(bytes, 29, 4), 5u);
  EXPECT_EQ(ReadLittleEndian(bytes, 33, 4), 6u);
  EXPECT_EQ(ReadLittleEndian(bytes, 37, 4), 2u);
  EXPECT_EQ(bytes.substr(41, 2), "xy");
  EXPECT_EQ(ReadLittleEndian(bytes, 43, 4), 1u);
  EXPECT_EQ(ReadLittleEndian(bytes, 47, 4), 1u);
  EXPECT_EQ(bytes.substr(51, 1), "e");
  EXPECT_EQ(ReadLittleEndian(bytes, 52, 4), Crc32c(std::string_view(bytes).substr(0, 52)));
}

TEST(ResponseCodecTest, RefusesNegativeExpiry) {
  EXPECT_EQ(EncodeResponse(Sample(), -1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResponseCodecTest, RefusesEveryTruncationAndTrailingBytes) {
  const std::string bytes = *EncodeResponse(Sample(), 42);
  for (size_t length = 0; length < bytes.size(); ++length) {
    const absl::StatusOr<DecodedResponse> decoded = DecodeResponse(bytes.substr(0, length));
    EXPECT_FALSE(decoded.ok()) << "prefix of " << length << " bytes decoded";
  }
  EXPECT_FALSE(DecodeResponse(bytes + '\0').ok());
  EXPECT_FALSE(DecodeResponse(bytes + bytes).ok());
}

TEST(ResponseCodecTest, RefusesOtherVersionsAndMagic) {
  std::string bytes = *EncodeResponse(Sample(), 42);
  std::string other_version = bytes;
  other_version[4] = 2;
  Reseal(other_version);
  EXPECT_EQ(DecodeResponse(other_version).status().code(), absl::StatusCode::kFailedPrecondition);
  std::string other_magic = bytes;
  other_magic[0] = 'X';
  Reseal(other_magic);
  EXPECT_EQ(DecodeResponse(other_magic).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ResponseCodecTest, RefusesLyingLengthsEvenWithAValidChecksum) {
  CachedResponse value;
  value.body_json = "body";
  value.sse_events = {"a", "b"};
  const std::string bytes = *EncodeResponse(value, 0);
  // Offsets from the documented layout: body length at 37, event count at 45.
  for (const uint64_t lie : {uint64_t{5}, uint64_t{3}, uint64_t{0xFFFFFFFF}}) {
    std::string body_lie = bytes;
    WriteLittleEndian(body_lie, 37, lie, 4);
    Reseal(body_lie);
    EXPECT_EQ(DecodeResponse(body_lie).status().code(), absl::StatusCode::kDataLoss) << lie;
  }
  for (const uint64_t lie : {uint64_t{1}, uint64_t{3}, uint64_t{0xFFFFFFFF}}) {
    std::string count_lie = bytes;
    WriteLittleEndian(count_lie, 45, lie, 4);
    Reseal(count_lie);
    EXPECT_EQ(DecodeResponse(count_lie).status().code(), absl::StatusCode::kDataLoss) << lie;
  }
  std::string negative_expiry = bytes;
  WriteLittleEndian(negative_expiry, 5, static_cast<uint64_t>(int64_t{-5}), 8);
  Reseal(negative_expiry);
  EXPECT_FALSE(DecodeResponse(negative_expiry).ok());
}

// Random bit flips: each mutated record must either be refused or decode to the very same value
// (with a 32-bit checksum a silent change is a one-in-four-billion event, so none is expected).
TEST(ResponseCodecTest, RandomBitFlipsAreRefusedOrHarmless) {
  std::mt19937_64 rng(20240611);
  const CachedResponse value = Sample();
  const std::string bytes = *EncodeResponse(value, 99);
  int refused = 0;
  constexpr int kTrials = 5000;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::string mutated = bytes;
    const int num_flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < num_flips; ++i) {
      const size_t bit = rng() % (mutated.size() * 8);
      mutated[bit / 8] = static_cast<char>(mutated[bit / 8] ^ (1 << (bit % 8)));
    }
    const absl::StatusOr<DecodedResponse> decoded = DecodeResponse(mutated);
    if (!decoded.ok()) {
      ++refused;
      continue;
    }
    EXPECT_TRUE(SameResponse(decoded->value, value) && decoded->expires_at_unix_ms == 99)
        << "trial " << trial << " decoded a different value";
  }
  // Flips that cancel out (the same bit twice) leave the record intact; the rest are refused.
  EXPECT_GT(refused, kTrials * 9 / 10);
}

TEST(ResponseCodecTest, RandomBytesNeverDecode) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string junk(rng() % 200, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (trial % 2 == 0 && junk.size() >= 5) junk.replace(0, 5, std::string("BRCR\x01", 5));
    EXPECT_FALSE(DecodeResponse(junk).ok()) << "trial " << trial;
  }
}

}  // namespace
}  // namespace brisk::cache
