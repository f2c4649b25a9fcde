#include "engine/step_runner.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/check.h"
#include "base/clock.h"
#include "base/logging.h"

namespace brisk::engine {
namespace {

using tensor::DType;
using tensor::Tensor;

// Offsets (in i32 elements) of one bucket's inputs inside the shared device buffer:
// ids, positions, slots, logits indices [batch] each, query_start_loc [batch + 1],
// context_lens [batch], block_tables [batch, width].
struct BucketLayout {
  int64_t batch, width;
  constexpr int64_t ids() const { return 0; }
  int64_t positions() const { return batch; }
  int64_t slots() const { return 2 * batch; }
  int64_t logits() const { return 3 * batch; }
  int64_t query_start() const { return 4 * batch; }
  int64_t context_lens() const { return 5 * batch + 1; }
  int64_t block_tables() const { return 6 * batch + 1; }
  int64_t total() const { return block_tables() + batch * width; }
};

std::vector<int> BucketSizes(int max_batch) {
  std::vector<int> sizes;
  for (int b : {1, 2, 4}) {
    if (b < max_batch) sizes.push_back(b);
  }
  for (int b = 8; b < max_batch; b += 8) sizes.push_back(b);
  if (max_batch > 0) sizes.push_back(max_batch);
  return sizes;
}

}  // namespace

StepRunner::StepRunner(models::DecoderModel* model, models::KvCache* kv,
                       const StepRunnerOptions& options)
    : model_(model),
      kv_(kv),
      backend_(model->backend()),
      options_(options),
      vocab_(model->config().vocab_size) {
  // The tokens' readbacks are made now: page-locked memory can take milliseconds to allocate,
  // which must not land on a request's first step.
  for (size_t i = 0; i < readbacks_.size(); ++i) {
    readback_bytes_[i] = int64_t{kReadbackRows} * static_cast<int64_t>(sizeof(int32_t));
    readbacks_[i] = backend_->NewHostReadback(readback_bytes_[i]);
  }
  graphs_supported_ = options.use_graphs && options.max_graph_batch > 0 &&
                      options.max_blocks_per_seq > 0 && backend_->CanRecord();
  if (!graphs_supported_) return;
  for (int b : BucketSizes(options.max_graph_batch)) {
    Bucket bucket;
    bucket.batch = b;
    buckets_.push_back(std::move(bucket));
  }
  const BucketLayout largest{options.max_graph_batch, options.max_blocks_per_seq};
  device_inputs_ = backend_->Allocate(DType::kI32, {largest.total()});
  graph_logits_ = backend_->AllocateScratch(DType::kF32, {options.max_graph_batch, vocab_});
  staging_.resize(static_cast<size_t>(largest.total()));
  for (Bucket& bucket : buckets_) bucket.inputs = BucketInputs(bucket.batch);
}

int StepRunner::num_graphs() const {
  return static_cast<int>(std::count_if(buckets_.begin(), buckets_.end(),
                                        [](const Bucket& b) { return b.graph != nullptr; }));
}

models::ForwardInputs StepRunner::BucketInputs(int batch) const {
  const BucketLayout l{batch, options_.max_blocks_per_seq};
  auto view = [&](int64_t offset, tensor::Shape shape) {
    return device_inputs_.Slice(offset, offset + tensor::NumElements(shape)).Reshape(shape);
  };
  models::ForwardInputs in;
  in.token_ids = view(l.ids(), {batch});
  in.positions = view(l.positions(), {batch});
  in.slot_mapping = view(l.slots(), {batch});
  in.logits_indices = view(l.logits(), {batch});
  in.attention.query_start_loc = view(l.query_start(), {batch + 1});
  in.attention.context_lens = view(l.context_lens(), {batch});
  in.attention.block_tables = view(l.block_tables(), {batch, l.width});
  in.attention.max_query_len = 1;
  in.attention.max_context_len = static_cast<int>(l.width * kv_->block_size);
  return in;
}

int StepRunner::GraphBucket(const models::ForwardInputs& in) const {
  if (!graphs_supported_) return -1;
  const int64_t num_seqs = in.attention.context_lens.dim(0);
  if (num_seqs == 0 || num_seqs > options_.max_graph_batch) return -1;
  if (in.token_ids.dim(0) != num_seqs || in.logits_indices.dim(0) != num_seqs) return -1;
  if (in.attention.max_query_len != 1) return -1;
  if (in.attention.block_tables.dim(1) > options_.max_blocks_per_seq) return -1;
  // One row per sequence, every row sampled: the logits rows must be 0 .. n-1 in order.
  const int32_t* rows = in.logits_indices.data<int32_t>();
  for (int64_t i = 0; i < num_seqs; ++i) {
    if (rows[i] != i) return -1;
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (buckets_[b].batch >= num_seqs) return static_cast<int>(b);
  }
  return -1;
}

void StepRunner::StageInputs(const Bucket& bucket, const models::ForwardInputs* in,
                             bool keep_ids) {
  const int64_t n = in != nullptr ? in->token_ids.dim(0) : 0;
  const int64_t batch = bucket.batch;
  const BucketLayout l{batch, options_.max_blocks_per_seq};
  int32_t* s = staging_.data();
  auto fill = [&](int64_t offset, const Tensor* host, int32_t pad) {
    if (n > 0) {
      std::memcpy(s + offset, host->data<int32_t>(), static_cast<size_t>(n) * sizeof(int32_t));
    }
    std::fill(s + offset + n, s + offset + batch, pad);
  };
  // Pad rows: token 0 at position 0 attending to one cached token of block 0, no KV write.
  fill(l.ids(), n > 0 ? &in->token_ids : nullptr, 0);
  fill(l.positions(), n > 0 ? &in->positions : nullptr, 0);
  fill(l.slots(), n > 0 ? &in->slot_mapping : nullptr, -1);
  fill(l.context_lens(), n > 0 ? &in->attention.context_lens : nullptr, 1);
  for (int64_t i = 0; i < batch; ++i) s[l.logits() + i] = static_cast<int32_t>(i);
  for (int64_t i = 0; i <= batch; ++i) s[l.query_start() + i] = static_cast<int32_t>(i);
  std::fill(s + l.block_tables(), s + l.total(), 0);
  if (n > 0) {
    const int64_t host_width = in->attention.block_tables.dim(1);
    const int32_t* tables = in->attention.block_tables.data<int32_t>();
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(s + l.block_tables() + i * l.width, tables + i * host_width,
                  static_cast<size_t>(host_width) * sizeof(int32_t));
    }
  }
  // The ids come first in the layout, so keeping them leaves one contiguous copy.
  static_assert(BucketLayout{1, 1}.ids() == 0);
  const int64_t first = keep_ids ? l.positions() : 0;
  const Tensor host = Tensor::View(DType::kI32, {l.total() - first}, s + first, nullptr);
  Tensor device = device_inputs_.Slice(first, l.total());
  backend_->CopyToDevice(host, &device);
}

