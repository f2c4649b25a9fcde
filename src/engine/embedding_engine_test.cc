#include "engine/embedding_engine.h"

#include <atomic>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace brisk::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A fake embedder whose vector is a pure function of one sequence: {length, sum of ids, first
// id}. It records every batch it was given and can be held at a gate.
class FakeEmbedder : public models::Embedder {
 public:
  FakeEmbedder() {
    info_.dimensions = 3;
    info_.max_tokens = 16;
    info_.vocab_size = 100;
  }
  const models::EmbedderInfo& info() const override { return info_; }
  absl::StatusOr<tensor::Tensor> Embed(const std::vector<std::vector<int32_t>>& batch) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      batch_sizes_.push_back(static_cast<int>(batch.size()));
      gate_cv_.wait(lock, [&] { return open_; });
    }
    tensor::Tensor out = tensor::Tensor::Empty(tensor::DType::kF32,
                                               {static_cast<int64_t>(batch.size()), 3});
    float* d = out.data<float>();
    for (size_t i = 0; i < batch.size(); ++i) {
      float sum = 0;
      for (int32_t id : batch[i]) sum += static_cast<float>(id);
      d[i * 3 + 0] = static_cast<float>(batch[i].size());
      d[i * 3 + 1] = sum;
      d[i * 3 + 2] = static_cast<float>(batch[i][0]);
    }
    return out;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    gate_cv_.notify_all();
  }
  std::vector<int> BatchSizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_sizes_;
  }

 private:
  models::EmbedderInfo info_;
  std::mutex mu_;
  std::condition_variable gate_cv_;
  bool open_ = true;
  std::vector<int> batch_sizes_;
};

std::vector<float> Expected(const std::vector<int32_t>& ids) {
  float sum = 0;
  for (int32_t id : ids) sum += static_cast<float>(id);
  return {static_cast<float>(ids.size()), sum, static_cast<float>(ids[0])};
}

EmbeddingResult EmbedSync(EmbeddingEngine& engine, std::vector<std::vector<int32_t>> inputs) {
  std::promise<EmbeddingResult> p;
  absl::Status s = engine.Submit(std::move(inputs), [&](EmbeddingResult r) {
    p.set_value(std::move(r));
  });
  if (!s.ok()) {
    EmbeddingResult failed;
    failed.status = s;
    return failed;
  }
  return p.get_future().get();
}

TEST(EmbeddingEngineTest, ReturnsOneVectorPerInputInOrder) {
  FakeEmbedder fake;
  EmbeddingEngine engine(&fake, {});
  EmbeddingResult r = EmbedSync(engine, {{5, 6}, {7}, {1, 2, 3}});
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.vectors.size(), 3u);
  EXPECT_EQ(r.vectors[0], Expected({5, 6}));
  EXPECT_EQ(r.vectors[1], Expected({7}));
  EXPECT_EQ(r.vectors[2], Expected({1, 2, 3}));
  EXPECT_GE(r.queue_s, 0);
  EXPECT_GE(r.compute_s, 0);
}

TEST(EmbeddingEngineTest, RefusesBadInputsNamingThem) {
  FakeEmbedder fake;
  EmbeddingEngine engine(&fake, {});
  auto submit = [&](std::vector<std::vector<int32_t>> in) {
    return engine.Submit(std::move(in), [](EmbeddingResult) { FAIL() << "must not be called"; });
  };
  EXPECT_THAT(submit({}).message(), HasSubstr("no inputs"));
  EXPECT_THAT(submit({{1}, {}}).message(), HasSubstr("input 1 is empty"));
  EXPECT_THAT(submit({std::vector<int32_t>(17, 1)}).message(),
              HasSubstr("17 tokens; this model takes at most 16"));
  EXPECT_THAT(submit({{1}, {2, 100}}).message(), HasSubstr("input 1 holds token id 100"));
  EXPECT_THAT(submit({{-1}}).message(), HasSubstr("token id -1"));
}

TEST(EmbeddingEngineTest, SplitsLargeRequestsByInputsAndTokens) {
  FakeEmbedder fake;
  EmbeddingEngine engine(&fake, {.max_batch_inputs = 4, .max_batch_tokens = 10});
  std::vector<std::vector<int32_t>> inputs;
  for (int i = 0; i < 10; ++i) inputs.push_back(std::vector<int32_t>(3, i + 1));
  EmbeddingResult r = EmbedSync(engine, inputs);
  ASSERT_TRUE(r.status.ok());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.vectors[i], Expected(inputs[i])) << i;
  // 3 tokens each under a 10-token budget: at most 3 per batch.
  EXPECT_THAT(fake.BatchSizes(), ElementsAre(3, 3, 3, 1));
}

TEST(EmbeddingEngineTest, AnInputOverTheTokenBudgetRunsAlone) {
  FakeEmbedder fake;
  EmbeddingEngine engine(&fake, {.max_batch_inputs = 8, .max_batch_tokens = 4});
  EmbeddingResult r = EmbedSync(engine, {{1}, std::vector<int32_t>(9, 2), {3}});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.vectors[1], Expected(std::vector<int32_t>(9, 2)));
  EXPECT_THAT(fake.BatchSizes(), ElementsAre(1, 1, 1));
}

