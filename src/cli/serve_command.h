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
};

// Runs until SIGINT or SIGTERM; returns the exit code.
int RunServe(const ServeOptions& options);

}  // namespace brisk::cli
