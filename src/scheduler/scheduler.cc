// Scheduler: one step = aborts, then running requests (preempting from the back when blocks run
// out), then waiting ones in priority order. docs/design/scheduler.md has the worked example.
#include "scheduler/scheduler.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace brisk::scheduler {
namespace {

bool RunsBefore(const Request* a, const Request* b) {
  return std::pair(a->priority, a->arrival_idx) < std::pair(b->priority, b->arrival_idx);
}

// Inserts keeping (priority, arrival_idx) order. A preempted request keeps its arrival_idx, so
// it goes back ahead of every request of its priority that arrived after it.
void InsertSorted(std::vector<Request*>& queue, Request* r) {
  queue.insert(std::upper_bound(queue.begin(), queue.end(), r, RunsBefore), r);
}

void EraseFrom(std::vector<Request*>& queue, const Request* r) {
  auto it = std::find(queue.begin(), queue.end(), r);
  if (it != queue.end()) queue.erase(it);
}

std::vector<int64_t> IdsOf(const std::vector<Request*>& queue) {
  std::vector<int64_t> ids;
  for (const Request* r : queue) ids.push_back(r->request_id);
  return ids;
}

}  // namespace

Scheduler::Scheduler(const SchedulerOptions& options)
    : options_(options),
      kv_({.num_blocks = options.num_kv_blocks,
           .block_size = options.block_size,
           .prefix_caching = options.prefix_caching}) {
  BRISK_CHECK_GT(options.num_kv_blocks, 0);
  BRISK_CHECK_GT(options.block_size, 0);
  BRISK_CHECK_GT(options.max_num_batched_tokens, 0);
  BRISK_CHECK_GT(options.max_num_seqs, 0);
  BRISK_CHECK_GT(options.max_waiting, 0);
}

AddStatus Scheduler::AddRequest(NewRequest request) {
  BRISK_CHECK(!request.prompt_token_ids.empty()) << "request " << request.request_id;
  BRISK_CHECK_GE(request.max_new_tokens, 1);
  BRISK_CHECK(!requests_.contains(request.request_id))
      << "request id " << request.request_id << " is already live";
  // The last sampled token is never computed, so the longest sequence needs this many slots.
  const int64_t max_slots =
      static_cast<int64_t>(request.prompt_token_ids.size()) + request.max_new_tokens - 1;
  if (max_slots > static_cast<int64_t>(options_.num_kv_blocks) * options_.block_size) {
    return AddStatus::kTooLong;
  }
  // Preempted requests may push the queue past max_waiting; they were admitted before.
  if (static_cast<int>(waiting_.size()) >= options_.max_waiting) return AddStatus::kQueueFull;
  Request& r = requests_[request.request_id];
  r.request_id = request.request_id;
  r.priority = request.priority;
  r.arrival_idx = next_arrival_idx_++;
  r.num_prompt_tokens = static_cast<int>(request.prompt_token_ids.size());
  r.max_new_tokens = request.max_new_tokens;
  r.extra_keys = std::move(request.extra_keys);
  r.token_ids = std::move(request.prompt_token_ids);
  InsertSorted(waiting_, &r);
  return AddStatus::kAdded;
}

void Scheduler::Abort(int64_t request_id) { pending_aborts_.push_back(request_id); }

StepPlan Scheduler::Schedule() {
  StepPlan plan;
  plan.step_idx = next_step_idx_++;
  ProcessAborts(plan);
  int budget = options_.max_num_batched_tokens;
  ScheduleRunning(plan, budget);
  // After a preemption the blocks are short: admitting more would only preempt again.
  if (plan.preempted_ids.empty()) ScheduleWaiting(plan, budget);
  return plan;
}

void Scheduler::ProcessAborts(StepPlan& plan) {
  for (int64_t id : pending_aborts_) {
    auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    Request& r = it->second;
    kv_.Free(id);
    EraseFrom(waiting_, &r);
    EraseFrom(running_, &r);
    finished_since_plan_.push_back(Retire(r, FinishReason::kAborted));
  }
  pending_aborts_.clear();
  plan.finished = std::move(finished_since_plan_);
  finished_since_plan_.clear();
}

void Scheduler::ScheduleRunning(StepPlan& plan, int& budget) {
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Request& r = *running_[i];
    const int num_new = std::min(r.num_tokens() - r.num_computed_tokens, budget);
    BRISK_CHECK_GT(num_new, 0) << "running request " << r.request_id << " has nothing to do";
    // Out of blocks: preempt from the back (lowest priority, latest arrival) until r fits, or
    // until r itself is the back and goes.
    bool fits = kv_.AllocateSlots(r.request_id, num_new) == kvcache::AllocateStatus::kOk;
    while (!fits) {
      const bool preempting_self = running_.back() == &r;
      Preempt(plan);
      if (preempting_self) return;
      fits = kv_.AllocateSlots(r.request_id, num_new) == kvcache::AllocateStatus::kOk;
    }
    AddChunk(plan, r, num_new, budget);
  }
}