TEST(EmbeddingEngineTest, RequestsQueuedDuringABatchShareTheNextOne) {
  FakeEmbedder fake;
  EmbeddingEngine engine(&fake, {});
  fake.Close();
  std::promise<void> first_done;
  ASSERT_TRUE(engine.Submit({{1}}, [&](EmbeddingResult) { first_done.set_value(); }).ok());
  // Wait until the engine is inside the first batch, then queue five requests behind it.
  while (fake.BatchSizes().empty()) std::this_thread::yield();
  std::vector<std::promise<EmbeddingResult>> results(5);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(engine.Submit({{i + 10, i}}, [&results, i](EmbeddingResult r) {
      results[i].set_value(std::move(r));
    }).ok());
  }
  fake.Open();
  first_done.get_future().get();
  for (int i = 0; i < 5; ++i) {
    EmbeddingResult r = results[i].get_future().get();
    EXPECT_EQ(r.vectors[0], Expected({i + 10, i}));
  }
  EXPECT_THAT(fake.BatchSizes(), ElementsAre(1, 5));
  EXPECT_EQ(engine.Stats().max_batch_inputs_seen, 5);
}

TEST(EmbeddingEngineTest, QueueDelayGathersConcurrentRequests) {
  FakeEmbedder fake;
  // A long delay: the batch forms when max_batch_inputs requests are there.
  EmbeddingEngine engine(&fake, {.max_batch_inputs = 4, .max_queue_delay_us = 10'000'000});
  std::vector<std::promise<EmbeddingResult>> results(4);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(engine.Submit({{i + 1}}, [&results, i](EmbeddingResult r) {
      results[i].set_value(std::move(r));
    }).ok());
  }
  for (auto& p : results) EXPECT_TRUE(p.get_future().get().status.ok());
  EXPECT_THAT(fake.BatchSizes(), ElementsAre(4));
}

TEST(EmbeddingEngineTest, FullQueueIsResourceExhausted) {
  FakeEmbedder fake;
  EmbeddingEngine engine(&fake, {.max_waiting_requests = 2});
  fake.Close();
  std::atomic<int> done{0};
  auto count = [&](EmbeddingResult) { ++done; };
  ASSERT_TRUE(engine.Submit({{1}}, count).ok());
  while (fake.BatchSizes().empty()) std::this_thread::yield();  // taken off the queue
  ASSERT_TRUE(engine.Submit({{2}}, count).ok());
  ASSERT_TRUE(engine.Submit({{3}}, count).ok());
  absl::Status full = engine.Submit({{4}}, count);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  fake.Open();
  while (done.load() < 3) std::this_thread::yield();
}

TEST(EmbeddingEngineTest, ConcurrentClientsGetTheirOwnVectors) {
  FakeEmbedder fake;
  EmbeddingEngine engine(&fake, {.max_batch_inputs = 7, .max_batch_tokens = 40});
  constexpr int kThreads = 4, kRequests = 50;
  std::atomic<int> failures{0};
  std::atomic<int64_t> submitted_inputs{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      for (int i = 0; i < kRequests; ++i) {
        std::vector<std::vector<int32_t>> inputs(1 + rng() % 5);
        for (auto& in : inputs) {
          in.resize(1 + rng() % 16);
          for (auto& id : in) id = static_cast<int32_t>(rng() % 100);
        }
        submitted_inputs += static_cast<int64_t>(inputs.size());
        EmbeddingResult r = EmbedSync(engine, inputs);
        if (!r.status.ok() || r.vectors.size() != inputs.size()) {
          ++failures;
          continue;
        }
        for (size_t k = 0; k < inputs.size(); ++k) failures += r.vectors[k] != Expected(inputs[k]);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(engine.Stats().inputs, submitted_inputs.load());
  EXPECT_LE(engine.Stats().max_batch_inputs_seen, 7);
}

TEST(EmbeddingEngineTest, ShutdownFinishesAcceptedRequests) {
  FakeEmbedder fake;
  std::atomic<int> done{0};
  std::thread opener;
  {
    EmbeddingEngine engine(&fake, {});
    fake.Close();
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(engine.Submit({{i + 1}}, [&](EmbeddingResult r) { done += r.status.ok(); }).ok());
    }
    // The destructor runs while the embedder is held; it must still finish all five.
    opener = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      fake.Open();
    });
  }
  opener.join();
  EXPECT_EQ(done.load(), 5);
}

TEST(EmbeddingEngineTest, SubmitAfterShutdownIsRefused) {
  FakeEmbedder fake;
  EmbeddingEngine engine(&fake, {});
  EXPECT_TRUE(EmbedSync(engine, {{1}}).status.ok());
  engine.Shutdown();
  absl::Status late = engine.Submit({{2}}, [](EmbeddingResult) { FAIL() << "not accepted"; });
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  engine.Shutdown();  // idempotent
}

}  // namespace
}  // namespace brisk::engine
