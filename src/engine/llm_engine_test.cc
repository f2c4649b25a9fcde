// LlmEngine on a real (tiny) checkpoint: its tokens equal the static-batch Generator's (itself
// checked against transformers by tests/golden) whatever the batch, the token budget, prefix
// hits or preemptions; aborts free every block; limits and shutdown answer every request.
#include "engine/llm_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "backend/cpu/cpu_backend.h"
#include "engine/generator.h"
#include "engine/logprobs.h"
#include "models/registry.h"

namespace brisk::engine {
namespace {

using ::testing::ElementsAreArray;

// Gathers the outputs of many requests, delivered on the engine thread.
class Collector {
 public:
  struct Result {
    std::vector<int32_t> tokens;
    std::vector<TokenLogprobs> logprobs;
    bool finished = false;
    FinishReason reason = FinishReason::kNone;
    int num_cached_tokens = 0;
    int num_outputs = 0;
    metrics::RequestStats stats;
  };

  OutputCallback Callback(int key) {
    return [this, key](EngineOutput out) {
      std::lock_guard lock(mu_);
      Result& r = results_[key];
      EXPECT_FALSE(r.finished) << "output after the finished one for " << key;
      r.tokens.insert(r.tokens.end(), out.new_token_ids.begin(), out.new_token_ids.end());
      for (auto& lp : out.logprobs) r.logprobs.push_back(std::move(lp));
      r.num_cached_tokens = out.num_cached_tokens;
      ++r.num_outputs;
      if (out.finished) {
        r.finished = true;
        r.reason = out.finish_reason;
        r.stats = std::move(out.stats);
        ++num_finished_;
      }
      cv_.notify_all();
    };
  }

  // Waits (at most a minute, so a bug fails instead of hanging) for `n` finished requests.
  bool WaitFinished(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return num_finished_ >= n; });
  }
  bool WaitTokens(int key, int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60),
                        [&] { return static_cast<int>(results_[key].tokens.size()) >= n; });
  }
  Result Get(int key) {
    std::lock_guard lock(mu_);
    return results_[key];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, Result> results_;
  int num_finished_ = 0;
};

class LlmEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = backend::MakeCpuBackend({.num_threads = 1});
    auto model = models::LoadDecoderModel(
        std::string(BRISK_SOURCE_DIR) + "/tests/fixtures/golden/llama-gqa-bf16-llama3-rope",
        backend_.get());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
  }

  std::unique_ptr<LlmEngine> MakeEngine(LlmEngineOptions options) {
    auto engine = LlmEngine::Create(model_.get(), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? *std::move(engine) : nullptr;
  }

  static EngineRequest Greedy(std::vector<int32_t> prompt, int max_tokens) {
    EngineRequest r;
    r.prompt_token_ids = std::move(prompt);
    r.params.max_tokens = max_tokens;
    r.params.temperature = 0;
    r.params.ignore_eos = true;
    return r;
  }

  // Prompt i: 3 + 5 * i tokens of a fixed pseudo-random sequence.
  static std::vector<int32_t> Prompt(int i) {
    std::vector<int32_t> ids;
    for (int j = 0; j < 3 + 5 * i; ++j) ids.push_back((i * 131 + j * 37 + 11) % 200 + 1);
    return ids;
  }

  // The static-batch Generator's greedy tokens for Prompt(i), one request at a time.
  std::vector<int32_t> Expected(int i, int max_tokens) {
    auto gen = Generator::Create(model_.get(), {.block_size = 4, .kv_cache_bytes = 4 << 20});
    EXPECT_TRUE(gen.ok());
    GenerationRequest r{.prompt_ids = Prompt(i), .params = Greedy({}, max_tokens).params};
    auto out = (*gen)->Generate(std::span(&r, 1), nullptr, nullptr);
    EXPECT_TRUE(out.ok()) << out.status();
    return (*out)[0].output_ids;
  }

  // Runs Prompt(0..n-1) together through an engine with `options`; returns the results.
  std::vector<Collector::Result> RunAll(const LlmEngineOptions& options, int n, int max_tokens) {
    auto engine = MakeEngine(options);
    Collector c;
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE(engine->Submit(Greedy(Prompt(i), max_tokens), c.Callback(i)).ok());
    }
    EXPECT_TRUE(c.WaitFinished(n));
    std::vector<Collector::Result> results;
    for (int i = 0; i < n; ++i) results.push_back(c.Get(i));
    metrics::EngineGauges g = engine->Gauges();
    EXPECT_EQ(g.num_kv_blocks_used, 0);
    EXPECT_EQ(g.num_kv_blocks_free, g.num_kv_blocks);
    return results;
  }

  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<models::DecoderModel> model_;
};