void Scheduler::ScheduleWaiting(StepPlan& plan, int& budget) {
  while (!waiting_.empty() && budget > 0 &&
         static_cast<int>(running_.size()) < options_.max_num_seqs) {
    Request& r = *waiting_.front();
    const kvcache::PrefixHit hit = kv_.GetComputedBlocks(r.token_ids, r.extra_keys);
    const int num_new = std::min(r.num_tokens() - hit.num_tokens, budget);
    if (kv_.AllocateSlots(r.request_id, num_new, hit) != kvcache::AllocateStatus::kOk) return;
    r.num_computed_tokens = hit.num_tokens;
    if (r.num_cached_tokens < 0) r.num_cached_tokens = std::min(hit.num_tokens, r.num_prompt_tokens);
    waiting_.erase(waiting_.begin());
    InsertSorted(running_, &r);
    AddChunk(plan, r, num_new, budget);
  }
}

void Scheduler::Preempt(StepPlan& plan) {
  Request& r = *running_.back();
  running_.pop_back();
  kv_.Free(r.request_id);
  r.num_computed_tokens = 0;
  ++r.num_preemptions;
  ++num_preemptions_;
  InsertSorted(waiting_, &r);
  plan.preempted_ids.push_back(r.request_id);
}

void Scheduler::AddChunk(StepPlan& plan, Request& r, int num_new_tokens, int& budget) {
  const int start = r.num_computed_tokens;
  plan.scheduled.push_back({.request_id = r.request_id,
                            .start_idx = start,
                            .num_new_tokens = num_new_tokens,
                            .samples_token = start + num_new_tokens == r.num_tokens()});
  plan.num_batched_tokens += num_new_tokens;
  budget -= num_new_tokens;
}

std::vector<FinishedRequest> Scheduler::UpdateFromOutput(const StepPlan& plan,
                                                         std::span<const SampledToken> sampled) {
  std::unordered_map<int64_t, const SampledToken*> by_id;
  for (const SampledToken& s : sampled) by_id[s.request_id] = &s;
  std::vector<FinishedRequest> finished;
  for (const ScheduledChunk& chunk : plan.scheduled) {
    auto it = requests_.find(chunk.request_id);
    BRISK_CHECK(it != requests_.end()) << "request " << chunk.request_id << " left mid-step";
    Request& r = it->second;
    BRISK_CHECK_EQ(r.num_computed_tokens, chunk.start_idx) << "request " << r.request_id;
    r.num_computed_tokens += chunk.num_new_tokens;
    kv_.CacheComputedBlocks(r.request_id, r.token_ids, r.extra_keys, r.num_computed_tokens);
    if (!chunk.samples_token) continue;
    auto s = by_id.find(r.request_id);
    BRISK_CHECK(s != by_id.end()) << "no sampled token for request " << r.request_id;
    r.token_ids.push_back(s->second->token_id);
    const bool at_length = r.num_output_tokens() >= r.max_new_tokens;
    if (!s->second->is_stop && !at_length) continue;
    kv_.Free(r.request_id);
    EraseFrom(running_, &r);
    finished.push_back(Retire(r, s->second->is_stop ? FinishReason::kStop : FinishReason::kLength));
  }
  BRISK_CHECK_EQ(by_id.size(), static_cast<size_t>(std::ranges::count_if(
                                   plan.scheduled, [](const auto& c) { return c.samples_token; })))
      << "sampled tokens do not match the plan";
  finished_since_plan_.insert(finished_since_plan_.end(), finished.begin(), finished.end());
  return finished;
}

FinishedRequest Scheduler::Retire(Request& r, FinishReason reason) {
  const FinishedRequest f{.request_id = r.request_id,
                          .reason = reason,
                          .num_prompt_tokens = r.num_prompt_tokens,
                          .num_output_tokens = r.num_output_tokens(),
                          .num_cached_tokens = std::max(r.num_cached_tokens, 0)};
  requests_.erase(f.request_id);  // not r.request_id: the key must outlive the erase
  return f;
}

const Request* Scheduler::Find(int64_t request_id) const {
  auto it = requests_.find(request_id);
  return it == requests_.end() ? nullptr : &it->second;
}

std::span<const int32_t> Scheduler::block_table(int64_t request_id) const {
  return kv_.block_table(request_id);
}

std::vector<int64_t> Scheduler::RunningIds() const { return IdsOf(running_); }
std::vector<int64_t> Scheduler::WaitingIds() const { return IdsOf(waiting_); }

SchedulerStats Scheduler::stats() const {
  return {.num_running = static_cast<int>(running_.size()),
          .num_waiting = static_cast<int>(waiting_.size()),
          .num_preemptions = num_preemptions_,
          .kv = kv_.stats()};
}

}  // namespace brisk::scheduler
