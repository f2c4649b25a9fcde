// The Backend interface: everything above backend/ runs ops through it and never includes a
// device header. A Backend owns its memory and (on GPUs) its streams; each method runs one op
// on tensors that live on the backend's device.
//
// Conventions shared by every op:
// - Activations are f32. Weights may be f32, bf16 or f16 where an op says so; small 1-D weights
//   (norm scales, biases) are converted to f32 at load time by the model.
// - Index tensors (token ids, positions, block tables, slot mappings) are i32.
// - Shapes are checked with BRISK_CHECK: a mismatch between our own tensors is our bug.
// - Ops are synchronous on the CPU; a GPU backend may queue them on its stream.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "tensor/tensor.h"

namespace brisk::backend {

using tensor::DType;
using tensor::Tensor;

// Every op the models use. The conformance harness enumerates kAllOps, so adding an op here
// without a conformance case fails a test.
enum class OpId {
  kEmbedding,
  kMatMul,
  kRmsNorm,
  kAddRmsNorm,
  kRope,
  kSiluMul,
  kAdd,
  kWriteKvCache,
  kPagedAttention,
  kLayerNorm,
  kGelu,
  kEncoderAttention,
  kQkvRopeWriteKv,
  kSampleTokens,
  kFusedMatMul,
  kSwiGluMlp,
  kQkvRopeAttention,
};
inline constexpr std::array<OpId, 17> kAllOps = {
    OpId::kEmbedding,      OpId::kMatMul,         OpId::kRmsNorm,      OpId::kAddRmsNorm,
    OpId::kRope,           OpId::kSiluMul,        OpId::kAdd,          OpId::kWriteKvCache,
    OpId::kPagedAttention, OpId::kLayerNorm,      OpId::kGelu,         OpId::kEncoderAttention,
    OpId::kQkvRopeWriteKv, OpId::kSampleTokens,   OpId::kFusedMatMul,  OpId::kSwiGluMlp,
    OpId::kQkvRopeAttention,
};
std::string_view OpName(OpId op);

// Describes how the flattened tokens of a batch map onto sequences and KV-cache blocks.
// Sequence i owns query rows [query_start_loc[i], query_start_loc[i+1]) of q. After this step's
// KV write its cache holds context_lens[i] tokens; query row j of sequence i (0-based) sits at
// position context_lens[i] - num_queries_i + j and attends causally to cache tokens
// [0, position] (further limited by a sliding window).
//
// KV cache layout, per layer (block_size tokens per block):
//   k_cache, v_cache: [num_blocks, block_size, num_kv_heads, head_dim]
//   token t of sequence i lives in block block_tables[i, t / block_size], slot t % block_size.
struct AttentionMetadata {
  Tensor query_start_loc;  // [num_seqs + 1] i32, query_start_loc[0] == 0
  Tensor context_lens;     // [num_seqs] i32
  Tensor block_tables;     // [num_seqs, max_blocks_per_seq] i32
  int max_query_len = 0;   // host copies of the maxima, so kernels can size their launches
  int max_context_len = 0;
};

struct AttentionParams {
  float scale = 1.0f;       // usually 1/sqrt(head_dim)
  int sliding_window = 0;   // 0: full causal; W > 0: key k is visible iff pos - W < k <= pos
};

// What Backend::FusedMatMul applies to its input before the product.
enum class MatMulPrologue {
  kNone,     // x as given: [m, k]
  kRmsNorm,  // RmsNorm(x, norm_weight, eps): x [m, k]
  kSiluMul,  // SiluMul(x): x [m, 2k], gate columns then up columns
};

struct FusedMatMulParams {
  MatMulPrologue prologue = MatMulPrologue::kNone;
  const Tensor* norm_weight = nullptr;  // kRmsNorm: [k] f32
  float eps = 0.0f;                     // kRmsNorm
  bool accumulate = false;              // y += the product (y is read) instead of y = it
};

// A sequence of ops recorded once (Backend::Record) and run again on the same buffers, with
// whatever those buffers hold when Replay is called: a CUDA graph on the GPU.
class OpGraph {
 public:
  virtual ~OpGraph() = default;
  // Queues every recorded op again, in order, on the backend that recorded them.
  virtual void Replay() = 0;
};

// A copy of a small device tensor to the host that the host collects later, so that it can go
// on queuing work meanwhile: Queue returns at once and the copy runs behind the work queued
// before it; Wait blocks until that copy is done. One copy at a time per object.
class HostReadback {
 public:
  virtual ~HostReadback() = default;
  // Queues a copy of `src` (a tensor of the backend's device) behind the work queued so far.
  // REQUIRES: no copy pending (Wait called since the last Queue); src.size_bytes() is at most
  // the capacity the object was made with.
  virtual void Queue(const Tensor& src) = 0;
  // Waits for the queued copy and returns it: a host tensor of src's dtype and shape, valid
  // until the next Queue. REQUIRES: a copy was queued.
  virtual Tensor Wait() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  virtual tensor::Device device() const = 0;

