// `brisk serve`: wires the concrete pieces together (DESIGN.md: only cli/ does): models and
// their LlmEngines, the OpenAiService, metrics and the HTTP server. The port opens before the
// models load, so /health answers at once and /ready turns 200 when every model is up.
#include "cli/serve_command.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>

#include "api/api_keys.h"
#include "api/http_server.h"
#include "api/openai_protocol.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/openai_service.h"
#include "base/logging.h"
#include "cache/memory_store.h"
#include "cache/redis_store.h"
#include "cache/response_cache.h"
#include "cache/rocksdb_store.h"
#include "cache/semantic_index.h"
#include "cache/tiered_store.h"
#include "engine/embedding_engine.h"
#include "engine/llm_engine.h"
#include "metrics/serving_metrics.h"
#include "tokenizer/chat/chat_template.h"

namespace brisk::cli {
namespace {

struct ServedEngine {
  LoadedModel loaded;
  std::unique_ptr<engine::LlmEngine> engine;
};

struct ServedEmbedding {
  LoadedEmbedder loaded;
  std::unique_ptr<engine::EmbeddingEngine> engine;
};

std::string ModelName(const std::string& dir) {
  std::filesystem::path p(dir);
  if (p.filename().empty()) p = p.parent_path();  // "models/x/"
  return p.filename().string();
}

absl::StatusOr<api::ServedModel> LoadServed(const ServeOptions& options, const std::string& dir,
                                            metrics::ServingMetrics* metrics,
                                            ServedEngine& out) {
  ModelSetupOptions setup = options.model;
  setup.model_dir = dir;
  setup.need_generator = false;
  BRISK_ASSIGN_OR_RETURN(out.loaded, LoadModel(setup));
  const std::string name = ModelName(out.loaded.model_dir);
  engine::LlmEngineOptions eo{
      .model_name = name,
      .kv_cache_bytes = options.model.kv_cache_bytes,
      .max_num_batched_tokens = options.max_num_batched_tokens,
      .max_num_seqs = options.max_num_seqs,
      .max_waiting = options.max_waiting,
      .max_model_len = options.max_model_len,
      .prefix_caching = options.disable_prefix_caching ? kvcache::PrefixCaching::kDisabled
                                                       : kvcache::PrefixCaching::kEnabled,
      .decode_graphs = options.model.decode_graphs};
  BRISK_ASSIGN_OR_RETURN(out.engine,
                         engine::LlmEngine::Create(out.loaded.model.get(), eo,
                                                   [metrics](const metrics::StepStats& s) {
                                                     metrics->RecordStep(s);
                                                   }));
  api::ServedModel served;
  served.name = name;
  served.engine = out.engine.get();
  served.tokenizer = out.loaded.tokenizer.get();
  served.created_unix_s = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  absl::StatusOr<tokenizer::ChatTemplateConfig> tc =
      tokenizer::LoadChatTemplateConfig(out.loaded.model_dir);
  if (tc.ok()) {
    BRISK_ASSIGN_OR_RETURN(tokenizer::ChatTemplate t,
                           tokenizer::ChatTemplate::Parse(tc->template_source));
    served.chat_template = std::make_shared<const tokenizer::ChatTemplate>(std::move(t));
    served.special_tokens = tc->special_tokens;
  } else if (tc.status().code() == absl::StatusCode::kNotFound) {
    BRISK_LOG(kWarning) << "model '" << name << "' has no chat template: "
                        << "/v1/chat/completions will refuse it";
  } else {
    return tc.status();
  }
  BRISK_LOG(kInfo) << "model '" << name << "': " << out.engine->num_kv_blocks()
                   << " KV blocks of " << eo.block_size << " tokens, context "
                   << out.engine->info().max_model_len << ", max_num_batched_tokens "
                   << eo.max_num_batched_tokens << ", max_num_seqs " << eo.max_num_seqs
                   << ", prefix caching " << (options.disable_prefix_caching ? "off" : "on");
  return served;
}

// Embeds one text for the semantic cache, waiting for the embedding engine (which batches it
// with concurrent requests). A text longer than the model takes is cut, keeping its closing
// special token.
absl::StatusOr<std::vector<float>> EmbedOne(ServedEmbedding& e, std::string_view text) {
  std::vector<int32_t> ids = e.loaded.tokenizer->Encode(text, tokenizer::AddSpecial::kYes);
  const size_t max_tokens = static_cast<size_t>(e.engine->info().max_tokens);
  if (ids.size() > max_tokens) {
    const int32_t last = ids.back();
    ids.resize(max_tokens);
    ids.back() = last;
  }
  if (ids.empty()) return absl::InvalidArgumentError("nothing to embed");
  std::promise<engine::EmbeddingResult> done;
  std::future<engine::EmbeddingResult> result = done.get_future();
  BRISK_RETURN_IF_ERROR(e.engine->Submit({std::move(ids)}, [&done](engine::EmbeddingResult r) {
    done.set_value(std::move(r));
  }));
  engine::EmbeddingResult r = result.get();
  BRISK_RETURN_IF_ERROR(r.status);
  return std::move(r.vectors[0]);
}

absl::StatusOr<std::unique_ptr<cache::PersistentStore>> OpenBackStore(
    const ServeOptions& options) {
  if (!options.cache_dir.empty() && !options.cache_redis.empty()) {
    return absl::InvalidArgumentError("--cache-dir and --cache-redis exclude each other");
  }
  if (!options.cache_dir.empty()) {
    BRISK_ASSIGN_OR_RETURN(std::unique_ptr<cache::RocksDbStore> store,
                           cache::RocksDbStore::Open(options.cache_dir, {}));
    BRISK_LOG(kInfo) << "response cache: RocksDB store in " << options.cache_dir << " ("
                     << store->Stats().entries << " entries recovered)";
    return std::unique_ptr<cache::PersistentStore>(std::move(store));
  }
  if (!options.cache_redis.empty()) {
    const size_t colon = options.cache_redis.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(options.cache_redis.substr(colon + 1), &port) || port <= 0 ||
        port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--cache-redis takes HOST:PORT, e.g. 127.0.0.1:6379; got '", options.cache_redis, "'"));
    }
    cache::RedisStore::Options redis;
    redis.host = options.cache_redis.substr(0, colon);
    redis.port = port;
    redis.key_prefix = options.cache_redis_prefix;
    auto store = std::make_unique<cache::RedisStore>(std::move(redis));
    absl::Status ping = store->Ping();
    if (!ping.ok()) {
      BRISK_LOG(kWarning) << "response cache: Redis at " << options.cache_redis
                          << " does not answer yet (" << ping
                          << "); lookups are misses until it does";
    } else {
      BRISK_LOG(kInfo) << "response cache: Redis store at " << options.cache_redis;
    }
    return std::unique_ptr<cache::PersistentStore>(std::move(store));
  }
  return std::unique_ptr<cache::PersistentStore>();
}

// The response cache, or null when it is off. `embedder` feeds the semantic tier.
absl::StatusOr<std::unique_ptr<cache::ResponseCache>> MakeResponseCache(
    const ServeOptions& options, ServedEmbedding* embedder) {
  if (options.disable_response_cache) return std::unique_ptr<cache::ResponseCache>();
  BRISK_ASSIGN_OR_RETURN(std::unique_ptr<cache::PersistentStore> back, OpenBackStore(options));
  cache::MemoryStore::Options memory;
  memory.capacity_bytes = options.cache_memory_bytes;
  auto store = std::make_unique<cache::TieredStore>(
      std::make_unique<cache::MemoryStore>(std::move(memory)), std::move(back));
  std::unique_ptr<cache::SemanticIndex> index;
  cache::EmbedFn embed;
  float threshold = options.semantic_threshold;
  if (options.semantic_cache) {
    if (embedder == nullptr) {
      return absl::InvalidArgumentError(
          "--semantic-cache needs an embedding model (--embedding-model DIR)");
    }
    if (threshold < 0) threshold = kDefaultSemanticThreshold;
    cache::SemanticIndex::Options index_options;
    index_options.dimensions = embedder->engine->info().dimensions;
    index_options.max_entries = options.semantic_max_entries;
    index_options.hnsw_min_entries = options.semantic_hnsw_min_entries;
    if (options.semantic_pca_dims > 0) {
      if (options.semantic_pca_dims >= index_options.dimensions) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--semantic-pca-dims must be below the embedder's ", index_options.dimensions,
            " dimensions, got ", options.semantic_pca_dims));
      }
      index_options.pca_dimensions = options.semantic_pca_dims;
      index_options.pca_train_entries = std::max(index_options.pca_train_entries,
                                                 options.semantic_pca_dims);
    }
    index = std::make_unique<cache::SemanticIndex>(std::move(index_options));
    embed = [embedder](std::string_view text) -> absl::StatusOr<std::vector<float>> {
      return EmbedOne(*embedder, text);
    };
  }
  BRISK_LOG(kInfo) << "response cache: exact tier "
                   << (options.disable_exact_cache ? "off (answers kept for the semantic tier), "
                                                   : "on, ") << (options.cache_memory_bytes >> 20)
                   << " MiB in memory, TTL " << options.cache_ttl_s << " s"
                   << (options.cache_sampled ? ", sampled answers too" : "")
                   << (options.semantic_cache
                           ? absl::StrCat("; semantic tier on, threshold ", threshold)
                           : std::string("; semantic tier off"));
  return std::make_unique<cache::ResponseCache>(
      cache::ResponseCacheOptions{.exact = !options.disable_exact_cache,
                                  .ttl_ms = options.cache_ttl_s * 1000,
                                  .semantic_threshold = threshold},
      std::move(store), std::move(index), std::move(embed));
}

}  // namespace

