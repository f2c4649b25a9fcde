// Read-only memory-mapped files. The mapping lives as long as the last MappedFile (or a view
// holding its shared_ptr) does, which is what makes zero-copy tensor views safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace brisk::base {

class MappedFile {
 public:
  // Maps `path` read-only. Returns NotFound / PermissionDenied / Internal with the path and
  // the OS error in the message. An empty file maps to size() == 0 and data() == nullptr.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

// Reads a whole file into a string. NotFound or Internal with the path on failure.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace brisk::base
