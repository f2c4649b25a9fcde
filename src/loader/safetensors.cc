// Parsing and validation of the safetensors header. nlohmann::json is used only with
// non-throwing accessors after explicit type checks; a catch at the boundary turns anything
// it still throws into a Status.
#include "loader/safetensors.h"

#include <cstdint>
#include <cstring>
#include <exception>

#include "nlohmann/json.hpp"

namespace brisk::loader {
namespace {

using Json = nlohmann::json;

// This abseil build keeps its own string_view type; convert at the StrCat boundary.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr size_t kPrefixBytes = 8;  // u64 little-endian header length

absl::Status EntryError(const std::string& path, absl::string_view name, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("safetensors file '", path, "': tensor '", name, "': ", what));
}

uint64_t ReadLittleEndianU64(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// Reads a JSON array of non-negative integers (shape or offsets) into `out`.
bool ReadUnsignedArray(const Json& value, std::vector<uint64_t>* out) {
  if (!value.is_array()) return false;
  out->clear();
  for (const Json& item : value) {
    if (!item.is_number_unsigned()) return false;
    out->push_back(item.get<uint64_t>());
  }
  return true;
}

// Parses one tensor entry. `data_begin` is the file offset of the data section and
// `data_size` its length.
absl::StatusOr<SafetensorsEntry> ParseEntry(const std::string& path, const std::string& name,
                                            const Json& value, uint64_t data_begin,
                                            uint64_t data_size) {
  if (!value.is_object()) return EntryError(path, name, "entry is not a JSON object");
  auto dtype_it = value.find("dtype");
  if (dtype_it == value.end() || !dtype_it->is_string()) {
    return EntryError(path, name, "missing string field 'dtype'");
  }
  const std::string& dtype_name = dtype_it->get_ref<const std::string&>();
  std::optional<tensor::DType> dtype = tensor::ParseSafetensorsDType(dtype_name);
  if (!dtype.has_value()) {
    return EntryError(path, name,
                      absl::StrCat("unsupported dtype '", dtype_name,
                                   "' (supported: F32, BF16, F16, I32, I64)"));
  }

  std::vector<uint64_t> dims;
  auto shape_it = value.find("shape");
  if (shape_it == value.end() || !ReadUnsignedArray(*shape_it, &dims)) {
    return EntryError(path, name, "'shape' must be an array of non-negative integers");
  }
  std::vector<uint64_t> offsets;
  auto offsets_it = value.find("data_offsets");
  if (offsets_it == value.end() || !ReadUnsignedArray(*offsets_it, &offsets) ||
      offsets.size() != 2) {
    return EntryError(path, name, "'data_offsets' must be an array of two non-negative integers");
  }
  const uint64_t begin = offsets[0];
  const uint64_t end = offsets[1];
  const std::string offsets_text = absl::StrCat("data_offsets [", begin, ", ", end, "]");
  if (end < begin) return EntryError(path, name, absl::StrCat(offsets_text, " has end < begin"));
  if (end > data_size) {
    return EntryError(path, name,
                      absl::StrCat(offsets_text, " runs past the end of the data section (",
                                   data_size, " bytes)"));
  }

  SafetensorsEntry entry;
  entry.dtype = *dtype;
  uint64_t expected_bytes = static_cast<uint64_t>(tensor::DTypeSize(*dtype));
  for (uint64_t d : dims) {
    if (d > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_mul_overflow(expected_bytes, d, &expected_bytes)) {
      return EntryError(path, name, "shape is too large");
    }
    entry.shape.push_back(static_cast<int64_t>(d));
  }
  if (end - begin != expected_bytes) {
    return EntryError(path, name,
                      absl::StrCat(offsets_text, " hold ", end - begin, " bytes but dtype ",
                                   dtype_name, " and shape ", tensor::ShapeToString(entry.shape),
                                   " need ", expected_bytes));
  }
  entry.offset_bytes = data_begin + begin;
  entry.size_bytes = expected_bytes;
  return entry;
}

}  // namespace

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  SafetensorsFile result;
  BRISK_ASSIGN_OR_RETURN(result.file_, base::MappedFile::Open(path));
  const size_t file_size = result.file_->size();
  auto file_error = [&path](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors file '", path, "': ", what));
  };
  if (file_size < kPrefixBytes) {
    return file_error(absl::StrCat("file has ", file_size,
                                   " bytes, too short for the 8-byte header length"));
  }
  const uint8_t* bytes = result.file_->data();
  const uint64_t header_size = ReadLittleEndianU64(bytes);
  if (header_size > file_size - kPrefixBytes) {
    return file_error(absl::StrCat("header length ", header_size, " exceeds the ",
                                   file_size - kPrefixBytes, " bytes after the length prefix"));
  }
  const uint64_t data_begin = kPrefixBytes + header_size;
  const uint64_t data_size = file_size - data_begin;

  try {
    const char* header_begin = reinterpret_cast<const char*>(bytes + kPrefixBytes);
    Json header = Json::parse(header_begin, header_begin + header_size, /*cb=*/nullptr,
                              /*allow_exceptions=*/false);
    if (header.is_discarded()) return file_error("header is not valid JSON");
    if (!header.is_object()) return file_error("header is not a JSON object");
    for (const auto& [name, value] : header.items()) {
      if (name == "__metadata__") {
        if (!value.is_object()) return file_error("'__metadata__' is not a JSON object");
        for (const auto& [key, item] : value.items()) {
          result.metadata_[key] = item.is_string() ? item.get<std::string>() : item.dump();
        }
        continue;
      }
      BRISK_ASSIGN_OR_RETURN(SafetensorsEntry entry,
                             ParseEntry(path, name, value, data_begin, data_size));
      result.entries_.emplace(name, std::move(entry));
    }
  } catch (const std::exception& e) {
    return file_error(absl::StrCat("malformed header: ", e.what()));
  }
  return result;
}

const SafetensorsEntry* SafetensorsFile::Find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> SafetensorsFile::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;  // std::map iterates in sorted order
}

absl::StatusOr<tensor::Tensor> SafetensorsFile::Get(std::string_view name) const {
  const SafetensorsEntry* entry = Find(name);
  if (entry == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("safetensors file '", path(), "' has no tensor '", Sv(name), "'"));
  }
  if (entry->size_bytes == 0) {
    return tensor::Tensor::View(entry->dtype, entry->shape, nullptr, file_);
  }
  const uint8_t* data = file_->data() + entry->offset_bytes;
  if (reinterpret_cast<uintptr_t>(data) % tensor::DTypeSize(entry->dtype) != 0) {
    // Reading elements through a misaligned pointer is undefined behaviour; such files are
    // rare (the reference writer keeps alignment), so they pay for one copy.
    tensor::Tensor copy = tensor::Tensor::Empty(entry->dtype, entry->shape);
    std::memcpy(copy.raw(), data, entry->size_bytes);
    return copy;
  }
  // The mapping is read-only; Tensor::View takes a mutable pointer because tensors in general
  // are writable. Views of checkpoints are documented as read-only.
  return tensor::Tensor::View(entry->dtype, entry->shape, const_cast<uint8_t*>(data), file_);
}

}  // namespace brisk::loader
