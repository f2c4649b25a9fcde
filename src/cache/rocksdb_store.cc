// RocksDbStore: reads go straight to RocksDB (thread-safe, lock-free for us); every change takes
// mu_, reads what it replaces, and commits one WriteBatch, so the in-memory byte and entry counts
// move only after RocksDB accepted the batch. Eviction walks the index from oldest_seq_hint_,
// which skips the tombstones of earlier evictions instead of stepping over them again.
#include "cache/rocksdb_store.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <utility>

#include "base/check.h"
#include "base/logging.h"
#include "cache/response_codec.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/write_batch.h"

namespace brisk::cache {
namespace {

constexpr char kEntryTag = 'e';
constexpr char kIndexTag = 'q';
constexpr size_t kSeqBytes = 8;
constexpr size_t kKeyBytes = 32;
constexpr size_t kIndexValueBytes = kKeyBytes + 8;

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void AppendBigEndian(std::string& out, uint64_t value) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

uint64_t ReadBigEndian(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < kSeqBytes; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

uint64_t ReadLittleEndian64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) {
    value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  }
  return value;
}

std::string EntryKey(const CacheKey& key) {
  std::string out(1, kEntryTag);
  out.append(reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size());
  return out;
}

std::string IndexKey(uint64_t seq) {
  std::string out(1, kIndexTag);
  AppendBigEndian(out, seq);
  return out;
}

std::string IndexValue(const CacheKey& key, int64_t size_bytes) {
  std::string out(reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size());
  const uint64_t size = static_cast<uint64_t>(size_bytes);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xFF));
  return out;
}

// One index record, parsed.
struct IndexRecord {
  uint64_t seq = 0;
  CacheKey key;
  int64_t size_bytes = 0;
};

bool ParseIndex(std::string_view index_key, std::string_view index_value, IndexRecord& record) {
  if (index_key.size() != 1 + kSeqBytes || index_key[0] != kIndexTag ||
      index_value.size() != kIndexValueBytes) {
    return false;
  }
  record.seq = ReadBigEndian(index_key.substr(1));
  std::copy(index_value.begin(), index_value.begin() + kKeyBytes, record.key.bytes.begin());
  record.size_bytes = static_cast<int64_t>(ReadLittleEndian64(index_value.substr(kKeyBytes)));
  return record.size_bytes > 0;
}

// The charged size of an entry whose stored value (seq + record) is `stored_value_bytes` long.
int64_t SizeOfStoredValue(size_t stored_value_bytes) {
  return RocksDbStore::kEntryOverheadBytes + static_cast<int64_t>(stored_value_bytes) -
         static_cast<int64_t>(kSeqBytes);
}

absl::Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  const std::string message = absl::StrCat("rocksdb ", std::string(what), ": ", status.ToString());
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  return absl::UnavailableError(message);
}

}  // namespace

struct RocksDbStore::PendingWrite {
  rocksdb::WriteBatch batch;
  int64_t bytes_delta = 0;
  int64_t entries_delta = 0;
  int64_t evictions = 0;
  uint64_t oldest_seq_hint = 0;
};

int64_t RocksDbStore::EntrySize(const CachedResponse& value) {
  return kEntryOverheadBytes + EncodedResponseSize(value);
}

absl::StatusOr<std::unique_ptr<RocksDbStore>> RocksDbStore::Open(const std::string& path,
                                                                 Options options) {
  BRISK_CHECK_GE(options.capacity_bytes, 0) << "RocksDbStore capacity_bytes must not be negative";
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;
  rocksdb::DB* raw_db = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(db_options, path, &raw_db);
  if (!status.ok()) return FromRocks(status, absl::StrCat("open '", path, "'"));
  std::unique_ptr<RocksDbStore> store(
      new RocksDbStore(std::unique_ptr<rocksdb::DB>(raw_db), std::move(options)));
  std::lock_guard<std::mutex> lock(store->mu_);
  BRISK_RETURN_IF_ERROR(store->RecoverLocked());
  if (store->bytes_ > store->capacity_bytes_) {
    PendingWrite pending;
    pending.oldest_seq_hint = store->oldest_seq_hint_;
    if (!store->PlanEvictionLocked(0, 0, pending)) {
      return absl::UnavailableError("rocksdb: reading the index to shrink to capacity failed");
    }
    rocksdb::WriteOptions write_options;
    write_options.sync = store->sync_writes_;
    const rocksdb::Status write = store->db_->Write(write_options, &pending.batch);
    if (!write.ok()) return FromRocks(write, "shrinking to capacity");
    store->bytes_ += pending.bytes_delta;
    store->entries_ += pending.entries_delta;
    store->oldest_seq_hint_ = pending.oldest_seq_hint;
    store->evictions_ += pending.evictions;
  }
  BRISK_LOG(kInfo) << "rocksdb cache store at '" << path << "': " << store->entries_ << " entries, "
                   << store->bytes_ << " of " << store->capacity_bytes_
                   << " bytes, sync_writes=" << store->sync_writes_;
  return store;
}

