#include "sampling/penalties.h"

#include <algorithm>

#include "base/check.h"

namespace brisk::sampling {

void PenaltyScratch::Begin(size_t vocab_size) {
  if (stamps_.size() != vocab_size) {
    stamps_.assign(vocab_size, 0);
    counts_.assign(vocab_size, 0);
    epoch_ = 0;
  }
  ++epoch_;
  if (epoch_ == 0) {  // wrapped after 2^32 calls: old stamps could alias the new epoch
    std::fill(stamps_.begin(), stamps_.end(), 0);
    epoch_ = 1;
  }
}

bool PenaltyScratch::Mark(int32_t token_id) {
  BRISK_CHECK(token_id >= 0 && static_cast<size_t>(token_id) < stamps_.size())
      << "token id " << token_id << " outside vocabulary of " << stamps_.size();
  if (stamps_[token_id] == epoch_) return false;
  stamps_[token_id] = epoch_;
  counts_[token_id] = 0;
  return true;
}

int32_t& PenaltyScratch::Count(int32_t token_id) {
  Mark(token_id);
  return counts_[token_id];
}

void ApplyRepetitionPenalty(std::span<float> logits, std::span<const int32_t> prompt_ids,
                            std::span<const int32_t> output_ids, float penalty,
                            PenaltyScratch& scratch) {
  scratch.Begin(logits.size());
  for (std::span<const int32_t> ids : {prompt_ids, output_ids}) {
    for (int32_t id : ids) {
      if (!scratch.Mark(id)) continue;
      float& logit = logits[id];
      logit = logit > 0.0f ? logit / penalty : logit * penalty;
    }
  }
}

void ApplyPresenceFrequencyPenalties(std::span<float> logits, std::span<const int32_t> output_ids,
                                     float presence_penalty, float frequency_penalty,
                                     PenaltyScratch& scratch) {
  scratch.Begin(logits.size());
  for (int32_t id : output_ids) ++scratch.Count(id);
  // Second pass: apply at the first occurrence of each id and zero its count so that later
  // occurrences are skipped.
  for (int32_t id : output_ids) {
    int32_t& count = scratch.Count(id);
    if (count == 0) continue;
    logits[id] -= presence_penalty + frequency_penalty * static_cast<float>(count);
    count = 0;
  }
}

}  // namespace brisk::sampling
