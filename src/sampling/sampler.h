// Sampler: turns one sequence's host logits row into its next token. Processing order (the
// vLLM / Hugging Face order):
//   1. repetition penalty (prompt + generated ids), 2. presence / frequency penalties
//   (generated ids), then either 3a. temperature == 0: argmax, lowest index on ties; or
//   3b. divide by temperature, top-k, top-p, min-p, renormalise, draw one token.
// Determinism: the RNG is std::mt19937_64 seeded from params.seed (or from std::random_device
// when unset). A sampled (non-greedy) step consumes exactly one 64-bit output of it and a greedy
// step none, and the draw is mapped to [0, 1) by fixed arithmetic rather than a standard
// distribution, so the tokens are a pure function of (seed, logits, ids) on every platform.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "sampling/penalties.h"
#include "sampling/sampling_params.h"

namespace brisk::sampling {

class Sampler {
 public:
  // REQUIRES: ValidateSamplingParams(params).ok() (checked; a failure is a caller bug).
  explicit Sampler(const SamplingParams& params);

  // Processes `logits` in place (steps 1-3 above) and returns the drawn token id.
  // On return, for a sampled step, logits holds the processed values: penalised, shifted so
  // that the largest is 0 and divided by the temperature (the shift keeps tiny temperatures from
  // overflowing and does not change the distribution), with every filtered token at -inf. For a
  // greedy step it holds the penalised logits.
  // logits: [vocab_size]; prompt_ids, output_ids: the sequence so far, used by the penalties.
  // REQUIRES: logits non-empty with at least one value > -inf; every id in [0, vocab_size).
  // Cost: O(vocab) plus O(k log k) for the kept set; no full-vocabulary sort.
  // Not thread-safe: one Sampler per sequence.
  int32_t Sample(std::span<float> logits, std::span<const int32_t> prompt_ids,
                 std::span<const int32_t> output_ids);

  // Returns the uniform draw in [0, 1) that the next sampled step would use, and consumes it:
  // exactly one engine output, mapped as the class comment says (its top 53 bits times 2^-53).
  // Sample() draws through this, so a caller that samples elsewhere (on a device, from the same
  // logits) and takes its u from here keeps this Sampler's random stream.
  // Not thread-safe (as Sample).
  double NextUniform();

  // True when any penalty is not neutral: repetition_penalty != 1, presence_penalty != 0 or
  // frequency_penalty != 0. A step without penalties needs no prompt or output ids.
  bool PenaltiesActive() const;

  const SamplingParams& params() const { return params_; }

 private:
  void ApplyPenalties(std::span<float> logits, std::span<const int32_t> prompt_ids,
                      std::span<const int32_t> output_ids);
  // Rewrites logits to (logit - max) / temperature and fills candidates_ / weights_ with every
  // token whose result is > -inf, in index order.
  void ScaleAndCollect(std::span<float> logits);
  void ApplyTopK(std::span<const float> logits);
  void ApplyTopP(std::span<const float> logits);
  void ApplyMinP();
  // Sets every token outside candidates_ to -inf and sorts candidates_ by index.
  void MaskToCandidates(std::span<float> logits);
  int32_t Draw();

  // Constant after construction.
  SamplingParams params_;

  // Per-call state, kept to reuse allocations across steps.
  std::mt19937_64 rng_;
  PenaltyScratch penalty_scratch_;
  std::vector<int32_t> candidates_;  // [num_candidates] token ids still in the running
  std::vector<float> weights_;       // [vocab_size] exp(processed logit), valid for candidates_
  enum class CandidateOrder { kIndex, kDescending, kUnordered };
  CandidateOrder candidate_order_ = CandidateOrder::kIndex;  // current order of candidates_
};

}  // namespace brisk::sampling
