// OpenAiService: the OpenAI-compatible HTTP API on top of EngineClients (DESIGN.md §4).
// Routes: GET /health (live), GET /ready (503 until SetReady), GET /metrics (Prometheus),
// GET /v1/models[/{id}], POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings.
//
// One request's path: authenticate (optional API keys) -> parse and validate the body ->
// render the chat template and tokenize -> Submit one engine request per choice (`n`) ->
// engine outputs are re-posted onto the connection's strand, where they are detokenized
// incrementally, cut at stop strings (with hold-back of partial matches) and sent as SSE
// chunks or gathered into one JSON body. A client that disconnects aborts its engine requests.
// With a response cache, a cacheable request is looked up right after parsing (before the prompt
// is tokenized) and a hit is replayed as JSON or SSE; a computed answer that finished normally is
// recorded. The `x-brisk-cache` request header (skip, refresh, only, no-semantic) steers this per
// request, and
// responses say what happened in `x-brisk-cache` (hit, miss, skip, bypass) and, on hits,
// `x-brisk-cache-tier`, `x-brisk-cache-store` and `x-brisk-cache-similarity`.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/api_keys.h"
#include "api/http_server.h"
#include "cache/response_cache.h"
#include "engine/embedding_client.h"
#include "engine/engine_client.h"
#include "metrics/serving_metrics.h"
#include "tokenizer/chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace brisk::api {

struct ServedModel {
  std::string name;                       // the `model` field clients send
  engine::EngineClient* engine = nullptr;  // not owned; outlives the service's requests
  const tokenizer::Tokenizer* tokenizer = nullptr;  // not owned
  // Null when the model has no chat template: /v1/chat/completions then answers 400.
  std::shared_ptr<const tokenizer::ChatTemplate> chat_template;
  nlohmann::json special_tokens = nlohmann::json::object();  // bos_token, ... for the template
  int64_t created_unix_s = 0;
};

// An embedding model: answers /v1/embeddings (and embeds for the semantic cache elsewhere).
struct ServedEmbedder {
  std::string name;
  engine::EmbeddingClient* client = nullptr;        // not owned
  const tokenizer::Tokenizer* tokenizer = nullptr;  // not owned
  int64_t created_unix_s = 0;
};

struct OpenAiServiceOptions {
  const ApiKeys* api_keys = nullptr;           // null: no authentication; not owned
  metrics::ServingMetrics* metrics = nullptr;  // not owned; required
  // Also cache answers that are not reproducible (sampled without a seed).
  bool cache_sampled = false;
};

class OpenAiService {
 public:
  explicit OpenAiService(const OpenAiServiceOptions& options);

  // Adds a model. REQUIRES: called before SetReady, names unique.
  void AddModel(ServedModel model);
  // Puts the response cache (exact and semantic tiers; not owned) in front of the engines.
  // REQUIRES: called before SetReady. Without this call there is no response cache.
  void SetResponseCache(cache::ResponseCache* cache);
  // Adds an embedding model. REQUIRES: called before SetReady, names unique across all models.
  void AddEmbedder(ServedEmbedder embedder);
  // From now on /ready answers 200 and the /v1 routes serve.
  void SetReady();
  // From now on /ready and new /v1 requests answer 503 (the server is stopping); requests in
  // flight go on. Call before tearing the engines down.
  void BeginShutdown();

  // Answers one HTTP exchange (the HttpServer's handler). Thread-safe.
  void Handle(std::shared_ptr<HttpExchange> exchange);

 private:
  struct Call;  // one request in flight

  const ServedModel* FindModel(const std::string& name) const;
  const ServedEmbedder* FindEmbedder(const std::string& name) const;
  void HandleEmbeddings(std::shared_ptr<HttpExchange> ex);
  void HandleGeneration(std::shared_ptr<HttpExchange> ex, bool chat, const std::string& tenant);
  // Sends a cached answer for `call` (whose request, ids and lookup are set).
  void ReplayCached(Call& call, const cache::CacheLookup& lookup);
  void HandleModels(HttpExchange& ex, std::string_view path);
  void HandleMetrics(HttpExchange& ex);

  // Constant after construction.
  const OpenAiServiceOptions options_;
  // Written before ready_ is set, read-only after.
  std::vector<ServedModel> models_;
  std::vector<ServedEmbedder> embedders_;
  cache::ResponseCache* response_cache_ = nullptr;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace brisk::api
