// The response record codec: a byte writer, a bounds-checked reader, and a table-driven CRC32C.
// The reader checks the checksum before parsing, and parses defensively anyway, so a record that
// is malformed yet checksums right (never produced by EncodeResponse) is still refused safely.
#include "cache/response_codec.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <utility>

namespace brisk::cache {
namespace {

// The reflected Castagnoli polynomial 0x1EDC6F41.
constexpr uint32_t kCastagnoliReflected = 0x82F63B78u;

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kCastagnoliReflected : 0u);
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

// magic, version, three int64 and two int32 fields.
constexpr size_t kFixedHeaderBytes = 4 + 1 + 8 * 3 + 4 * 2;
constexpr size_t kLengthBytes = 4;
constexpr size_t kChecksumBytes = 4;
constexpr uint64_t kMaxLength = std::numeric_limits<uint32_t>::max();

void AppendLittleEndian(std::string& out, uint64_t value, int num_bytes) {
  for (int i = 0; i < num_bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

void AppendBytes(std::string& out, std::string_view bytes) {
  AppendLittleEndian(out, bytes.size(), kLengthBytes);
  out.append(bytes);
}

// Reads little-endian integers and length-prefixed strings from a view; every read checks the
// bytes left and a failed read leaves the reader failed.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  bool ReadUnsigned(int num_bytes, uint64_t& value) {
    if (bytes_.size() < static_cast<size_t>(num_bytes)) return false;
    value = 0;
    for (int i = 0; i < num_bytes; ++i) {
      value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[i])) << (8 * i);
    }
    bytes_.remove_prefix(num_bytes);
    return true;
  }

  bool ReadInt64(int64_t& value) {
    uint64_t raw = 0;
    if (!ReadUnsigned(8, raw)) return false;
    value = static_cast<int64_t>(raw);
    return true;
  }

  bool ReadInt32(int& value) {
    uint64_t raw = 0;
    if (!ReadUnsigned(4, raw)) return false;
    value = static_cast<int32_t>(static_cast<uint32_t>(raw));
    return true;
  }

  bool ReadString(std::string& value) {
    uint64_t length = 0;
    if (!ReadUnsigned(kLengthBytes, length) || length > bytes_.size()) return false;
    value.assign(bytes_.data(), length);
    bytes_.remove_prefix(length);
    return true;
  }

  size_t remaining() const { return bytes_.size(); }

 private:
  std::string_view bytes_;
};

absl::Status Truncated(std::string_view what) {
  return absl::DataLossError(
      absl::StrCat("cached response record: truncated or inconsistent ", std::string(what)));
}

}  // namespace

uint32_t Crc32c(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc = kCrcTable[(crc ^ static_cast<uint8_t>(c)) & 0xFFu] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFu;
}

int64_t RecordExpiry(int64_t now_unix_ms, int64_t ttl_ms) {
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  if (ttl_ms == kNoExpiry) return kNoExpiry;
  if (now_unix_ms > kNever - ttl_ms) return kNever;
  return std::max<int64_t>(now_unix_ms + ttl_ms, 1);
}

int64_t EncodedResponseSize(const CachedResponse& value) {
  size_t size = kFixedHeaderBytes + kLengthBytes + value.body_json.size() + kLengthBytes;
  for (const std::string& event : value.sse_events) size += kLengthBytes + event.size();
  return static_cast<int64_t>(size + kChecksumBytes);
}

absl::StatusOr<std::string> EncodeResponse(const CachedResponse& value,
                                           int64_t expires_at_unix_ms) {
  if (expires_at_unix_ms < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cached response expiry must not be negative, got ", expires_at_unix_ms));
  }
  if (value.body_json.size() > kMaxLength || value.sse_events.size() > kMaxLength) {
    return absl::InvalidArgumentError("cached response body or event count exceeds 4 GiB");
  }
  for (const std::string& event : value.sse_events) {
    if (event.size() > kMaxLength) {
      return absl::InvalidArgumentError("cached response SSE event exceeds 4 GiB");
    }
  }
  std::string out;
  out.reserve(static_cast<size_t>(EncodedResponseSize(value)));
  out.append(kResponseMagic);
  out.push_back(static_cast<char>(kResponseCodecVersion));
  AppendLittleEndian(out, static_cast<uint64_t>(expires_at_unix_ms), 8);
  AppendLittleEndian(out, static_cast<uint64_t>(value.created_ms), 8);
  AppendLittleEndian(out, static_cast<uint64_t>(value.compute_time_us), 8);
  AppendLittleEndian(out, static_cast<uint32_t>(value.prompt_tokens), 4);
  AppendLittleEndian(out, static_cast<uint32_t>(value.completion_tokens), 4);
  AppendBytes(out, value.body_json);
  AppendLittleEndian(out, value.sse_events.size(), kLengthBytes);
  for (const std::string& event : value.sse_events) AppendBytes(out, event);
  AppendLittleEndian(out, Crc32c(out), kChecksumBytes);
  return out;
}

absl::StatusOr<DecodedResponse> DecodeResponse(std::string_view bytes) {
  if (bytes.size() < kFixedHeaderBytes + 2 * kLengthBytes + kChecksumBytes) {
    return Truncated("header");
  }
  if (bytes.substr(0, kResponseMagic.size()) != kResponseMagic) {
    return absl::DataLossError("cached response record: bad magic");
  }
  const uint8_t version = static_cast<uint8_t>(bytes[kResponseMagic.size()]);
  if (version != kResponseCodecVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("cached response record of codec version ", static_cast<int>(version),
                     ", this build reads version ", static_cast<int>(kResponseCodecVersion)));
  }
  const std::string_view covered = bytes.substr(0, bytes.size() - kChecksumBytes);
  uint64_t stored_crc = 0;
  Reader crc_reader(bytes.substr(covered.size()));
  if (!crc_reader.ReadUnsigned(kChecksumBytes, stored_crc) || stored_crc != Crc32c(covered)) {
    return absl::DataLossError("cached response record: checksum mismatch");
  }

  Reader reader(covered.substr(kResponseMagic.size() + 1));
  DecodedResponse decoded;
  CachedResponse& value = decoded.value;
  if (!reader.ReadInt64(decoded.expires_at_unix_ms) || !reader.ReadInt64(value.created_ms) ||
      !reader.ReadInt64(value.compute_time_us) || !reader.ReadInt32(value.prompt_tokens) ||
      !reader.ReadInt32(value.completion_tokens)) {
    return Truncated("header");
  }
  if (decoded.expires_at_unix_ms < 0) return Truncated("expiry");
  if (!reader.ReadString(value.body_json)) return Truncated("body");
  uint64_t num_events = 0;
  // Every event takes at least its length prefix, which bounds the count before reserving.
  if (!reader.ReadUnsigned(kLengthBytes, num_events) ||
      num_events > reader.remaining() / kLengthBytes) {
    return Truncated("event count");
  }
  value.sse_events.resize(num_events);
  for (std::string& event : value.sse_events) {
    if (!reader.ReadString(event)) return Truncated("event");
  }
  if (reader.remaining() != 0) return Truncated("record end (trailing bytes)");
  return decoded;
}

}  // namespace brisk::cache
