// SemanticIndex: one reader-writer mutex over every namespace. Lookups hold it shared and take
// the small lru_mu_ only to move a hit to the front; inserts, erases, evictions and rebuilds hold
// it exclusively. A flat namespace is searched by one exact pass over its vectors. FAISS HNSW
// graphs cannot delete, so a removed entry leaves its vector behind as a tombstone: the id table
// maps it to nullptr, graph searches ask for more neighbours than they need and step over it,
// and a namespace is rebuilt from its live vectors once tombstones outnumber them. Single-vector
// graph searches and inserts call faiss::HNSW directly on the calling thread (see SearchHnsw);
// batch rebuilds go through IndexHNSW::add. FAISS throws C++ exceptions; they are caught here and
// become misses or failed inserts.
#include "cache/semantic_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/HNSW.h>
#include <faiss/utils/Heap.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <iterator>
#include <limits>
#include <utility>

#include "base/check.h"
#include "base/logging.h"

namespace brisk::cache {
namespace {

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// now + ttl, saturating at kNoExpiry.
int64_t ExpiryTime(int64_t now_ms, int64_t ttl_ms) {
  if (now_ms > SemanticIndex::kNoExpiry - ttl_ms) return SemanticIndex::kNoExpiry;
  return now_ms + ttl_ms;
}

// Scales `row` to unit length in place; a row too short to carry a direction becomes zero.
// Returns whether the row is nonzero. 1e-12 is far below the norm of any real embedding and
// well above the float underflow that would make the division meaningless.
bool RenormalizeRow(float* row, int dimensions) {
  double sum_squares = 0;
  for (int i = 0; i < dimensions; ++i) sum_squares += static_cast<double>(row[i]) * row[i];
  const double norm = std::sqrt(sum_squares);
  if (!(norm > 1e-12)) {
    std::fill(row, row + dimensions, 0.0f);
    return false;
  }
  for (int i = 0; i < dimensions; ++i) row[i] = static_cast<float>(row[i] / norm);
  return true;
}

// Dot product with 16 independent partial sums, so that the compiler vectorizes it (FMA on a
// native build) without reassociating floating point on its own: the distribution's FAISS is
// built for baseline x86-64, and its scalar inner product made distances most of the search time.
float Dot(const float* a, const float* b, int dimensions) {
  constexpr int kLanes = 16;
  float partial[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= dimensions; i += kLanes) {
    for (int lane = 0; lane < kLanes; ++lane) partial[lane] += a[i + lane] * b[i + lane];
  }
  float sum = 0;
  for (; i < dimensions; ++i) sum += a[i] * b[i];
  for (int lane = 0; lane < kLanes; ++lane) sum += partial[lane];
  return sum;
}

// HNSW keeps the nearest by smallest distance, so the distance is the negated inner product of
// the unit vectors stored in the graph's flat storage ([ntotal, d] floats).
class NegatedInnerProduct final : public faiss::DistanceComputer {
 public:
  explicit NegatedInnerProduct(const faiss::IndexFlat& storage)
      : vectors_(storage.get_xb()), dimensions_(storage.d) {}
  void set_query(const float* x) override { query_ = x; }
  float operator()(idx_t i) override { return -Dot(query_, Row(i), dimensions_); }
  float symmetric_dis(idx_t i, idx_t j) override { return -Dot(Row(i), Row(j), dimensions_); }

 private:
  const float* Row(idx_t i) const { return vectors_ + i * dimensions_; }

  const float* vectors_;
  const int dimensions_;
  const float* query_ = nullptr;
};

// A table of one visited mark per graph node, reused across this thread's searches and inserts:
// it costs one byte per node, and FAISS clears it only every few hundred uses.
faiss::VisitedTable& ThreadVisitedTable(int64_t num_nodes) {
  thread_local std::unique_ptr<faiss::VisitedTable> visited;
  if (visited == nullptr || static_cast<int64_t>(visited->visited.size()) < num_nodes) {
    visited = std::make_unique<faiss::VisitedTable>(static_cast<int>(num_nodes * 5 / 4 + 64));
  }
  return *visited;
}

// The first search asks for this many neighbours and each retry for kSearchGrowth times more, so
// a few tombstones or expired entries ahead of the best live one cost no second search, and a
// long run of them costs a logarithmic number.
constexpr int64_t kFirstSearchK = 8;
constexpr int64_t kSearchGrowth = 8;

}  // namespace

// The per-node locks that faiss::HNSW::add_with_locks takes. Inserts run under the exclusive
// mu_, so the locks are never contended; they exist because the FAISS call needs them. They grow
// by doubling and are re-created (all unlocked) when they do, never moved while in use.
struct SemanticIndex::HnswLocks {
  std::vector<omp_lock_t> locks;

