// config.json -> EncoderConfig and the sentence-transformers folder description ->
// EmbedderLayout. A JSON null counts as an absent field, as in transformers' config classes.
// Third-party exceptions (nlohmann::json) are caught at each public entry point.
#include "loader/encoder_config.h"

#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>
#include <vector>

#include "absl/strings/str_join.h"
#include "base/mapped_file.h"
#include "nlohmann/json.hpp"

namespace brisk::loader {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// This abseil build keeps its own string_view type; convert at the StrCat boundary.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status FieldError(std::string_view source, std::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(Sv(source), ": field '", Sv(key), "' ", what));
}

// The value of `key` in `object`, or null when absent or JSON null.
const Json* Find(const Json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// A positive integer field (integral floats such as 512.0 are accepted: some writers emit every
// number as a float); `fallback` when absent, or an error when the fallback is nullopt.
absl::StatusOr<int> PositiveInt(const Json& object, std::string_view source, std::string_view key,
                                std::optional<int> fallback, int min_value = 1) {
  const Json* value = Find(object, key);
  if (value == nullptr) {
    if (fallback.has_value()) return *fallback;
    return FieldError(source, key, "is required but missing");
  }
  if (value->is_number()) {
    const double d = value->get<double>();
    if (std::floor(d) == d && d >= min_value && d <= std::numeric_limits<int>::max()) {
      return static_cast<int>(d);
    }
  }
  return FieldError(source, key,
                    absl::StrCat("must be an integer >= ", min_value, ", got ", value->dump()));
}

absl::StatusOr<std::optional<std::string>> OptionalString(const Json& object,
                                                          std::string_view source,
                                                          std::string_view key) {
  const Json* value = Find(object, key);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) {
    return FieldError(source, key, absl::StrCat("must be a string, got ", value->dump()));
  }
  return std::optional<std::string>(value->get<std::string>());
}

absl::StatusOr<GeluApproximation> ParseHiddenAct(const Json& root, std::string_view source) {
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> act, OptionalString(root, source, "hidden_act"));
  const std::string name = act.value_or("gelu");
  if (name == "gelu") return GeluApproximation::kNone;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return GeluApproximation::kTanh;
  return FieldError(source, "hidden_act",
                    absl::StrCat("names unsupported activation '", name,
                                 "'; supported: gelu, gelu_new, gelu_pytorch_tanh"));
}

// The newer `dtype` field wins over `torch_dtype`.
absl::StatusOr<std::optional<tensor::DType>> ParseDType(const Json& root, std::string_view source) {
  const std::string_view key = Find(root, "dtype") != nullptr ? "dtype" : "torch_dtype";
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> name, OptionalString(root, source, key));
  if (!name.has_value()) return std::optional<tensor::DType>();
  if (*name == "float32") return std::optional(tensor::DType::kF32);
  if (*name == "bfloat16") return std::optional(tensor::DType::kBF16);
  if (*name == "float16") return std::optional(tensor::DType::kF16);
  return FieldError(source, key, absl::StrCat("names unsupported dtype '", *name,
                                              "'; supported: float32, bfloat16, float16"));
}

