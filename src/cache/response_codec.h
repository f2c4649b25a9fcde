// The versioned binary encoding of a CachedResponse, as persistent stores (RocksDB, Redis) hold
// it, with the entry's absolute expiry so that a store can honour TTLs after a restart. A record
// is self-checking: a CRC32C over every byte before it means a truncated or corrupted record is
// refused, never decoded into a different value. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "cache/cache_store.h"

namespace brisk::cache {

// Layout of version 1; integers little-endian, lengths and counts unsigned 32-bit:
//   offset  size  field
//   0       4     magic "BRCR"
//   4       1     version (1)
//   5       8     expires_at_unix_ms   int64, wall-clock Unix ms; 0 = never
//   13      8     created_ms           int64
//   21      8     compute_time_us      int64
//   29      4     prompt_tokens        int32
//   33      4     completion_tokens    int32
//   37      4+n   body_json            u32 length, then the bytes
//   ..      4     number of SSE events u32
//   ..      4+n   each event           u32 length, then the bytes
//   end-4   4     CRC32C (Castagnoli) of every byte above
inline constexpr std::string_view kResponseMagic = "BRCR";
inline constexpr uint8_t kResponseCodecVersion = 1;

// A decoded record: the value and when it expires (wall-clock Unix ms, kNoExpiry = never).
struct DecodedResponse {
  CachedResponse value;
  int64_t expires_at_unix_ms = kNoExpiry;
};

// The absolute expiry to record for an entry stored at `now_unix_ms` with `ttl_ms`: kNoExpiry for
// kNoExpiry, else now + ttl, saturating at INT64_MAX and at least 1 (0 means never).
int64_t RecordExpiry(int64_t now_unix_ms, int64_t ttl_ms);

// CRC32C (Castagnoli polynomial, reflected, initial value and final xor ~0) of `bytes`; the
// checksum of iSCSI and of ext4 metadata. Exposed for tests.
uint32_t Crc32c(std::string_view bytes);

// The exact size EncodeResponse produces for `value`, without encoding it.
int64_t EncodedResponseSize(const CachedResponse& value);

// Encodes `value` with its absolute expiry. Errors: InvalidArgument when the body, an event or
// the number of events does not fit in 32 bits (4 GiB), or expires_at_unix_ms < 0.
absl::StatusOr<std::string> EncodeResponse(const CachedResponse& value, int64_t expires_at_unix_ms);

// Decodes a record produced by EncodeResponse. Errors: DataLoss when the bytes are not one whole,
// intact record (wrong magic, truncated, trailing bytes, checksum mismatch, inconsistent
// lengths); FailedPrecondition for a record of another codec version. Never reads outside
// `bytes` and never allocates more than `bytes.size()` worth of strings.
absl::StatusOr<DecodedResponse> DecodeResponse(std::string_view bytes);

}  // namespace brisk::cache
