// SemanticIndex: the nearest-neighbour index of the semantic response cache. Entries live in
// namespaces, each a CacheKey fingerprint of everything besides the last user turn that changes
// an answer (tenant, model, system prompt, earlier turns, sampling parameters); a lookup only
// ever sees the entries of its own namespace, so one tenant's answer is never served to another.
// Invariants, under mu_:
//   - every live entry sits once in lru_ (most recently used first), once in its namespace's
//     by_value map and once in its namespace's id table, at the FAISS id of its vector;
//   - a namespace's FAISS index holds one vector per id, live or tombstoned; vectors are unit
//     length (or zero), in the working space (raw until the PCA is trained, reduced after);
//   - a namespace with no live entry does not exist; lru_.size() <= max_entries.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cache/cache_key.h"

namespace faiss {
struct Index;
struct PCAMatrix;
}  // namespace faiss

namespace brisk::cache {

class SemanticIndex {
 public:
  struct Options {
    int dimensions = 0;  // D of the embeddings callers pass; REQUIRES > 0
    // A namespace is searched exactly (IndexFlatIP) until it holds more than this many live
    // entries, then through an HNSW graph (IndexHNSWFlat, inner product). Rebuilds choose again.
    int hnsw_min_entries = 2048;
    int hnsw_m = 32;  // graph degree; REQUIRES >= 2
    int hnsw_ef_construction = 80;
    int hnsw_ef_search = 64;
    // Bound over all namespaces; past it the least recently used entry (inserted or hit) leaves.
    int64_t max_entries = 1'000'000;  // REQUIRES >= 1
    // 0: off. Else REQUIRES 0 < pca_dimensions < dimensions: once pca_train_entries vectors have
    // been inserted, a PCA is trained on them and every namespace is rebuilt with its vectors
    // reduced to pca_dimensions and renormalized; later vectors are reduced on the way in. The
    // PCA is uncentred (it keeps the mean direction), so reduced similarities approximate raw
    // cosines; they still run higher for distinct vectors whose difference lies outside the
    // kept directions, so thresholds may need retuning (bench/semantic measures it).
    int pca_dimensions = 0;
    int pca_train_entries = 4096;  // REQUIRES >= pca_dimensions when PCA is on
    // Monotonic milliseconds; tests inject a fake. Empty: std::chrono::steady_clock. Called
    // outside the index's locks, so it must be thread-safe itself.
    std::function<int64_t()> now_ms = {};
  };

  struct Match {
    CacheKey value;    // the key of the stored answer
    float similarity;  // cosine similarity in [-1, 1], in the working space
  };

  struct Stats {
    int64_t entries = 0;  // live entries (expired ones not yet dropped included)
    int64_t namespaces = 0;
    int64_t hnsw_namespaces = 0;
    int64_t tombstones = 0;  // vectors in FAISS indexes that no entry owns
    int64_t lookups = 0;
    int64_t hits = 0;
    int64_t evictions = 0;  // entries that left as least recently used
    int64_t expired = 0;    // entries dropped because their TTL had passed
    int64_t rebuilds = 0;   // namespace indexes rebuilt (tombstones, flat to HNSW, PCA)
    int working_dimensions = 0;  // dimensions or, once the PCA is trained, pca_dimensions
  };

  // The longest TTL; an entry inserted with it never expires.
  static constexpr int64_t kNoExpiry = INT64_MAX;

  // Aborts (BRISK_CHECK) on options that break the REQUIRES above.
  explicit SemanticIndex(Options options);
  ~SemanticIndex();
  SemanticIndex(const SemanticIndex&) = delete;
  SemanticIndex& operator=(const SemanticIndex&) = delete;

  // Stores `vector` (normalized here; callers pass raw embeddings) as the entry for `value` in
  // namespace `ns`, replacing any entry with the same value key there, expiring `ttl_ms` from now
  // and becoming the most recently used entry. May evict the least recently used entries, rebuild
  // `ns`, or train the PCA and rebuild every namespace (under the exclusive lock).
  // Returns false, storing nothing, when the vector is zero or not finite (or reduces to zero),
  // or FAISS fails.
  // REQUIRES: vector.size() == dimensions, ttl_ms >= 0. Thread-safe.
  bool Insert(const CacheKey& ns, std::span<const float> vector, const CacheKey& value,
              int64_t ttl_ms);

  // The best entry of namespace `ns` that has not expired and whose cosine similarity to
  // `vector` is >= threshold, or nullopt. A hit makes the entry the most recently used; expired
  // entries met on the way are dropped. Exact in a flat namespace, approximate in an HNSW one.
  // A zero or non-finite vector never matches. REQUIRES: vector.size() == dimensions.
  // Thread-safe; lookups run concurrently with each other.
  std::optional<Match> Lookup(const CacheKey& ns, std::span<const float> vector, float threshold);

  // Removes the entry for `value` in `ns`; false when there was none. Thread-safe.
  bool Erase(const CacheKey& ns, const CacheKey& value);

  Stats GetStats() const;

  // Live entries of `ns`, most recently used first (expired ones not yet dropped included).
  // Does not change recency. For tests and debugging.
  std::vector<CacheKey> ValuesByRecency(const CacheKey& ns) const;