RocksDbStore::RocksDbStore(std::unique_ptr<rocksdb::DB> db, Options options)
    : db_(std::move(db)),
      capacity_bytes_(options.capacity_bytes),
      now_ms_(options.now_ms ? std::move(options.now_ms) : std::function<int64_t()>(SystemNowMs)),
      sync_writes_(options.sync_writes) {}

RocksDbStore::~RocksDbStore() {
  const rocksdb::Status status = db_->Close();
  if (!status.ok()) {
    BRISK_LOG(kWarning) << "rocksdb cache store close: " << status.ToString();
  }
}

absl::Status RocksDbStore::RecoverLocked() {
  rocksdb::ReadOptions read_options;
  const std::string upper(1, kIndexTag + 1);
  const rocksdb::Slice upper_slice(upper);
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
  bool first = true;
  for (it->Seek(std::string(1, kIndexTag)); it->Valid(); it->Next()) {
    IndexRecord record;
    if (!ParseIndex(it->key().ToStringView(), it->value().ToStringView(), record)) {
      return absl::DataLossError("rocksdb cache store: malformed index record");
    }
    if (first) oldest_seq_hint_ = record.seq;
    first = false;
    bytes_ += record.size_bytes;
    ++entries_;
    next_seq_ = record.seq + 1;  // keys ascend, so the last one is the largest
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning the index");
  return absl::OkStatus();
}

void RocksDbStore::CountError(std::string_view what, std::string_view detail) const {
  const int64_t count = errors_.fetch_add(1) + 1;
  if (std::has_single_bit(static_cast<uint64_t>(count))) {
    BRISK_LOG(kWarning) << "rocksdb cache store: " << what << ": " << detail << " (" << count
                        << " errors so far)";
  }
}

ExpiringValue RocksDbStore::Lookup(const CacheKey& key) {
  const int64_t now_ms = now_ms_();
  rocksdb::PinnableSlice stored;
  const rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), EntryKey(key), &stored);
  if (!status.ok()) {
    if (!status.IsNotFound()) CountError("get", status.ToString());
    ++misses_;
    return {};
  }
  const std::string_view bytes = stored.ToStringView();
  absl::StatusOr<DecodedResponse> decoded =
      bytes.size() < kSeqBytes ? absl::DataLossError("stored value shorter than its seq")
                               : DecodeResponse(bytes.substr(kSeqBytes));
  if (!decoded.ok()) {
    CountError("decoding an entry", decoded.status().ToString());
    ++misses_;
    return {};
  }
  if (decoded->expires_at_unix_ms != kNoExpiry && now_ms >= decoded->expires_at_unix_ms) {
    if (DropIfUnchanged(key, ReadBigEndian(bytes))) ++expired_;
    ++misses_;
    return {};
  }
  ++hits_;
  const int64_t ttl_remaining_ms =
      decoded->expires_at_unix_ms == kNoExpiry ? kNoExpiry : decoded->expires_at_unix_ms - now_ms;
  return {.value = std::make_shared<const CachedResponse>(std::move(decoded->value)),
          .ttl_remaining_ms = ttl_remaining_ms};
}

