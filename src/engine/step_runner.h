// StepRunner: one engine step's forward pass and sampling on the model's backend.
//
// Decode-only steps (one new token per sequence, every row sampled) of up to max_graph_batch
// sequences replay a graph recorded per batch-size bucket (1, 2, 4, 8, then multiples of 8):
// the step's index tensors are padded to the bucket and copied into fixed device buffers with
// one copy, and the recorded ops run again on them, which removes the per-op launch and
// allocation cost of the host (CUDA graphs on the GPU). Pad rows write no KV (slot -1) and
// their logits are never read. Other steps (prefill chunks, mixed batches) run op by op.
// Sampling runs on the device (Backend::SampleTokens) when every row allows it; otherwise the
// caller takes the logits to the host and samples there.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "models/decoder_model.h"
#include "sampling/sampler.h"
#include "tensor/tensor.h"

namespace brisk::engine {

// The largest decode batch the engines record a graph for: each graph keeps its own scratch
// memory, and past a few hundred rows a step's kernels dwarf its launch cost anyway.
inline constexpr int kMaxDecodeGraphBatch = 256;

struct StepRunnerOptions {
  // Replay decode steps from recorded graphs where the backend can record them.
  bool use_graphs = true;
  // The largest decode batch replayed from a graph; larger batches run op by op.
  int max_graph_batch = 64;
  // Block-table width of the graphs' input (ceil(max context / block_size)); a step whose
  // tables are wider runs op by op.
  int max_blocks_per_seq = 0;
  // Where tokens may be sampled: kAuto on the device for GPU backends (the host's Sampler is the
  // reference, and on a CPU backend no faster); kAlways also on CPU backends (tests).
  enum class DeviceSampling { kAuto, kAlways, kNever };
  DeviceSampling device_sampling = DeviceSampling::kAuto;
};

class StepRunner {
 public:
  // REQUIRES: `model` and `kv` outlive the runner.
  StepRunner(models::DecoderModel* model, models::KvCache* kv, const StepRunnerOptions& options);

  // Queues the forward pass of one step over host `inputs` (engine::BuildForwardInputs). The
  // logits of inputs.logits_indices stay on the device until the next Forward.
  // With `ids_from_last_sample` the step's token ids are not read from `inputs`: row i takes
  // the token QueueSampleOnDevice drew for row i of the step before, on the device, so this
  // step can be queued before those tokens reach the host.
  // REQUIRES (with ids_from_last_sample): CanFeedSampledTokens(inputs).
  void Forward(const models::ForwardInputs& inputs, bool ids_from_last_sample = false);

  // Whether Forward(next, true) may run now: the call before was QueueSampleOnDevice over as
  // many rows as `next` has, and `next` runs the way that step ran (from the same graph, or op
  // by op), so the sampled ids already sit where `next` reads its ids.
  bool CanFeedSampledTokens(const models::ForwardInputs& next) const;

  // Whether SampleOnDevice can serve these rows: the backend samples on a GPU and no sampler
  // applies penalties (they need the host's token history). Logprobs are the caller's to check.
  bool CanSampleOnDevice(std::span<sampling::Sampler* const> samplers) const;

  // One token per logits row of the last Forward (samplers[i] for row i), drawn on the device.
  // Each sampled (non-greedy) row consumes one uniform of its Sampler, as Sampler::Sample would.
  // Waits for the step. REQUIRES: CanSampleOnDevice(samplers); samplers.size() == the number of
  // logits rows; no queued sampling waits to be taken.
  std::vector<int32_t> SampleOnDevice(std::span<sampling::Sampler* const> samplers);

  // SampleOnDevice without the wait: queues the sampling and the copy of the tokens to the
  // host, which TakeSampledTokens returns later, oldest first. At most two queued samplings
  // wait to be taken at once. REQUIRES: as SampleOnDevice, and at least one logits row.
  void QueueSampleOnDevice(std::span<sampling::Sampler* const> samplers);
  // Waits for the oldest queued sampling and returns its tokens, one per row.
  // REQUIRES: a queued sampling waits to be taken.
  std::vector<int32_t> TakeSampledTokens();

  // The last Forward's logits on the host: [num_logits, vocab] f32 (waits for the step).
  tensor::Tensor HostLogits();

  // Records the graphs of the buckets up to the one holding `up_to_batch` rows now, each by
  // one step of padding rows (no KV written), instead of at each bucket's first decode step.
  // Waits for the device. Does nothing where graphs are off or unsupported.
  void RecordGraphs(int up_to_batch);

  // Decode steps replayed from a graph and graphs recorded so far (for logs and tests).
  int64_t num_graph_steps() const { return num_graph_steps_; }
  int num_graphs() const;

 private:
  struct Bucket {
    int batch = 0;
    models::ForwardInputs inputs;  // views into device_inputs_, laid out for `batch` rows
    std::unique_ptr<backend::OpGraph> graph;  // null until recorded
  };

  // The bucket index for `num_seqs` decode rows, or -1 when the step cannot use a graph.
  int GraphBucket(const models::ForwardInputs& inputs) const;
  // Copies a bucket's inputs to the device: the step's rows (none when `inputs` is null), then
  // padding rows; with `keep_ids` all but the token ids, which the device already holds.
  void StageInputs(const Bucket& bucket, const models::ForwardInputs* inputs,
                   bool keep_ids = false);
  // Runs the staged bucket: replays its graph, or runs it op by op and records it.
  void Execute(Bucket& bucket);
  // Lays out the device views of a bucket of `batch` rows over device_inputs_.
  models::ForwardInputs BucketInputs(int batch) const;

  models::DecoderModel* const model_;
  models::KvCache* const kv_;
  backend::Backend* const backend_;
  const StepRunnerOptions options_;
  const int64_t vocab_;
  bool graphs_supported_ = true;  // false once the backend declined to record

  std::vector<Bucket> buckets_;    // ascending batch
  tensor::Tensor device_inputs_;  // i32, every input of the largest bucket
  tensor::Tensor graph_logits_;   // [max_graph_batch, vocab] f32, the graphs' output
  std::vector<int32_t> staging_;  // host layout of device_inputs_ for one step
  tensor::Tensor logits_;         // [num_logits, vocab] f32 of the last Forward (device)
  int64_t num_graph_steps_ = 0;

  // How the last Forward ran: its graph bucket, or -1 op by op.
  int last_path_ = -1;
  // The ids the last QueueSampleOnDevice wrote (into the graph bucket's token-id input, or
  // sampled_ids_ after an op-by-op step) and how that step ran; fed_path_ is kNoFeed once
  // another Forward or a host sampling followed.
  static constexpr int kNoFeed = -2;
  tensor::Tensor fed_ids_;
  int fed_path_ = kNoFeed;
  tensor::Tensor sampled_ids_;  // i32 device, the sampled ids of op-by-op steps
  // Two readbacks used in turn, so that one step's tokens can travel while the next is queued;
  // made for kReadbackRows rows at construction, remade larger for a larger step.
  static constexpr int kReadbackRows = 1024;
  std::array<std::unique_ptr<backend::HostReadback>, 2> readbacks_;
  std::array<int64_t, 2> readback_bytes_{};  // capacity of each
  int next_readback_ = 0;                    // the one the next QueueSampleOnDevice uses
  int queued_samplings_ = 0;                 // queued and not yet taken (0 .. 2)
};

}  // namespace brisk::engine
