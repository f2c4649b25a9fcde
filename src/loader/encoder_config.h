// Typed configuration of BERT-family text encoders, parsed from a Hugging Face config.json, and
// the sentence-transformers description of an embedding model folder (modules.json, the pooling
// module's config.json, sentence_bert_config.json). Every default of transformers' BertConfig
// and every sentence-transformers convention is applied here, so the model code reads plain
// fields. A parsed EncoderConfig is validated: sizes are positive and the heads divide the
// hidden size. An EmbedderLayout always names exactly one pooling mode.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tensor/dtype.h"

namespace brisk::loader {

enum class GeluApproximation {
  kNone,  // exact: x/2 · (1 + erf(x/√2))        ("gelu")
  kTanh,  // x/2 · (1 + tanh(√(2/π)(x + 0.044715x³))) ("gelu_new", "gelu_pytorch_tanh")
};

struct EncoderConfig {
  std::string architecture;  // architectures[0], e.g. "BertModel"; "BertModel" when absent
  std::string model_type;    // "bert"
  int vocab_size = 0;
  int hidden_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int head_dim = 0;  // hidden_size / num_attention_heads
  int intermediate_size = 0;
  GeluApproximation hidden_act = GeluApproximation::kNone;
  int max_position_embeddings = 512;  // BertConfig defaults from here on
  int type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  int pad_token_id = 0;
  std::optional<tensor::DType> torch_dtype;  // the dtype the checkpoint was saved in, if stated
};

// Parses and validates a BERT config.json text. `source_name` (usually the file path) starts
// every error message. InvalidArgument, naming the field and the offending value, for: text
// that is not a JSON object; a model_type other than "bert"; a missing required field
// (vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size); a field
// of the wrong JSON type; non-positive sizes (type_vocab_size included) or layer_norm_eps; a
// hidden size the heads do not divide; hidden_act other than gelu / gelu_new /
// gelu_pytorch_tanh; position_embedding_type other than "absolute"; dtype other than
// float32 / bfloat16 / float16. Absent optional fields take transformers' BertConfig defaults.
absl::StatusOr<EncoderConfig> ParseEncoderConfig(std::string_view json_text,
                                                 std::string_view source_name);

// Reads `model_dir`/config.json and parses it. NotFound naming the path when it is missing.
absl::StatusOr<EncoderConfig> LoadEncoderConfig(const std::string& model_dir);

enum class EmbedderPooling {
  kCls,   // the first token's final hidden state
  kMean,  // the mean over the sequence's tokens
};

// How an embedding model folder turns hidden states into one vector per text.
//
// A sentence-transformers folder has modules.json listing its modules in order: a Transformer
// (path "" for the folder itself, or a subfolder), a Pooling module (its folder holds a
// config.json with one pooling_mode_* flag set) and optionally Normalize (L2). Any other module
// (Dense, LayerNorm, ...) is refused: we would otherwise return vectors the model's authors
// never meant. max_seq_length comes from the Transformer folder's sentence_bert_config.json.
//
// A plain transformers folder (no modules.json) defaults to CLS pooling without normalization:
// the raw final hidden state of the first token. Note that this is NOT transformers'
// BertModel `pooler_output`, which passes that state through the pretraining-only tanh(dense)
// pooler; brisk ignores the pooler.* weights.
struct EmbedderLayout {
  std::string transformer_dir;  // the folder with config.json and the weights
  EmbedderPooling pooling = EmbedderPooling::kCls;
  bool normalize = false;             // vectors are scaled to unit L2 norm
  std::optional<int> max_seq_length;  // sentence_bert_config.json's, when stated
  std::optional<int> pooling_dimension;  // the pooling config's word_embedding_dimension
  bool from_modules_json = false;     // false: the plain-folder defaults above
};

// Parses modules.json text. `model_dir` is the folder it came from (module paths are resolved
// against it); `source_name` prefixes errors. InvalidArgument for: text that is not a JSON list
// of objects with string "type" and "path"; a module type other than sentence-transformers'
// Transformer, Pooling or Normalize (the type is named); modules out of the order Transformer,
// Pooling, [Normalize] or repeated; a module path that is absolute or leaves the folder.
// Only transformer_dir, normalize and from_modules_json are filled; the pooling module's folder
// is returned through `pooling_dir`.
absl::StatusOr<EmbedderLayout> ParseModulesJson(std::string_view json_text,
                                                std::string_view source_name,
                                                const std::string& model_dir,
                                                std::string* pooling_dir);

// Parses a Pooling module's config.json into `layout` (pooling, pooling_dimension), in either
// spelling: boolean pooling_mode_* flags and word_embedding_dimension (sentence-transformers
// 2-5), or one "pooling_mode" string and embedding_dimension (6). InvalidArgument naming the
// flag(s) or value for: no flag set, more than one set, or a mode other than CLS / mean (max,
// mean_sqrt_len, weightedmean, lasttoken); also a non-boolean flag or malformed JSON.
absl::Status ParsePoolingConfig(std::string_view json_text, std::string_view source_name,
                                EmbedderLayout* layout);

// Reads the description of the embedding model in `model_dir`: modules.json and the files it
// points to when present (a missing pooling config.json is NotFound naming its path;
// sentence_bert_config.json is optional), else the plain-folder defaults. Errors as the
// parsers above, plus InvalidArgument for a max_seq_length that is not a positive integer.
absl::StatusOr<EmbedderLayout> LoadEmbedderLayout(const std::string& model_dir);

}  // namespace brisk::loader
