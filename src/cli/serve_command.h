// `brisk serve`: the OpenAI-compatible server over one or more models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/model_setup.h"

namespace brisk::cli {

struct ServeOptions {
  std::vector<std::string> model_dirs;  // empty: the demo model
  ModelSetupOptions model;              // threads, KV memory, prefill precision (per model)
  std::string host = "127.0.0.1";
  int port = 8080;
  int http_threads = 2;
  int max_num_batched_tokens = 512;
  int max_num_seqs = 64;
  int max_waiting = 256;
  int max_model_len = 0;  // 0: each model's own context
  bool disable_prefix_caching = false;
  std::string api_keys_file;  // empty: no authentication
  int64_t max_body_bytes = int64_t{16} << 20;

  // Embedding models for /v1/embeddings (and the semantic cache). Empty: the demo embedder when
  // its folder exists; no_embedding_model: none.
  std::vector<std::string> embedding_model_dirs;
  bool no_embedding_model = false;
  int embedding_max_batch = 64;
  int64_t embedding_max_delay_us = 0;

  // Response cache (exact tier on by default; answers of reproducible requests).
  bool disable_response_cache = false;
  bool disable_exact_cache = false;    // keep recording answers for the semantic tier only
  int64_t cache_memory_bytes = int64_t{256} << 20;
  int64_t cache_ttl_s = 3600;          // 0: entries never expire
  std::string cache_dir;               // non-empty: RocksDB store there behind the memory tier
  std::string cache_redis;             // "host:port": Redis store behind the memory tier
  std::string cache_redis_prefix;
  bool cache_sampled = false;          // cache non-reproducible answers too
  bool semantic_cache = false;
  float semantic_threshold = -1;       // < 0: the default of the embedder (kDefaultSemanticThreshold)
  std::string semantic_model;          // embedder name; empty: the first one
  int64_t semantic_max_entries = 100'000;
  int semantic_hnsw_min_entries = 2048;  // a namespace is searched by HNSW past this size
  int semantic_pca_dims = 0;             // 0: off; else stored vectors are reduced to this many
};

// The semantic cache's default threshold: the lowest cosine similarity at which the demo
// embedder's held-out precision reaches 0.98 (models/brisk-tiny-embed/README.md).
inline constexpr float kDefaultSemanticThreshold = 0.60f;

// Runs until SIGINT or SIGTERM; returns the exit code.
int RunServe(const ServeOptions& options);

}  // namespace brisk::cli
