// StepRunner on the CPU: its graph path (bucketing, padding, the fixed input buffers) through a
// backend that "records" by keeping the recorded function and replays by running it again, and
// its device-sampling path through the CPU backend's SampleTokens, both against the plain
// op-by-op forward and the host Sampler on the same checkpoint.
#include "engine/step_runner.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "backend/cpu/cpu_backend.h"
#include "engine/batch.h"
#include "engine/generator.h"
#include "models/registry.h"

namespace brisk::engine {
namespace {

using backend::AttentionMetadata;
using backend::AttentionParams;
using backend::Backend;
using backend::OpId;
using tensor::DType;
using tensor::Tensor;

const char kModel[] = "/tests/fixtures/golden/llama-gqa-bf16-llama3-rope";

// A CPU backend whose Record keeps the function (running nothing, like a GPU recording) and
// whose graphs run it again on Replay.
class ReplayingBackend final : public Backend {
 public:
  ReplayingBackend() : inner_(backend::MakeCpuBackend({.num_threads = 1})) {}

  class Graph final : public backend::OpGraph {
   public:
    Graph(std::function<void()> fn, int* replays) : fn_(std::move(fn)), replays_(replays) {}
    void Replay() override {
      ++*replays_;
      fn_();
    }

   private:
    std::function<void()> fn_;
    int* replays_;
  };

  // Counts the host readbacks queued and not yet waited for, to show when steps overlap.
  class CountingReadback final : public backend::HostReadback {
   public:
    CountingReadback(std::unique_ptr<backend::HostReadback> inner, ReplayingBackend* owner)
        : inner_(std::move(inner)), owner_(owner) {}
    void Queue(const Tensor& src) override {
      inner_->Queue(src);
      owner_->max_outstanding_ = std::max(owner_->max_outstanding_, ++owner_->outstanding_);
    }
    Tensor Wait() override {
      --owner_->outstanding_;
      return inner_->Wait();
    }

   private:
    std::unique_ptr<backend::HostReadback> inner_;
    ReplayingBackend* owner_;
  };
  std::unique_ptr<backend::HostReadback> NewHostReadback(int64_t capacity_bytes) override {
    return std::make_unique<CountingReadback>(Backend::NewHostReadback(capacity_bytes), this);
  }
  // The most readbacks that were queued at once.
  int max_outstanding() const { return max_outstanding_; }

  std::unique_ptr<backend::OpGraph> Record(const std::function<void()>& record) override {
    ++recordings_;
    return std::make_unique<Graph>(record, &replays_);
  }
  bool CanRecord() const override { return true; }
  int recordings() const { return recordings_; }
  int replays() const { return replays_; }

  std::string_view name() const override { return "replaying-cpu"; }
  tensor::Device device() const override { return inner_->device(); }
  bool Supports(OpId op, DType dtype) const override { return inner_->Supports(op, dtype); }
  Tensor Allocate(DType dtype, tensor::Shape shape) override {
    return inner_->Allocate(dtype, std::move(shape));
  }
  void Embedding(const Tensor& table, const Tensor& ids, Tensor* out) override {
    inner_->Embedding(table, ids, out);
  }
  void MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) override {
    inner_->MatMul(x, w, bias, y);
  }
  void RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor* out) override {
    inner_->RmsNorm(x, weight, eps, out);
  }
  void AddRmsNorm(Tensor* residual, const Tensor& x, const Tensor& weight, float eps,
                  Tensor* out) override {
    inner_->AddRmsNorm(residual, x, weight, eps, out);
  }
  void Rope(Tensor* x, const Tensor& positions, const Tensor& cos_sin) override {
    inner_->Rope(x, positions, cos_sin);
  }
  void SiluMul(const Tensor& gate_up, Tensor* out) override { inner_->SiluMul(gate_up, out); }
  void Add(const Tensor& a, const Tensor& b, Tensor* out) override { inner_->Add(a, b, out); }
  void WriteKvCache(const Tensor& k, const Tensor& v, const Tensor& slots, Tensor* k_cache,
                    Tensor* v_cache) override {
    inner_->WriteKvCache(k, v, slots, k_cache, v_cache);
  }
  void PagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                      const AttentionMetadata& meta, const AttentionParams& params,
                      Tensor* out) override {
    inner_->PagedAttention(q, k_cache, v_cache, meta, params, out);
  }
  void QkvRopeWriteKv(const Tensor& qkv, const Tensor& positions, const Tensor& cos_sin,
                      const Tensor& slots, const Tensor* q_norm, const Tensor* k_norm, float eps,
                      Tensor* q_out, Tensor* k_cache, Tensor* v_cache) override {
    inner_->QkvRopeWriteKv(qkv, positions, cos_sin, slots, q_norm, k_norm, eps, q_out, k_cache,
                           v_cache);
  }
  void SampleTokens(const Tensor& logits, const Tensor& params, Tensor* ids) override {
    inner_->SampleTokens(logits, params, ids);
  }
  void LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                 Tensor* out) override {
    inner_->LayerNorm(x, weight, bias, eps, out);
  }
  void Gelu(const Tensor& x, bool tanh_approximation, Tensor* out) override {
    inner_->Gelu(x, tanh_approximation, out);
  }
  void EncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v,
                        const Tensor& seq_starts, int max_seq_len, float scale,
                        Tensor* out) override {
    inner_->EncoderAttention(q, k, v, seq_starts, max_seq_len, scale, out);
  }

 private:
  std::unique_ptr<Backend> inner_;
  int recordings_ = 0;
  int replays_ = 0;
  int outstanding_ = 0;
  int max_outstanding_ = 0;
};