void StepRunner::Execute(Bucket& bucket) {
  Tensor logits = graph_logits_.Slice(0, bucket.batch);
  if (bucket.graph != nullptr) {
    bucket.graph->Replay();
    ++num_graph_steps_;
    return;
  }
  // The first step of this size runs op by op, which also sizes every workspace the ops keep,
  // then the same ops are recorded (recording runs nothing).
  model_->ForwardOnDevice(bucket.inputs, *kv_, &logits);
  // The recording may be run again by Replay: it captures nothing local by reference.
  bucket.graph = backend_->Record([this, &bucket, logits]() mutable {
    model_->ForwardOnDevice(bucket.inputs, *kv_, &logits);
  });
  if (bucket.graph == nullptr) {
    graphs_supported_ = false;
  } else {
    BRISK_LOG(kDebug) << "step runner: recorded the decode graph of batch " << bucket.batch;
  }
}

void StepRunner::RecordGraphs(int up_to_batch) {
  if (!graphs_supported_) return;
  fed_path_ = kNoFeed;  // the padding steps rewrite the buckets' token ids
  base::Stopwatch clock;
  int recorded = 0;
  for (Bucket& bucket : buckets_) {
    if (bucket.graph == nullptr) {
      // Rows of padding only: the step writes no KV and its logits are dropped.
      StageInputs(bucket, nullptr);
      Execute(bucket);
      if (!graphs_supported_) return;
      ++recorded;
    }
    if (bucket.batch >= up_to_batch) break;
  }
  backend_->Synchronize();
  if (recorded > 0) {
    BRISK_LOG(kInfo) << "step runner: recorded " << recorded << " decode graphs (batch up to "
                     << std::min(up_to_batch, options_.max_graph_batch) << ") in "
                     << clock.ElapsedMillis() << " ms";
  }
}

bool StepRunner::CanFeedSampledTokens(const models::ForwardInputs& next) const {
  return fed_path_ != kNoFeed && fed_ids_.dim(0) == next.token_ids.dim(0) &&
         GraphBucket(next) == fed_path_;
}

