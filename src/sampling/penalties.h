// Logits processors that penalise tokens already seen in a sequence: the Hugging Face
// repetition penalty and the OpenAI presence / frequency penalties. Each token is penalised
// once per call however often it occurs (frequency scales by the count instead). The work is
// O(number of ids), not O(vocab): a PenaltyScratch remembers which ids were seen in the
// current call through per-token epoch stamps, so nothing vocab-sized is cleared per call.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace brisk::sampling {

// Reusable per-sequence bookkeeping for the penalty functions. Not thread-safe; one per Sampler.
class PenaltyScratch {
 public:
  // Starts a new call over a vocabulary of `vocab_size` tokens: every token becomes unmarked
  // with a zero count.
  void Begin(size_t vocab_size);
  // Marks `token_id`; returns true if it was unmarked before. REQUIRES: 0 <= token_id < vocab.
  bool Mark(int32_t token_id);
  // Mark and count of one token in this call. REQUIRES: 0 <= token_id < vocab.
  int32_t& Count(int32_t token_id);

 private:
  // Token t is marked in this call iff stamps_[t] == epoch_. counts_[t] is valid only then.
  std::vector<uint32_t> stamps_;  // [vocab_size]
  std::vector<int32_t> counts_;   // [vocab_size]
  uint32_t epoch_ = 0;
};

// logit = logit > 0 ? logit / penalty : logit * penalty, once for every distinct id in
// prompt_ids and output_ids. penalty > 1 discourages repetition.
// logits: [vocab_size]. REQUIRES: every id in [0, vocab_size); penalty > 0.
void ApplyRepetitionPenalty(std::span<float> logits, std::span<const int32_t> prompt_ids,
                            std::span<const int32_t> output_ids, float penalty,
                            PenaltyScratch& scratch);

// For every distinct id generated so far, with count c = its number of occurrences in
// output_ids: logit -= presence_penalty + frequency_penalty * c.
// logits: [vocab_size]. REQUIRES: every id in [0, vocab_size).
void ApplyPresenceFrequencyPenalties(std::span<float> logits, std::span<const int32_t> output_ids,
                                     float presence_penalty, float frequency_penalty,
                                     PenaltyScratch& scratch);

}  // namespace brisk::sampling
