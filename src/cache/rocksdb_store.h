// RocksDbStore: a CacheStore on local disk that survives restarts and crashes. Records are
// encoded with response_codec (so expiries are absolute wall-clock times, honoured after a
// restart); every change is one atomic RocksDB WriteBatch through the write-ahead log, so a Put
// that returned is on disk once the process dies (kill -9), and with Options::sync_writes also
// once the machine does.
//
// Keys in the one column family (seq: 8-byte big-endian insertion number, so they sort by age):
//   'e' + key[32]  ->  seq + EncodeResponse(value, expires_at_unix_ms)    the entry
//   'q' + seq      ->  key[32] + charged size (8 bytes little-endian)      the insertion index
// Invariant (after every batch): each entry has exactly one index record carrying its seq, and
// each index record names an entry carrying its seq. bytes_/entries_ in memory are the sums over
// the index, recovered by one scan of it on Open.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"
#include "cache/cache_key.h"
#include "cache/cache_store.h"
#include "cache/persistent_store.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace brisk::cache {

// Eviction policy: oldest inserted first (FIFO by insertion, a Put that overwrites counts as a
// new insertion). Unlike MemoryStore a hit does not refresh an entry: that would turn every
// read into a disk write. Expired entries are dropped when a Get finds them, or when eviction
// reaches them; nothing sweeps in the background.
//
// Deviations from the StoreStats contract: the counters (hits ... erases) count since Open, while
// entries and bytes are recovered from disk, so entries = entries at Open + inserts - overwrites
// - evictions - expired - erases. bytes counts the logical bytes of keys and values written
// (EntrySize), before compression and without RocksDB's own overhead; the directory may hold
// more until compaction catches up. A RocksDB error is never returned to the request path: a
// failed Get is a miss, a failed Put or Erase returns false; each is counted in errors() and
// logged (the 1st, 2nd, 4th, 8th ... so a failing disk does not flood the log).
class RocksDbStore final : public PersistentStore {
 public:
  // Bytes charged per entry on top of its encoded record: the entry key (33), its seq prefix (8),
  // and the index record (9-byte key, 40-byte value).
  static constexpr int64_t kEntryOverheadBytes = 33 + 8 + 9 + 40;

  struct Options {
    int64_t capacity_bytes = 1ll << 30;  // 1 GiB; REQUIRES >= 0
    // Wall-clock Unix milliseconds, for absolute expiries that mean the same after a restart.
    // Empty: std::chrono::system_clock. Must be thread-safe.
    std::function<int64_t()> now_ms;
    // false: a returned Put survives a crash of the process (the log is in the OS page cache);
    // true: it also survives a crash of the machine (fsync per write, much slower).
    bool sync_writes = false;
  };

  // Opens (creating if needed; its parent must exist) the store in directory `path`, recovers
  // the byte and entry counts, and evicts the oldest entries if they exceed a capacity smaller
  // than at the last run. Errors: RocksDB's error mapped to DataLoss (Corruption),
  // InvalidArgument, or Unavailable (anything else, e.g. another process holds the directory);
  // DataLoss when an index record is malformed.
  static absl::StatusOr<std::unique_ptr<RocksDbStore>> Open(const std::string& path,
                                                            Options options);

  ~RocksDbStore() override;
  RocksDbStore(const RocksDbStore&) = delete;
  RocksDbStore& operator=(const RocksDbStore&) = delete;

  ExpiringValue Lookup(const CacheKey& key) override;
  // As CacheStore::Put; also false (changing nothing) when RocksDB fails to write.
  bool Put(const CacheKey& key, std::shared_ptr<const CachedResponse> value,
           int64_t ttl_ms) override;
  // As CacheStore::Erase; false also when RocksDB fails.
  bool Erase(const CacheKey& key) override;
  StoreStats Stats() const override;
  std::string_view name() const override { return "rocksdb"; }

  // RocksDB errors and undecodable records met since Open.
  int64_t errors() const { return errors_.load(); }

  // The bytes an entry holding `value` is charged.
  static int64_t EntrySize(const CachedResponse& value);

  // Scans the whole store and checks the invariant above: every entry decodes, entries and index
  // records pair up one to one, and their count and sizes match Stats(). Holds the write lock for
  // the scan: for tests and offline checks, not the request path. Errors: DataLoss naming the
  // first problem, or the RocksDB read error.
  absl::Status Verify() const;

 private:
  // The writes of one Put before they are applied, and what they will do to the counters.
  struct PendingWrite;

  RocksDbStore(std::unique_ptr<rocksdb::DB> db, Options options);

  // Scans the index; fills bytes_, entries_, next_seq_, oldest_seq_hint_. REQUIRES: mu_ held.
  absl::Status RecoverLocked();
  // Drops the entry under `key` if it still carries `seq` (it may have been replaced since it
  // was read). Returns whether it did. Takes mu_.
  bool DropIfUnchanged(const CacheKey& key, uint64_t seq);
  // Adds to `pending` the removal of the oldest entries until `incoming_bytes` more fit within
  // the capacity, skipping the index record `replaced_seq` (already being removed). Returns
  // false on a read error. REQUIRES: mu_ held.
  bool PlanEvictionLocked(int64_t incoming_bytes, uint64_t replaced_seq, PendingWrite& pending);
  void CountError(std::string_view what, std::string_view detail) const;

  // Constant after construction.
  const std::unique_ptr<rocksdb::DB> db_;
  const int64_t capacity_bytes_;
  const std::function<int64_t()> now_ms_;
  const bool sync_writes_;

  // Serializes every write (Put, Erase, lazy drops, eviction); reads go straight to RocksDB.
  mutable std::mutex mu_;
  // Guarded by mu_.
  int64_t bytes_ = 0;
  int64_t entries_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t oldest_seq_hint_ = 0;  // no live entry has a smaller seq; eviction seeks from here

  // Counters since Open, updated without mu_ on the read path.
  std::atomic<int64_t> hits_{0}, misses_{0}, expired_{0}, evictions_{0}, inserts_{0},
      overwrites_{0}, rejected_{0}, erases_{0};
  mutable std::atomic<int64_t> errors_{0};
};

}  // namespace brisk::cache