  // Whether this backend runs `op` with weights of `weight_dtype` (for ops without weights the
  // dtype is ignored). Callers check before running; unsupported combinations are refused at
  // load time, never at run time.
  virtual bool Supports(OpId op, DType weight_dtype) const = 0;

  // Allocates a zero-filled tensor on this backend's device. The CPU default is host memory.
  virtual Tensor Allocate(DType dtype, tensor::Shape shape) { return Tensor::Empty(dtype, std::move(shape)); }

  // Allocates a tensor whose contents are unspecified: for outputs an op overwrites whole.
  virtual Tensor AllocateScratch(DType dtype, tensor::Shape shape) {
    return Allocate(dtype, std::move(shape));
  }

  // Copies the host tensor `host` into `dst`, a tensor of this backend's device with the same
  // dtype and number of elements, queued in order with the ops. `host` may be released or
  // rewritten as soon as this returns. The CPU default copies at once.
  virtual void CopyToDevice(const Tensor& host, Tensor* dst);

  // Stacks the rows of host matrices of one dtype and column count into one device tensor:
  // [sum of rows, cols], parts in order. Loads fused projections (QKV, gate and up). The
  // default builds the host matrix and calls ToDevice.
  virtual Tensor ConcatRowsToDevice(std::span<const Tensor> host_parts);

  // The shape [sum of rows, cols] of ConcatRowsToDevice's result; checks that the parts are
  // host matrices of one dtype and column count (at least one part).
  static tensor::Shape ConcatRowsShape(std::span<const Tensor> host_parts);

  // Records the ops that `record` queues, without running them, into a graph that Replay runs
  // again; nullptr where the backend cannot record (the CPU backends run ops at once). Tensors
  // allocated inside `record` and released before it returns are the graph's own scratch;
  // every other tensor the ops touch must outlive the graph. Nothing inside `record` may wait
  // for the device (ToHost, Synchronize) or allocate memory that outlives it.
  virtual std::unique_ptr<OpGraph> Record(const std::function<void()>& record) { return nullptr; }
  // Whether Record returns graphs.
  virtual bool CanRecord() const { return false; }

  // Returns a tensor on this backend's device with the contents of `host` (any dtype). A GPU
  // backend allocates and queues the copy; `host` may be released as soon as this returns. The
  // CPU default returns `host` itself, sharing storage: an in-place op then writes into it.
  // REQUIRES: host.device() == Device::kCpu.
  virtual Tensor ToDevice(const Tensor& host) { return host; }

  // Returns a host tensor with the contents of `t` (a tensor of this backend's device or a host
  // tensor), waiting for every op queued before the call. The CPU default returns `t` itself.
  virtual Tensor ToHost(const Tensor& t) { return t; }

  // Blocks until every op queued on this backend has finished. A no-op where ops are synchronous.
  virtual void Synchronize() {}

  // A HostReadback for copies of up to `capacity_bytes`. The default copies through ToHost at
  // Queue (right for backends whose ops run at once); a GPU backend copies into page-locked
  // host memory behind the queued work.
  virtual std::unique_ptr<HostReadback> NewHostReadback(int64_t capacity_bytes);

  // out[t, :] = f32(table[ids[t], :]).
  // table: [vocab, hidden] f32/bf16/f16; ids: [num_tokens] i32 in [0, vocab); out: [num_tokens, hidden]
  virtual void Embedding(const Tensor& table, const Tensor& ids, Tensor* out) = 0;

  // y = x · wᵀ (+ bias).
  // x: [m, k] f32; w: [n, k] f32/bf16/f16; bias: [n] f32 or nullptr; y: [m, n] f32
  virtual void MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) = 0;

