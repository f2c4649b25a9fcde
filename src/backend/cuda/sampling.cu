// The SampleTokens kernel: one block of kThreads threads per logits row.
//
// The one idea: every filter is a threshold. Top-k and top-p keep the tokens whose logit key
// (an order-preserving uint32 of the f32 logit) is at least some boundary key, and min-p keeps
// the weights w_i = exp((l_i - max) / T) of at least min_p (the largest kept weight is always
// the argmax's, exactly 1). The boundary keys come from radix selects: four passes over the row,
// each building a 256-bin histogram of one 8-bit digit of the keys that match the digits fixed
// so far, and walking the bins from the top to the one holding the boundary. Top-k histograms
// count tokens; top-p histograms sum weights (over what top-k kept) until top_p of the kept mass
// is reached. A row that filters nothing reads its logits twice (max, then the draw).
//
// Numerics: weights are f32 (expf). Histogram masses are 64-bit fixed point (round(w * 2^40)),
// so their sums are exact and order-independent: the kept sets are deterministic. The draw sums
// the kept weights in f32 per thread and in double across threads and warps.
//
// Draw, in index order and three levels: each warp owns one contiguous segment of the row and
// the block scans the segment sums to find the segment where the cumulative weight passes
// target = u * total; the whole block then splits that segment into 32 slices and scans again;
// the winning slice's warp walks it 32 tokens at a time with a warp scan. Rounding that leaves a
// level without a crossing falls back to the last kept token of positive weight, as the host
// Sampler's Draw does.
#include "backend/cuda/sampling.cuh"

#include <climits>
#include <cmath>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

// One block per row: 32 warps cover a 128K vocabulary in about 125 tokens per thread.
constexpr int kThreads = 1024;
constexpr int kNumWarps = kThreads / kWarpSize;
constexpr int kRadixBits = 8;
constexpr int kNumBins = 1 << kRadixBits;
constexpr int kTopShift = 32 - kRadixBits;  // shift of the most significant digit
constexpr int kBinsPerLane = kNumBins / kWarpSize;
// Each histogram is replicated kReplicas times (lane % kReplicas picks the copy), so at most 4
// lanes of a warp hit one shared address: logits crowd into a few top-digit bins, and a
// shared atomic serializes the lanes that collide on an address.
constexpr int kReplicas = 8;
// 2^40: the unit of the fixed-point masses. A weight is at most 1, so a vocabulary of up to
// 2^23 tokens sums below 2^63; rounding costs at most 2^-41 per token, relative to a kept total
// of at least 1 (the argmax's weight).
constexpr float kFixedOne = 1099511627776.0f;

using Mass = unsigned long long;

// Columns of the params tensor (backend.h).
enum Param : int { kTemperature = 0, kTopK, kTopP, kMinP, kUniform, kNumParams };

struct SampleShared {
  unsigned count[kNumBins * kReplicas];  // [bin, replica]
  Mass mass[kNumBins * kReplicas];       // [bin, replica]
  unsigned count_total[kNumBins];        // replicas folded
  Mass mass_total[kNumBins];
  double warp_sum[kNumWarps];
  float warp_max[kNumWarps];
  int warp_argmax[kNumWarps];
  // Results broadcast to the block.
  float max_logit;
  int argmax;
  unsigned pick_bin;
  unsigned pick_above_count;
  int pick_warp;
  int pick_crossed;  // 1: the cumulative weight passes the target in pick_warp's range
  double pick_before;
  double target;
};

// Maps f32 to uint32 preserving order: a < b  <=>  key(a) < key(b); -0 and +0 share a key.
__device__ __forceinline__ uint32_t OrderedKey(float x) {
  uint32_t bits = __float_as_uint(x);
  if (bits == 0x80000000u) bits = 0;
  return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}

// The filters of one row, fixed once its thresholds are known.
struct RowFilter {
  const float* x = nullptr;  // [vocab] the row's logits
  int vocab = 0;
  float max_logit = 0.0f;
  float temperature = 1.0f;
  uint32_t min_key = 0;     // top-k / top-p: keys below are dropped (0 keeps all)
  float min_weight = 0.0f;  // min-p: weights below are dropped