std::unique_ptr<models::DecoderModel> Load(Backend* backend) {
  auto model = models::LoadDecoderModel(std::string(BRISK_SOURCE_DIR) + kModel, backend);
  BRISK_CHECK(model.ok()) << model.status();
  return *std::move(model);
}

GenerationRequest Greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerationRequest r;
  r.prompt_ids = std::move(prompt);
  r.params.max_tokens = max_tokens;
  r.params.temperature = 0;
  r.params.ignore_eos = true;
  return r;
}

std::vector<std::vector<int32_t>> Generate(models::DecoderModel* model,
                                           const GeneratorOptions& options,
                                           std::span<const GenerationRequest> requests) {
  auto gen = Generator::Create(model, options);
  BRISK_CHECK(gen.ok()) << gen.status();
  auto results = (*gen)->Generate(requests, nullptr, nullptr);
  BRISK_CHECK(results.ok()) << results.status();
  std::vector<std::vector<int32_t>> ids;
  for (const GenerationResult& r : *results) ids.push_back(r.output_ids);
  return ids;
}

std::vector<std::vector<int32_t>> Generate(models::DecoderModel* model, bool graphs,
                                           std::span<const GenerationRequest> requests) {
  return Generate(model,
                  {.block_size = 4, .kv_cache_bytes = 1 << 20, .max_tokens_per_step = 64,
                   .decode_graphs = graphs},
                  requests);
}

TEST(StepRunnerTest, ReplayedDecodeStepsGiveTheOpByOpTokens) {
  // Three sequences that end at different steps: decode batches of 3, 2 and 1 rows, padded to
  // buckets 4, 2 and 1; prompts of different lengths give different block tables.
  const std::vector<GenerationRequest> requests = {
      Greedy({5, 6, 7, 8, 9, 10, 11}, 9), Greedy({40, 41, 42}, 5), Greedy({17}, 13)};
  auto plain_backend = backend::MakeCpuBackend({.num_threads = 1});
  auto plain_model = Load(plain_backend.get());
  const auto expected = Generate(plain_model.get(), /*graphs=*/false, requests);

  ReplayingBackend replaying;
  auto model = Load(&replaying);
  const auto got = Generate(model.get(), /*graphs=*/true, requests);
  EXPECT_EQ(got, expected);
  // Generate records buckets 1, 2 and 4 (for its 3 requests) before the prefill, and every
  // decode step replays: the longest request's 13 tokens less the prefill's.
  EXPECT_EQ(replaying.recordings(), 3);
  EXPECT_EQ(replaying.replays(), 12);

  // Graphs off: the same backend records nothing.
  ReplayingBackend unused;
  auto eager_model = Load(&unused);
  EXPECT_EQ(Generate(eager_model.get(), /*graphs=*/false, requests), expected);
  EXPECT_EQ(unused.recordings(), 0);
}