  HnswLocks() = default;
  HnswLocks(const HnswLocks&) = delete;
  HnswLocks& operator=(const HnswLocks&) = delete;
  ~HnswLocks() { DestroyAll(); }

  void Reserve(int64_t num_nodes) {
    if (static_cast<int64_t>(locks.size()) >= num_nodes) return;
    DestroyAll();
    locks = std::vector<omp_lock_t>(std::max<int64_t>(num_nodes, 2 * locks.size()));
    for (omp_lock_t& lock : locks) omp_init_lock(&lock);
  }
  void DestroyAll() {
    for (omp_lock_t& lock : locks) omp_destroy_lock(&lock);
  }
};

SemanticIndex::SemanticIndex(Options options)
    : options_(std::move(options)),
      now_ms_(options_.now_ms ? options_.now_ms : std::function<int64_t()>(SteadyNowMs)),
      working_dimensions_(options_.dimensions) {
  BRISK_CHECK_GT(options_.dimensions, 0) << "SemanticIndex needs positive dimensions";
  BRISK_CHECK_GE(options_.hnsw_min_entries, 0);
  BRISK_CHECK_GE(options_.hnsw_m, 2);
  BRISK_CHECK_GE(options_.hnsw_ef_construction, 1);
  BRISK_CHECK_GE(options_.hnsw_ef_search, 1);
  BRISK_CHECK_GE(options_.max_entries, 1);
  BRISK_CHECK_GE(options_.pca_dimensions, 0);
  if (options_.pca_dimensions > 0) {
    BRISK_CHECK_LT(options_.pca_dimensions, options_.dimensions) << "PCA must reduce";
    BRISK_CHECK_GE(options_.pca_train_entries, options_.pca_dimensions)
        << "too few PCA training vectors for the requested dimensions";
  }
}

SemanticIndex::~SemanticIndex() = default;

bool SemanticIndex::Normalize(std::span<const float> vector, std::vector<float>& out) {
  out.assign(vector.begin(), vector.end());
  for (const float x : out) {
    if (!std::isfinite(x)) return false;
  }
  return RenormalizeRow(out.data(), static_cast<int>(out.size()));
}

std::vector<float> SemanticIndex::ToWorkingSpace(std::vector<float> raw) const {
  if (pca_ == nullptr) return raw;
  // y = A x + b, A [pca_dimensions, dimensions] row-major. Done here rather than through
  // PCAMatrix::apply, whose BLAS call wakes a thread pool for one small product.
  std::vector<float> reduced(working_dimensions_);
  for (int r = 0; r < working_dimensions_; ++r) {
    reduced[r] = Dot(&pca_->A[static_cast<size_t>(r) * options_.dimensions], raw.data(),
                     options_.dimensions) +
                 (pca_->have_bias ? pca_->b[r] : 0.0f);
  }
  RenormalizeRow(reduced.data(), working_dimensions_);
  return reduced;
}

std::unique_ptr<faiss::Index> SemanticIndex::NewIndex(bool hnsw) const {
  if (!hnsw) return std::make_unique<faiss::IndexFlatIP>(working_dimensions_);
  auto index = std::make_unique<faiss::IndexHNSWFlat>(working_dimensions_, options_.hnsw_m,
                                                      faiss::METRIC_INNER_PRODUCT);
  index->hnsw.efConstruction = options_.hnsw_ef_construction;
  index->hnsw.efSearch = options_.hnsw_ef_search;
  return index;
}

bool SemanticIndex::Insert(const CacheKey& ns, std::span<const float> vector,
                           const CacheKey& value, int64_t ttl_ms) {
  BRISK_CHECK_EQ(static_cast<int64_t>(vector.size()), options_.dimensions)
      << "SemanticIndex::Insert of a vector of the wrong dimension";
  BRISK_CHECK_GE(ttl_ms, 0) << "SemanticIndex::Insert with a negative TTL";
  std::vector<float> raw;
  if (!Normalize(vector, raw)) return false;
  const int64_t now_ms = now_ms_();
  absl::MutexLock lock(&mu_);
  try {
    return InsertLocked(ns, std::move(raw), value, now_ms, ExpiryTime(now_ms, ttl_ms));
  } catch (const std::exception& e) {
    BRISK_LOG(kWarning) << "semantic index insert failed: " << e.what();
    return false;
  }
}

bool SemanticIndex::InsertLocked(const CacheKey& ns, std::vector<float> raw,
                                 const CacheKey& value, int64_t now_ms, int64_t expires_at_ms) {
  std::vector<float> working = ToWorkingSpace(raw);
  if (working.empty() || std::all_of(working.begin(), working.end(),
                                     [](float x) { return x == 0.0f; })) {
    return false;  // the PCA maps it to nothing: it could never match
  }
  if (auto found = namespaces_.find(ns); found != namespaces_.end()) {
    if (auto old = found->second->by_value.find(value); old != found->second->by_value.end()) {
      RemoveLocked(old->second);  // may drop the namespace when it held only this entry
    }
  }
  auto [slot, created] = namespaces_.try_emplace(ns);
  if (created) {
    slot->second = std::make_unique<Namespace>();
    slot->second->key = ns;
    slot->second->index = NewIndex(/*hnsw=*/false);
    slot->second->locks = std::make_unique<HnswLocks>();
  }
  Namespace& space = *slot->second;
  const int64_t faiss_id = space.index->ntotal;
  BRISK_CHECK_EQ(faiss_id, static_cast<int64_t>(space.by_id.size()));
  try {
    AddOne(space, working.data());
  } catch (...) {
    if (space.by_value.empty() || space.index->ntotal != faiss_id) DropNamespaceLocked(space);
    throw;
  }
  lru_.push_front(Entry{.value = value, .expires_at_ms = expires_at_ms, .space = &space,
                        .faiss_id = faiss_id});
  space.by_id.push_back(&lru_.front());
  space.by_value[value] = lru_.begin();

  // The new entry is at the front, so eviction never empties (and drops) `space`.
  while (static_cast<int64_t>(lru_.size()) > options_.max_entries) {
    const Lru::iterator victim = std::prev(lru_.end());
    if (victim->expires_at_ms <= now_ms) {
      expired_.fetch_add(1, std::memory_order_relaxed);  // it was dead already
    } else {
      ++evictions_;
    }
    RemoveLocked(victim);
  }
  if (!space.is_hnsw &&
      static_cast<int64_t>(space.by_value.size()) > options_.hnsw_min_entries) {
    RebuildLocked(space, nullptr);
  }
  if (options_.pca_dimensions > 0 && pca_ == nullptr && !pca_failed_) {
    pca_train_.insert(pca_train_.end(), raw.begin(), raw.end());
    if (static_cast<int64_t>(pca_train_.size()) >=
        static_cast<int64_t>(options_.pca_train_entries) * options_.dimensions) {
      TrainPcaLocked();
    }
  }
  return true;
}

void SemanticIndex::RemoveLocked(Lru::iterator it) {
  Namespace& space = *it->space;
  space.by_id[it->faiss_id] = nullptr;
  space.by_value.erase(it->value);
  lru_.erase(it);
  ++num_tombstones_;
  const size_t num_live = space.by_value.size();
  if (num_live == 0) {
    DropNamespaceLocked(space);
  } else if (space.by_id.size() - num_live > num_live) {
    RebuildLocked(space, nullptr);
  }
}

void SemanticIndex::DropNamespaceLocked(Namespace& space) {
  for (auto& [value, it] : space.by_value) lru_.erase(it);
  num_tombstones_ -= static_cast<int64_t>(space.by_id.size() - space.by_value.size());
  if (space.is_hnsw) --num_hnsw_;
  namespaces_.erase(space.key);  // destroys `space`
}

void SemanticIndex::RebuildLocked(Namespace& space, const faiss::PCAMatrix* transform) {
  try {
    std::vector<int64_t> live_ids;
    live_ids.reserve(space.by_value.size());
    for (size_t id = 0; id < space.by_id.size(); ++id) {
      if (space.by_id[id] != nullptr) live_ids.push_back(static_cast<int64_t>(id));
    }
    const int64_t num_live = static_cast<int64_t>(live_ids.size());
    const int old_dimensions = space.index->d;
    std::vector<float> vectors(num_live * old_dimensions);  // [num_live, old_dimensions]
    for (int64_t j = 0; j < num_live; ++j) {
      space.index->reconstruct(live_ids[j], vectors.data() + j * old_dimensions);
    }
    if (transform != nullptr) {
      std::vector<float> reduced(num_live * working_dimensions_);  // [num_live, working]
      transform->apply_noalloc(num_live, vectors.data(), reduced.data());
      for (int64_t j = 0; j < num_live; ++j) {
        RenormalizeRow(reduced.data() + j * working_dimensions_, working_dimensions_);
      }
      vectors = std::move(reduced);
    }
    const bool hnsw = num_live > options_.hnsw_min_entries;
    std::unique_ptr<faiss::Index> index = NewIndex(hnsw);
    index->add(num_live, vectors.data());
    std::vector<Entry*> by_id(num_live);
    for (int64_t j = 0; j < num_live; ++j) by_id[j] = space.by_id[live_ids[j]];
    // Commit; nothing below throws.
    for (int64_t j = 0; j < num_live; ++j) by_id[j]->faiss_id = j;
    num_tombstones_ -= static_cast<int64_t>(space.by_id.size()) - num_live;
    num_hnsw_ += static_cast<int>(hnsw) - static_cast<int>(space.is_hnsw);
    space.index = std::move(index);
    space.by_id = std::move(by_id);
    space.is_hnsw = hnsw;
    ++rebuilds_;
  } catch (const std::exception& e) {
    BRISK_LOG(kWarning) << "semantic index rebuild of a namespace failed: " << e.what();
    // Without the transform the old index is still whole; with it, it is in the wrong space.
    if (transform != nullptr) DropNamespaceLocked(space);
  }
}

void SemanticIndex::TrainPcaLocked() {
  // Training on each vector and its negation makes the mean exactly zero, so the PCA keeps the
  // directions of largest second moment, including the common direction that real embeddings
  // share, instead of centring it away: inner products of reduced vectors then approximate
  // those of the raw ones, and a threshold tuned on raw cosines keeps its meaning.
  const int64_t num_train = static_cast<int64_t>(pca_train_.size()) / options_.dimensions;
  std::vector<float> symmetric(pca_train_.size() * 2);  // [2 * num_train, dimensions]
  std::copy(pca_train_.begin(), pca_train_.end(), symmetric.begin());
  std::transform(pca_train_.begin(), pca_train_.end(), symmetric.begin() + pca_train_.size(),
                 [](float x) { return -x; });
  auto pca = std::make_unique<faiss::PCAMatrix>(options_.dimensions, options_.pca_dimensions);
  try {
    pca->train(2 * num_train, symmetric.data());
  } catch (const std::exception& e) {
    BRISK_LOG(kWarning) << "semantic index PCA training failed, staying unreduced: " << e.what();
    pca_train_.clear();
    pca_train_.shrink_to_fit();
    pca_failed_ = true;
    return;
  }
  pca_ = std::move(pca);
  pca_train_.clear();
  pca_train_.shrink_to_fit();
  working_dimensions_ = options_.pca_dimensions;
  std::vector<Namespace*> spaces;
  spaces.reserve(namespaces_.size());
  for (auto& [key, space] : namespaces_) spaces.push_back(space.get());
  for (Namespace* space : spaces) RebuildLocked(*space, pca_.get());
}

std::optional<SemanticIndex::Match> SemanticIndex::Lookup(const CacheKey& ns,
                                                          std::span<const float> vector,
                                                          float threshold) {
  BRISK_CHECK_EQ(static_cast<int64_t>(vector.size()), options_.dimensions)
      << "SemanticIndex::Lookup of a vector of the wrong dimension";
  lookups_.fetch_add(1, std::memory_order_relaxed);
  std::vector<float> raw;
  if (!Normalize(vector, raw)) return std::nullopt;
  const int64_t now_ms = now_ms_();
  std::optional<Match> match;
  std::vector<ExpiredRef> expired;
  {
    absl::ReaderMutexLock lock(&mu_);
    const auto found = namespaces_.find(ns);
    if (found == namespaces_.end()) return std::nullopt;
    const Namespace& space = *found->second;
    try {
      const std::vector<float> query = ToWorkingSpace(std::move(raw));
      match = SearchLocked(space, query, threshold, now_ms, expired);
    } catch (const std::exception& e) {
      BRISK_LOG(kWarning) << "semantic index search failed: " << e.what();
      match.reset();
    }
    if (match.has_value()) {
      const Lru::iterator it = space.by_value.at(match->value);
      std::lock_guard<std::mutex> lru_lock(lru_mu_);
      lru_.splice(lru_.begin(), lru_, it);
    }
  }
  if (match.has_value()) hits_.fetch_add(1, std::memory_order_relaxed);
  if (!expired.empty()) {
    absl::MutexLock lock(&mu_);
    for (const ExpiredRef& ref : expired) {
      const auto space = namespaces_.find(ref.ns);
      if (space == namespaces_.end()) continue;
      const auto entry = space->second->by_value.find(ref.value);
      // Re-checked: the entry may have been replaced by a fresh one since the search.
      if (entry == space->second->by_value.end() || entry->second->expires_at_ms > now_ms) {
        continue;
      }
      expired_.fetch_add(1, std::memory_order_relaxed);
      RemoveLocked(entry->second);  // may drop the namespace; ref.ns is looked up again
    }
  }
  return match;
}

std::optional<SemanticIndex::Match> SemanticIndex::SearchLocked(
    const Namespace& space, const std::vector<float>& query, float threshold, int64_t now_ms,
    std::vector<ExpiredRef>& expired) const {
  const int64_t num_total = space.index->ntotal;
  const bool all_zero =
      std::all_of(query.begin(), query.end(), [](float x) { return x == 0.0f; });
  if (num_total == 0 || all_zero) return std::nullopt;
  if (!space.is_hnsw) return ScanFlat(space, query, threshold, now_ms, expired);
  int64_t k = std::min(num_total, kFirstSearchK);
  std::vector<float> similarities;
  std::vector<int64_t> ids;
  while (true) {
    SearchHnsw(space, query, k, similarities, ids);
    expired.clear();  // a wider search meets the same ones again
    for (int64_t i = 0; i < k; ++i) {
      if (ids[i] < 0) continue;  // the graph yielded fewer than k
      // Results come best first, so the first live one below threshold ends the search.
      const Entry* entry = space.by_id[ids[i]];
      if (entry == nullptr) continue;  // tombstone
      if (similarities[i] < threshold) return std::nullopt;
      if (entry->expires_at_ms <= now_ms) {
        expired.push_back({.ns = space.key, .value = entry->value});
        continue;
      }
      return Match{.value = entry->value,
                   .similarity = std::clamp(similarities[i], -1.0f, 1.0f)};
    }
    if (k >= num_total) return std::nullopt;
    k = std::min(num_total, k * kSearchGrowth);
  }
}

std::optional<SemanticIndex::Match> SemanticIndex::ScanFlat(
    const Namespace& space, const std::vector<float>& query, float threshold, int64_t now_ms,
    std::vector<ExpiredRef>& expired) const {
  const auto& flat = static_cast<const faiss::IndexFlat&>(*space.index);
  const int64_t num_total = flat.ntotal;
  thread_local std::vector<float> similarities;  // [num_total]
  similarities.resize(num_total);
  const float* vectors = flat.get_xb();  // [num_total, d]
  for (int64_t id = 0; id < num_total; ++id) {
    similarities[id] = Dot(query.data(), vectors + id * flat.d, flat.d);
  }
  const Entry* best = nullptr;
  float best_similarity = 0;
  for (int64_t id = 0; id < num_total; ++id) {
    const Entry* entry = space.by_id[id];
    const float similarity = similarities[id];
    if (entry == nullptr || similarity < threshold || entry->expires_at_ms <= now_ms) continue;
    if (best == nullptr || similarity > best_similarity) {
      best = entry;
      best_similarity = similarity;
    }
  }
  // Expired entries count as met when they rank ahead of the answer, as in a graph search.
  for (int64_t id = 0; id < num_total; ++id) {
    const Entry* entry = space.by_id[id];
    const float similarity = similarities[id];
    if (entry != nullptr && entry->expires_at_ms <= now_ms && similarity >= threshold &&
        (best == nullptr || similarity > best_similarity)) {
      expired.push_back({.ns = space.key, .value = entry->value});
    }
  }
  if (best == nullptr) return std::nullopt;
  return Match{.value = best->value, .similarity = std::clamp(best_similarity, -1.0f, 1.0f)};
}

void SemanticIndex::SearchHnsw(const Namespace& space, const std::vector<float>& query,
                               int64_t k, std::vector<float>& similarities,
                               std::vector<int64_t>& ids) const {
  const auto& hnsw = static_cast<const faiss::IndexHNSW&>(*space.index);
  faiss::VisitedTable& visited = ThreadVisitedTable(hnsw.ntotal);
  NegatedInnerProduct distance(static_cast<const faiss::IndexFlat&>(*hnsw.storage));
  distance.set_query(query.data());
  similarities.resize(k);
  ids.resize(k);
  faiss::SearchParametersHNSW params;
  params.efSearch = static_cast<int>(std::max<int64_t>(options_.hnsw_ef_search, k));
  faiss::maxheap_heapify(k, similarities.data(), ids.data());
  hnsw.hnsw.search(distance, static_cast<int>(k), ids.data(), similarities.data(), visited,
                   &params);
  visited.advance();
  faiss::maxheap_reorder(k, similarities.data(), ids.data());
  for (float& similarity : similarities) similarity = -similarity;
}

void SemanticIndex::AddOne(Namespace& space, const float* vector) {
  if (!space.is_hnsw) {
    space.index->add(1, vector);
    return;
  }
  // IndexHNSW::add, for one vector: store it, draw its level, link it into the graph. FAISS's own
  // add allocates a lock and a visited mark per node on every call (O(ntotal) per insert).
  auto& hnsw = static_cast<faiss::IndexHNSW&>(*space.index);
  const int64_t node_id = hnsw.ntotal;
  hnsw.storage->add(1, vector);
  hnsw.ntotal = hnsw.storage->ntotal;
  const int level = hnsw.hnsw.prepare_level_tab(1, /*preset_levels=*/false);
  space.locks->Reserve(hnsw.ntotal);
  NegatedInnerProduct distance(static_cast<const faiss::IndexFlat&>(*hnsw.storage));
  distance.set_query(vector);
  faiss::VisitedTable& visited = ThreadVisitedTable(hnsw.ntotal);
  hnsw.hnsw.add_with_locks(distance, level, static_cast<int>(node_id), space.locks->locks,
                           visited);
  visited.advance();
}

bool SemanticIndex::Erase(const CacheKey& ns, const CacheKey& value) {
  absl::MutexLock lock(&mu_);
  const auto space = namespaces_.find(ns);
  if (space == namespaces_.end()) return false;
  const auto entry = space->second->by_value.find(value);
  if (entry == space->second->by_value.end()) return false;
  RemoveLocked(entry->second);
  return true;
}

SemanticIndex::Stats SemanticIndex::GetStats() const {
  absl::ReaderMutexLock lock(&mu_);
  std::lock_guard<std::mutex> lru_lock(lru_mu_);
  return Stats{
      .entries = static_cast<int64_t>(lru_.size()),
      .namespaces = static_cast<int64_t>(namespaces_.size()),
      .hnsw_namespaces = num_hnsw_,
      .tombstones = num_tombstones_,
      .lookups = lookups_.load(std::memory_order_relaxed),
      .hits = hits_.load(std::memory_order_relaxed),
      .evictions = evictions_,
      .expired = expired_.load(std::memory_order_relaxed),
      .rebuilds = rebuilds_,
      .working_dimensions = working_dimensions_,
  };
}

std::vector<CacheKey> SemanticIndex::ValuesByRecency(const CacheKey& ns) const {
  absl::ReaderMutexLock lock(&mu_);
  std::lock_guard<std::mutex> lru_lock(lru_mu_);
  std::vector<CacheKey> values;
  for (const Entry& entry : lru_) {
    if (entry.space->key == ns) values.push_back(entry.value);
  }
  return values;
}

}  // namespace brisk::cache
