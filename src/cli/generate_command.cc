// `brisk generate` and `brisk chat`: one prompt (or a loop of them) through the generator,
// streaming text as tokens are sampled and reporting prefill and decode speed on stderr.
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

namespace brisk::cli {
namespace {

void PrintTiming(const engine::GenerationStats& stats) {
  const double decode_tokens = static_cast<double>(stats.generated_tokens - 1);
  std::fprintf(stderr,
               "prefill: %lld tokens in %.1f ms (%.1f tok/s); decode: %lld tokens in %.1f ms "
               "(%.1f tok/s)\n",
               static_cast<long long>(stats.prompt_tokens), stats.prefill_ms,
               stats.prefill_ms > 0 ? 1000.0 * stats.prompt_tokens / stats.prefill_ms : 0.0,
               static_cast<long long>(stats.generated_tokens - 1), stats.decode_ms,
               stats.decode_ms > 0 ? 1000.0 * decode_tokens / stats.decode_ms : 0.0);
}

// Generates one continuation, streaming text (or ids) to stdout. Returns an error status.
absl::Status GenerateOne(LoadedModel& loaded, std::vector<int32_t> prompt_ids,
                         const sampling::SamplingParams& params, bool print_ids) {
  engine::GenerationRequest request{.prompt_ids = std::move(prompt_ids), .params = params};
  std::optional<tokenizer::IncrementalDecoder> detok;
  if (loaded.tokenizer) detok.emplace(*loaded.tokenizer, tokenizer::SkipSpecial::kYes);
  bool first = true;
  auto on_token = [&](int, int32_t id) {
    if (print_ids) {
      std::printf("%s%d", first ? "" : ",", id);
    } else if (detok) {
      std::string text = detok->Append(id);
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    first = false;
    std::fflush(stdout);
  };
  engine::GenerationStats stats;
  BRISK_ASSIGN_OR_RETURN(auto results,
                         loaded.generator->Generate(std::span(&request, 1), on_token, &stats));
  if (!print_ids && detok) {
    std::string rest = detok->Flush();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
  }
  std::printf("\n");
  std::fflush(stdout);
  PrintTiming(stats);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<int32_t>> ParseIdList(const std::string& text) {
  std::vector<int32_t> ids;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int32_t id;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(item), &id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", std::string(item), "' in the id list is not an integer"));
    }
    ids.push_back(id);
  }
  if (ids.empty()) return absl::InvalidArgumentError("the id list is empty");
  return ids;
}

int RunGenerate(const GenerateOptions& options) {
  ModelSetupOptions model_options = options.model;
  model_options.need_tokenizer = !options.print_ids || options.prompt_ids.empty();
  auto loaded = LoadModel(model_options);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  std::vector<int32_t> ids;
  if (!options.prompt_ids.empty()) {
    auto parsed = ParseIdList(options.prompt_ids);
    if (!parsed.ok()) {
      std::fprintf(stderr, "error: --prompt-ids: %s\n", std::string(parsed.status().message()).c_str());
      return 2;
    }
    ids = *std::move(parsed);
  } else {
    ids = loaded->tokenizer->Encode(options.prompt, tokenizer::AddSpecial::kYes);
  }
  absl::Status status = GenerateOne(*loaded, std::move(ids), options.sampling, options.print_ids);
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

int RunChat(const ChatOptions& options) {
  auto loaded = LoadModel(options.model);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr,
               "brisk: %s (%s parameters) from %s\n"
               "Type the start of a text and press Enter; the model continues it. "
               "Ctrl-D or /quit to leave.\n",
               loaded->model->config().architecture.c_str(), DescribeModel(*loaded).c_str(),
               loaded->model_dir.c_str());
  std::string line;
  for (;;) {
    std::fprintf(stderr, "> ");
    std::fflush(stderr);
    if (!std::getline(std::cin, line) || line == "/quit") break;
    if (line.empty()) continue;
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::vector<int32_t> ids = loaded->tokenizer->Encode(line, tokenizer::AddSpecial::kYes);
    absl::Status status = GenerateOne(*loaded, std::move(ids), options.sampling, false);
    if (!status.ok()) std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  }
  std::fprintf(stderr, "\n");
  return 0;
}

}  // namespace brisk::cli
