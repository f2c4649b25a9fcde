// config.json -> DecoderConfig. A JSON null counts as an absent field throughout, as it does in
// transformers' config classes. Defaults follow the transformers config class of each
// architecture; where transformers derives a value (head_dim, layer types from
// use_sliding_window), the derivation is repeated here in one place.
#include "loader/decoder_config.h"

#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>

#include "absl/strings/str_join.h"
#include "base/mapped_file.h"
#include "nlohmann/json.hpp"

namespace brisk::loader {
namespace {

using Json = nlohmann::json;

// This abseil build keeps its own string_view type; convert at the StrCat boundary.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

enum class Family { kLlama, kQwen2, kQwen3, kMistral };

struct ArchitectureInfo {
  std::string_view architecture;
  std::string_view model_type;
  Family family;
  int default_max_position_embeddings;  // the transformers config class default
};

constexpr ArchitectureInfo kArchitectures[] = {
    {"LlamaForCausalLM", "llama", Family::kLlama, 2048},
    {"Qwen2ForCausalLM", "qwen2", Family::kQwen2, 32768},
    {"Qwen3ForCausalLM", "qwen3", Family::kQwen3, 32768},
    {"MistralForCausalLM", "mistral", Family::kMistral, 4096 * 32},
};

// Qwen2/Qwen3 default for the number of bottom layers that keep full attention when
// use_sliding_window is on (transformers Qwen2Config.max_window_layers).
constexpr int kDefaultMaxWindowLayers = 28;

// Typed, checked access to the fields of one JSON object. `prefix` is prepended to field names
// in messages ("rope_scaling." for the nested dict).
class Fields {
 public:
  Fields(const Json& object, std::string_view source, std::string prefix)
      : object_(object), source_(source), prefix_(std::move(prefix)) {}

  // The value of `key`, or null when absent or JSON null.
  const Json* Find(std::string_view key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  absl::Status Error(std::string_view key, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source_), ": field '", prefix_, Sv(key), "' ", what));
  }
  absl::Status TypeError(std::string_view key, absl::string_view expected, const Json& got) const {
    return Error(key, absl::StrCat("must be ", expected, ", got ", got.dump()));
  }

  absl::StatusOr<std::optional<int>> Int(std::string_view key) const {
    const Json* value = Find(key);
    if (value == nullptr) return std::optional<int>();
    // Integral floats (4096.0) are accepted: some writers emit every number as a float.
    if (value->is_number()) {
      double d = value->get<double>();
      if (std::floor(d) == d && d >= std::numeric_limits<int>::min() &&
          d <= std::numeric_limits<int>::max()) {
        return std::optional<int>(static_cast<int>(d));
      }
    }
    return TypeError(key, "an integer in the 32-bit range", *value);
  }

  absl::StatusOr<std::optional<double>> Double(std::string_view key) const {
    const Json* value = Find(key);
    if (value == nullptr) return std::optional<double>();
    if (!value->is_number()) return TypeError(key, "a number", *value);
    return std::optional<double>(value->get<double>());
  }

  absl::StatusOr<std::optional<bool>> Bool(std::string_view key) const {
    const Json* value = Find(key);
    if (value == nullptr) return std::optional<bool>();
    if (!value->is_boolean()) return TypeError(key, "true or false", *value);
    return std::optional<bool>(value->get<bool>());
  }

  absl::StatusOr<std::optional<std::string>> String(std::string_view key) const {
    const Json* value = Find(key);
    if (value == nullptr) return std::optional<std::string>();
    if (!value->is_string()) return TypeError(key, "a string", *value);
    return std::optional<std::string>(value->get<std::string>());
  }

  // A positive integer; `fallback` when absent, or an error naming the field when the
  // fallback is nullopt (the field is required).
  absl::StatusOr<int> PositiveInt(std::string_view key, std::optional<int> fallback) const {
    BRISK_ASSIGN_OR_RETURN(std::optional<int> value, Int(key));
    if (!value.has_value()) {
      if (fallback.has_value()) return *fallback;
      return Error(key, "is required but missing");
    }
    if (*value <= 0) return Error(key, absl::StrCat("must be a positive integer, got ", *value));
    return *value;
  }