TEST(StepRunnerTest, DeviceSamplingDrawsTheHostSamplersTokens) {
  auto backend = backend::MakeCpuBackend({.num_threads = 1});
  auto model = Load(backend.get());
  models::KvCache kv = model->AllocateKvCache(/*num_blocks=*/16, /*block_size=*/4);
  StepRunner runner(model.get(), &kv,
                    {.use_graphs = false,
                     .max_blocks_per_seq = 16,
                     .device_sampling = StepRunnerOptions::DeviceSampling::kAlways});
  // Two prompts, logits of their last rows.
  const std::vector<int32_t> a = {3, 1, 4, 1, 5, 9, 2}, b = {27, 18, 28};
  const std::vector<int32_t> blocks_a = {0, 1}, blocks_b = {2};
  const std::vector<SequenceStep> steps = {
      {.new_token_ids = a, .num_computed_tokens = 0, .block_table = blocks_a,
       .logits = LogitsWanted::kLast},
      {.new_token_ids = b, .num_computed_tokens = 0, .block_table = blocks_b,
       .logits = LogitsWanted::kLast}};
  runner.Forward(BuildForwardInputs(steps, 4));

  std::vector<sampling::SamplingParams> params(2);
  params[0].temperature = 0.9f;
  params[0].top_k = 20;
  params[0].seed = 11;
  params[1].temperature = 1.3f;
  params[1].top_p = 0.8f;
  params[1].min_p = 0.02f;
  params[1].seed = 12;
  for (int round = 0; round < 4; ++round) {
    // Fresh samplers per round, advanced by `round` draws: every round draws a new uniform.
    sampling::Sampler device_a(params[0]), device_b(params[1]);
    sampling::Sampler host_a(params[0]), host_b(params[1]);
    for (int i = 0; i < round; ++i) {
      for (sampling::Sampler* s : {&device_a, &device_b, &host_a, &host_b}) s->NextUniform();
    }
    std::vector<sampling::Sampler*> samplers = {&device_a, &device_b};
    ASSERT_TRUE(runner.CanSampleOnDevice(samplers));
    const std::vector<int32_t> tokens = runner.SampleOnDevice(samplers);
    const Tensor logits = runner.HostLogits();
    const int64_t vocab = logits.dim(1);
    std::vector<float> row_a(logits.data<float>(), logits.data<float>() + vocab);
    std::vector<float> row_b(logits.data<float>() + vocab, logits.data<float>() + 2 * vocab);
    ASSERT_EQ(tokens.size(), 2u);
    EXPECT_EQ(tokens[0], host_a.Sample(row_a, a, {})) << "round " << round;
    EXPECT_EQ(tokens[1], host_b.Sample(row_b, b, {})) << "round " << round;
    // Both paths consumed exactly one draw: the next uniforms agree.
    EXPECT_EQ(device_a.NextUniform(), host_a.NextUniform());
    EXPECT_EQ(device_b.NextUniform(), host_b.NextUniform());
  }

  // Penalties need the host.
  sampling::SamplingParams penalized;
  penalized.repetition_penalty = 1.2f;
  sampling::Sampler with_penalty(penalized), plain(params[0]);
  std::vector<sampling::Sampler*> mixed = {&plain, &with_penalty};
  EXPECT_FALSE(runner.CanSampleOnDevice(mixed));
}

TEST(StepRunnerTest, FedStepMatchesTheStepGivenItsIdsByTheHost) {
  const std::vector<int32_t> prompt = {3, 1, 4, 1, 5, 9, 2};
  const std::vector<int32_t> blocks = {0, 1, 2};
  const auto prefill = [&](StepRunner& runner) {
    const SequenceStep step{.new_token_ids = prompt, .num_computed_tokens = 0,
                            .block_table = blocks, .logits = LogitsWanted::kLast};
    runner.Forward(BuildForwardInputs(std::span(&step, 1), 4));
  };
  const auto decode_inputs = [&](const int32_t* id) {
    const SequenceStep step{.new_token_ids = std::span(id, 1),
                            .num_computed_tokens = static_cast<int>(prompt.size()),
                            .block_table = blocks, .logits = LogitsWanted::kLast};
    return BuildForwardInputs(std::span(&step, 1), 4);
  };
  const StepRunnerOptions options{.use_graphs = false, .max_blocks_per_seq = 16,
                                  .device_sampling = StepRunnerOptions::DeviceSampling::kAlways};
  sampling::SamplingParams greedy_params;
  greedy_params.temperature = 0;
  sampling::Sampler greedy(greedy_params);
  std::vector<sampling::Sampler*> samplers = {&greedy};

  // The host way: read the first token, then give it to the decode step.
  auto backend = backend::MakeCpuBackend({.num_threads = 1});
  auto model = Load(backend.get());
  models::KvCache kv = model->AllocateKvCache(16, 4);
  StepRunner host_fed(model.get(), &kv, options);
  prefill(host_fed);
  const std::vector<int32_t> first = host_fed.SampleOnDevice(samplers);
  ASSERT_EQ(first.size(), 1u);
  host_fed.Forward(decode_inputs(first.data()));
  const Tensor expected_logits = host_fed.HostLogits();

  // Fed on the device: the decode step is queued before the first token is read, with an id
  // the step must ignore.
  models::KvCache kv2 = model->AllocateKvCache(16, 4);
  StepRunner device_fed(model.get(), &kv2, options);
  prefill(device_fed);
  device_fed.QueueSampleOnDevice(samplers);
  const int32_t wrong_id = first[0] == 7 ? 8 : 7;
  const models::ForwardInputs next = decode_inputs(&wrong_id);
  ASSERT_TRUE(device_fed.CanFeedSampledTokens(next));
  device_fed.Forward(next, /*ids_from_last_sample=*/true);
  device_fed.QueueSampleOnDevice(samplers);
  EXPECT_EQ(device_fed.TakeSampledTokens(), first);  // oldest first
  const std::vector<int32_t> second = device_fed.TakeSampledTokens();
  const Tensor logits = device_fed.HostLogits();
  ASSERT_EQ(logits.numel(), expected_logits.numel());
  for (int64_t i = 0; i < logits.numel(); ++i) {
    ASSERT_EQ(logits.data<float>()[i], expected_logits.data<float>()[i]) << "logit " << i;
  }
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second, host_fed.SampleOnDevice(samplers));

  // Only the step right after a device sampling, with as many rows, can be fed.
  EXPECT_FALSE(device_fed.CanFeedSampledTokens(next));  // HostLogits came between
  device_fed.Forward(next);
  device_fed.QueueSampleOnDevice(samplers);
  const std::vector<int32_t> two = {1, 2};
  const std::vector<int32_t> blocks2 = {3};
  const std::vector<SequenceStep> pair = {
      {.new_token_ids = std::span(&two[0], 1), .num_computed_tokens = 8, .block_table = blocks,
       .logits = LogitsWanted::kLast},
      {.new_token_ids = std::span(&two[1], 1), .num_computed_tokens = 0, .block_table = blocks2,
       .logits = LogitsWanted::kLast}};
  EXPECT_FALSE(device_fed.CanFeedSampledTokens(BuildForwardInputs(pair, 4)));
  EXPECT_TRUE(device_fed.CanFeedSampledTokens(next));
  device_fed.TakeSampledTokens();
}

