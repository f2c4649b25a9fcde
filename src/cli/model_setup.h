// Loading what every subcommand needs: a backend, a decoder and its tokenizer from a model
// folder, and the generator around them. The only place concrete backends are chosen.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "base/status.h"
#include "engine/generator.h"
#include "models/decoder_model.h"
#include "models/embedder.h"
#include "tokenizer/tokenizer.h"

namespace brisk::cli {

// The demo model folder compiled into the binary (the repository's models/brisk-tiny).
std::string DefaultModelDir();

struct ModelSetupOptions {
  std::string model_dir;           // empty: DefaultModelDir()
  int num_threads = 0;             // 0: one per core
  bool bf16_prefill = false;       // round prefill activations to bf16 (bf16 weights only)
  enum class Device { kCpu, kCuda };
  Device device = Device::kCpu;
  bool gpu_bf16_activations = false;  // CUDA: bf16 x bf16 GEMMs (f32 accumulation) instead of f32
  bool decode_graphs = true;  // CUDA: replay decode steps from recorded graphs (--enforce-eager off)
  bool overlap_steps = true;  // generate: queue the next decode step before reading the tokens
  int64_t kv_cache_bytes = int64_t{512} << 20;
  int max_tokens_per_step = 512;
  bool need_tokenizer = true;
  bool need_generator = true;  // false for `serve`, whose engine owns the KV cache
};

struct LoadedModel {
  std::string model_dir;
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<models::DecoderModel> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;  // null when not needed
  std::unique_ptr<engine::Generator> generator;  // null unless need_generator
  double load_ms = 0;
};

// Errors name the folder and the file that failed (config, weights or tokenizer).
absl::StatusOr<LoadedModel> LoadModel(const ModelSetupOptions& options);

// The demo embedder folder compiled into the binary (the repository's models/brisk-tiny-embed).
std::string DefaultEmbedderDir();

struct LoadedEmbedder {
  std::string model_dir;
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<models::Embedder> embedder;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  double load_ms = 0;
};

// Loads a text embedder (BERT family, plain or sentence-transformers folder) and its tokenizer
// from options.model_dir (empty: DefaultEmbedderDir()) on the device and threads of `options`.
absl::StatusOr<LoadedEmbedder> LoadEmbedder(const ModelSetupOptions& options);

// "7.74M" / "1.24B" parameters of the loaded decoder, from its config.
std::string DescribeModel(const LoadedModel& loaded);

}  // namespace brisk::cli