absl::Status ParseIdentity(const Json& root, std::string_view source, EncoderConfig& c) {
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> model_type,
                         OptionalString(root, source, "model_type"));
  c.model_type = model_type.value_or("bert");
  if (c.model_type != "bert") {
    return FieldError(source, "model_type",
                      absl::StrCat("is '", c.model_type, "'; only \"bert\" encoders are supported"));
  }
  c.architecture = "BertModel";
  if (const Json* list = Find(root, "architectures"); list != nullptr) {
    if (!list->is_array() || list->empty() || !(*list)[0].is_string()) {
      return FieldError(source, "architectures",
                        absl::StrCat("must be a non-empty list of strings, got ", list->dump()));
    }
    c.architecture = (*list)[0].get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status ParseSizes(const Json& root, std::string_view source, EncoderConfig& c) {
  BRISK_ASSIGN_OR_RETURN(c.vocab_size, PositiveInt(root, source, "vocab_size", std::nullopt));
  BRISK_ASSIGN_OR_RETURN(c.hidden_size, PositiveInt(root, source, "hidden_size", std::nullopt));
  BRISK_ASSIGN_OR_RETURN(c.num_hidden_layers,
                         PositiveInt(root, source, "num_hidden_layers", std::nullopt));
  BRISK_ASSIGN_OR_RETURN(c.num_attention_heads,
                         PositiveInt(root, source, "num_attention_heads", std::nullopt));
  BRISK_ASSIGN_OR_RETURN(c.intermediate_size,
                         PositiveInt(root, source, "intermediate_size", std::nullopt));
  if (c.hidden_size % c.num_attention_heads != 0) {
    return FieldError(source, "hidden_size",
                      absl::StrCat("(", c.hidden_size, ") must be divisible by num_attention_heads (",
                                   c.num_attention_heads, ")"));
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  BRISK_ASSIGN_OR_RETURN(c.max_position_embeddings,
                         PositiveInt(root, source, "max_position_embeddings", 512));
  BRISK_ASSIGN_OR_RETURN(c.type_vocab_size, PositiveInt(root, source, "type_vocab_size", 2));
  BRISK_ASSIGN_OR_RETURN(c.pad_token_id,
                         PositiveInt(root, source, "pad_token_id", 0, /*min_value=*/0));
  if (const Json* eps = Find(root, "layer_norm_eps"); eps != nullptr) {
    if (!eps->is_number() || !(eps->get<double>() > 0) || !std::isfinite(eps->get<double>())) {
      return FieldError(source, "layer_norm_eps",
                        absl::StrCat("must be a positive number, got ", eps->dump()));
    }
    c.layer_norm_eps = eps->get<double>();
  }
  return absl::OkStatus();
}

absl::StatusOr<EncoderConfig> ParseObject(const Json& root, std::string_view source) {
  EncoderConfig c;
  BRISK_RETURN_IF_ERROR(ParseIdentity(root, source, c));
  BRISK_RETURN_IF_ERROR(ParseSizes(root, source, c));
  BRISK_ASSIGN_OR_RETURN(c.hidden_act, ParseHiddenAct(root, source));
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> position_type,
                         OptionalString(root, source, "position_embedding_type"));
  if (position_type.value_or("absolute") != "absolute") {
    return FieldError(source, "position_embedding_type",
                      absl::StrCat("is '", *position_type,
                                   "'; only \"absolute\" position embeddings are supported"));
  }
  BRISK_ASSIGN_OR_RETURN(c.torch_dtype, ParseDType(root, source));
  return c;
}

// Parses `text` as JSON, InvalidArgument naming `source` when it is not.
absl::StatusOr<Json> ParseJson(std::string_view text, std::string_view source) {
  Json root = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(source), ": not valid JSON"));
  }
  return root;
}

// The last dotted component of a sentence-transformers module type, or "" when the type is not
// one of that library's ("sentence_transformers.models.Pooling" -> "Pooling"). The module
// package moved between library versions, so only the first and last components are matched.
std::string_view ModuleKind(std::string_view type) {
  constexpr std::string_view kPackage = "sentence_transformers.";
  if (type.substr(0, kPackage.size()) != kPackage) return "";
  return type.substr(type.rfind('.') + 1);
}

// `path` resolved under `model_dir`; InvalidArgument when it is absolute or climbs out.
absl::StatusOr<std::string> ModulePath(std::string_view source, const std::string& model_dir,
                                       const std::string& path) {
  const fs::path relative(path);
  bool escapes = relative.is_absolute();
  for (const fs::path& part : relative) escapes |= part == "..";
  if (escapes) {
    return absl::InvalidArgumentError(absl::StrCat(
        Sv(source), ": module path '", path, "' must be a subfolder of the model folder"));
  }
  return path.empty() ? model_dir : (fs::path(model_dir) / relative).string();
}