TEST(StepRunnerTest, OverlappedDecodeStepsGiveTheTokensOfWaitedSteps) {
  // A greedy request and two sampled ones of different lengths; the middle one also stops at
  // a stop token picked from its own free run, so a step queued ahead holds a row whose
  // sequence has just ended.
  std::vector<GenerationRequest> requests = {Greedy({5, 6, 7, 8, 9, 10, 11}, 9),
                                             Greedy({40, 41, 42}, 12), Greedy({17}, 13)};
  requests[1].params.temperature = 0.8f;
  requests[1].params.top_k = 40;
  requests[1].params.seed = 7;
  requests[2].params.temperature = 1.1f;
  requests[2].params.seed = 3;
  for (const bool graphs : {false, true}) {
    SCOPED_TRACE(graphs ? "graphs" : "op by op");
    GeneratorOptions options{.block_size = 4, .kv_cache_bytes = 1 << 20,
                             .max_tokens_per_step = 64, .decode_graphs = graphs,
                             .overlap_steps = false,
                             .device_sampling = StepRunnerOptions::DeviceSampling::kAlways};
    ReplayingBackend waited;
    auto waited_model = Load(&waited);
    const auto free_run = Generate(waited_model.get(), options, requests);
    ASSERT_EQ(free_run[1].size(), 12u);
    size_t stop_at = 2;
    while (stop_at < free_run[1].size() &&
           std::find(free_run[1].begin(), free_run[1].begin() + stop_at, free_run[1][stop_at]) !=
               free_run[1].begin() + stop_at) {
      ++stop_at;
    }
    ASSERT_LT(stop_at, free_run[1].size() - 1) << "no fresh token to stop at";
    requests[1].params.stop_token_ids = {free_run[1][stop_at]};
    const auto expected = Generate(waited_model.get(), options, requests);
    ASSERT_EQ(expected[1].size(), stop_at + 1);
    EXPECT_EQ(expected[0], free_run[0]);
    EXPECT_EQ(expected[2], free_run[2]);
    EXPECT_EQ(waited.max_outstanding(), 1);

    options.overlap_steps = true;
    ReplayingBackend overlapped;
    auto overlapped_model = Load(&overlapped);
    EXPECT_EQ(Generate(overlapped_model.get(), options, requests), expected);
    // A step was queued before the tokens of the one before it were read.
    EXPECT_EQ(overlapped.max_outstanding(), 2);
    requests[1].params.stop_token_ids.clear();
  }
}

TEST(StepRunnerTest, AutoSamplesOnTheHostForCpuBackends) {
  auto backend = backend::MakeCpuBackend({.num_threads = 1});
  auto model = Load(backend.get());
  models::KvCache kv = model->AllocateKvCache(4, 4);
  StepRunner runner(model.get(), &kv, {.max_blocks_per_seq = 4});
  sampling::Sampler s(sampling::SamplingParams{});
  std::vector<sampling::Sampler*> samplers = {&s};
  EXPECT_FALSE(runner.CanSampleOnDevice(samplers));
}

}  // namespace
}  // namespace brisk::engine
