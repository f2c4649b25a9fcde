#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace brisk::scheduler {

// Printers for failure messages (found by argument-dependent lookup).
std::ostream& operator<<(std::ostream& os, const ScheduledChunk& c) {
  return os << "{" << c.request_id << " @" << c.start_idx << " +" << c.num_new_tokens
            << (c.samples_token ? " sample}" : "}");
}
std::ostream& operator<<(std::ostream& os, const FinishedRequest& f) {
  return os << "{" << f.request_id << " reason " << static_cast<int>(f.reason) << " "
            << f.num_prompt_tokens << "/" << f.num_output_tokens << "/" << f.num_cached_tokens
            << "}";
}

namespace {

using Ids = std::vector<int32_t>;
using ReqIds = std::vector<int64_t>;

Ids Range(int32_t first, int n) {
  Ids v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

Ids Table(const Scheduler& s, int64_t id) {
  std::span<const int32_t> t = s.block_table(id);
  return {t.begin(), t.end()};
}

using Chunks = std::vector<ScheduledChunk>;
using Finished = std::vector<FinishedRequest>;
constexpr bool kSample = true;
constexpr bool kNoSample = false;

// The worked example of docs/design/scheduler.md, step by step, with exact queues and block ids.
TEST(SchedulerTest, WorkedExampleFromTheDesignDoc) {
  Scheduler s({.num_kv_blocks = 6, .block_size = 4, .max_num_batched_tokens = 8,
               .max_num_seqs = 2, .max_waiting = 2});
  const auto& pool = s.kv_cache().pool();
  ASSERT_EQ(s.AddRequest({.request_id = 1, .prompt_token_ids = Range(100, 10),
                          .max_new_tokens = 5}), AddStatus::kAdded);
  ASSERT_EQ(s.AddRequest({.request_id = 2, .prompt_token_ids = Range(200, 6),
                          .max_new_tokens = 5}), AddStatus::kAdded);
  EXPECT_EQ(s.AddRequest({.request_id = 4, .prompt_token_ids = {1}}), AddStatus::kQueueFull);
  EXPECT_EQ(s.WaitingIds(), (ReqIds{1, 2}));

  // Step 0: R1's prompt is chunked: 8 of its 10 tokens fill the budget.
  StepPlan p = s.Schedule();
  EXPECT_EQ(p.scheduled, (Chunks{{1, 0, 8, kNoSample}}));
  EXPECT_EQ(Table(s, 1), (Ids{0, 1}));
  EXPECT_EQ(s.WaitingIds(), (ReqIds{2}));
  EXPECT_TRUE(s.UpdateFromOutput(p, {}).empty());
  EXPECT_TRUE(pool.is_cached(0) && pool.is_cached(1));

  // R3 has a higher priority (-1) and shares R1's first 8 tokens.
  Ids r3 = Range(100, 8);
  r3.push_back(300);
  ASSERT_EQ(s.AddRequest({.request_id = 3, .prompt_token_ids = r3, .max_new_tokens = 2,
                          .priority = -1}), AddStatus::kAdded);
  EXPECT_EQ(s.WaitingIds(), (ReqIds{3, 2}));

  // Step 1: R1 finishes its prompt (block 2); R3 is admitted with 8 cached tokens (blocks 0 1)
  // and computes only token 300 (block 3). max_num_seqs = 2 keeps R2 waiting.
  p = s.Schedule();
  EXPECT_EQ(p.scheduled, (Chunks{{1, 8, 2, kSample}, {3, 8, 1, kSample}}));
  EXPECT_EQ(Table(s, 1), (Ids{0, 1, 2}));
  EXPECT_EQ(Table(s, 3), (Ids{0, 1, 3}));
  EXPECT_EQ(s.RunningIds(), (ReqIds{3, 1}));
  EXPECT_EQ(s.WaitingIds(), (ReqIds{2}));
  EXPECT_EQ(s.Find(3)->num_cached_tokens, 8);
  const SampledToken out1[] = {{1, 110}, {3, 301}};
  EXPECT_TRUE(s.UpdateFromOutput(p, out1).empty());

  // Step 2: two decodes, in running order. R3 reaches max_new_tokens = 2: block 3 is freed.
  p = s.Schedule();
  EXPECT_EQ(p.scheduled, (Chunks{{3, 9, 1, kSample}, {1, 10, 1, kSample}}));
  const SampledToken out2[] = {{3, 302}, {1, 111}};
  EXPECT_EQ(s.UpdateFromOutput(p, out2),
            (Finished{{3, FinishReason::kLength, 9, 2, 8}}));
  EXPECT_EQ(pool.ref_count(3), 0);
  EXPECT_EQ(pool.ref_count(0), 1);

  // Step 3: R1 decodes, which fills block 2; R2 is admitted whole (6 tokens, blocks 3 4).
  // R1's token is a stop token: its blocks 2 1 0 become evictable, last block first.
  p = s.Schedule();
  EXPECT_EQ(p.finished, (Finished{{3, FinishReason::kLength, 9, 2, 8}}));
  EXPECT_EQ(p.scheduled, (Chunks{{1, 11, 1, kSample}, {2, 0, 6, kSample}}));
  EXPECT_EQ(Table(s, 2), (Ids{3, 4}));
  const SampledToken out3[] = {{1, 112, true}, {2, 900}};
  EXPECT_EQ(s.UpdateFromOutput(p, out3), (Finished{{1, FinishReason::kStop, 10, 3, 0}}));
  EXPECT_EQ(pool.EvictionOrder(), (Ids{2, 1, 0}));

  // R5's prompt is R1's 12 tokens (prompt and two outputs) plus 500.
  Ids r5 = Range(100, 12);
  r5.push_back(500);
  ASSERT_EQ(s.AddRequest({.request_id = 5, .prompt_token_ids = r5, .max_new_tokens = 3}),
            AddStatus::kAdded);

  // Step 4: R5 hits blocks 0 1 2 (12 tokens) and gets the last free block, 5.
  p = s.Schedule();
  EXPECT_EQ(p.finished, (Finished{{1, FinishReason::kStop, 10, 3, 0}}));
  EXPECT_EQ(p.scheduled, (Chunks{{2, 6, 1, kSample}, {5, 12, 1, kSample}}));
  EXPECT_EQ(Table(s, 5), (Ids{0, 1, 2, 5}));
  EXPECT_EQ(s.kv_cache().stats().num_free_blocks, 0);
  const SampledToken out4[] = {{2, 901}, {5, 501}};
  EXPECT_TRUE(s.UpdateFromOutput(p, out4).empty());

  // Step 5: two decodes that fit in blocks 4 and 5; block 4 fills up and is cached.
  p = s.Schedule();
  EXPECT_EQ(p.scheduled, (Chunks{{2, 7, 1, kSample}, {5, 13, 1, kSample}}));
  const SampledToken out5[] = {{2, 902}, {5, 502}};
  EXPECT_TRUE(s.UpdateFromOutput(p, out5).empty());
  EXPECT_TRUE(pool.is_cached(4));

  // Step 6: R2 needs a third block and none is left: R5, the back of running, is preempted
  // (recompute): its blocks are released, 5 goes to R2, and R5 waits with 0 computed tokens.
  p = s.Schedule();
  EXPECT_EQ(p.preempted_ids, (ReqIds{5}));
  EXPECT_EQ(p.scheduled, (Chunks{{2, 8, 1, kSample}}));
  EXPECT_EQ(Table(s, 2), (Ids{3, 4, 5}));
  EXPECT_EQ(s.WaitingIds(), (ReqIds{5}));
  EXPECT_EQ(s.Find(5)->num_computed_tokens, 0);
  EXPECT_EQ(pool.EvictionOrder(), (Ids{2, 1, 0}));
  const SampledToken out6[] = {{2, 903}};
  EXPECT_TRUE(s.UpdateFromOutput(p, out6).empty());

  // Step 7: R5 would hit 0 1 2 but needs one more block: there is none, so it keeps waiting
  // and nothing moves. R2 reaches max_new_tokens = 5; 5 is free, 4 and 3 join the LRU.
  p = s.Schedule();
  EXPECT_EQ(p.scheduled, (Chunks{{2, 9, 1, kSample}}));
  EXPECT_EQ(s.WaitingIds(), (ReqIds{5}));
  EXPECT_EQ(pool.EvictionOrder(), (Ids{2, 1, 0}));
  const SampledToken out7[] = {{2, 904}};
  EXPECT_EQ(s.UpdateFromOutput(p, out7), (Finished{{2, FinishReason::kLength, 6, 5, 0}}));
  EXPECT_EQ(pool.EvictionOrder(), (Ids{2, 1, 0, 4, 3}));

  // Step 8: R5 is readmitted: 12 tokens hit again, the 3 left (500 501 502) go to block 5.
  p = s.Schedule();
  EXPECT_EQ(p.scheduled, (Chunks{{5, 12, 3, kSample}}));
  EXPECT_EQ(Table(s, 5), (Ids{0, 1, 2, 5}));
  EXPECT_EQ(s.Find(5)->num_preemptions, 1);
  const SampledToken out8[] = {{5, 503}};
  EXPECT_EQ(s.UpdateFromOutput(p, out8), (Finished{{5, FinishReason::kLength, 13, 3, 12}}));

  EXPECT_FALSE(s.has_unfinished());
  const SchedulerStats st = s.stats();
  EXPECT_EQ(st.num_preemptions, 1);
  EXPECT_EQ(st.kv.num_used_blocks, 0);
  EXPECT_EQ(st.kv.num_queried_tokens, 10 + 9 + 6 + 13 + 15);
  EXPECT_EQ(st.kv.num_hit_tokens, 8 + 12 + 12);
}

TEST(SchedulerTest, AbortFreesBlocksAtTheNextStep) {
  Scheduler s({.num_kv_blocks = 8, .block_size = 4});
  ASSERT_EQ(s.AddRequest({.request_id = 7, .prompt_token_ids = Range(1, 5)}), AddStatus::kAdded);
  ASSERT_EQ(s.AddRequest({.request_id = 8, .prompt_token_ids = Range(1, 3)}), AddStatus::kAdded);
  StepPlan p = s.Schedule();
  ASSERT_EQ(p.scheduled.size(), 2u);
  s.Abort(7);
  s.Abort(99);  // unknown: ignored
  EXPECT_EQ(Table(s, 7), (Ids{0, 1}));  // the step in flight still owns them
  const SampledToken out[] = {{7, 40}, {8, 41}};
  EXPECT_TRUE(s.UpdateFromOutput(p, out).empty());
  p = s.Schedule();
  EXPECT_EQ(p.finished, (Finished{{7, FinishReason::kAborted, 5, 1, 0}}));
  EXPECT_EQ(p.scheduled, (Chunks{{8, 3, 1, kSample}}));
  EXPECT_TRUE(Table(s, 7).empty());
  EXPECT_EQ(s.Find(7), nullptr);
  EXPECT_EQ(s.kv_cache().stats().num_used_blocks, 1);
  // A waiting request can be aborted too; it never held blocks.
  ASSERT_EQ(s.AddRequest({.request_id = 9, .prompt_token_ids = {5}, .priority = 3}),
            AddStatus::kAdded);
  s.Abort(9);
  const SampledToken out2[] = {{8, 42}};
  s.UpdateFromOutput(p, out2);
  p = s.Schedule();
  EXPECT_EQ(p.finished, (Finished{{9, FinishReason::kAborted, 1, 0, 0}}));
  EXPECT_TRUE(s.WaitingIds().empty());
}

TEST(SchedulerTest, RejectsWhatCanNeverFit) {
  Scheduler s({.num_kv_blocks = 2, .block_size = 4});
  // 6 + 3 - 1 = 8 slots fit exactly; one more cannot.
  EXPECT_EQ(s.AddRequest({.request_id = 1, .prompt_token_ids = Range(0, 6),
                          .max_new_tokens = 3}), AddStatus::kAdded);
  EXPECT_EQ(s.AddRequest({.request_id = 2, .prompt_token_ids = Range(0, 6),
                          .max_new_tokens = 4}), AddStatus::kTooLong);
  EXPECT_EQ(s.WaitingIds(), (ReqIds{1}));
}

TEST(SchedulerTest, WaitingQueueOrderIsPriorityThenArrival) {
  Scheduler s({.num_kv_blocks = 8, .block_size = 4, .max_num_seqs = 1});
  const int priorities[] = {2, 0, 1, 0, -5, 2};
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(s.AddRequest({.request_id = 10 + i, .prompt_token_ids = {i},
                            .priority = priorities[i]}), AddStatus::kAdded);
  }
  EXPECT_EQ(s.WaitingIds(), (ReqIds{14, 11, 13, 12, 10, 15}));
  const StepPlan p = s.Schedule();
  EXPECT_EQ(p.scheduled, (Chunks{{14, 0, 1, kSample}}));
}

// A fake engine over random traffic: a tiny pool forces preemptions, requests share prefixes,
// some stop early and some are aborted. The fake KV store records the token each slot was
// computed for; before sampling, every slot a request reads must hold its own token at that
// position (so block tables, prefix hits and recompute are right), and the sampled token is a
// function of those contents, so each output must equal the request's output when run alone.
TEST(SchedulerTest, RandomTrafficFinishesEveryRequestAndReturnsEveryBlock) {
  constexpr int kBlockSize = 4, kNumBlocks = 14;
  std::mt19937 rng(123);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  Scheduler s({.num_kv_blocks = kNumBlocks, .block_size = kBlockSize,
               .max_num_batched_tokens = 16, .max_num_seqs = 4, .max_waiting = 8});
  std::vector<Ids> slots(kNumBlocks, Ids(kBlockSize, -1));
  // The "model": the next token depends on every token before it.
  auto next_token = [](const Ids& context) {
    uint32_t h = 17;
    for (int32_t t : context) h = h * 31 + static_cast<uint32_t>(t);
    return static_cast<int32_t>(h % 50);
  };
  auto stops = [](int32_t token) { return token == 7; };
  struct Expect {
    Ids prompt;
    int max_new;
    bool aborted = false;
  };
  std::map<int64_t, Expect> submitted;
  std::map<int64_t, FinishedRequest> done;
  const std::vector<Ids> stems = {Range(0, 9), Range(0, 6), Range(20, 13)};
  int64_t next_id = 0;
  int num_rejected = 0;

  for (int step = 0; step < 3000 && (step < 200 || s.has_unfinished()); ++step) {
    if (step < 200) {
      for (int k = pick(3); k > 0; --k) {
        Ids prompt = stems[pick(3)];
        for (int t = pick(6); t > 0; --t) prompt.push_back(pick(50));
        const int max_new = 1 + pick(12);
        const AddStatus st = s.AddRequest({.request_id = next_id, .prompt_token_ids = prompt,
                                           .max_new_tokens = max_new, .priority = pick(3)});
        ASSERT_NE(st, AddStatus::kTooLong);
        if (st == AddStatus::kQueueFull) {
          ++num_rejected;
          continue;
        }
        submitted[next_id++] = {prompt, max_new};
      }
      if (next_id > 0 && pick(10) == 0) {
        const int64_t victim = pick(static_cast<int>(next_id));
        s.Abort(victim);
        if (!done.count(victim)) submitted[victim].aborted = true;
      }
    }
    const StepPlan p = s.Schedule();
    for (const FinishedRequest& f : p.finished) done[f.request_id] = f;
    ASSERT_LE(p.num_batched_tokens, 16);
    ASSERT_LE(static_cast<int>(p.scheduled.size()), 4);
    std::set<int64_t> seen;
    std::vector<SampledToken> sampled;
    for (const ScheduledChunk& c : p.scheduled) {
      ASSERT_TRUE(seen.insert(c.request_id).second) << "scheduled twice";
      const Request* r = s.Find(c.request_id);
      ASSERT_NE(r, nullptr);
      const Ids table = Table(s, c.request_id);
      for (int i = c.start_idx; i < c.start_idx + c.num_new_tokens; ++i) {
        slots[table[i / kBlockSize]][i % kBlockSize] = r->token_ids[i];
      }
      if (!c.samples_token) continue;
      Ids context;
      for (int i = 0; i < r->num_tokens(); ++i) {
        context.push_back(slots[table[i / kBlockSize]][i % kBlockSize]);
      }
      ASSERT_EQ(context, r->token_ids) << "request " << c.request_id << " step " << step;
      const int32_t t = next_token(context);
      sampled.push_back({c.request_id, t, stops(t)});
    }
    for (const FinishedRequest& f : s.UpdateFromOutput(p, sampled)) done[f.request_id] = f;
  }
  ASSERT_FALSE(s.has_unfinished());
  EXPECT_EQ(s.kv_cache().stats().num_used_blocks, 0);
  EXPECT_EQ(s.kv_cache().stats().num_free_blocks, kNumBlocks);
  // The traffic exercised what it is meant to.
  EXPECT_GT(s.stats().num_preemptions, 0);
  EXPECT_GT(s.kv_cache().stats().num_hit_tokens, 0);
  EXPECT_GT(num_rejected, 0);

  ASSERT_EQ(done.size(), submitted.size());
  for (const auto& [id, e] : submitted) {
    const FinishedRequest& f = done.at(id);
    if (f.reason == FinishReason::kAborted) {
      EXPECT_TRUE(e.aborted) << id;
      continue;
    }
    // Run the request alone through the same "model".
    Ids context = e.prompt;
    FinishReason reason = FinishReason::kLength;
    for (int n = 0; n < e.max_new; ++n) {
      context.push_back(next_token(context));
      if (stops(context.back())) {
        reason = FinishReason::kStop;
        break;
      }
    }
    EXPECT_EQ(f.reason, reason) << "request " << id;
    EXPECT_EQ(f.num_output_tokens, static_cast<int>(context.size() - e.prompt.size())) << id;
  }
}

}  // namespace
}  // namespace brisk::scheduler
