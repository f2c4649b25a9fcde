// Typed accessors for tokenizer.json (see json_util.h).
#include "tokenizer/json_util.h"

#include <cstdint>
#include <limits>

namespace brisk::tokenizer {
namespace {

const Json* Find(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

absl::Status WrongType(const std::string& where, const char* key, const char* expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": field '", key, "' must be ", expected));
}

}  // namespace

absl::StatusOr<std::string> GetString(const Json& object, const char* key,
                                      const std::string& where) {
  const Json* value = Find(object, key);
  if (value == nullptr || !value->is_string()) return WrongType(where, key, "a string");
  return value->get<std::string>();
}

absl::StatusOr<std::optional<std::string>> GetOptionalString(const Json& object,
                                                             const char* key,
                                                             const std::string& where) {
  const Json* value = Find(object, key);
  if (value == nullptr || value->is_null()) return std::optional<std::string>();
  if (!value->is_string()) return WrongType(where, key, "a string or null");
  return std::optional<std::string>(value->get<std::string>());
}

absl::StatusOr<bool> GetBool(const Json& object, const char* key, bool fallback,
                             const std::string& where) {
  const Json* value = Find(object, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (!value->is_boolean()) return WrongType(where, key, "a boolean");
  return value->get<bool>();
}

absl::StatusOr<const Json*> GetArray(const Json& object, const char* key,
                                     const std::string& where) {
  const Json* value = Find(object, key);
  if (value == nullptr || !value->is_array()) return WrongType(where, key, "an array");
  return value;
}

absl::StatusOr<int32_t> GetId(const Json& value, const std::string& where) {
  if (value.is_number_unsigned()) {
    const auto id = value.get<uint64_t>();
    if (id <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      return static_cast<int32_t>(id);
    }
  } else if (value.is_number_integer()) {
    const auto id = value.get<int64_t>();
    if (id >= 0 && id <= std::numeric_limits<int32_t>::max()) return static_cast<int32_t>(id);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": token id must be an integer in [0, 2^31), got ", value.dump()));
}

}  // namespace brisk::tokenizer