  // A number > 0 (when `allow_zero`, >= 0); `fallback` when absent, required when nullopt.
  absl::StatusOr<double> PositiveDouble(std::string_view key, std::optional<double> fallback,
                                        bool allow_zero = false) const {
    BRISK_ASSIGN_OR_RETURN(std::optional<double> value, Double(key));
    if (!value.has_value()) {
      if (fallback.has_value()) return *fallback;
      return Error(key, "is required but missing");
    }
    if (!(allow_zero ? *value >= 0 : *value > 0) || !std::isfinite(*value)) {
      return Error(key, absl::StrCat("must be a ", allow_zero ? "non-negative" : "positive",
                                     " number, got ", *value));
    }
    return *value;
  }

  // An int, a list of ints, or absent (empty).
  absl::StatusOr<std::vector<int>> IntList(std::string_view key) const {
    const Json* value = Find(key);
    std::vector<int> out;
    if (value == nullptr) return out;
    auto take = [&](const Json& item) -> absl::Status {
      if (!item.is_number_integer() || item.get<int64_t>() < 0 ||
          item.get<int64_t>() > std::numeric_limits<int>::max()) {
        return TypeError(key, "a non-negative integer or a list of them", *value);
      }
      out.push_back(static_cast<int>(item.get<int64_t>()));
      return absl::OkStatus();
    };
    if (value->is_array()) {
      for (const Json& item : *value) BRISK_RETURN_IF_ERROR(take(item));
    } else {
      BRISK_RETURN_IF_ERROR(take(*value));
    }
    return out;
  }

 private:
  const Json& object_;
  std::string_view source_;
  std::string prefix_;
};

absl::StatusOr<const ArchitectureInfo*> ParseArchitecture(const Fields& fields) {
  const Json* list = fields.Find("architectures");
  if (list == nullptr) return fields.Error("architectures", "is required but missing");
  if (!list->is_array() || list->empty() || !(*list)[0].is_string()) {
    return fields.TypeError("architectures", "a non-empty list of strings", *list);
  }
  const std::string& name = (*list)[0].get_ref<const std::string&>();
  std::vector<absl::string_view> supported;
  for (const ArchitectureInfo& info : kArchitectures) {
    if (info.architecture == name) return &info;
    supported.push_back(Sv(info.architecture));
  }
  return fields.Error("architectures",
                      absl::StrCat("names unsupported architecture '", name,
                                   "'; supported: ", absl::StrJoin(supported, ", ")));
}