  // Division rather than a reciprocal: 0 / T stays 0 for any T > 0, so the argmax weighs 1.
  __device__ __forceinline__ float Weight(float logit) const {
    return expf((logit - max_logit) / temperature);
  }
  // The weight of token i if every filter keeps it, else 0 (also for i >= vocab).
  __device__ __forceinline__ float KeptWeight(int i) const {
    if (i >= vocab) return 0.0f;
    const float logit = x[i];
    if (OrderedKey(logit) < min_key) return 0.0f;
    const float w = Weight(logit);
    return w >= min_weight ? w : 0.0f;
  }
};

template <typename T>
__device__ __forceinline__ T WarpAllSum(T value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(kFullWarpMask, value, offset);
  }
  return value;
}

template <typename T>
__device__ __forceinline__ T WarpInclusiveScan(T value, int lane) {
  for (int offset = 1; offset < kWarpSize; offset *= 2) {
    const T other = __shfl_up_sync(kFullWarpMask, value, offset);
    if (lane >= offset) value += other;
  }
  return value;
}

// ---- Histograms ----

template <bool kWithMass>
__device__ void ClearHistogram(SampleShared& s) {
  for (int i = threadIdx.x; i < kNumBins * kReplicas; i += kThreads) {
    s.count[i] = 0;
    if constexpr (kWithMass) s.mass[i] = 0;
  }
  __syncthreads();
}

// Sums the replicas into count_total (and mass_total). Ends with a barrier.
template <bool kWithMass>
__device__ void FoldHistogram(SampleShared& s) {
  __syncthreads();
  for (int bin = threadIdx.x; bin < kNumBins; bin += kThreads) {
    unsigned count = 0;
    Mass mass = 0;
    for (int r = 0; r < kReplicas; ++r) {
      count += s.count[bin * kReplicas + r];
      if constexpr (kWithMass) mass += s.mass[bin * kReplicas + r];
    }
    s.count_total[bin] = count;
    if constexpr (kWithMass) s.mass_total[bin] = mass;
  }
  __syncthreads();
}

// Histogram of the digit at `shift` over the tokens with key >= f.min_key whose fixed digits
// match: (key & mask) == prefix. Counts tokens, and with kWithMass sums their fixed-point weights.
template <bool kWithMass>
__device__ void BuildHistogram(const RowFilter& f, uint32_t prefix, uint32_t mask, int shift,
                               SampleShared& s) {
  ClearHistogram<kWithMass>(s);
  const int replica = threadIdx.x % kReplicas;
  for (int i = threadIdx.x; i < f.vocab; i += kThreads) {
    const float logit = f.x[i];
    const uint32_t key = OrderedKey(logit);
    if (key < f.min_key || (key & mask) != prefix) continue;
    const int slot = static_cast<int>((key >> shift) & (kNumBins - 1)) * kReplicas + replica;
    atomicAdd(&s.count[slot], 1u);
    if constexpr (kWithMass) atomicAdd(&s.mass[slot], __float2ull_rn(f.Weight(logit) * kFixedOne));
  }
  FoldHistogram<kWithMass>(s);
}

template <typename T>
struct BinPick {
  unsigned bin;
  T above;  // the sum of the bins above `bin`
};

// Called by the 32 lanes of warp 0: walking the bins from the top, the bin at which the running
// sum first reaches `target`, and the sum of the bins above it; bin 0 if it never does. Every
// lane gets the result. Lane l sums bins [255 - 8l - 7, 255 - 8l], a warp scan orders the lanes.
template <typename T>
__device__ BinPick<T> SelectBin(const T* bins, T target) {
  const int lane = threadIdx.x % kWarpSize;
  const int top = kNumBins - 1 - lane * kBinsPerLane;
  T local = 0;
  for (int j = 0; j < kBinsPerLane; ++j) local += bins[top - j];
  const T inclusive = WarpInclusiveScan(local, lane);
  const unsigned reached = __ballot_sync(kFullWarpMask, inclusive >= target);
  const int owner = __ffs(reached | 0x80000000u) - 1;  // lane 31 (bin 0) when never reached
  unsigned bin = 0;
  T above = inclusive - local;
  if (lane == owner) {
    bin = static_cast<unsigned>(top);
    for (int j = 0; j + 1 < kBinsPerLane && above + bins[bin] < target; ++j) above += bins[bin--];
  }
  return BinPick<T>{__shfl_sync(kFullWarpMask, bin, owner),
                    __shfl_sync(kFullWarpMask, above, owner)};
}

// ---- Thresholds ----