TEST_F(LlmEngineTest, GreedyTokensEqualTheGeneratorsForAnyBatchAndBudget) {
  constexpr int kNum = 6, kMaxTokens = 10;
  std::vector<std::vector<int32_t>> expected;
  for (int i = 0; i < kNum; ++i) expected.push_back(Expected(i, kMaxTokens));
  for (int budget : {1, 7, 64}) {
    for (int max_seqs : {1, 3, 64}) {
      SCOPED_TRACE(testing::Message() << "budget " << budget << " max_num_seqs " << max_seqs);
      auto results = RunAll({.block_size = 4, .kv_cache_bytes = 4 << 20,
                             .max_num_batched_tokens = budget, .max_num_seqs = max_seqs},
                            kNum, kMaxTokens);
      for (int i = 0; i < kNum; ++i) {
        EXPECT_THAT(results[i].tokens, ElementsAreArray(expected[i])) << "prompt " << i;
        EXPECT_EQ(results[i].reason, FinishReason::kLength);
        EXPECT_EQ(results[i].stats.num_prompt_tokens, static_cast<int>(Prompt(i).size()));
        EXPECT_EQ(results[i].stats.num_output_tokens, kMaxTokens);
        EXPECT_EQ(static_cast<int>(results[i].stats.inter_token_s.size()), kMaxTokens - 1);
        EXPECT_GE(results[i].stats.e2e_s, results[i].stats.ttft_s);
        EXPECT_GT(results[i].stats.ttft_s, 0);
      }
    }
  }
}

TEST_F(LlmEngineTest, PreemptionByRecomputeKeepsTheTokens) {
  // The golden model's context is 128 tokens: 32 blocks of 4 is the smallest pool it accepts,
  // and six requests of up to 28 + 40 tokens need more, so some are preempted and recomputed.
  const int64_t bytes_per_block = model_->KvBytesPerToken() * 4;
  constexpr int kNum = 6, kMaxTokens = 40;
  auto engine = MakeEngine({.block_size = 4, .kv_cache_bytes = 32 * bytes_per_block});
  ASSERT_EQ(engine->num_kv_blocks(), 32);
  Collector c;
  for (int i = 0; i < kNum; ++i) {
    ASSERT_TRUE(engine->Submit(Greedy(Prompt(i), kMaxTokens), c.Callback(i)).ok());
  }
  ASSERT_TRUE(c.WaitFinished(kNum));
  EXPECT_GT(engine->Gauges().num_preemptions, 0);
  for (int i = 0; i < kNum; ++i) {
    EXPECT_THAT(c.Get(i).tokens, ElementsAreArray(Expected(i, kMaxTokens))) << "prompt " << i;
  }
}

TEST_F(LlmEngineTest, PrefixHitSkipsCachedTokensAndKeepsTheTokens) {
  auto engine = MakeEngine({.block_size = 4, .kv_cache_bytes = 4 << 20});
  const std::vector<int32_t> prompt = Prompt(3);  // 18 tokens: 4 full blocks can be hit
  Collector c;
  ASSERT_TRUE(engine->Submit(Greedy(prompt, 8), c.Callback(0)).ok());
  ASSERT_TRUE(c.WaitFinished(1));
  ASSERT_TRUE(engine->Submit(Greedy(prompt, 8), c.Callback(1)).ok());
  ASSERT_TRUE(c.WaitFinished(2));
  EXPECT_EQ(c.Get(0).num_cached_tokens, 0);
  EXPECT_EQ(c.Get(1).num_cached_tokens, 16);
  EXPECT_EQ(c.Get(1).stats.num_cached_tokens, 16);
  EXPECT_EQ(c.Get(1).tokens, c.Get(0).tokens);
  const metrics::EngineGauges g = engine->Gauges();
  EXPECT_EQ(g.num_prefix_queried_tokens, 36);
  EXPECT_EQ(g.num_prefix_hit_tokens, 16);

  // Another tenant does not share the first tenant's blocks.
  EngineRequest other = Greedy(prompt, 8);
  other.tenant = "acme";
  ASSERT_TRUE(engine->Submit(other, c.Callback(2)).ok());
  ASSERT_TRUE(c.WaitFinished(3));
  EXPECT_EQ(c.Get(2).num_cached_tokens, 0);
  EXPECT_EQ(c.Get(2).tokens, c.Get(0).tokens);
}

