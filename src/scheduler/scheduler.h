// Continuous batching policy: from the live requests and the KV cache, the plan of one step.
//
// There is no prefill phase and no decode phase: each request's num_computed_tokens catches up
// with its num_tokens (prompt + output so far), at most max_num_batched_tokens per step over all
// requests. A long prompt is split into chunks over several steps; a prefix-cache hit advances
// num_computed_tokens at admission; a decode is a catch-up of one token; a preempted request
// starts again from 0 (recompute) and mostly hits its own blocks in the prefix cache.
//
//   AddRequest ─► waiting_ (sorted by priority, arrival) ─admit─► running_ (same order)
//                      ▲                                            │
//                      └──────────── preempt (blocks freed) ◄───────┤
//                                                                    └─ finish / abort ─► gone
//
// Schedule() serves running requests first, in order, preempting from the back of running_ when
// blocks run out; then, only if nothing was preempted, admits waiting requests in order until the
// budget, max_num_seqs or the blocks run out (the head of the queue is never overtaken).
// Not thread-safe: the engine thread owns it. docs/design/scheduler.md walks an example.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "kvcache/kv_cache_manager.h"
#include "scheduler/request.h"

namespace brisk::scheduler {

struct SchedulerOptions {
  int num_kv_blocks = 0;  // from the engine's KV memory budget; > 0
  int block_size = 16;    // tokens per KV block (DESIGN.md §3)
  int max_num_batched_tokens = 2048;  // token budget of one step, all requests together
  int max_num_seqs = 64;              // running requests at most
  int max_waiting = 256;              // AddRequest answers kQueueFull beyond this (HTTP 429)
  kvcache::PrefixCaching prefix_caching = kvcache::PrefixCaching::kEnabled;
};

enum class AddStatus {
  kAdded,
  kQueueFull,  // max_waiting requests already wait: try later (429)
  kTooLong,    // prompt + max_new_tokens can never fit in the KV cache (400)
};

// One request's share of a step: compute tokens [start_idx, start_idx + num_new_tokens).
struct ScheduledChunk {
  int64_t request_id = 0;
  int start_idx = 0;       // = the request's num_computed_tokens before the step
  int num_new_tokens = 0;  // > 0
  bool samples_token = false;  // the chunk reaches num_tokens: sample from its last logits
  friend bool operator==(const ScheduledChunk&, const ScheduledChunk&) = default;
};

struct FinishedRequest {
  int64_t request_id = 0;
  FinishReason reason = FinishReason::kStop;
  int num_prompt_tokens = 0;
  int num_output_tokens = 0;
  int num_cached_tokens = 0;  // prompt tokens served from the prefix cache (usage)
  friend bool operator==(const FinishedRequest&, const FinishedRequest&) = default;
};

struct StepPlan {
  int64_t step_idx = 0;
  // Running requests in running order, then those admitted this step in admission order.
  std::vector<ScheduledChunk> scheduled;
  std::vector<int64_t> preempted_ids;     // blocks freed, requeued; in preemption order
  std::vector<FinishedRequest> finished;  // left since the previous plan (finished or aborted)
  int num_batched_tokens = 0;             // sum of num_new_tokens
};

// The engine's result for one chunk with samples_token.
struct SampledToken {
  int64_t request_id = 0;
  int32_t token_id = 0;
  bool is_stop = false;  // the engine's stop rule (EOS, stop string) matched
};

struct SchedulerStats {
  int num_running = 0;
  int num_waiting = 0;
  int64_t num_preemptions = 0;
  kvcache::KvCacheStats kv;
};

class Scheduler {
 public:
  // REQUIRES: every count in `options` > 0.
  explicit Scheduler(const SchedulerOptions& options);

  // Queues a request. REQUIRES: request_id not live, non-empty prompt, max_new_tokens >= 1.
  [[nodiscard]] AddStatus AddRequest(NewRequest request);

  // Removes a waiting or running request at the next Schedule() (its blocks are freed there,
  // after the step in flight), which lists it as finished with kAborted. Unknown ids and
  // requests that finish meanwhile are ignored.
  void Abort(int64_t request_id);

  // Plans the next step; frees the blocks of preempted and aborted requests and reserves the
  // blocks of the scheduled chunks.
  StepPlan Schedule();

  // Commits a step planned by the last Schedule(): advances num_computed_tokens, caches the
  // blocks that became full, appends the sampled tokens and finishes requests at a stop token
  // or at max_new_tokens (their blocks are freed now). Returns those finished requests.
  // REQUIRES: `sampled` holds exactly one token for each chunk with samples_token.
  std::vector<FinishedRequest> UpdateFromOutput(const StepPlan& plan,
                                                std::span<const SampledToken> sampled);

  // The live request with this id, or nullptr. Valid until the next mutating call.
  const Request* Find(int64_t request_id) const;
  // The block table of a live request (see KvCacheManager::block_table).
  std::span<const int32_t> block_table(int64_t request_id) const;
  bool has_unfinished() const { return !requests_.empty(); }
  // Live request ids in queue order, for tests and logs.
  std::vector<int64_t> RunningIds() const;
  std::vector<int64_t> WaitingIds() const;
  SchedulerStats stats() const;
  const kvcache::KvCacheManager& kv_cache() const { return kv_; }

 private:
  void ProcessAborts(StepPlan& plan);
  void ScheduleRunning(StepPlan& plan, int& budget);
  void ScheduleWaiting(StepPlan& plan, int& budget);
  void Preempt(StepPlan& plan);  // the back of running_
  void AddChunk(StepPlan& plan, Request& r, int num_new_tokens, int& budget);
  // Removes `r` from the scheduler; its blocks must be freed already.
  FinishedRequest Retire(Request& r, FinishReason reason);

  const SchedulerOptions options_;
  kvcache::KvCacheManager kv_;
  // Every live request; node-based, so the pointers in the queues stay valid.
  std::unordered_map<int64_t, Request> requests_;
  std::vector<Request*> waiting_;  // sorted by (priority, arrival_idx); front is admitted next
  std::vector<Request*> running_;  // sorted by (priority, arrival_idx); back is preempted first
  std::vector<int64_t> pending_aborts_;
  std::vector<FinishedRequest> finished_since_plan_;
  int64_t next_arrival_idx_ = 0;
  int64_t next_step_idx_ = 0;
  int64_t num_preemptions_ = 0;
};

}  // namespace brisk::scheduler