// The key of the k-th largest logit: keys >= it are the top k (plus any ties with the k-th).
// REQUIRES: s.count_total holds the top digit's histogram over the whole row; 1 <= k < vocab.
__device__ uint32_t TopKThreshold(const RowFilter& f, unsigned k, SampleShared& s) {
  uint32_t prefix = 0;
  uint32_t mask = 0;
  unsigned remaining = k;  // how many of the largest keys matching prefix are still to keep
  for (int shift = kTopShift;; shift -= kRadixBits) {
    if (shift != kTopShift) BuildHistogram<false>(f, prefix, mask, shift, s);
    if (threadIdx.x < kWarpSize) {
      const BinPick<unsigned> pick = SelectBin<unsigned>(s.count_total, remaining);
      if (threadIdx.x == 0) {
        s.pick_bin = pick.bin;
        s.pick_above_count = pick.above;
      }
    }
    __syncthreads();
    const unsigned bin = s.pick_bin;
    remaining -= s.pick_above_count;
    prefix |= bin << shift;
    mask |= static_cast<uint32_t>(kNumBins - 1) << shift;
    // The whole bin is kept when it holds exactly the remaining tokens: its lowest key (the
    // prefix with zero low digits) is then as good a boundary as the k-th key itself.
    const bool done = shift == 0 || s.count_total[bin] == remaining;
    __syncthreads();  // every thread has read s before the next histogram overwrites it
    if (done) return prefix;
  }
}

// The largest key t such that the tokens with key >= t (among f's, key >= f.min_key) carry at
// least top_p of their total weight: the smallest top-down set reaching top_p, ties kept.
// REQUIRES: 0 < top_p < 1.
__device__ uint32_t TopPThreshold(const RowFilter& f, float top_p, SampleShared& s) {
  uint32_t prefix = 0;
  uint32_t mask = 0;
  Mass remaining = 0;  // warp 0 only: the mass still needed from keys matching prefix
  for (int shift = kTopShift;; shift -= kRadixBits) {
    BuildHistogram<true>(f, prefix, mask, shift, s);
    if (threadIdx.x < kWarpSize) {
      if (shift == kTopShift) {
        Mass local = 0;
        const int top = kNumBins - 1 - static_cast<int>(threadIdx.x) * kBinsPerLane;
        for (int j = 0; j < kBinsPerLane; ++j) local += s.mass_total[top - j];
        const Mass total = WarpAllSum(local);
        // The host's rule: mass >= top_p * total; with integer masses, >= its ceiling.
        remaining =
            static_cast<Mass>(ceil(static_cast<double>(top_p) * static_cast<double>(total)));
        if (remaining == 0) remaining = 1;
      }
      const BinPick<Mass> pick = SelectBin<Mass>(s.mass_total, remaining);
      remaining -= pick.above;
      if (threadIdx.x == 0) s.pick_bin = pick.bin;
    }
    __syncthreads();
    const unsigned bin = s.pick_bin;
    prefix |= bin << shift;
    mask |= static_cast<uint32_t>(kNumBins - 1) << shift;
    // A bin with one token: that token is the boundary, and the bin's lowest key (raised to
    // min_key, below which nothing counted) selects the same set.
    const bool done = shift == 0 || s.count_total[bin] == 1;
    __syncthreads();
    if (done) return prefix > f.min_key ? prefix : f.min_key;
  }
}

// ---- Argmax and draw ----

// The row's maximum and its lowest index; with kTopDigit also the histogram of the keys' top
// digit over the whole row (TopKThreshold's first pass), read in the same sweep.
template <bool kTopDigit>
__device__ void RowArgmax(const float* x, int vocab, SampleShared& s) {
  if constexpr (kTopDigit) ClearHistogram<false>(s);
  const int replica = threadIdx.x % kReplicas;
  float best = -INFINITY;
  int best_index = INT_MAX;
  for (int i = threadIdx.x; i < vocab; i += kThreads) {
    const float logit = x[i];
    if (logit > best) {  // ascending i: a later equal value never replaces an earlier one
      best = logit;
      best_index = i;
    }
    if constexpr (kTopDigit)
      atomicAdd(&s.count[(OrderedKey(logit) >> kTopShift) * kReplicas + replica], 1u);
  }
  auto combine = [&](float other, int other_index) {
    if (other > best || (other == best && other_index < best_index)) {
      best = other;
      best_index = other_index;
    }
  };
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    combine(__shfl_xor_sync(kFullWarpMask, best, offset),
            __shfl_xor_sync(kFullWarpMask, best_index, offset));
  }
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  if (lane == 0) {
    s.warp_max[warp] = best;
    s.warp_argmax[warp] = best_index;
  }
  if constexpr (kTopDigit) {
    FoldHistogram<false>(s);  // its barriers also publish warp_max
  } else {
    __syncthreads();
  }
  if (warp == 0) {
    best = s.warp_max[lane];
    best_index = s.warp_argmax[lane];
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
      combine(__shfl_xor_sync(kFullWarpMask, best, offset),
              __shfl_xor_sync(kFullWarpMask, best_index, offset));
    }
    if (lane == 0) {
      s.max_logit = best;
      s.argmax = best_index;
    }
  }
  __syncthreads();
}

