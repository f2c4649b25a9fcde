// A Hugging Face model directory's weights: either one `model.safetensors` or shards listed by
// `model.safetensors.index.json` ({"weight_map": {tensor name: shard file}}). Every file is
// mapped and validated at Open, and every tensor the index names is checked to exist in its
// shard, so lookups afterwards fail only for names the checkpoint does not have.
// A Checkpoint is immutable after Open and safe to read from several threads.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "loader/safetensors.h"
#include "tensor/tensor.h"

namespace brisk::loader {

inline constexpr std::string_view kSingleFileName = "model.safetensors";
inline constexpr std::string_view kIndexFileName = "model.safetensors.index.json";

class Checkpoint {
 public:
  // Opens the weights in `dir`. `model.safetensors` wins when both it and the index exist
  // (the same preference as transformers). Errors: NotFound naming `dir` and both file names
  // when neither exists; InvalidArgument for a malformed index (not JSON, no "weight_map"
  // object, non-string or escaping shard names), for a tensor the index lists but its shard
  // lacks (naming both), and any error of SafetensorsFile::Open.
  static absl::StatusOr<Checkpoint> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  bool Has(std::string_view name) const { return index_.find(name) != index_.end(); }
  // All tensor names, sorted. For a sharded checkpoint these are the index's names.
  std::vector<std::string> TensorNames() const;

  // Zero-copy read-only view (see SafetensorsFile::Get). NotFound naming the checkpoint
  // directory and the tensor when absent.
  absl::StatusOr<tensor::Tensor> Get(std::string_view name) const;

  // As Get(name), and also checks that the shape equals `shape` and the dtype is one of
  // `allowed`. InvalidArgument naming the file, the tensor, and the expected and actual
  // shape or dtype otherwise.
  // REQUIRES: `allowed` is not empty.
  absl::StatusOr<tensor::Tensor> Get(std::string_view name, const tensor::Shape& shape,
                                     std::initializer_list<tensor::DType> allowed) const;

 private:
  Checkpoint() = default;

  // Constant after Open.
  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t, std::less<>> index_;  // tensor name -> position in files_
};

}  // namespace brisk::loader