  // A MatMul with the ops a decoder layer runs around its projections, in one op:
  //   x' = the prologue of x (FusedMatMulParams), t = x' · wᵀ (+ bias), then y = t, or y += t
  //   with params.accumulate (the residual stream's add).
  // The same values as running RmsNorm / SiluMul, MatMul and Add one after another, up to the
  // order of f32 sums (including whether the bias or y's old value is added first); the
  // default does exactly that. A backend overrides it where fusing saves
  // launches and passes over memory (a decode step's few rows).
  // x: [m, k] f32 ([m, 2k] for kSiluMul); w, bias as in MatMul; y: [m, n] f32, not aliasing x.
  virtual void FusedMatMul(const Tensor& x, const Tensor& w, const Tensor* bias,
                           const FusedMatMulParams& params, Tensor* y);

  // The SwiGLU MLP block of a pre-norm decoder layer, on the residual stream:
  //   gate_up = RmsNorm(residual, norm_weight, eps) · gate_upᵀ (+ gate_up_bias)
  //   residual += SiluMul(gate_up) · downᵀ (+ down_bias)
  // The default runs the two FusedMatMuls, gate_up in f32. A backend whose products round
  // their activations to a narrower format may also hold gate_up in it between the products
  // (one more rounding of each gate and up value than the default, in exchange for half the
  // bytes of the layer's largest activation).
  // residual: [m, hidden] f32; norm_weight: [hidden] f32; gate_up: [2 * inter, hidden] and
  // down: [hidden, inter], f32/bf16/f16; gate_up_bias: [2 * inter], down_bias: [hidden], f32
  // or nullptr.
  virtual void SwiGluMlp(Tensor* residual, const Tensor& norm_weight, float eps,
                         const Tensor& gate_up, const Tensor* gate_up_bias, const Tensor& down,
                         const Tensor* down_bias);