bool RocksDbStore::DropIfUnchanged(const CacheKey& key, uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string entry_key = EntryKey(key);
  std::string stored;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), entry_key, &stored);
  if (!status.ok()) {
    if (!status.IsNotFound()) CountError("get before dropping an expired entry", status.ToString());
    return false;
  }
  if (stored.size() < kSeqBytes || ReadBigEndian(stored) != seq) return false;
  rocksdb::WriteBatch batch;
  batch.Delete(entry_key);
  batch.Delete(IndexKey(seq));
  rocksdb::WriteOptions write_options;
  write_options.sync = sync_writes_;
  const rocksdb::Status write = db_->Write(write_options, &batch);
  if (!write.ok()) {
    CountError("dropping an expired entry", write.ToString());
    return false;
  }
  bytes_ -= SizeOfStoredValue(stored.size());
  --entries_;
  return true;
}

bool RocksDbStore::PlanEvictionLocked(int64_t incoming_bytes, uint64_t replaced_seq,
                                      PendingWrite& pending) {
  if (bytes_ + pending.bytes_delta + incoming_bytes <= capacity_bytes_) return true;
  rocksdb::ReadOptions read_options;
  const std::string upper(1, kIndexTag + 1);
  const rocksdb::Slice upper_slice(upper);
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
  for (it->Seek(IndexKey(pending.oldest_seq_hint)); it->Valid(); it->Next()) {
    if (bytes_ + pending.bytes_delta + incoming_bytes <= capacity_bytes_) return true;
    IndexRecord record;
    if (!ParseIndex(it->key().ToStringView(), it->value().ToStringView(), record)) {
      CountError("eviction", "malformed index record");
      return false;
    }
    pending.oldest_seq_hint = record.seq + 1;
    if (record.seq == replaced_seq) continue;  // its removal is already in the batch
    pending.batch.Delete(it->key());
    pending.batch.Delete(EntryKey(record.key));
    pending.bytes_delta -= record.size_bytes;
    --pending.entries_delta;
    ++pending.evictions;
  }
  if (!it->status().ok()) {
    CountError("eviction scan", it->status().ToString());
    return false;
  }
  // The index ran out: every entry is in the batch, so the incoming one fits (it passed the
  // capacity check) unless the counts are off, which would be our bug.
  BRISK_CHECK_LE(bytes_ + pending.bytes_delta + incoming_bytes, capacity_bytes_)
      << "rocksdb cache store byte accounting is off";
  return true;
}

bool RocksDbStore::Put(const CacheKey& key, std::shared_ptr<const CachedResponse> value,
                       int64_t ttl_ms) {
  BRISK_CHECK(value != nullptr) << "RocksDbStore::Put of a null value";
  BRISK_CHECK_GE(ttl_ms, 0) << "RocksDbStore::Put with a negative TTL";
  const int64_t size_bytes = EntrySize(*value);
  if (size_bytes > capacity_bytes_) {
    ++rejected_;
    return false;
  }
  absl::StatusOr<std::string> record = EncodeResponse(*value, RecordExpiry(now_ms_(), ttl_ms));
  if (!record.ok()) {
    ++rejected_;
    return false;
  }
  const std::string entry_key = EntryKey(key);
  std::lock_guard<std::mutex> lock(mu_);
  PendingWrite pending;
  pending.oldest_seq_hint = oldest_seq_hint_;
  std::string old_stored;
  const rocksdb::Status old_status = db_->Get(rocksdb::ReadOptions(), entry_key, &old_stored);
  uint64_t replaced_seq = 0;  // seqs start at 1, so 0 names nothing
  if (old_status.ok() && old_stored.size() >= kSeqBytes) {
    replaced_seq = ReadBigEndian(old_stored);
    pending.batch.Delete(IndexKey(replaced_seq));
    pending.bytes_delta -= SizeOfStoredValue(old_stored.size());
    --pending.entries_delta;
  } else if (!old_status.ok() && !old_status.IsNotFound()) {
    CountError("get before put", old_status.ToString());
    return false;
  }
  if (!PlanEvictionLocked(size_bytes, replaced_seq, pending)) return false;
  const uint64_t seq = next_seq_;
  std::string stored;
  stored.reserve(kSeqBytes + record->size());
  AppendBigEndian(stored, seq);
  stored.append(*record);
  pending.batch.Put(entry_key, stored);
  pending.batch.Put(IndexKey(seq), IndexValue(key, size_bytes));
  rocksdb::WriteOptions write_options;
  write_options.sync = sync_writes_;
  const rocksdb::Status write = db_->Write(write_options, &pending.batch);
  if (!write.ok()) {
    CountError("put", write.ToString());
    return false;
  }
  ++next_seq_;
  bytes_ += pending.bytes_delta + size_bytes;
  entries_ += pending.entries_delta + 1;
  oldest_seq_hint_ = pending.oldest_seq_hint;
  evictions_ += pending.evictions;
  if (replaced_seq != 0) ++overwrites_;
  ++inserts_;
  return true;
}