// Block-wide: warp w's range carries weight warp_sum (the same in all its lanes); ranges follow
// each other in warp order after `base`. Picks the first warp whose range lifts the cumulative
// weight above the target (pick_crossed = 1) or else the last warp with positive weight. With
// kTargetFromTotal the target is first set to u * (the sum over all warps).
template <bool kTargetFromTotal>
__device__ void PickWarp(double warp_sum, double base, float u, SampleShared& s) {
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  if (lane == 0) s.warp_sum[warp] = warp_sum;
  __syncthreads();
  if (warp == 0) {
    const double sum = s.warp_sum[lane];
    const double inclusive = WarpInclusiveScan(sum, lane);
    if constexpr (kTargetFromTotal) {
      const double total = __shfl_sync(kFullWarpMask, inclusive, kWarpSize - 1);
      if (lane == 0) s.target = static_cast<double>(u) * total;
      __syncwarp();
    }
    const double target = s.target;
    const unsigned crossed = __ballot_sync(kFullWarpMask, sum > 0.0 && base + inclusive > target);
    const unsigned positive = __ballot_sync(kFullWarpMask, sum > 0.0);
    const int pick = crossed != 0 ? __ffs(crossed) - 1 : 31 - __clz(positive | 1u);
    const double before = base + inclusive - sum;
    if (lane == pick) {
      s.pick_warp = pick;
      s.pick_crossed = crossed != 0;
      s.pick_before = before;
    }
  }
  __syncthreads();
}

// The drawn token of a sampled row (see the file comment); the same value in every thread.
__device__ int DrawToken(const RowFilter& f, float u, SampleShared& s) {
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  // Level 1: warp w owns tokens [w * rows * 32, (w + 1) * rows * 32), read 32 at a time.
  const int rows = (f.vocab + kThreads - 1) / kThreads;
  float lane_sum = 0.0f;
  for (int r = 0; r < rows; ++r) lane_sum += f.KeptWeight((warp * rows + r) * kWarpSize + lane);
  PickWarp<true>(WarpAllSum(static_cast<double>(lane_sum)), 0.0, u, s);
  const int segment_begin = s.pick_warp * rows * kWarpSize;
  const double segment_before = s.pick_before;
  // No crossing (u * total rounded to the top): fall back below as well.
  if (threadIdx.x == 0 && s.pick_crossed == 0) s.target = INFINITY;
  __syncthreads();

  // Level 2: the winning segment's rows, split into 32 slices of slice_rows rows.
  const int slice_rows = (rows + kNumWarps - 1) / kNumWarps;
  const int first_row = min(warp * slice_rows, rows);
  const int end_row = min(first_row + slice_rows, rows);
  lane_sum = 0.0f;
  for (int r = first_row; r < end_row; ++r) {
    lane_sum += f.KeptWeight(segment_begin + r * kWarpSize + lane);
  }
  PickWarp<false>(WarpAllSum(static_cast<double>(lane_sum)), segment_before, u, s);

  // Level 3: the winning slice's warp walks it 32 tokens at a time.
  if (warp == s.pick_warp) {
    const double target = s.pick_crossed != 0 ? s.target : INFINITY;
    double cumulative = s.pick_before;
    int last_positive = -1;
    int token = -1;
    const int slice_first = min(warp * slice_rows, rows);
    const int slice_end = min(slice_first + slice_rows, rows);
    for (int r = slice_first; r < slice_end && token < 0; ++r) {
      const int base = segment_begin + r * kWarpSize;
      const float w = f.KeptWeight(base + lane);
      const float inclusive = WarpInclusiveScan(w, lane);
      const unsigned crossed =
          __ballot_sync(kFullWarpMask, w > 0.0f && cumulative + inclusive > target);
      const unsigned positive = __ballot_sync(kFullWarpMask, w > 0.0f);
      if (crossed != 0) token = base + __ffs(crossed) - 1;
      if (positive != 0) last_positive = base + 31 - __clz(positive);
      cumulative += __shfl_sync(kFullWarpMask, inclusive, kWarpSize - 1);
    }
    if (lane == 0) s.argmax = token >= 0 ? token : last_positive;
  }
  __syncthreads();
  return s.argmax;
}