absl::Status ParseModules(const Json& root, std::string_view source, const std::string& model_dir,
                          EmbedderLayout& layout, std::string& pooling_dir) {
  if (!root.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(source), ": must be a JSON list of modules"));
  }
  // The only accepted sequence: Transformer, Pooling, then optionally Normalize.
  const std::vector<std::string_view> expected = {"Transformer", "Pooling", "Normalize"};
  size_t next = 0;
  for (size_t i = 0; i < root.size(); ++i) {
    const Json& module = root[i];
    if (!module.is_object() || Find(module, "type") == nullptr || !module["type"].is_string() ||
        (Find(module, "path") != nullptr && !module["path"].is_string())) {
      return absl::InvalidArgumentError(absl::StrCat(
          Sv(source), ": module ", i, " must be an object with string \"type\" and \"path\", got ",
          module.dump()));
    }
    const std::string type = module["type"].get<std::string>();
    const std::string path = Find(module, "path") ? module["path"].get<std::string>() : "";
    const std::string_view kind = ModuleKind(type);
    if (kind != "Transformer" && kind != "Pooling" && kind != "Normalize") {
      return absl::InvalidArgumentError(absl::StrCat(
          Sv(source), ": module ", i, " has unsupported type '", type,
          "'; supported: sentence_transformers Transformer, Pooling and Normalize"));
    }
    if (next >= expected.size() || kind != expected[next]) {
      return absl::InvalidArgumentError(absl::StrCat(
          Sv(source), ": module ", i, " is ", Sv(kind),
          "; modules must be Transformer, Pooling and optionally Normalize, in that order"));
    }
    ++next;
    BRISK_ASSIGN_OR_RETURN(std::string resolved, ModulePath(source, model_dir, path));
    if (kind == "Transformer") layout.transformer_dir = resolved;
    if (kind == "Pooling") pooling_dir = resolved;
    if (kind == "Normalize") layout.normalize = true;
  }
  if (next < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        Sv(source), ": needs a Transformer module followed by a Pooling module"));
  }
  layout.from_modules_json = true;
  return absl::OkStatus();
}

// sentence-transformers 6 spells the mode as one string: "pooling_mode": "mean".
absl::Status ParsePoolingModeString(const Json& mode, std::string_view source,
                                    EmbedderLayout& layout) {
  if (mode == "cls") {
    layout.pooling = EmbedderPooling::kCls;
  } else if (mode == "mean") {
    layout.pooling = EmbedderPooling::kMean;
  } else {
    return FieldError(source, "pooling_mode",
                      absl::StrCat("is ", mode.dump(), "; supported: \"cls\", \"mean\""));
  }
  return absl::OkStatus();
}

absl::Status ParsePooling(const Json& root, std::string_view source, EmbedderLayout& layout) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(source), ": not a JSON object"));
  }
  for (const char* key : {"word_embedding_dimension", "embedding_dimension"}) {
    if (Find(root, key) != nullptr) {
      BRISK_ASSIGN_OR_RETURN(layout.pooling_dimension, PositiveInt(root, source, key, std::nullopt));
    }
  }
  if (const Json* mode = Find(root, "pooling_mode"); mode != nullptr) {
    return ParsePoolingModeString(*mode, source, layout);
  }
  std::vector<std::string> set;
  for (const auto& [key, value] : root.items()) {
    if (key.rfind("pooling_mode_", 0) != 0 || value.is_null()) continue;
    if (!value.is_boolean()) {
      return FieldError(source, key, absl::StrCat("must be true or false, got ", value.dump()));
    }
    if (value.get<bool>()) set.push_back(key);
  }
  if (set.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        Sv(source), ": exactly one pooling_mode_* flag must be true, got ",
        set.empty() ? "none" : absl::StrJoin(set, ", ")));
  }
  if (set[0] == "pooling_mode_cls_token") {
    layout.pooling = EmbedderPooling::kCls;
  } else if (set[0] == "pooling_mode_mean_tokens") {
    layout.pooling = EmbedderPooling::kMean;
  } else {
    return FieldError(source, set[0],
                      "names an unsupported pooling mode; supported: pooling_mode_cls_token, "
                      "pooling_mode_mean_tokens");
  }
  return absl::OkStatus();
}