bool RocksDbStore::Erase(const CacheKey& key) {
  const std::string entry_key = EntryKey(key);
  std::lock_guard<std::mutex> lock(mu_);
  std::string stored;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), entry_key, &stored);
  if (!status.ok()) {
    if (!status.IsNotFound()) CountError("get before erase", status.ToString());
    return false;
  }
  if (stored.size() < kSeqBytes) {
    CountError("erase", "stored value shorter than its seq");
    return false;
  }
  rocksdb::WriteBatch batch;
  batch.Delete(entry_key);
  batch.Delete(IndexKey(ReadBigEndian(stored)));
  rocksdb::WriteOptions write_options;
  write_options.sync = sync_writes_;
  const rocksdb::Status write = db_->Write(write_options, &batch);
  if (!write.ok()) {
    CountError("erase", write.ToString());
    return false;
  }
  bytes_ -= SizeOfStoredValue(stored.size());
  --entries_;
  ++erases_;
  return true;
}

StoreStats RocksDbStore::Stats() const {
  StoreStats stats;
  stats.hits = hits_.load();
  stats.misses = misses_.load();
  stats.expired = expired_.load();
  stats.evictions = evictions_.load();
  stats.inserts = inserts_.load();
  stats.overwrites = overwrites_.load();
  stats.rejected = rejected_.load();
  stats.erases = erases_.load();
  std::lock_guard<std::mutex> lock(mu_);
  stats.entries = entries_;
  stats.bytes = bytes_;
  stats.capacity_bytes = capacity_bytes_;
  return stats;
}

absl::Status RocksDbStore::Verify() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  int64_t num_entries = 0;
  int64_t num_index = 0;
  int64_t index_bytes = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    const std::string_view value = it->value().ToStringView();
    if (!key.empty() && key[0] == kEntryTag && key.size() == 1 + kKeyBytes) {
      ++num_entries;
      if (value.size() < kSeqBytes) return absl::DataLossError("entry shorter than its seq");
      BRISK_RETURN_IF_ERROR(DecodeResponse(value.substr(kSeqBytes)).status());
      std::string index_value;
      const rocksdb::Status status =
          db_->Get(rocksdb::ReadOptions(), IndexKey(ReadBigEndian(value)), &index_value);
      if (!status.ok()) return FromRocks(status, "index record of an entry");
      IndexRecord record;
      if (!ParseIndex(IndexKey(ReadBigEndian(value)), index_value, record) ||
          EntryKey(record.key) != key || record.size_bytes != SizeOfStoredValue(value.size())) {
        return absl::DataLossError("an entry's index record does not match it");
      }
    } else if (!key.empty() && key[0] == kIndexTag) {
      IndexRecord record;
      if (!ParseIndex(key, value, record)) return absl::DataLossError("malformed index record");
      if (record.seq >= next_seq_ || record.seq < oldest_seq_hint_) {
        return absl::DataLossError("index record outside [oldest hint, next seq)");
      }
      ++num_index;
      index_bytes += record.size_bytes;
    } else {
      return absl::DataLossError("a key of neither the entry nor the index kind");
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "verify scan");
  if (num_entries != num_index || num_entries != entries_ || index_bytes != bytes_) {
    return absl::DataLossError(absl::StrCat("counts disagree: ", num_entries, " entries, ",
                                            num_index, " index records, ", entries_, " counted; ",
                                            index_bytes, " indexed bytes, ", bytes_, " counted"));
  }
  return absl::OkStatus();
}

}  // namespace brisk::cache