 private:
  struct Namespace;
  struct HnswLocks;
  struct Entry {
    CacheKey value;
    int64_t expires_at_ms = 0;
    Namespace* space = nullptr;
    int64_t faiss_id = 0;
  };
  using Lru = std::list<Entry>;
  struct Namespace {
    CacheKey key;
    std::unique_ptr<faiss::Index> index;  // [ntotal, working_dimensions]
    bool is_hnsw = false;
    std::unique_ptr<HnswLocks> locks;  // for single inserts into the graph
    std::vector<Entry*> by_id;  // FAISS id -> entry; nullptr = tombstone
    std::unordered_map<CacheKey, Lru::iterator, CacheKeyHash> by_value;
  };
  // An entry seen expired under the shared lock, dropped later under the exclusive one.
  struct ExpiredRef {
    CacheKey ns;
    CacheKey value;
  };

  // Unit-normalizes `vector` into `out`; false when it is zero or not finite.
  static bool Normalize(std::span<const float> vector, std::vector<float>& out);
  // Maps a normalized raw vector into the working space (PCA and renormalization once trained).
  // REQUIRES: mu_ held (either way). Throws what FAISS throws.
  std::vector<float> ToWorkingSpace(std::vector<float> raw) const;
  // Inserts under the exclusive lock. Throws what FAISS throws.
  bool InsertLocked(const CacheKey& ns, std::vector<float> raw, const CacheKey& value,
                    int64_t now_ms, int64_t expires_at_ms);
  // Unlinks `it` from lru_, its namespace and (if it is left empty) namespaces_; its vector
  // becomes a tombstone. May rebuild the namespace. REQUIRES: mu_ held exclusively.
  void RemoveLocked(Lru::iterator it);
  // Removes every entry of `space` and `space` itself (destroyed). REQUIRES: mu_ exclusive.
  void DropNamespaceLocked(Namespace& space);
  // The search of Lookup, under the shared lock: the best live match above threshold, and the
  // expired entries it stepped over. Throws what FAISS throws.
  std::optional<Match> SearchLocked(const Namespace& space, const std::vector<float>& query,
                                    float threshold, int64_t now_ms,
                                    std::vector<ExpiredRef>& expired) const;
  // SearchLocked for a flat namespace: one exact pass over every vector.
  std::optional<Match> ScanFlat(const Namespace& space, const std::vector<float>& query,
                                float threshold, int64_t now_ms,
                                std::vector<ExpiredRef>& expired) const;
  // The k nearest ids of `query` in an HNSW namespace, best first ([k] each; id -1 past the
  // end of what the graph yielded). Runs on the calling thread: FAISS's own IndexHNSW::search
  // opens an OpenMP team and allocates a visited table of ntotal bytes per query, which costs
  // more than the search itself when many request threads look up one query each.
  void SearchHnsw(const Namespace& space, const std::vector<float>& query, int64_t k,
                  std::vector<float>& similarities, std::vector<int64_t>& ids) const;
  // Appends `vector` ([working_dimensions]) to `space`'s index at id ntotal. Throws what FAISS
  // throws. REQUIRES: mu_ held exclusively.
  void AddOne(Namespace& space, const float* vector);
  // A new empty FAISS index of the working dimensions, HNSW when `hnsw`.
  std::unique_ptr<faiss::Index> NewIndex(bool hnsw) const;
  // Rebuilds `space` from its live vectors, dropping tombstones and choosing flat or HNSW again;
  // `transform` maps the old vectors into the new working space first. Leaves `space` as it was
  // if FAISS throws. REQUIRES: mu_ held exclusively.
  void RebuildLocked(Namespace& space, const faiss::PCAMatrix* transform);
  // Trains the PCA on pca_train_ and rebuilds every namespace reduced. REQUIRES: mu_ exclusive.
  void TrainPcaLocked();

  // Constant after construction.
  const Options options_;
  const std::function<int64_t()> now_ms_;

  // Readers (lookups) share it; a waiting writer holds new readers back, so a stream of lookups
  // cannot starve inserts (std::shared_mutex on glibc prefers readers).
  mutable absl::Mutex mu_;
  // Guarded by mu_.
  Lru lru_;  // front = most recently used; under a shared mu_ only lru_mu_ holders splice it
  std::unordered_map<CacheKey, std::unique_ptr<Namespace>, CacheKeyHash> namespaces_;
  int working_dimensions_ = 0;
  std::unique_ptr<faiss::PCAMatrix> pca_;  // null until trained
  std::vector<float> pca_train_;           // [num_collected, dimensions], normalized raw vectors
  bool pca_failed_ = false;                // training threw: stay unreduced for good
  int64_t num_tombstones_ = 0;
  int64_t num_hnsw_ = 0;
  int64_t evictions_ = 0;
  int64_t rebuilds_ = 0;

  // Serializes recency updates made by concurrent lookups holding mu_ shared.
  mutable std::mutex lru_mu_;

  // Counters updated under a shared mu_.
  std::atomic<int64_t> lookups_{0};
  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> expired_{0};
};

}  // namespace brisk::cache