// Reads the optional sentence_bert_config.json of the Transformer folder.
absl::Status ReadMaxSeqLength(EmbedderLayout& layout) {
  const std::string path = (fs::path(layout.transformer_dir) / "sentence_bert_config.json").string();
  if (!fs::exists(path)) return absl::OkStatus();
  BRISK_ASSIGN_OR_RETURN(std::string text, base::ReadFileToString(path));
  BRISK_ASSIGN_OR_RETURN(Json root, ParseJson(text, path));
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  if (Find(root, "max_seq_length") != nullptr) {
    BRISK_ASSIGN_OR_RETURN(layout.max_seq_length,
                           PositiveInt(root, path, "max_seq_length", std::nullopt));
  }
  return absl::OkStatus();
}

absl::StatusOr<EmbedderLayout> LoadLayout(const std::string& model_dir) {
  const std::string modules_path = (fs::path(model_dir) / "modules.json").string();
  if (!fs::exists(modules_path)) {
    EmbedderLayout layout;
    layout.transformer_dir = model_dir;
    return layout;
  }
  BRISK_ASSIGN_OR_RETURN(std::string modules_text, base::ReadFileToString(modules_path));
  std::string pooling_dir;
  BRISK_ASSIGN_OR_RETURN(EmbedderLayout layout,
                         ParseModulesJson(modules_text, modules_path, model_dir, &pooling_dir));
  const std::string pooling_path = (fs::path(pooling_dir) / "config.json").string();
  BRISK_ASSIGN_OR_RETURN(std::string pooling_text, base::ReadFileToString(pooling_path));
  BRISK_RETURN_IF_ERROR(ParsePoolingConfig(pooling_text, pooling_path, &layout));
  BRISK_RETURN_IF_ERROR(ReadMaxSeqLength(layout));
  return layout;
}

}  // namespace

absl::StatusOr<EncoderConfig> ParseEncoderConfig(std::string_view json_text,
                                                 std::string_view source_name) {
  try {
    BRISK_ASSIGN_OR_RETURN(Json root, ParseJson(json_text, source_name));
    if (!root.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(Sv(source_name), ": not a JSON object"));
    }
    return ParseObject(root, source_name);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source_name), ": malformed config: ", e.what()));
  }
}

absl::StatusOr<EncoderConfig> LoadEncoderConfig(const std::string& model_dir) {
  const std::string path = (fs::path(model_dir) / "config.json").string();
  BRISK_ASSIGN_OR_RETURN(std::string text, base::ReadFileToString(path));
  return ParseEncoderConfig(text, path);
}

absl::StatusOr<EmbedderLayout> ParseModulesJson(std::string_view json_text,
                                                std::string_view source_name,
                                                const std::string& model_dir,
                                                std::string* pooling_dir) {
  try {
    BRISK_ASSIGN_OR_RETURN(Json root, ParseJson(json_text, source_name));
    EmbedderLayout layout;
    BRISK_RETURN_IF_ERROR(ParseModules(root, source_name, model_dir, layout, *pooling_dir));
    return layout;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source_name), ": malformed modules list: ", e.what()));
  }
}

absl::Status ParsePoolingConfig(std::string_view json_text, std::string_view source_name,
                                EmbedderLayout* layout) {
  try {
    BRISK_ASSIGN_OR_RETURN(Json root, ParseJson(json_text, source_name));
    return ParsePooling(root, source_name, *layout);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source_name), ": malformed pooling config: ", e.what()));
  }
}

absl::StatusOr<EmbedderLayout> LoadEmbedderLayout(const std::string& model_dir) {
  try {
    return LoadLayout(model_dir);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(model_dir, ": reading the model folder: ", e.what()));
  }
}

}  // namespace brisk::loader
