// The host-side conveniences of DecoderModel: copying a step's inputs to the device and the
// host-logits Forward that tests and tools use.
#include "models/decoder_model.h"

namespace brisk::models {

namespace {

// A device copy of a host tensor through CopyToDevice, which needs no lifetime tracking of the
// host side (ToDevice may).
tensor::Tensor Copy(const tensor::Tensor& host, backend::Backend& backend) {
  tensor::Tensor device = backend.AllocateScratch(host.dtype(), host.shape());
  backend.CopyToDevice(host, &device);
  return device;
}

}  // namespace

ForwardInputs InputsToDevice(const ForwardInputs& in, backend::Backend& backend) {
  if (backend.device() == tensor::Device::kCpu) return in;  // the CPU backends share them
  ForwardInputs out;
  out.token_ids = Copy(in.token_ids, backend);
  out.positions = Copy(in.positions, backend);
  out.slot_mapping = Copy(in.slot_mapping, backend);
  out.logits_indices = Copy(in.logits_indices, backend);
  out.attention.query_start_loc = Copy(in.attention.query_start_loc, backend);
  out.attention.context_lens = Copy(in.attention.context_lens, backend);
  out.attention.block_tables = Copy(in.attention.block_tables, backend);
  out.attention.max_query_len = in.attention.max_query_len;
  out.attention.max_context_len = in.attention.max_context_len;
  return out;
}

tensor::Tensor DecoderModel::Forward(const ForwardInputs& inputs, KvCache& kv) {
  backend::Backend& b = *backend();
  tensor::Tensor logits =
      b.AllocateScratch(tensor::DType::kF32, {inputs.logits_indices.dim(0), config().vocab_size});
  ForwardOnDevice(InputsToDevice(inputs, b), kv, &logits);
  return b.ToHost(logits);
}

}  // namespace brisk::models
