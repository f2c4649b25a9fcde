// The subcommands of the `brisk` binary. Each returns the process exit code and prints errors
// itself (one line, naming what to fix).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cli/model_setup.h"
#include "sampling/sampling_params.h"

namespace brisk::cli {

struct GenerateOptions {
  ModelSetupOptions model;
  std::string prompt;       // text, encoded with the tokenizer's special tokens (BOS)
  std::string prompt_ids;   // "1,2,3": used as is when non-empty
  sampling::SamplingParams sampling;
  bool print_ids = false;
};
int RunGenerate(const GenerateOptions& options);

struct ChatOptions {
  ModelSetupOptions model;
  sampling::SamplingParams sampling;
};
int RunChat(const ChatOptions& options);

struct PerplexityOptions {
  ModelSetupOptions model;
  std::string text_file;
  int context = 1024;  // tokens per window, BOS included
  int64_t max_tokens = 0;  // 0: the whole file
};
int RunPerplexity(const PerplexityOptions& options);

// Parses "1, 2,3" into ids. InvalidArgument naming the bad item.
absl::StatusOr<std::vector<int32_t>> ParseIdList(const std::string& text);

}  // namespace brisk::cli
