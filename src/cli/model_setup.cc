#include "cli/model_setup.h"

#include <filesystem>

#include "backend/cpu/cpu_backend.h"
#ifdef BRISK_HAS_CUDA
#include "backend/cuda/cuda_backend.h"
#endif
#include "base/clock.h"
#include "base/logging.h"
#include "models/registry.h"

namespace brisk::cli {

std::string DefaultModelDir() { return BRISK_DEFAULT_MODEL_DIR; }
std::string DefaultEmbedderDir() { return BRISK_DEFAULT_EMBEDDER_DIR; }

namespace {

absl::StatusOr<std::unique_ptr<backend::Backend>> MakeBackend(const ModelSetupOptions& options) {
  switch (options.device) {
    case ModelSetupOptions::Device::kCpu:
      return backend::MakeCpuBackend(
          {.num_threads = options.num_threads,
           .prefill_activations = options.bf16_prefill ? backend::cpu::ActivationPrecision::kBf16
                                                       : backend::cpu::ActivationPrecision::kF32});
    case ModelSetupOptions::Device::kCuda:
#ifdef BRISK_HAS_CUDA
      return backend::MakeCudaBackend(
          {.activations = options.gpu_bf16_activations
                              ? backend::CudaBackendOptions::Activations::kBf16
                              : backend::CudaBackendOptions::Activations::kF32});
#else
      return absl::UnavailableError(
          "this brisk was built without CUDA (configure with -DBRISK_CUDA=ON where nvcc is "
          "installed)");
#endif
  }
  return absl::InvalidArgumentError("unknown device");
}

}  // namespace

absl::StatusOr<LoadedModel> LoadModel(const ModelSetupOptions& options) {
  base::Stopwatch clock;
  LoadedModel out;
  out.model_dir = options.model_dir.empty() ? DefaultModelDir() : options.model_dir;
  if (!std::filesystem::is_directory(out.model_dir)) {
    return absl::NotFoundError(absl::StrCat("model folder '", out.model_dir,
                                            "' does not exist (pass --model DIR: a Hugging Face "
                                            "folder with config.json and *.safetensors)"));
  }
  BRISK_ASSIGN_OR_RETURN(out.backend, MakeBackend(options));
  BRISK_ASSIGN_OR_RETURN(out.model, models::LoadDecoderModel(out.model_dir, out.backend.get()));
  if (options.need_tokenizer) {
    BRISK_ASSIGN_OR_RETURN(out.tokenizer,
                           tokenizer::Tokenizer::FromFile(out.model_dir + "/tokenizer.json"));
  }
  if (options.need_generator) {
    BRISK_ASSIGN_OR_RETURN(
        out.generator,
        engine::Generator::Create(out.model.get(),
                                  {.kv_cache_bytes = options.kv_cache_bytes,
                                   .max_tokens_per_step = options.max_tokens_per_step,
                                   .decode_graphs = options.decode_graphs,
                                   .overlap_steps = options.overlap_steps}));
  }
  out.load_ms = clock.ElapsedMillis();
  BRISK_LOG(kInfo) << "loaded " << out.model->config().architecture << " (" << DescribeModel(out)
                   << " parameters) from " << out.model_dir << " in " << out.load_ms << " ms";
  return out;
}

absl::StatusOr<LoadedEmbedder> LoadEmbedder(const ModelSetupOptions& options) {
  base::Stopwatch clock;
  LoadedEmbedder out;
  out.model_dir = options.model_dir.empty() ? DefaultEmbedderDir() : options.model_dir;
  if (!std::filesystem::is_directory(out.model_dir)) {
    return absl::NotFoundError(absl::StrCat("embedding model folder '", out.model_dir,
                                            "' does not exist (pass a Hugging Face or "
                                            "sentence-transformers folder)"));
  }
  BRISK_ASSIGN_OR_RETURN(out.backend, MakeBackend(options));
  BRISK_ASSIGN_OR_RETURN(out.embedder,
                         models::LoadEmbedderModel(out.model_dir, out.backend.get()));
  BRISK_ASSIGN_OR_RETURN(out.tokenizer,
                         tokenizer::Tokenizer::FromFile(out.model_dir + "/tokenizer.json"));
  out.load_ms = clock.ElapsedMillis();
  const models::EmbedderInfo& info = out.embedder->info();
  BRISK_LOG(kInfo) << "loaded embedder (" << info.dimensions << " dimensions, "
                   << (info.pooling == models::Pooling::kCls ? "CLS" : "mean") << " pooling"
                   << (info.normalized ? ", normalized" : "") << ", up to " << info.max_tokens
                   << " tokens) from " << out.model_dir << " in " << out.load_ms << " ms";
  return out;
}

std::string DescribeModel(const LoadedModel& loaded) {
  const auto& c = loaded.model->config();
  const int64_t q = int64_t{c.num_attention_heads} * c.head_dim;
  const int64_t kv = int64_t{c.num_key_value_heads} * c.head_dim;
  const int64_t per_layer = c.hidden_size * (q + 2 * kv) + q * c.hidden_size +
                            3 * int64_t{c.hidden_size} * c.intermediate_size + 2 * c.hidden_size;
  int64_t total = per_layer * c.num_hidden_layers + int64_t{c.vocab_size} * c.hidden_size +
                  c.hidden_size;
  if (!c.tie_word_embeddings) total += int64_t{c.vocab_size} * c.hidden_size;
  char buf[32];
  if (total >= 1'000'000'000) {
    std::snprintf(buf, sizeof(buf), "%.2fB", total / 1e9);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2fM", total / 1e6);
  }
  return buf;
}

}  // namespace brisk::cli