int RunServe(const ServeOptions& options) {
  // Block the stop signals in every thread; this one waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error code, not a signal

  std::unique_ptr<api::ApiKeys> keys;
  if (!options.api_keys_file.empty()) {
    absl::StatusOr<api::ApiKeys> loaded = api::ApiKeys::Load(options.api_keys_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(loaded.status().message()).c_str());
      return 1;
    }
    keys = std::make_unique<api::ApiKeys>(*std::move(loaded));
    BRISK_LOG(kInfo) << "API keys: " << keys->size() << " keys from " << options.api_keys_file;
  }
  metrics::ServingMetrics metrics;
  api::OpenAiService service(
      {.api_keys = keys.get(), .metrics = &metrics, .cache_sampled = options.cache_sampled});
  // Engines are declared before the server so that they stop first: their last outputs are
  // posted to connections that still exist. The cache outlives the service's requests.
  std::unique_ptr<cache::ResponseCache> response_cache;
  std::vector<std::unique_ptr<ServedEmbedding>> embedders;
  std::vector<std::unique_ptr<ServedEngine>> engines;
  auto server = api::HttpServer::Start(
      {.host = options.host,
       .port = options.port,
       .num_threads = options.http_threads,
       .max_body_bytes = options.max_body_bytes,
       .error_body =
           [](int status, std::string_view message) {
             api::ApiError e = api::InvalidRequest(std::string(message));
             e.http_status = status;
             return api::ErrorBody(e);
           }},
      [&service](std::shared_ptr<api::HttpExchange> ex) { service.Handle(std::move(ex)); });
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  // The port line is machine-readable: tests and scripts wait for it.
  std::fprintf(stderr, "brisk: listening on http://%s:%d\n", options.host.c_str(),
               (*server)->port());
  std::fflush(stderr);

  std::vector<std::string> dirs = options.model_dirs;
  if (dirs.empty()) dirs.push_back(DefaultModelDir());
  for (const std::string& dir : dirs) {
    auto e = std::make_unique<ServedEngine>();
    absl::StatusOr<api::ServedModel> served = LoadServed(options, dir, &metrics, *e);
    if (!served.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(served.status().message()).c_str());
      return 1;
    }
    for (const auto& other : engines) {
      if (other->engine->info().model_name == served->name) {
        std::fprintf(stderr, "error: two models are named '%s' (folder names must differ)\n",
                     served->name.c_str());
        return 1;
      }
    }
    service.AddModel(*std::move(served));
    engines.push_back(std::move(e));
  }

  std::vector<std::string> embed_dirs = options.embedding_model_dirs;
  if (embed_dirs.empty() && !options.no_embedding_model &&
      std::filesystem::exists(DefaultEmbedderDir() + "/config.json")) {
    embed_dirs.push_back(DefaultEmbedderDir());
  }
  for (const std::string& dir : embed_dirs) {
    auto e = std::make_unique<ServedEmbedding>();
    ModelSetupOptions setup = options.model;
    setup.model_dir = dir;
    absl::StatusOr<LoadedEmbedder> loaded = LoadEmbedder(setup);
    if (!loaded.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(loaded.status().message()).c_str());
      return 1;
    }
    e->loaded = *std::move(loaded);
    const std::string name = ModelName(e->loaded.model_dir);
    bool taken = false;
    for (const auto& other : engines) taken |= other->engine->info().model_name == name;
    for (const auto& other : embedders) taken |= ModelName(other->loaded.model_dir) == name;
    if (taken) {
      std::fprintf(stderr, "error: two models are named '%s' (folder names must differ)\n",
                   name.c_str());
      return 1;
    }
    e->engine = std::make_unique<engine::EmbeddingEngine>(
        e->loaded.embedder.get(),
        engine::EmbeddingEngineOptions{.max_batch_inputs = options.embedding_max_batch,
                                       .max_queue_delay_us = options.embedding_max_delay_us});
    service.AddEmbedder({.name = name,
                         .client = e->engine.get(),
                         .tokenizer = e->loaded.tokenizer.get(),
                         .created_unix_s = std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count()});
    embedders.push_back(std::move(e));
  }

  ServedEmbedding* semantic_embedder = nullptr;
  for (const auto& e : embedders) {
    if (options.semantic_model.empty() || ModelName(e->loaded.model_dir) == options.semantic_model) {
      semantic_embedder = e.get();
      break;
    }
  }
  if (options.semantic_cache && !options.semantic_model.empty() && semantic_embedder == nullptr) {
    std::fprintf(stderr, "error: --semantic-model '%s' is not one of the embedding models\n",
                 options.semantic_model.c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<cache::ResponseCache>> made =
      MakeResponseCache(options, semantic_embedder);
  if (!made.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(made.status().message()).c_str());
    return 1;
  }
  response_cache = *std::move(made);
  service.SetResponseCache(response_cache.get());

  service.SetReady();
  const size_t num_models = engines.size() + embedders.size();
  std::fprintf(stderr, "brisk: ready (%zu model%s)\n", num_models, num_models == 1 ? "" : "s");
  std::fflush(stderr);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "brisk: %s received, stopping\n", signal_number == SIGINT ? "SIGINT"
                                                                                 : "SIGTERM");
  // Teardown order: no new requests; the engines finish what they accepted (aborts), their
  // last outputs reach the connections; the HTTP threads stop; only then are the engines,
  // models and tokenizers freed, since a connection's last handler may still decode with them.
  service.BeginShutdown();
  for (auto& e : engines) e->engine->Shutdown();
  for (auto& e : embedders) e->engine->Shutdown();
  server->reset();
  engines.clear();
  embedders.clear();
  return 0;
}

}  // namespace brisk::cli