absl::Status ParseSizes(const Fields& fields, const ArchitectureInfo& arch, DecoderConfig& c) {
  BRISK_ASSIGN_OR_RETURN(c.vocab_size, fields.PositiveInt("vocab_size", std::nullopt));
  BRISK_ASSIGN_OR_RETURN(c.hidden_size, fields.PositiveInt("hidden_size", std::nullopt));
  BRISK_ASSIGN_OR_RETURN(c.intermediate_size,
                         fields.PositiveInt("intermediate_size", std::nullopt));
  BRISK_ASSIGN_OR_RETURN(c.num_hidden_layers,
                         fields.PositiveInt("num_hidden_layers", std::nullopt));
  BRISK_ASSIGN_OR_RETURN(c.num_attention_heads,
                         fields.PositiveInt("num_attention_heads", std::nullopt));
  BRISK_ASSIGN_OR_RETURN(c.num_key_value_heads,
                         fields.PositiveInt("num_key_value_heads", c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return fields.Error("num_key_value_heads",
                        absl::StrCat("(", c.num_key_value_heads,
                                     ") must divide num_attention_heads (",
                                     c.num_attention_heads, ")"));
  }
  BRISK_ASSIGN_OR_RETURN(std::optional<int> head_dim, fields.Int("head_dim"));
  if (head_dim.has_value()) {
    BRISK_ASSIGN_OR_RETURN(c.head_dim, fields.PositiveInt("head_dim", std::nullopt));
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      return fields.Error("hidden_size",
                          absl::StrCat("(", c.hidden_size,
                                       ") must be divisible by num_attention_heads (",
                                       c.num_attention_heads, ") when head_dim is not given"));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) {
    return fields.Error("head_dim", absl::StrCat("must be even for rotary embeddings, got ",
                                                 c.head_dim));
  }
  BRISK_ASSIGN_OR_RETURN(c.max_position_embeddings,
                         fields.PositiveInt("max_position_embeddings",
                                            arch.default_max_position_embeddings));
  BRISK_ASSIGN_OR_RETURN(c.rms_norm_eps, fields.PositiveDouble("rms_norm_eps", 1e-6));
  return absl::OkStatus();
}

// Bias and norm switches. transformers' attention modules decide these per architecture:
// Llama applies attention_bias to q, k, v and o and honours mlp_bias; Qwen2 always has q/k/v
// biases and never an o_proj bias; Qwen3 applies attention_bias to q, k, v and o and adds q/k
// norms; Mistral has no biases at all. Fields an architecture ignores are ignored here too.
absl::Status ParseBiases(const Fields& fields, Family family, DecoderConfig& c) {
  BRISK_ASSIGN_OR_RETURN(std::optional<bool> attention_bias, fields.Bool("attention_bias"));
  BRISK_ASSIGN_OR_RETURN(std::optional<bool> mlp_bias, fields.Bool("mlp_bias"));
  switch (family) {
    case Family::kLlama:
      c.attention_bias = c.o_proj_bias = attention_bias.value_or(false);
      c.mlp_bias = mlp_bias.value_or(false);
      break;
    case Family::kQwen2:
      c.attention_bias = true;
      break;
    case Family::kQwen3:
      c.attention_bias = c.o_proj_bias = attention_bias.value_or(false);
      c.qk_norm = true;
      break;
    case Family::kMistral:
      break;
  }
  return absl::OkStatus();
}

absl::StatusOr<RopeType> ParseRopeType(const Fields& fields, std::string_view key,
                                       const std::string& name) {
  if (name == "default") return RopeType::kDefault;
  if (name == "linear") return RopeType::kLinear;
  if (name == "dynamic") return RopeType::kDynamic;
  if (name == "llama3") return RopeType::kLlama3;
  if (name == "yarn") return RopeType::kYarn;
  return fields.Error(key, absl::StrCat("names unsupported rope type '", name,
                                        "'; supported: default, linear, dynamic, llama3, yarn"));
}

// Reads the scaling keys of `rope` (the rope_parameters or rope_scaling dict).
absl::Status ParseRopeScaling(const Fields& rope, RopeConfig& r) {
  switch (r.type) {
    case RopeType::kDefault:
      return absl::OkStatus();
    case RopeType::kLinear:
    case RopeType::kDynamic: {
      BRISK_ASSIGN_OR_RETURN(r.factor, rope.PositiveDouble("factor", std::nullopt));
      BRISK_ASSIGN_OR_RETURN(r.original_max_position_embeddings,
                             rope.PositiveInt("original_max_position_embeddings", 0));
      return absl::OkStatus();
    }
    case RopeType::kLlama3: {
      BRISK_ASSIGN_OR_RETURN(r.factor, rope.PositiveDouble("factor", std::nullopt));
      BRISK_ASSIGN_OR_RETURN(r.low_freq_factor,
                             rope.PositiveDouble("low_freq_factor", std::nullopt));
      BRISK_ASSIGN_OR_RETURN(r.high_freq_factor,
                             rope.PositiveDouble("high_freq_factor", std::nullopt));
      BRISK_ASSIGN_OR_RETURN(r.original_max_position_embeddings,
                             rope.PositiveInt("original_max_position_embeddings", std::nullopt));
      if (r.high_freq_factor <= r.low_freq_factor) {
        return rope.Error("high_freq_factor",
                          absl::StrCat("(", r.high_freq_factor,
                                       ") must be greater than low_freq_factor (",
                                       r.low_freq_factor, ")"));
      }
      return absl::OkStatus();
    }
    case RopeType::kYarn: {
      BRISK_ASSIGN_OR_RETURN(r.factor, rope.PositiveDouble("factor", std::nullopt));
      BRISK_ASSIGN_OR_RETURN(r.original_max_position_embeddings,
                             rope.PositiveInt("original_max_position_embeddings", 0));
      BRISK_ASSIGN_OR_RETURN(r.beta_fast, rope.PositiveDouble("beta_fast", 32.0));
      BRISK_ASSIGN_OR_RETURN(r.beta_slow, rope.PositiveDouble("beta_slow", 1.0));
      BRISK_ASSIGN_OR_RETURN(r.mscale, rope.PositiveDouble("mscale", 0.0, /*allow_zero=*/true));
      BRISK_ASSIGN_OR_RETURN(r.mscale_all_dim,
                             rope.PositiveDouble("mscale_all_dim", 0.0, /*allow_zero=*/true));
      BRISK_ASSIGN_OR_RETURN(r.attention_factor,
                             rope.PositiveDouble("attention_factor", 0.0, /*allow_zero=*/true));
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

// Two spellings: the current `rope_parameters` dict (rope_type, rope_theta and scaling keys
// together), and the older top-level `rope_theta` with an optional `rope_scaling` dict whose
// type key is `rope_type` or the legacy `type`. rope_parameters wins when both are present.
absl::Status ParseRope(const Fields& top, std::string_view source, int head_dim, RopeConfig& r) {
  const Json* dict = top.Find("rope_parameters");
  std::string dict_name = "rope_parameters";
  if (dict == nullptr) {
    dict = top.Find("rope_scaling");
    dict_name = "rope_scaling";
  }
  if (dict != nullptr && !dict->is_object()) return top.TypeError(dict_name, "an object", *dict);
  static const Json kEmpty = Json::object();
  const Fields rope(dict != nullptr ? *dict : kEmpty, source, dict_name + ".");

  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> type_name, rope.String("rope_type"));
  std::string type_key = "rope_type";
  if (!type_name.has_value()) {
    BRISK_ASSIGN_OR_RETURN(type_name, rope.String("type"));
    type_key = "type";
  }
  BRISK_ASSIGN_OR_RETURN(r.type, ParseRopeType(rope, type_key, type_name.value_or("default")));

  BRISK_ASSIGN_OR_RETURN(r.theta, top.PositiveDouble("rope_theta", 10000.0));
  if (rope.Find("rope_theta") != nullptr) {
    BRISK_ASSIGN_OR_RETURN(r.theta, rope.PositiveDouble("rope_theta", std::nullopt));
  }
  BRISK_RETURN_IF_ERROR(ParseRopeScaling(rope, r));

  BRISK_ASSIGN_OR_RETURN(r.partial_rotary_factor,
                         top.PositiveDouble("partial_rotary_factor", 1.0));
  const Fields* factor_source = &top;
  if (rope.Find("partial_rotary_factor") != nullptr) {
    BRISK_ASSIGN_OR_RETURN(r.partial_rotary_factor,
                           rope.PositiveDouble("partial_rotary_factor", std::nullopt));
    factor_source = &rope;
  }
  if (r.partial_rotary_factor > 1.0) {
    return factor_source->Error("partial_rotary_factor",
                                absl::StrCat("must be in (0, 1], got ", r.partial_rotary_factor));
  }
  const int rotary_dim = static_cast<int>(head_dim * r.partial_rotary_factor);
  if (rotary_dim < 2 || rotary_dim % 2 != 0) {
    return factor_source->Error(
        "partial_rotary_factor",
        absl::StrCat("(", r.partial_rotary_factor, ") times head_dim (", head_dim,
                     ") gives rotary dimension ", rotary_dim, ", which must be even and >= 2"));
  }
  return absl::OkStatus();
}

// Per-layer windows. An explicit `layer_types` list decides; otherwise Mistral windows every
// layer when `sliding_window` is set, and Qwen2/Qwen3 window the layers from
// `max_window_layers` upwards when `use_sliding_window` is true.
absl::Status ParseSlidingWindow(const Fields& fields, Family family, DecoderConfig& c) {
  BRISK_ASSIGN_OR_RETURN(std::optional<int> window, fields.Int("sliding_window"));
  const bool qwen = family == Family::kQwen2 || family == Family::kQwen3;
  if (qwen) {  // transformers drops the window of Qwen configs without use_sliding_window
    BRISK_ASSIGN_OR_RETURN(std::optional<bool> use_window, fields.Bool("use_sliding_window"));
    if (!use_window.value_or(false)) window.reset();
  }
  if (window.has_value() && *window <= 0) {
    return fields.Error("sliding_window", absl::StrCat("must be a positive integer, got ",
                                                       *window));
  }
  const int num_layers = c.num_hidden_layers;
  c.sliding_window.assign(num_layers, 0);

  if (const Json* types = fields.Find("layer_types"); types != nullptr) {
    if (!types->is_array() || static_cast<int>(types->size()) != num_layers) {
      return fields.TypeError(
          "layer_types", absl::StrCat("a list of ", num_layers, " layer type strings"), *types);
    }
    for (int layer_idx = 0; layer_idx < num_layers; ++layer_idx) {
      const Json& type = (*types)[layer_idx];
      if (type == "full_attention") continue;
      if (type != "sliding_attention") {
        return fields.Error("layer_types",
                            absl::StrCat("entry ", layer_idx, " is ", type.dump(),
                                         "; expected \"full_attention\" or "
                                         "\"sliding_attention\""));
      }
      if (!window.has_value()) {
        return fields.Error("layer_types",
                            absl::StrCat("entry ", layer_idx,
                                         " is \"sliding_attention\" but no sliding_window is in "
                                         "effect",
                                         qwen ? " (Qwen needs use_sliding_window: true)" : ""));
      }
      c.sliding_window[layer_idx] = *window;
    }
    return absl::OkStatus();
  }
  if (!window.has_value()) return absl::OkStatus();
  int first_windowed_layer = 0;
  switch (family) {
    case Family::kLlama:  // Llama has no sliding window without layer_types
      return absl::OkStatus();
    case Family::kMistral:
      break;
    case Family::kQwen2:
    case Family::kQwen3: {
      BRISK_ASSIGN_OR_RETURN(std::optional<int> max_window_layers,
                             fields.Int("max_window_layers"));
      first_windowed_layer = max_window_layers.value_or(kDefaultMaxWindowLayers);
      if (first_windowed_layer < 0) {
        return fields.Error("max_window_layers",
                            absl::StrCat("must be non-negative, got ", first_windowed_layer));
      }
      break;
    }
  }
  for (int layer_idx = first_windowed_layer; layer_idx < num_layers; ++layer_idx) {
    c.sliding_window[layer_idx] = *window;
  }
  return absl::OkStatus();
}

// The newer `dtype` field wins over `torch_dtype`.
absl::Status ParseDType(const Fields& fields, DecoderConfig& c) {
  std::string_view key = fields.Find("dtype") != nullptr ? "dtype" : "torch_dtype";
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> name, fields.String(key));
  if (!name.has_value()) return absl::OkStatus();
  if (*name == "float32") {
    c.torch_dtype = tensor::DType::kF32;
  } else if (*name == "bfloat16") {
    c.torch_dtype = tensor::DType::kBF16;
  } else if (*name == "float16") {
    c.torch_dtype = tensor::DType::kF16;
  } else {
    return fields.Error(key, absl::StrCat("names unsupported dtype '", *name,
                                          "'; supported: float32, bfloat16, float16"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DecoderConfig> ParseObject(const Json& root, std::string_view source) {
  const Fields fields(root, source, "");
  DecoderConfig c;
  BRISK_ASSIGN_OR_RETURN(const ArchitectureInfo* arch, ParseArchitecture(fields));
  c.architecture = std::string(arch->architecture);
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> model_type, fields.String("model_type"));
  c.model_type = model_type.value_or(std::string(arch->model_type));
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> hidden_act, fields.String("hidden_act"));
  if (hidden_act.value_or("silu") != "silu") {
    return fields.Error("hidden_act", absl::StrCat("names unsupported activation '", *hidden_act,
                                                   "'; only \"silu\" is supported"));
  }
  BRISK_RETURN_IF_ERROR(ParseSizes(fields, *arch, c));
  BRISK_ASSIGN_OR_RETURN(std::optional<bool> tie, fields.Bool("tie_word_embeddings"));
  c.tie_word_embeddings = tie.value_or(false);
  BRISK_RETURN_IF_ERROR(ParseBiases(fields, arch->family, c));
  BRISK_RETURN_IF_ERROR(ParseRope(fields, source, c.head_dim, c.rope));
  BRISK_RETURN_IF_ERROR(ParseSlidingWindow(fields, arch->family, c));
  BRISK_RETURN_IF_ERROR(ParseDType(fields, c));
  BRISK_ASSIGN_OR_RETURN(c.bos_token_ids, fields.IntList("bos_token_id"));
  BRISK_ASSIGN_OR_RETURN(c.eos_token_ids, fields.IntList("eos_token_id"));
  return c;
}

}  // namespace

std::string_view RopeTypeName(RopeType type) {
  switch (type) {
    case RopeType::kDefault: return "default";
    case RopeType::kLinear: return "linear";
    case RopeType::kDynamic: return "dynamic";
    case RopeType::kLlama3: return "llama3";
    case RopeType::kYarn: return "yarn";
  }
  return "?";
}

absl::StatusOr<DecoderConfig> ParseDecoderConfig(std::string_view json_text,
                                                 std::string_view source_name) {
  try {
    Json root = Json::parse(json_text, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded()) {
      return absl::InvalidArgumentError(absl::StrCat(Sv(source_name), ": not valid JSON"));
    }
    if (!root.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(Sv(source_name), ": not a JSON object"));
    }
    return ParseObject(root, source_name);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source_name), ": malformed config: ", e.what()));
  }
}

absl::StatusOr<DecoderConfig> LoadDecoderConfig(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  BRISK_ASSIGN_OR_RETURN(std::string text, base::ReadFileToString(path));
  return ParseDecoderConfig(text, path);
}

}  // namespace brisk::loader