void StepRunner::Forward(const models::ForwardInputs& inputs, bool ids_from_last_sample) {
  const int bucket = GraphBucket(inputs);
  BRISK_CHECK(!ids_from_last_sample || CanFeedSampledTokens(inputs))
      << "a step of " << inputs.token_ids.dim(0) << " rows cannot take its ids from the last "
      << "sampling";
  fed_path_ = kNoFeed;
  last_path_ = bucket;
  if (bucket >= 0) {
    Bucket& b = buckets_[static_cast<size_t>(bucket)];
    StageInputs(b, &inputs, ids_from_last_sample);
    Execute(b);
    logits_ = graph_logits_.Slice(0, inputs.token_ids.dim(0));
    return;
  }
  models::ForwardInputs device = models::InputsToDevice(inputs, *backend_);
  if (ids_from_last_sample) device.token_ids = fed_ids_;
  logits_ = backend_->AllocateScratch(DType::kF32, {inputs.logits_indices.dim(0), vocab_});
  model_->ForwardOnDevice(device, *kv_, &logits_);
}

bool StepRunner::CanSampleOnDevice(std::span<sampling::Sampler* const> samplers) const {
  using DeviceSampling = StepRunnerOptions::DeviceSampling;
  const bool wanted = options_.device_sampling == DeviceSampling::kAlways ||
                      (options_.device_sampling == DeviceSampling::kAuto &&
                       backend_->device() != tensor::Device::kCpu);
  if (!wanted || !backend_->Supports(backend::OpId::kSampleTokens, DType::kF32)) return false;
  return std::none_of(samplers.begin(), samplers.end(),
                      [](const sampling::Sampler* s) { return s->PenaltiesActive(); });
}

std::vector<int32_t> StepRunner::SampleOnDevice(std::span<sampling::Sampler* const> samplers) {
  BRISK_CHECK_EQ(queued_samplings_, 0) << "SampleOnDevice while queued samplings wait";
  if (samplers.empty()) {
    BRISK_CHECK_EQ(logits_.dim(0), 0) << "one sampler per logits row";
    fed_path_ = kNoFeed;
    return {};
  }
  QueueSampleOnDevice(samplers);
  return TakeSampledTokens();
}

void StepRunner::QueueSampleOnDevice(std::span<sampling::Sampler* const> samplers) {
  const int64_t rows = static_cast<int64_t>(samplers.size());
  BRISK_CHECK_EQ(rows, logits_.dim(0)) << "one sampler per logits row";
  BRISK_CHECK_GT(rows, 0) << "a sampling of no rows";
  BRISK_CHECK_LT(queued_samplings_, 2) << "two queued samplings already wait to be taken";
  Tensor params = Tensor::Empty(DType::kF32, {rows, 5});
  float* p = params.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    const sampling::SamplingParams& sp = samplers[r]->params();
    p[5 * r + 0] = sp.temperature;
    p[5 * r + 1] = static_cast<float>(sp.top_k);
    p[5 * r + 2] = sp.top_p;
    p[5 * r + 3] = sp.min_p;
    // A greedy step draws nothing, as in Sampler::Sample. Rounding to f32 must stay below 1.
    const float u = sp.temperature > 0.0f ? static_cast<float>(samplers[r]->NextUniform()) : 0.0f;
    p[5 * r + 4] = std::min(u, 0x1.fffffep-1f);
  }
  Tensor device_params = backend_->AllocateScratch(DType::kF32, {rows, 5});
  backend_->CopyToDevice(params, &device_params);
  // The ids land where a fed next step reads its ids: a graph step's own token-id input (the
  // step has read it by now), else a buffer kept across steps.
  Tensor ids;
  if (last_path_ >= 0) {
    ids = buckets_[static_cast<size_t>(last_path_)].inputs.token_ids.Slice(0, rows);
  } else {
    if (sampled_ids_.rank() == 0 || sampled_ids_.dim(0) < rows) {
      sampled_ids_ = backend_->Allocate(DType::kI32, {std::max<int64_t>(rows, 64)});
    }
    ids = sampled_ids_.Slice(0, rows);
  }
  backend_->SampleTokens(logits_, device_params, &ids);
  const int slot = next_readback_;
  const int64_t bytes = rows * static_cast<int64_t>(sizeof(int32_t));
  if (readback_bytes_[slot] < bytes) {  // more rows than any step so far
    readback_bytes_[slot] = bytes;
    readbacks_[slot] = backend_->NewHostReadback(bytes);
  }
  readbacks_[slot]->Queue(ids);
  next_readback_ = 1 - slot;
  ++queued_samplings_;
  fed_ids_ = ids;
  fed_path_ = last_path_;
}

std::vector<int32_t> StepRunner::TakeSampledTokens() {
  BRISK_CHECK_GT(queued_samplings_, 0) << "no queued sampling to take";
  const int oldest = queued_samplings_ == 2 ? next_readback_ : 1 - next_readback_;
  const Tensor host = readbacks_[oldest]->Wait();
  --queued_samplings_;
  const int32_t* ids = host.data<int32_t>();
  return std::vector<int32_t>(ids, ids + host.numel());
}

Tensor StepRunner::HostLogits() {
  fed_path_ = kNoFeed;
  return backend_->ToHost(logits_);
}

}  // namespace brisk::engine
