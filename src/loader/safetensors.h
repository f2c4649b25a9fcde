// One .safetensors file, memory-mapped and validated at open, handing out zero-copy tensor views.
//
// Layout on disk:
//   [ u64 little-endian N ][ N bytes of JSON header ][ data ... ]
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, with
// offsets relative to the first data byte; the optional "__metadata__" entry is a string map.
// Invariant after Open: every tensor's byte range lies inside the file and has exactly
// numel * DTypeSize bytes, and its dtype is one brisk supports; nothing is checked lazily.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "tensor/tensor.h"

namespace brisk::loader {

// Where one tensor lives inside its file.
struct SafetensorsEntry {
  tensor::DType dtype = tensor::DType::kF32;
  tensor::Shape shape;
  uint64_t offset_bytes = 0;  // from the start of the file (not of the data section)
  uint64_t size_bytes = 0;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Errors (all naming the path and, where one is involved, the
  // tensor): NotFound / PermissionDenied when the file cannot be opened; InvalidArgument for a
  // file shorter than its 8-byte prefix, a header length past the end of the file, a header
  // that is not a JSON object, a malformed entry, an unsupported dtype (named, e.g. "F8_E4M3"),
  // offsets with end < begin or past the end of the file, or a byte size that is not
  // numel * dtype size. Overlapping tensors are not checked.
  static absl::StatusOr<SafetensorsFile> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  bool Has(std::string_view name) const { return entries_.find(name) != entries_.end(); }
  // Null when absent.
  const SafetensorsEntry* Find(std::string_view name) const;
  // All tensor names, sorted.
  std::vector<std::string> TensorNames() const;
  size_t num_tensors() const { return entries_.size(); }
  // The "__metadata__" map (empty when absent). Non-string values are kept as their JSON text.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // A read-only zero-copy view of `name` that keeps the mapping alive. The memory is mapped
  // PROT_READ: writing through the view crashes. The data pointer is always aligned to the
  // element size: the reference writer lays tensors out that way, and a tensor a writer left
  // misaligned is copied into an owned, aligned tensor instead of viewed.
  // NotFound naming the file and tensor when absent.
  absl::StatusOr<tensor::Tensor> Get(std::string_view name) const;

 private:
  SafetensorsFile() = default;

  // Constant after Open.
  std::shared_ptr<const base::MappedFile> file_;
  std::map<std::string, SafetensorsEntry, std::less<>> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace brisk::loader
