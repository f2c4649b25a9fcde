// brisk: the command-line entry point. Subcommands are declared here with their flags and
// defaults; each one's work lives in its own *_command.cc.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "cli/bench_serve_command.h"
#include "cli/commands.h"
#include "cli/serve_command.h"
#include "cli/tokenize_commands.h"

namespace {

using brisk::cli::ModelSetupOptions;
using brisk::sampling::SamplingParams;

void AddDeviceFlags(CLI::App* cmd, ModelSetupOptions* o) {
  cmd->add_option_function<std::string>(
         "--device",
         [o](const std::string& d) {
           o->device = d == "cuda" ? ModelSetupOptions::Device::kCuda
                                   : ModelSetupOptions::Device::kCpu;
         },
         "where the model runs: cpu (default) or cuda (GPU 0; needs a CUDA build)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option_function<std::string>(
         "--gpu-activations",
         [o](const std::string& p) { o->gpu_bf16_activations = p == "bf16"; },
         "with --device cuda, matmul inputs against bf16 weights and prefill attention: f32 "
         "(default, exact) or bf16 (tensor cores, f32 accumulation)")
      ->check(CLI::IsMember({"f32", "bf16"}));
  cmd->add_flag_function(
      "--enforce-eager", [o](int64_t) { o->decode_graphs = false; },
      "with --device cuda, queue every op of every step from the host instead of replaying "
      "decode steps from CUDA graphs recorded per batch size (slower; for comparisons and "
      "debugging)");
}

void AddModelFlags(CLI::App* cmd, ModelSetupOptions* o) {
  cmd->add_option("--model", o->model_dir,
                  "Hugging Face model folder (config.json, *.safetensors, tokenizer.json); "
                  "default: the demo model brisk-tiny")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--threads", o->num_threads, "CPU threads (0: one per core)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<int64_t>(
         "--kv-cache-memory", [o](int64_t mib) { o->kv_cache_bytes = mib << 20; },
         "KV cache memory in MiB (default 512)")
      ->check(CLI::PositiveNumber);
  cmd->add_option_function<std::string>(
         "--prefill-precision",
         [o](const std::string& p) { o->bf16_prefill = p == "bf16"; },
         "activations of prefill matmuls against bf16 weights: f32 (default, exact to "
         "transformers' fp32) or bf16 (about 2x faster prefill on AVX512_BF16 CPUs)")
      ->check(CLI::IsMember({"f32", "bf16"}));
  AddDeviceFlags(cmd, o);
}

void AddTokenizerFlag(CLI::App* cmd, std::string* dir) {
  cmd->add_option("--tokenizer", *dir,
                  "folder with tokenizer.json and tokenizer_config.json; default: brisk-tiny")
      ->check(CLI::ExistingDirectory);
}

void AddSamplingFlags(CLI::App* cmd, SamplingParams* s) {
  cmd->add_option("--max-tokens", s->max_tokens, "tokens to generate")->capture_default_str();
  cmd->add_option("--temperature", s->temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-p", s->top_p, "nucleus sampling mass (1 = off)")->capture_default_str();
  cmd->add_option("--top-k", s->top_k, "keep the k most likely tokens (0 = off)")->capture_default_str();
  cmd->add_option("--min-p", s->min_p, "drop tokens below min_p x the top probability")->capture_default_str();
  cmd->add_option("--repetition-penalty", s->repetition_penalty, "1 = off")->capture_default_str();
  cmd->add_option("--presence-penalty", s->presence_penalty, "0 = off")->capture_default_str();
  cmd->add_option("--frequency-penalty", s->frequency_penalty, "0 = off")->capture_default_str();
  cmd->add_option_function<uint64_t>("--seed", [s](uint64_t seed) { s->seed = seed; },
                                     "random seed (same seed, same output)");
  cmd->add_flag("--ignore-eos", s->ignore_eos, "keep generating past the end-of-text token");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "brisk: a low-latency inference engine for Hugging Face decoder checkpoints.\n"
      "Runs Llama, Qwen2, Qwen3 and Mistral models on the CPU; with no --model it uses the\n"
      "demo model brisk-tiny that ships in models/."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "brisk 0.1.0");

  brisk::cli::GenerateOptions gen;
  gen.sampling.max_tokens = 128;
  CLI::App* generate = app.add_subcommand(
      "generate", "Continue a prompt: text to stdout as it is sampled, timing to stderr");
  AddModelFlags(generate, &gen.model);
  auto* prompt = generate->add_option("--prompt", gen.prompt, "prompt text (BOS is added)");
  auto* prompt_ids = generate->add_option("--prompt-ids", gen.prompt_ids,
                                          "prompt as comma-separated token ids, e.g. 1,2,3");
  prompt->excludes(prompt_ids);
  generate->add_flag("--print-ids", gen.print_ids, "print generated token ids instead of text");
  generate->add_flag_function(
      "--no-step-overlap", [&gen](int64_t) { gen.model.overlap_steps = false; },
      "wait for each decode step's tokens before queuing the next one (by default, while "
      "tokens are sampled on the GPU, the next step is queued first and takes them there)");
  AddSamplingFlags(generate, &gen.sampling);

  brisk::cli::ChatOptions chat;
  chat.sampling.max_tokens = 96;
  chat.sampling.temperature = 0.7f;
  chat.sampling.top_p = 0.9f;
  chat.sampling.repetition_penalty = 1.1f;
  CLI::App* chat_cmd = app.add_subcommand(
      "chat", "Interactive prompt loop: each line you type is continued by the model");
  AddModelFlags(chat_cmd, &chat.model);
  AddSamplingFlags(chat_cmd, &chat.sampling);

  brisk::cli::PerplexityOptions ppl;
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a model");
  eval->require_subcommand(1);
  CLI::App* perplexity = eval->add_subcommand(
      "perplexity", "Perplexity on a text file (BOS-prefixed windows; see docs/cli.md)");
  AddModelFlags(perplexity, &ppl.model);
  perplexity->add_option("--text", ppl.text_file, "UTF-8 text file")->required()->check(CLI::ExistingFile);
  perplexity->add_option("--context", ppl.context, "tokens per window, BOS included")->capture_default_str();
  perplexity->add_option("--max-tokens", ppl.max_tokens, "score only the first N tokens (0: all)");

  brisk::cli::TokenizeOptions tokenize;
  CLI::App* tokenize_cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  AddTokenizerFlag(tokenize_cmd, &tokenize.tokenizer_dir);
  auto* text = tokenize_cmd->add_option("--text", tokenize.text, "text to encode");
  auto* text_file = tokenize_cmd->add_option("--text-file", tokenize.text_file,
                                             "file whose bytes are encoded")
                        ->check(CLI::ExistingFile);
  text->excludes(text_file);
  tokenize_cmd->add_flag("--add-special-tokens", tokenize.add_special_tokens,
                         "add the tokenizer's special tokens (BOS, ...)");
  tokenize_cmd->add_flag("--json", tokenize.json, "print a JSON array");

  brisk::cli::DetokenizeOptions detokenize;
  CLI::App* detokenize_cmd = app.add_subcommand("detokenize", "Print the text of token ids");
  AddTokenizerFlag(detokenize_cmd, &detokenize.tokenizer_dir);
  detokenize_cmd->add_option("--ids", detokenize.ids, "comma-separated token ids, e.g. 1,2,3")
      ->required();
  detokenize_cmd->add_flag("--skip-special-tokens", detokenize.skip_special_tokens,
                           "leave special tokens out of the text");

  brisk::cli::ChatTemplateOptions chat_template;
  CLI::App* chat_template_cmd = app.add_subcommand(
      "chat-template", "Print the prompt a model's chat template makes of a conversation");
  AddTokenizerFlag(chat_template_cmd, &chat_template.tokenizer_dir);
  chat_template_cmd->add_option("--messages", chat_template.messages_file,
                                "JSON file: [{\"role\": ..., \"content\": ...}, ...]")
      ->required()
      ->check(CLI::ExistingFile);
  chat_template_cmd->add_flag("--add-generation-prompt", chat_template.add_generation_prompt,
                              "end with the header of an assistant turn");
  chat_template_cmd->add_option("--template-name", chat_template.template_name,
                                "named template of the config (default: \"default\")");

  brisk::cli::ServeOptions serve;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, "
               "/v1/embeddings, /v1/models, /health, /ready, /metrics) with continuous batching "
               "and exact and semantic response caches");
  serve_cmd->add_option("--model", serve.model_dirs,
                        "Hugging Face model folder; repeat to serve several models, each named "
                        "by its folder name; default: the demo model brisk-tiny")
      ->check(CLI::ExistingDirectory);
  serve_cmd->add_option("--host", serve.host, "address to listen on")->capture_default_str();
  serve_cmd->add_option("--port", serve.port, "TCP port (0: any free port, printed at start)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  serve_cmd->add_option("--threads", serve.model.num_threads,
                        "CPU threads for the model (0: one per core)")
      ->check(CLI::NonNegativeNumber);
  serve_cmd->add_option("--http-threads", serve.http_threads,
                        "threads for HTTP, JSON, tokenization and streaming")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  serve_cmd->add_option_function<int64_t>(
         "--kv-cache-memory", [&serve](int64_t mib) { serve.model.kv_cache_bytes = mib << 20; },
         "KV cache memory per model in MiB (default 512); more blocks hold more concurrent "
         "and cached tokens")
      ->check(CLI::PositiveNumber);
  AddDeviceFlags(serve_cmd, &serve.model);
  serve_cmd->add_option_function<std::string>(
         "--prefill-precision",
         [&serve](const std::string& p) { serve.model.bf16_prefill = p == "bf16"; },
         "activations of prefill matmuls against bf16 weights: f32 (default) or bf16 (faster)")
      ->check(CLI::IsMember({"f32", "bf16"}));
  serve_cmd->add_option("--max-num-batched-tokens", serve.max_num_batched_tokens,
                        "token budget of one engine step over all requests; long prompts are "
                        "prefilled in chunks of at most this")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--max-num-seqs", serve.max_num_seqs, "requests batched together at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--max-waiting", serve.max_waiting,
                        "queued requests per model beyond which new ones get 429")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--max-model-len", serve.max_model_len,
                        "prompt + output tokens per request at most (default: the model's "
                        "context); lower it when the KV cache cannot hold a full context")
      ->check(CLI::NonNegativeNumber);
  serve_cmd->add_flag("--disable-prefix-caching", serve.disable_prefix_caching,
                      "do not reuse the KV blocks of earlier requests with the same prefix");
  serve_cmd->add_option("--api-keys", serve.api_keys_file,
                        "file of 'key tenant' lines; when set, every endpoint but /health needs "
                        "'Authorization: Bearer <key>'")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option_function<int64_t>(
         "--max-body-size", [&serve](int64_t mib) { serve.max_body_bytes = mib << 20; },
         "largest request body in MiB (default 16); larger ones get 413")
      ->check(CLI::PositiveNumber);

  serve_cmd->add_option("--embedding-model", serve.embedding_model_dirs,
                        "embedding model folder (BERT family, plain or sentence-transformers) "
                        "for /v1/embeddings and the semantic cache; repeatable; default: the demo "
                        "embedder brisk-tiny-embed")
      ->check(CLI::ExistingDirectory);
  serve_cmd->add_flag("--no-embedding-model", serve.no_embedding_model,
                      "serve no embedding model (not even the demo one)");
  serve_cmd->add_option("--embedding-max-batch", serve.embedding_max_batch,
                        "inputs embedded together at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--embedding-max-delay-us", serve.embedding_max_delay_us,
                        "how long the first queued embedding input waits for others to batch "
                        "with (0: only those that arrive while a batch runs)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve_cmd->add_flag("--disable-response-cache", serve.disable_response_cache,
                      "no exact or semantic response cache (requests can still send "
                      "'x-brisk-cache: skip' one by one)");
  serve_cmd->add_flag("--disable-exact-cache", serve.disable_exact_cache,
                      "no exact-match lookups (the semantic tier, when on, still answers)");
  serve_cmd->add_option_function<int64_t>(
         "--cache-memory", [&serve](int64_t mib) { serve.cache_memory_bytes = mib << 20; },
         "memory of the response cache in MiB (default 256), least recently used out first")
      ->check(CLI::NonNegativeNumber);
  serve_cmd->add_option("--cache-ttl", serve.cache_ttl_s,
                        "seconds a cached answer is served (0: until evicted)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve_cmd->add_option("--cache-dir", serve.cache_dir,
                        "keep cached answers in a RocksDB store in this folder too, so they "
                        "survive restarts (created if missing)");
  serve_cmd->add_option("--cache-redis", serve.cache_redis,
                        "share cached answers between replicas through Redis at HOST:PORT");
  serve_cmd->add_option("--cache-redis-prefix", serve.cache_redis_prefix,
                        "prefix of this deployment's Redis keys");
  serve_cmd->add_flag("--cache-sampled", serve.cache_sampled,
                      "also cache answers of sampled requests without a seed (by default only "
                      "greedy or seeded requests, whose answers are reproducible)");
  serve_cmd->add_flag("--semantic-cache", serve.semantic_cache,
                      "answer paraphrases of earlier requests from the cache: the last user "
                      "turn is embedded and matched among requests that agree on everything "
                      "else (model, system prompt, earlier turns, parameters, tenant)");
  serve_cmd->add_option("--semantic-threshold", serve.semantic_threshold,
                        "cosine similarity at or above which a cached answer is served "
                        "(default: chosen for precision >= 0.98 on the demo embedder's held-out "
                        "paraphrases)")
      ->check(CLI::Range(-1.0f, 1.0f));
  serve_cmd->add_option("--semantic-model", serve.semantic_model,
                        "embedding model of the semantic cache (default: the first one)");
  serve_cmd->add_option("--semantic-max-entries", serve.semantic_max_entries,
                        "entries of the semantic index at most, least recently used out first")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--semantic-hnsw-min-entries", serve.semantic_hnsw_min_entries,
                        "a namespace is searched exactly until it holds this many entries, then "
                        "through an HNSW graph")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--semantic-pca-dims", serve.semantic_pca_dims,
                        "reduce stored vectors to this many dimensions by PCA (trained on the "
                        "first 4,096 entries); smaller and faster, at a recall cost measured in "
                        "bench/results (default 0: off)")
      ->check(CLI::NonNegativeNumber);

  CLI::App* bench = app.add_subcommand("bench", "Measure a running server");
  bench->require_subcommand(1);
  brisk::cli::AddBenchServeCommand(bench);

  CLI11_PARSE(app, argc, argv);
  if (serve_cmd->parsed()) return brisk::cli::RunServe(serve);
  if (generate->parsed()) {
    if (gen.prompt.empty() && gen.prompt_ids.empty()) {
      std::fprintf(stderr, "error: generate needs --prompt TEXT or --prompt-ids 1,2,3\n");
      return 2;
    }
    return brisk::cli::RunGenerate(gen);
  }
  if (chat_cmd->parsed()) return brisk::cli::RunChat(chat);
  if (perplexity->parsed()) return brisk::cli::RunPerplexity(ppl);
  if (tokenize_cmd->parsed()) {
    tokenize.use_text_file = text_file->count() > 0;
    if (text->count() == 0 && !tokenize.use_text_file) {
      std::fprintf(stderr, "error: tokenize needs --text TEXT or --text-file FILE\n");
      return 2;
    }
    return brisk::cli::RunTokenize(tokenize);
  }
  if (detokenize_cmd->parsed()) return brisk::cli::RunDetokenize(detokenize);
  if (chat_template_cmd->parsed()) return brisk::cli::RunChatTemplate(chat_template);
  return 0;
}
