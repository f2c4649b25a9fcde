// One generation request as the scheduler sees it: token ids (prompt, then output as it is
// sampled) and how many of them have their KV computed. The request is "prefilling" or
// "decoding" only in the eyes of an observer: num_computed_tokens just catches up with
// num_tokens(), a chunk at a time, and every step that catches up fully samples one more token.
#pragma once

#include <cstdint>
#include <vector>

namespace brisk::scheduler {

enum class FinishReason { kStop, kLength, kAborted };

// What a client asks for; AddRequest copies it.
struct NewRequest {
  int64_t request_id = 0;            // unique among live requests; assigned by the engine
  std::vector<int32_t> prompt_token_ids = {};  // [num_prompt_tokens], non-empty
  int max_new_tokens = 16;           // >= 1; reaching it finishes with kLength
  int priority = 0;                  // lower runs first; ties by arrival
  std::vector<uint64_t> extra_keys = {};  // prefix-cache keys: image hashes, tenant salt (may be empty)
};

struct Request {
  // Constant after AddRequest.
  int64_t request_id = 0;
  int priority = 0;
  int64_t arrival_idx = 0;  // order of AddRequest calls; breaks priority ties
  int num_prompt_tokens = 0;
  int max_new_tokens = 0;
  std::vector<uint64_t> extra_keys;

  // Progress.
  std::vector<int32_t> token_ids;  // [num_tokens]: prompt, then the tokens sampled so far
  int num_computed_tokens = 0;     // tokens whose KV is in the cache; reset to 0 by preemption
  int num_cached_tokens = -1;      // prompt tokens hit in the prefix cache at first admission;
                                   // -1 until then
  int num_preemptions = 0;

  int num_tokens() const { return static_cast<int>(token_ids.size()); }
  int num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
};

}  // namespace brisk::scheduler
