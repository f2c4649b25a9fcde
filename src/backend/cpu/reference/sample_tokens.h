// The reference math of Backend::SampleTokens, one logits row at a time, in double. It is the
// oracle of the conformance harness for the device kernels, and the conformance cases use its
// kept distribution (KeptTokens) to place their uniform draws away from CDF steps.
// Tie rule at the top-k and top-p boundaries: every token whose logit equals the boundary
// logit is kept (a threshold on the logit, as a radix select on a device finds it).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"

namespace brisk::backend {

// One row of SampleTokens' params tensor, in column order.
struct SampleRowParams {
  float temperature = 0.0f;  // 0 = greedy
  float top_k = 0.0f;        // an integer; 0 (or >= the number of finite logits) = off
  float top_p = 1.0f;        // 1 = off
  float min_p = 0.0f;        // 0 = off
  float u = 0.0f;            // the uniform draw, [0, 1)
};

// Reads row `row` of params. params: [rows, kSampleParamsWidth] host f32.
SampleRowParams SampleParamsRow(const Tensor& params, int64_t row);

// Fails (BRISK_CHECK, a caller bug) unless temperature is finite and >= 0, top_k an integer
// >= 0, top_p in (0, 1], min_p in [0, 1] and u in [0, 1).
void CheckSampleRowParams(const SampleRowParams& p);

// One kept token of a sampled row and its weight exp((logit - max logit) / temperature).
struct KeptToken {
  int32_t id = 0;
  double weight = 0.0;
};

// The tokens a sampled row keeps after top-k, top-p (over what top-k kept) and min-p, in index
// order, with their weights (all in double). Only finite logits are candidates.
// logits: [vocab]. REQUIRES: p.temperature > 0; at least one finite logit (checked).
std::vector<KeptToken> KeptTokens(std::span<const float> logits, const SampleRowParams& p);

// The first kept token (in index order) whose cumulative weight exceeds u times the kept total,
// skipping zero weights; the last kept token of positive weight if rounding leaves none.
// REQUIRES: kept non-empty with a positive weight (checked); u in [0, 1).
int32_t DrawKept(std::span<const KeptToken> kept, double u);

// The token SampleTokens draws for one row: the argmax (lowest index on ties) when
// p.temperature == 0, DrawKept(KeptTokens(logits, p), p.u) otherwise.
// logits: [vocab]. REQUIRES: CheckSampleRowParams(p) passes; at least one finite logit (checked).
int32_t SampleTokenRow(std::span<const float> logits, const SampleRowParams& p);

// Backend::SampleTokens on host tensors: checks shapes and every row's params, then fills ids.
// logits: [rows, vocab] f32; params: [rows, 5] f32; ids: [rows] i32.
void ReferenceSampleTokens(const Tensor& logits, const Tensor& params, Tensor* ids);

}  // namespace brisk::backend
