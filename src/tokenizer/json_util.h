// Typed, non-throwing accessors for the tokenizer.json tree, and the "type"-keyed registry
// lookup every component family (normalizers, pre-tokenizers, models, post-processors,
// decoders) uses. `where` strings name the place in the document for error messages, such as
// "tokenizer.json: pre_tokenizer.pretokenizers[1]".
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace brisk::tokenizer {

using Json = nlohmann::json;

// The member `key` of `object` as a string. InvalidArgument when missing or not a string.
absl::StatusOr<std::string> GetString(const Json& object, const char* key,
                                      const std::string& where);

// The member `key` as a string, or nullopt when missing or null. InvalidArgument otherwise.
absl::StatusOr<std::optional<std::string>> GetOptionalString(const Json& object,
                                                             const char* key,
                                                             const std::string& where);

// The member `key` as a bool, `fallback` when missing or null. InvalidArgument otherwise.
absl::StatusOr<bool> GetBool(const Json& object, const char* key, bool fallback,
                             const std::string& where);

// The member `key` as an array. InvalidArgument when missing or not an array.
absl::StatusOr<const Json*> GetArray(const Json& object, const char* key,
                                     const std::string& where);

// `value` as an int32 id. InvalidArgument when not an integer in [0, INT32_MAX].
absl::StatusOr<int32_t> GetId(const Json& value, const std::string& where);

// One entry of a component registry: the JSON "type" name and its factory. A factory receives
// the component's JSON object and its place in the document.
template <typename Component>
struct RegistryEntry {
  using Factory = absl::StatusOr<std::unique_ptr<Component>> (*)(const Json& config,
                                                                   const std::string& where);
  std::string_view type;
  Factory make;
};

// Builds the component whose "type" is named in `config` from `registry`. Returns
// InvalidArgument when `config` is not an object with a string "type", and Unimplemented,
// naming the type and the supported ones, when no entry matches.
template <typename Component>
absl::StatusOr<std::unique_ptr<Component>> MakeFromRegistry(
    std::span<const RegistryEntry<Component>> registry, const std::string& family,
    const Json& config, const std::string& where) {
  if (!config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", family, " must be an object"));
  }
  BRISK_ASSIGN_OR_RETURN(std::string type, GetString(config, "type", where));
  std::string supported;
  for (const RegistryEntry<Component>& entry : registry) {
    if (entry.type == type) return entry.make(config, where);
    absl::StrAppend(&supported, supported.empty() ? "" : ", ", std::string(entry.type));
  }
  return absl::UnimplementedError(absl::StrCat(where, ": ", family, " type '", type,
                                               "' is not supported (supported: ",
                                               supported.empty() ? "none" : supported, ")"));
}

}  // namespace brisk::tokenizer