TEST_F(LlmEngineTest, AbortFreesTheBlocksAndFinishesOnce) {
  auto engine = MakeEngine({.block_size = 4, .kv_cache_bytes = 4 << 20});
  Collector c;
  // The second token's callback holds the engine thread until the aborts are queued, so the
  // request cannot finish on its own first, however slow this thread is scheduled.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool aborted = false, at_second_token = false;
  OutputCallback inner = c.Callback(0);
  int num_outputs = 0;
  auto id = engine->Submit(Greedy(Prompt(2), 100), [&](EngineOutput out) {
    inner(std::move(out));
    if (++num_outputs != 2) return;
    std::unique_lock lock(gate_mu);
    at_second_token = true;
    gate_cv.notify_all();
    gate_cv.wait(lock, [&] { return aborted; });
  });
  ASSERT_TRUE(id.ok());
  {
    std::unique_lock lock(gate_mu);
    ASSERT_TRUE(gate_cv.wait_for(lock, std::chrono::seconds(60), [&] { return at_second_token; }));
  }
  engine->Abort(*id);
  engine->Abort(*id);  // twice: still one finished output
  engine->Abort(12345);  // unknown: ignored
  {
    std::lock_guard lock(gate_mu);
    aborted = true;
  }
  gate_cv.notify_all();
  ASSERT_TRUE(c.WaitFinished(1));
  const Collector::Result r = c.Get(0);
  EXPECT_EQ(r.reason, FinishReason::kAborted);
  EXPECT_EQ(r.stats.finish_reason, "abort");
  EXPECT_EQ(r.tokens.size(), 2u);
  // Gauges are published before the finished output is delivered.
  EXPECT_EQ(engine->Gauges().num_kv_blocks_used, 0);
  EXPECT_EQ(engine->Gauges().num_running, 0);
}

TEST_F(LlmEngineTest, StopTokenSeedsAndLogprobs) {
  auto engine = MakeEngine({.block_size = 4, .kv_cache_bytes = 4 << 20});
  const std::vector<int32_t> expected = Expected(1, 6);
  Collector c;
  EngineRequest stop = Greedy(Prompt(1), 6);
  stop.params.stop_token_ids = {expected[2]};
  stop.num_top_logprobs = 3;
  ASSERT_TRUE(engine->Submit(stop, c.Callback(0)).ok());
  EngineRequest sampled = Greedy(Prompt(1), 12);
  sampled.params.temperature = 0.9f;
  sampled.params.seed = 42;
  ASSERT_TRUE(engine->Submit(sampled, c.Callback(1)).ok());
  ASSERT_TRUE(engine->Submit(sampled, c.Callback(2)).ok());
  ASSERT_TRUE(c.WaitFinished(3));

  const Collector::Result r = c.Get(0);
  const auto first = std::find(expected.begin(), expected.end(), expected[2]);
  EXPECT_EQ(r.tokens, std::vector<int32_t>(expected.begin(), first + 1));
  EXPECT_EQ(r.reason, FinishReason::kStop);
  ASSERT_EQ(r.logprobs.size(), r.tokens.size());
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    const TokenLogprobs& lp = r.logprobs[i];
    EXPECT_EQ(lp.token_id, r.tokens[i]);
    ASSERT_EQ(lp.top.size(), 3u);
    // Greedy: the sampled token is the most likely one.
    EXPECT_EQ(lp.top[0].token_id, r.tokens[i]);
    EXPECT_FLOAT_EQ(lp.top[0].logprob, lp.logprob);
    EXPECT_LE(lp.logprob, 0.0f);
    EXPECT_GE(lp.top[0].logprob, lp.top[1].logprob);
    EXPECT_GE(lp.top[1].logprob, lp.top[2].logprob);
  }
  EXPECT_EQ(c.Get(1).tokens, c.Get(2).tokens);
  EXPECT_EQ(c.Get(1).tokens.size(), 12u);
}

