// Typed configuration of Llama-family decoders (Llama, Qwen2, Qwen3, Mistral), parsed from a
// Hugging Face config.json. Every per-architecture default and quirk of transformers is applied
// here, so the model code reads plain fields and never looks at the JSON or the architecture
// name to decide behaviour. A parsed DecoderConfig is validated: sizes are positive, heads
// divide evenly, head_dim and the rotary dimension are even, and per-layer vectors have
// num_hidden_layers entries.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tensor/dtype.h"

namespace brisk::loader {

enum class RopeType { kDefault, kLinear, kDynamic, kLlama3, kYarn };

// "default", "linear", "dynamic", "llama3", "yarn".
std::string_view RopeTypeName(RopeType type);

// Rotary position embedding parameters. Fields that a rope type does not use keep their
// defaults; 0 marks "unset" where noted, and the rope code picks the transformers fallback.
struct RopeConfig {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;
  double factor = 1.0;                                   // linear, dynamic, llama3, yarn
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int original_max_position_embeddings = 0;  // llama3 (required); yarn, dynamic (0 = unset)
  double beta_fast = 32.0, beta_slow = 1.0;              // yarn
  double mscale = 0.0, mscale_all_dim = 0.0;             // yarn (0 = unset)
  double attention_factor = 0.0;                         // yarn (0 = unset)
  double partial_rotary_factor = 1.0;                    // rotary dim = int(head_dim * this)
};

struct DecoderConfig {
  std::string architecture;  // "LlamaForCausalLM", "Qwen2ForCausalLM", ...
  std::string model_type;    // "llama", "qwen2", "qwen3", "mistral" (as given, else derived)
  int vocab_size = 0;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // == num_attention_heads for MHA, 1 for MQA
  int head_dim = 0;
  int max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q, k and v projections have a bias
  bool o_proj_bias = false;     // the output projection has a bias
  bool mlp_bias = false;        // gate, up and down projections have a bias
  bool qk_norm = false;         // RMSNorm over head_dim on q and k before rope (Qwen3)
  std::vector<int> sliding_window;  // [num_hidden_layers]; 0 = full attention
  RopeConfig rope;
  std::optional<tensor::DType> torch_dtype;  // the dtype the checkpoint was saved in, if stated
  std::vector<int> bos_token_ids, eos_token_ids;  // may be empty
};

// Parses and validates a config.json text. `source_name` (usually the file path) starts every
// error message. InvalidArgument, naming the field and the offending value, for: text that is
// not a JSON object; a missing required field (architectures, vocab_size, hidden_size,
// intermediate_size, num_hidden_layers, num_attention_heads); a field of the wrong JSON type;
// an unsupported architecture (the supported ones are listed), hidden_act other than "silu",
// rope type other than default/linear/dynamic/llama3/yarn, or dtype other than
// float32/bfloat16/float16; non-positive sizes; heads that do not divide; an odd head_dim or
// rotary dimension; malformed layer_types.
absl::StatusOr<DecoderConfig> ParseDecoderConfig(std::string_view json_text,
                                                 std::string_view source_name);

// Reads `model_dir`/config.json and parses it. NotFound naming the path when it is missing.
absl::StatusOr<DecoderConfig> LoadDecoderConfig(const std::string& model_dir);

}  // namespace brisk::loader