__device__ void CheckParams(const float* p, int row, int vocab) {
  BRISK_DEVICE_CHECK(isfinite(p[kTemperature]) && p[kTemperature] >= 0.0f,
                     "sample_tokens: row %d temperature %f", row, p[kTemperature]);
  BRISK_DEVICE_CHECK(p[kTopK] >= 0.0f && floorf(p[kTopK]) == p[kTopK],
                     "sample_tokens: row %d top_k %f", row, p[kTopK]);
  BRISK_DEVICE_CHECK(p[kTopP] > 0.0f && p[kTopP] <= 1.0f, "sample_tokens: row %d top_p %f", row,
                     p[kTopP]);
  BRISK_DEVICE_CHECK(p[kMinP] >= 0.0f && p[kMinP] <= 1.0f, "sample_tokens: row %d min_p %f", row,
                     p[kMinP]);
  BRISK_DEVICE_CHECK(p[kUniform] >= 0.0f && p[kUniform] < 1.0f, "sample_tokens: row %d u %f", row,
                     p[kUniform]);
  BRISK_DEVICE_CHECK(vocab > 0, "sample_tokens: row %d vocab %d", row, vocab);
}

// grid: one block per row.
__global__ void __launch_bounds__(kThreads)
    SampleTokensKernel(const float* __restrict__ logits,  // [num_rows, vocab]
                       const float* __restrict__ params,  // [num_rows, kNumParams]
                       int32_t* __restrict__ ids,         // [num_rows]
                       int vocab) {
  __shared__ SampleShared s;
  const int row = static_cast<int>(blockIdx.x);
  const float* x = logits + static_cast<int64_t>(row) * vocab;
  const float* p = params + static_cast<int64_t>(row) * kNumParams;
  if (threadIdx.x == 0) CheckParams(p, row, vocab);
  const float temperature = p[kTemperature];
  const float top_k = p[kTopK];
  const float top_p = p[kTopP];
  const float min_p = p[kMinP];

  const bool filter_top_k = top_k >= 1.0f && top_k < static_cast<float>(vocab);
  if (filter_top_k && temperature > 0.0f) {
    RowArgmax<true>(x, vocab, s);
  } else {
    RowArgmax<false>(x, vocab, s);
  }
  if (threadIdx.x == 0) {
    BRISK_DEVICE_CHECK(s.argmax != INT_MAX && s.max_logit > -INFINITY,
                       "sample_tokens: row %d has no finite logit (vocab %d)", row, vocab);
  }
  if (temperature == 0.0f) {
    if (threadIdx.x == 0) ids[row] = s.argmax;
    return;
  }

  RowFilter f{.x = x, .vocab = vocab, .max_logit = s.max_logit, .temperature = temperature};
  if (filter_top_k) f.min_key = TopKThreshold(f, static_cast<unsigned>(top_k), s);
  if (top_p < 1.0f) f.min_key = TopPThreshold(f, top_p, s);
  f.min_weight = min_p;  // min_p times the largest kept weight, the argmax's exp(0) = 1
  const int token = DrawToken(f, p[kUniform], s);
  if (threadIdx.x == 0) ids[row] = token;
}

}  // namespace

void LaunchSampleTokens(const SampleTokensArgs& args, cudaStream_t stream) {
  BRISK_CHECK(args.vocab >= 1 && args.vocab <= kMaxSampleVocab)
      << "sample_tokens vocab " << args.vocab << " outside [1, " << kMaxSampleVocab << "]";
  BRISK_CHECK(args.num_rows >= 0 && args.num_rows <= INT_MAX)
      << "sample_tokens num_rows " << args.num_rows;
  if (args.num_rows == 0) return;
  SampleTokensKernel<<<static_cast<unsigned>(args.num_rows), kThreads, 0, stream>>>(
      args.logits, args.params, args.ids, static_cast<int>(args.vocab));
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
