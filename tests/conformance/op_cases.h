// Conformance cases: one op at one shape and weight dtype, with deterministic inputs, a way to
// run it on any backend, and (for reductions) the naive f32 computation of its outputs.
// Every OpId has exactly one case generator in CaseGenerators(); a test enumerates
// backend::kAllOps against it, so a new op without cases fails.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace brisk::conformance {

using backend::Backend;
using backend::OpId;
using tensor::DType;
using tensor::Tensor;

// How an output is compared with the reference (tolerance.h).
enum class Check {
  kExact,        // copies, gathers, single additions
  kElementwise,  // atol + rtol per dtype
  kReduction,    // at most 2x the naive f32 error
};

// Moves tensors between the host and a backend's device. For CPU backends to_device copies
// (so in-place ops never touch a case's inputs) and to_host is the identity.
struct DeviceIo {
  std::function<Tensor(const Tensor&)> to_device;
  std::function<Tensor(const Tensor&)> to_host;
};
DeviceIo HostIo();

struct OpCase {
  OpId op;
  DType weight_dtype = DType::kF32;  // the dtype passed to Backend::Supports
  std::string name;                  // shape and dtype, e.g. "m5_n13_k7_bf16_bias"
  std::vector<Check> checks;         // one per output, in the order `run` returns them
  // Deterministic host inputs (fixed seed per case).
  std::function<std::vector<Tensor>()> make_inputs;
  // Runs the op on `backend` over device copies of `inputs`, with every output element the
  // op must write poisoned (NaN) first; returns the outputs on the host.
  std::function<std::vector<Tensor>(Backend&, const DeviceIo&, const std::vector<Tensor>&)> run;
  // The outputs computed naively in f32 (one running sum); needed when any check is
  // kReduction, ignored otherwise.
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> naive_f32;
};

struct CaseGenerator {
  OpId op;
  std::function<std::vector<OpCase>()> make_cases;
};

// One generator per op, in kAllOps order.
const std::vector<CaseGenerator>& CaseGenerators();

// Every case of every generator.
const std::vector<OpCase>& AllCases();

// Generators, one per op family file.
std::vector<OpCase> EmbeddingCases();
std::vector<OpCase> MatMulCases();
std::vector<OpCase> RmsNormCases();
std::vector<OpCase> AddRmsNormCases();
std::vector<OpCase> RopeCases();
std::vector<OpCase> SiluMulCases();
std::vector<OpCase> AddCases();
std::vector<OpCase> WriteKvCacheCases();
std::vector<OpCase> PagedAttentionCases();
std::vector<OpCase> LayerNormCases();
std::vector<OpCase> GeluCases();
std::vector<OpCase> EncoderAttentionCases();
std::vector<OpCase> SampleTokensCases();
std::vector<OpCase> QkvRopeWriteKvCases();
std::vector<OpCase> QkvRopeAttentionCases();
std::vector<OpCase> FusedMatMulCases();
std::vector<OpCase> SwiGluMlpCases();

// ---- Helpers for case generators ----

// A generator seeded from the case name, so each case has its own fixed stream.
std::mt19937 RngFor(const std::string& case_name);
// f32 tensor of uniform values in [lo, hi).
Tensor RandomF32(const tensor::Shape& shape, float lo, float hi, std::mt19937* rng);
// Uniform values in [-1, 1) stored as `dtype` (f32, bf16 or f16).
Tensor RandomWeight(DType dtype, const tensor::Shape& shape, std::mt19937* rng);
Tensor I32(const tensor::Shape& shape, const std::vector<int32_t>& values);
// Host copy of `t` (any dtype).
Tensor Clone(const Tensor& t);
// A fresh host f32 tensor filled with NaN.
Tensor Poisoned(const tensor::Shape& shape);
// KV-cache slots for num_tokens tokens, distinct and scattered over all num_slots (a shuffle
// drawn from rng), with tokens 0, skip_stride, 2·skip_stride, ... (mod num_tokens) set to -1
// until num_skipped are.
std::vector<int32_t> ScatteredSlots(int64_t num_slots, int64_t num_tokens, int64_t num_skipped,
                                    int64_t skip_stride, std::mt19937* rng);
// Sets to NaN the slot rows (row_elems floats each) of `cache` named by `slots`; -1 is skipped.
// A cache poisoned where an op must write shows every write the op misses.
void PoisonSlots(const std::vector<int32_t>& slots, int64_t row_elems, Tensor* cache);
// out[r, :] = x[r, :] / sqrt(mean(x²) + eps) · weight, naively in f32 (one running sum).
// x: [rows, dim] f32; weight: [dim] f32.
Tensor NaiveRmsNorm(const Tensor& x, const Tensor& weight, float eps);
// One q or k head through the naive f32 steps: RMS norm (one running sum) when weight is
// given, then rope ("rotate_half" pairs over the first rotary_dim features).
// src, dst: [head_dim]; weight: [head_dim] or nullptr; cos_sin_row: [rotary_dim]
void NaiveHead(const float* src, const float* weight, float eps, int64_t head_dim,
               const float* cos_sin_row, int64_t rotary_dim, float* dst);
// A rope table as models build it: row p holds cos then sin of p · 10000^(-2i / rotary_dim),
// i < rotary_dim / 2. [max_positions, rotary_dim] f32.
Tensor RopeTable(int64_t max_positions, int64_t rotary_dim);
// f32 copy of a weight tensor (widening bf16/f16 exactly).
Tensor WeightToF32(const Tensor& w);
// "bf16" etc.
std::string DTypeTag(DType dtype);

}  // namespace brisk::conformance
