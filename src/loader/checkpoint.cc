// Opening single-file and sharded checkpoints, and checked tensor lookup.
#include "loader/checkpoint.h"

#include <exception>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_join.h"
#include "base/mapped_file.h"
#include "nlohmann/json.hpp"

namespace brisk::loader {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// This abseil build keeps its own string_view type; convert at the StrCat boundary.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsRegularFile(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// Shard names come from the index file; keep them inside the checkpoint directory.
bool IsPlainRelativePath(const std::string& name) {
  if (name.empty()) return false;
  fs::path path(name);
  if (path.is_absolute()) return false;
  for (const fs::path& part : path) {
    if (part == "..") return false;
  }
  return true;
}

// Reads weight_map from the index at `index_path` into (tensor name -> shard file name).
absl::StatusOr<std::map<std::string, std::string>> ReadWeightMap(const std::string& index_path) {
  BRISK_ASSIGN_OR_RETURN(std::string text, base::ReadFileToString(index_path));
  auto error = [&index_path](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint index '", index_path, "': ", what));
  };
  std::map<std::string, std::string> weight_map;
  try {
    Json index = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (index.is_discarded()) return error("not valid JSON");
    if (!index.is_object()) return error("not a JSON object");
    auto it = index.find("weight_map");
    if (it == index.end() || !it->is_object()) return error("no 'weight_map' object");
    for (const auto& [name, shard] : it->items()) {
      if (!shard.is_string()) {
        return error(absl::StrCat("weight_map entry for tensor '", name, "' is not a string"));
      }
      const std::string& shard_name = shard.get_ref<const std::string&>();
      if (!IsPlainRelativePath(shard_name)) {
        return error(absl::StrCat("tensor '", name, "' maps to shard '", shard_name,
                                  "', which is not a path inside the checkpoint directory"));
      }
      weight_map[name] = shard_name;
    }
  } catch (const std::exception& e) {
    return error(absl::StrCat("malformed index: ", e.what()));
  }
  if (weight_map.empty()) return error("'weight_map' is empty");
  return weight_map;
}

std::string DTypeList(std::initializer_list<tensor::DType> dtypes) {
  std::vector<absl::string_view> names;
  for (tensor::DType dtype : dtypes) names.push_back(Sv(tensor::DTypeName(dtype)));
  return absl::StrJoin(names, ", ");
}

}  // namespace

absl::StatusOr<Checkpoint> Checkpoint::Open(const std::string& dir) {
  Checkpoint checkpoint;
  checkpoint.dir_ = dir;
  const fs::path single_path = fs::path(dir) / kSingleFileName;
  const fs::path index_path = fs::path(dir) / kIndexFileName;

  if (IsRegularFile(single_path)) {
    BRISK_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(single_path.string()));
    for (const std::string& name : file.TensorNames()) checkpoint.index_.emplace(name, 0);
    checkpoint.files_.push_back(std::move(file));
    return checkpoint;
  }
  if (!IsRegularFile(index_path)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint in '", dir, "': neither ",
                                            Sv(kSingleFileName), " nor ", Sv(kIndexFileName),
                                            " exists there"));
  }

  BRISK_ASSIGN_OR_RETURN(auto weight_map, ReadWeightMap(index_path.string()));
  std::map<std::string, size_t> shard_positions;  // shard file name -> position in files_
  for (const auto& [name, shard_name] : weight_map) {
    auto [it, inserted] = shard_positions.emplace(shard_name, checkpoint.files_.size());
    if (inserted) {
      BRISK_ASSIGN_OR_RETURN(SafetensorsFile file,
                             SafetensorsFile::Open((fs::path(dir) / shard_name).string()));
      checkpoint.files_.push_back(std::move(file));
    }
    const SafetensorsFile& shard = checkpoint.files_[it->second];
    if (!shard.Has(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint index '", index_path.string(), "' lists tensor '", name,
                       "' in shard '", shard.path(), "', which does not contain it"));
    }
    checkpoint.index_.emplace(name, it->second);
  }
  return checkpoint;
}

std::vector<std::string> Checkpoint::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(index_.size());
  for (const auto& [name, position] : index_) names.push_back(name);
  return names;  // std::map iterates in sorted order
}

absl::StatusOr<tensor::Tensor> Checkpoint::Get(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    return absl::NotFoundError(
        absl::StrCat("checkpoint '", dir_, "' has no tensor '", Sv(name), "'"));
  }
  return files_[it->second].Get(name);
}

absl::StatusOr<tensor::Tensor> Checkpoint::Get(
    std::string_view name, const tensor::Shape& shape,
    std::initializer_list<tensor::DType> allowed) const {
  BRISK_CHECK(allowed.size() > 0) << "Get('" << name << "') with no allowed dtypes";
  BRISK_ASSIGN_OR_RETURN(tensor::Tensor tensor, Get(name));
  const std::string& path = files_[index_.find(name)->second].path();
  if (tensor.shape() != shape) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", Sv(name), "' in '", path, "' has shape ",
                     tensor::ShapeToString(tensor.shape()), ", expected ",
                     tensor::ShapeToString(shape)));
  }
  bool dtype_ok = false;
  for (tensor::DType dtype : allowed) dtype_ok = dtype_ok || dtype == tensor.dtype();
  if (!dtype_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", Sv(name), "' in '", path, "' has dtype ",
                     Sv(tensor::DTypeName(tensor.dtype())), ", expected one of: ",
                     DTypeList(allowed)));
  }
  return tensor;
}

}  // namespace brisk::loader
