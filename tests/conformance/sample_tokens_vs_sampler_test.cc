// The reference SampleTokens against the host sampling::Sampler it mirrors: for the same logits,
// parameters and uniform draw, both must pick the same token. The draw is the one the Sampler
// makes itself (mt19937_64 seeded as it is, top 53 bits times 2^-53), rounded to f32 for the
// op's params tensor; that rounding (at most 2^-25 relative) could only matter for a draw that
// close to a CDF step, and the fixed seeds below have none. Random normal logits have no ties at
// the top-k / top-p boundaries, where the two are allowed to differ. The CPU backend, which
// runs the same math row-parallel, is held to the same answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/reference/reference_backend.h"
#include "backend/op_shapes.h"
#include "sampling/sampler.h"

namespace brisk::conformance {
namespace {

using tensor::DType;
using tensor::Tensor;

struct Setting {
  float temperature;
  int top_k;
  float top_p;
  float min_p;
};

constexpr Setting kSettings[] = {
    {1.0f, 0, 1.0f, 0.0f},  {0.5f, 0, 1.0f, 0.0f},   {2.0f, 0, 1.0f, 0.0f},  {1.0f, 1, 1.0f, 0.0f},
    {1.0f, 5, 1.0f, 0.0f},  {0.8f, 50, 1.0f, 0.0f},  {1.0f, 0, 0.1f, 0.0f},  {1.0f, 0, 0.9f, 0.0f},
    {1.0f, 0, 1.0f, 0.05f}, {0.7f, 50, 0.9f, 0.05f}, {1.5f, 40, 0.5f, 0.1f}, {0.0f, 0, 1.0f, 0.0f},
};

// Runs `steps` steps of one Sampler and of the backends on fresh random logits each step, with
// the setting and vocabulary given; returns the distinct tokens drawn.
std::set<int32_t> ExpectSameTokens(const Setting& setting, int64_t vocab, uint64_t seed,
                                   int steps) {
  sampling::SamplingParams sampling_params;
  sampling_params.temperature = setting.temperature;
  sampling_params.top_k = setting.top_k;
  sampling_params.top_p = setting.top_p;
  sampling_params.min_p = setting.min_p;
  sampling_params.seed = seed;
  sampling::Sampler sampler(sampling_params);
  std::set<int32_t> drawn;
  std::mt19937_64 engine(seed);  // the Sampler's own stream, replayed
  std::mt19937 logits_rng(static_cast<uint32_t>(seed * 7919 + vocab));
  std::normal_distribution<float> normal(0.0f, 3.0f);
  backend::ReferenceBackend reference;
  backend::CpuBackend cpu({.num_threads = 2});
  for (int step = 0; step < steps; ++step) {
    Tensor logits = Tensor::Empty(DType::kF32, {1, vocab});
    for (int64_t i = 0; i < vocab; ++i) logits.data<float>()[i] = normal(logits_rng);
    // Greedy steps take no draw from the engine.
    const double u =
        setting.temperature == 0.0f ? 0.0 : static_cast<double>(engine() >> 11) * 0x1.0p-53;
    Tensor params = Tensor::Empty(DType::kF32, {1, backend::kSampleParamsWidth});
    const float row[] = {setting.temperature, static_cast<float>(setting.top_k), setting.top_p,
                         setting.min_p, static_cast<float>(u)};
    std::copy(std::begin(row), std::end(row), params.data<float>());
    if (params.data<float>()[4] >= 1.0f) params.data<float>()[4] = 0.99999994f;  // largest < 1

    std::vector<float> host_row(logits.data<float>(), logits.data<float>() + vocab);
    const int32_t expected = sampler.Sample(host_row, {}, {});
    Tensor ids = Tensor::Empty(DType::kI32, {1});
    reference.SampleTokens(logits, params, &ids);
    EXPECT_EQ(ids.data<int32_t>()[0], expected)
        << "reference, step " << step << " vocab " << vocab << " T=" << setting.temperature
        << " k=" << setting.top_k << " p=" << setting.top_p << " min_p=" << setting.min_p
        << " u=" << u;
    Tensor cpu_ids = Tensor::Empty(DType::kI32, {1});
    cpu.SampleTokens(logits, params, &cpu_ids);
    EXPECT_EQ(cpu_ids.data<int32_t>()[0], expected) << "cpu, step " << step;
    drawn.insert(expected);
  }
  return drawn;
}

TEST(SampleTokensVsSamplerTest, SameTokensForTheSameDraw) {
  uint64_t seed = 1;
  for (const Setting& setting : kSettings) {
    for (int64_t vocab : {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{32000}}) {
      ExpectSameTokens(setting, vocab, seed++, vocab > 1000 ? 4 : 25);
    }
  }
}

// The draw decides: over many steps at a high temperature the two agree on tokens spread over
// most of a small vocabulary, not just on the likeliest ones.
TEST(SampleTokensVsSamplerTest, TokensSpreadOverTheDistribution) {
  const Setting flat{4.0f, 0, 1.0f, 0.0f};
  EXPECT_GE(ExpectSameTokens(flat, 64, 99, 400).size(), 32u);
}

}  // namespace
}  // namespace brisk::conformance