TEST_F(LlmEngineTest, RefusesBadRequestsWithTheNumbers) {
  auto engine = MakeEngine({.block_size = 4, .kv_cache_bytes = 4 << 20});
  auto too_long = engine->Submit(Greedy(std::vector<int32_t>(120, 1), 9), nullptr);
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_long.status().message(),
              ::testing::AllOf(::testing::HasSubstr("128"), ::testing::HasSubstr("120"),
                               ::testing::HasSubstr("129")));
  auto bad_id = engine->Submit(Greedy({1, 99999}, 2), nullptr);
  EXPECT_THAT(bad_id.status().message(), ::testing::HasSubstr("99999"));
  EXPECT_EQ(engine->Submit(Greedy({}, 2), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EngineRequest bad_temp = Greedy({1, 2}, 2);
  bad_temp.params.temperature = -1;
  EXPECT_EQ(engine->Submit(bad_temp, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(LlmEngine::Create(model_.get(), {.block_size = 4, .kv_cache_bytes = 1024}).ok());

  // A capped context: 64 of the model's 128 tokens, checked and reported.
  auto capped = MakeEngine({.block_size = 4, .kv_cache_bytes = 4 << 20, .max_model_len = 64});
  EXPECT_EQ(capped->info().max_model_len, 64);
  auto over = capped->Submit(Greedy(std::vector<int32_t>(60, 1), 5), nullptr);
  EXPECT_THAT(over.status().message(), ::testing::HasSubstr("64 tokens"));
  EXPECT_TRUE(capped->Submit(Greedy(std::vector<int32_t>(60, 1), 4), nullptr).ok());
}

TEST_F(LlmEngineTest, FullQueueAnswersResourceExhaustedAndShutdownFinishesEverything) {
  auto engine = MakeEngine({.block_size = 4, .kv_cache_bytes = 4 << 20, .max_waiting = 2});
  // The first output blocks the engine thread until released, so later submissions queue up.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool open = false, blocked = false;
  Collector c;
  OutputCallback inner = c.Callback(0);
  auto first = engine->Submit(Greedy(Prompt(0), 50), [&](EngineOutput out) {
    std::unique_lock lock(gate_mu);
    blocked = true;
    gate_cv.notify_all();
    gate_cv.wait(lock, [&] { return open; });
    lock.unlock();
    inner(std::move(out));
  });
  ASSERT_TRUE(first.ok());
  {
    std::unique_lock lock(gate_mu);
    gate_cv.wait(lock, [&] { return blocked; });
  }
  EXPECT_TRUE(engine->Submit(Greedy(Prompt(1), 50), c.Callback(1)).ok());
  EXPECT_TRUE(engine->Submit(Greedy(Prompt(2), 50), c.Callback(2)).ok());
  auto refused = engine->Submit(Greedy(Prompt(3), 50), c.Callback(3));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("retry later"));
  {
    std::lock_guard lock(gate_mu);
    open = true;
  }
  gate_cv.notify_all();
  ASSERT_TRUE(c.WaitTokens(1, 1));
  // Shutdown while requests are live: each gets a finished output, and the stopped engine stays
  // safe to call until it is destroyed (the server's connections may still abort or submit).
  engine->Shutdown();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(c.Get(i).finished) << i;
  auto late = engine->Submit(Greedy(Prompt(4), 5), c.Callback(4));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  engine->Abort(*first);
  engine->Shutdown();  // idempotent
  engine.reset();
}

TEST_F(LlmEngineTest, LowerPriorityValueRunsFirst) {
  auto engine = MakeEngine({.block_size = 4, .kv_cache_bytes = 4 << 20, .max_num_seqs = 1});
  std::mutex mu;
  std::condition_variable cv;
  bool open = false, blocked = false;
  std::vector<int> finish_order;
  auto record = [&](int key) {
    return [&, key](EngineOutput out) {
      std::unique_lock lock(mu);
      if (key == 0 && !blocked) {  // hold the engine thread until both others are queued
        blocked = true;
        cv.notify_all();
        cv.wait(lock, [&] { return open; });
      }
      if (out.finished) {
        finish_order.push_back(key);
        cv.notify_all();
      }
    };
  };
  ASSERT_TRUE(engine->Submit(Greedy(Prompt(0), 3), record(0)).ok());
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return blocked; });
  }
  EngineRequest late_but_urgent = Greedy(Prompt(1), 3);
  late_but_urgent.priority = -1;
  EngineRequest early_but_lax = Greedy(Prompt(2), 3);
  early_but_lax.priority = 5;
  ASSERT_TRUE(engine->Submit(early_but_lax, record(2)).ok());
  ASSERT_TRUE(engine->Submit(late_but_urgent, record(1)).ok());
  {
    std::unique_lock lock(mu);
    open = true;
    cv.notify_all();
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60),
                            [&] { return finish_order.size() == 3; }));
  }
  EXPECT_EQ(finish_order, (std::vector<int>{0, 1, 2}));
}

TEST(ComputeLogprobsTest, MatchesAHandComputedLogSoftmax) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f};
  std::vector<int32_t> scratch;
  const TokenLogprobs lp = ComputeLogprobs(logits, 2, 3, scratch);
  // log(e^1 + e^3 + e^2 + e^3) = 3 + log(e^-2 + 1 + e^-1 + 1)
  const double norm = 3 + std::log(std::exp(-2.0) + 2 + std::exp(-1.0));
  EXPECT_NEAR(lp.logprob, 2 - norm, 1e-6);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].token_id, 1);  // tie with 3: lower id first
  EXPECT_EQ(lp.top[1].token_id, 3);
  EXPECT_EQ(lp.top[2].token_id, 2);
  EXPECT_NEAR(lp.top[0].logprob, 3 - norm, 1e-6);
}

}  // namespace
}  // namespace brisk::engine