  // out = x / sqrt(mean(x², last dim) + eps) * weight. out may alias x.
  // x, out: [rows, dim] f32; weight: [dim] f32
  virtual void RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor* out) = 0;

  // residual += x, then out = RmsNorm(residual). residual, x, out: [rows, dim]; weight: [dim]
  virtual void AddRmsNorm(Tensor* residual, const Tensor& x, const Tensor& weight, float eps,
                          Tensor* out) = 0;

  // Rotates the first rotary_dim features of every head in place, Hugging Face "rotate_half"
  // pairing (feature i with i + rotary_dim/2):
  //   x'[i] = x[i]·cos − x[i+h]·sin,  x'[i+h] = x[i+h]·cos + x[i]·sin,  h = rotary_dim/2,
  // with cos = cos_sin[pos, i], sin = cos_sin[pos, h + i].
  // x: [num_tokens, num_heads, head_dim] f32; positions: [num_tokens] i32;
  // cos_sin: [max_positions, rotary_dim] f32
  virtual void Rope(Tensor* x, const Tensor& positions, const Tensor& cos_sin) = 0;

  // out = silu(gate) * up, with gate and up the two halves of one fused projection:
  // gate = gate_up[:, :dim], up = gate_up[:, dim:].
  // gate_up: [rows, 2 * dim] f32; out: [rows, dim] f32 (does not alias gate_up)
  virtual void SiluMul(const Tensor& gate_up, Tensor* out) = 0;

  // out = a + b. a, b, out: same shape, f32; out may alias a or b
  virtual void Add(const Tensor& a, const Tensor& b, Tensor* out) = 0;

  // Copies each token's K and V into its cache slot: cache[slot / block_size, slot % block_size].
  // k, v: [num_tokens, num_kv_heads, head_dim] f32; slot_mapping: [num_tokens] i32, -1 = skip;
  // k_cache, v_cache: [num_blocks, block_size, num_kv_heads, head_dim] f32
  virtual void WriteKvCache(const Tensor& k, const Tensor& v, const Tensor& slot_mapping,
                            Tensor* k_cache, Tensor* v_cache) = 0;

  // Causal attention of each query row over its sequence's cached keys and values (see
  // AttentionMetadata). num_heads must be a multiple of num_kv_heads (MHA, GQA, MQA).
  // q, out: [num_tokens, num_heads, head_dim] f32; caches as in WriteKvCache
  virtual void PagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                              const AttentionMetadata& meta, const AttentionParams& params,
                              Tensor* out) = 0;

  // The attention prologue of one decoder layer over a fused QKV projection, in one op:
  //   q = qkv[:, heads 0 .. num_heads), k = the next num_kv_heads heads, v = the last num_kv_heads
  //   (each head head_dim wide); when q_norm / k_norm are given, every q head and k head is first
  //   RMS-normalized over head_dim (as RmsNorm, with eps); q and k are rotated as by Rope; then
  //   k and v are written to their cache slots as by WriteKvCache and q to q_out.
  // num_heads = q_out.dim(1), num_kv_heads = k_cache->dim(2), head_dim = q_out.dim(2).
  // qkv: [num_tokens, (num_heads + 2 * num_kv_heads) * head_dim] f32 (not modified);
  // positions, slot_mapping: [num_tokens] i32 (slot -1 = skip); cos_sin: as in Rope;
  // q_norm, k_norm: [head_dim] f32 or nullptr; q_out: [num_tokens, num_heads, head_dim] f32;
  // k_cache, v_cache: as in WriteKvCache
  virtual void QkvRopeWriteKv(const Tensor& qkv, const Tensor& positions, const Tensor& cos_sin,
                              const Tensor& slot_mapping, const Tensor* q_norm,
                              const Tensor* k_norm, float eps, Tensor* q_out, Tensor* k_cache,
                              Tensor* v_cache) = 0;

  // The attention of one decoder layer from its fused QKV projection, in one op:
  // QkvRopeWriteKv (q into a scratch buffer shaped like `out`) and then PagedAttention of that q
  // over the caches; the default does exactly that. A backend overrides it where the attention
  // can rotate q and the step's own keys as it loads them (a decode step's rows), which saves
  // a kernel and a pass over q; the caches end up as with the default, and `out` matches it up
  // to the order of f32 sums.
  // Arguments as in QkvRopeWriteKv and PagedAttention; out: [num_tokens, num_heads, head_dim] f32
  // (num_heads and head_dim are read from it).
  virtual void QkvRopeAttention(const Tensor& qkv, const Tensor& positions, const Tensor& cos_sin,
                                const Tensor& slot_mapping, const Tensor* q_norm,
                                const Tensor* k_norm, float eps, Tensor* k_cache, Tensor* v_cache,
                                const AttentionMetadata& meta, const AttentionParams& params,
                                Tensor* out);

  // Draws one token per logits row, following sampling::Sampler's steps 3a / 3b without the
  // penalties (sampling/sampler.h): temperature 0 takes the argmax (lowest index on ties);
  // otherwise the row is divided by the temperature, filtered by top-k, then top-p over what
  // top-k kept, then min-p, and the token is found by walking the kept tokens in index order
  // until their cumulative weight exceeds u times the kept total. Ties at a top-k or top-p
  // boundary may keep every tied token, and sums run in a device-specific order, so a draw may
  // differ from the host Sampler's only where u falls within rounding of a CDF step.
  // logits: [rows, vocab] f32 (not modified); params: [rows, 5] f32, per row
  //   {temperature >= 0, top_k >= 0 (0 = off, an integer), top_p in (0, 1], min_p in [0, 1],
  //    u in [0, 1) (ignored when greedy)};
  // ids: [rows] i32
  // REQUIRES: every row has at least one finite logit.
  virtual void SampleTokens(const Tensor& logits, const Tensor& params, Tensor* ids) = 0;

  // Encoder ops (BERT family).

  // out = (x - mean) / sqrt(var + eps) * weight + bias over the last dim (biased variance, as
  // torch.nn.LayerNorm). out may alias x.
  // x, out: [rows, dim] f32; weight, bias: [dim] f32
  virtual void LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                         Tensor* out) = 0;

  // out = gelu(x): exact, x/2 · (1 + erf(x/√2)), or with `tanh_approximation` the tanh form
  // x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))). out may alias x.
  // x, out: any shape, the same, f32
  virtual void Gelu(const Tensor& x, bool tanh_approximation, Tensor* out) = 0;

  // Bidirectional (non-causal) attention within each sequence of a flattened batch: query row t
  // of sequence i attends to every key row of sequence i, rows [seq_starts[i], seq_starts[i+1]).
  // num_heads must be a multiple of num_kv_heads. `max_seq_len` is the host copy of the longest
  // sequence, so kernels can size their launches.
  // q, out: [num_tokens, num_heads, head_dim] f32; k, v: [num_tokens, num_kv_heads, head_dim] f32;
  // seq_starts: [num_seqs + 1] i32, seq_starts[0] == 0, non-decreasing, last == num_tokens
  virtual void EncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& seq_starts, int max_seq_len, float scale,
                                Tensor* out) = 0;
};

}  // namespace brisk::backend
