// `brisk eval perplexity`: perplexity of a model on a text file, by the method that
// tools/train_brisk_tiny.py uses with transformers, so the two figures are comparable:
//   the text is encoded without special tokens and cut into consecutive windows of
//   (context - 1) tokens; each window is prefixed with BOS and every text token is predicted
//   exactly once. Perplexity = exp(total negative log-likelihood / number of text tokens).
// Models without a BOS token use windows of `context` tokens whose first token is not scored.
#include <cmath>
#include <cstdio>

#include "base/clock.h"
#include "base/mapped_file.h"
#include "cli/commands.h"

namespace brisk::cli {
namespace {

// -log softmax(logits)[target], in double.
double NegLogLikelihood(const float* logits, int64_t vocab, int32_t target) {
  double max_logit = logits[0];
  for (int64_t v = 1; v < vocab; ++v) max_logit = std::max<double>(max_logit, logits[v]);
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v) sum += std::exp(logits[v] - max_logit);
  return std::log(sum) + max_logit - logits[target];
}

}  // namespace

int RunPerplexity(const PerplexityOptions& options) {
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
    return 1;
  };
  auto text = base::ReadFileToString(options.text_file);
  if (!text.ok()) return fail(text.status());
  auto loaded = LoadModel(options.model);
  if (!loaded.ok()) return fail(loaded.status());
  const auto& config = loaded->model->config();
  if (options.context < 2 || options.context > config.max_position_embeddings) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "--context must be in [2, ", config.max_position_embeddings, "], got ", options.context)));
  }
  std::vector<int32_t> ids = loaded->tokenizer->Encode(*text, tokenizer::AddSpecial::kNo);
  if (options.max_tokens > 0 && static_cast<int64_t>(ids.size()) > options.max_tokens) {
    ids.resize(options.max_tokens);
  }
  if (ids.size() < 2) return fail(absl::InvalidArgumentError("the text has fewer than 2 tokens"));
  const bool has_bos = !config.bos_token_ids.empty();
  const int stride = has_bos ? options.context - 1 : options.context;
  const int64_t vocab = config.vocab_size;
  double total_nll = 0;
  int64_t scored = 0;
  base::Stopwatch clock, progress_clock;
  const int64_t num_windows = (static_cast<int64_t>(ids.size()) + stride - 1) / stride;
  for (int64_t w = 0; w < num_windows; ++w) {
    const size_t begin = w * stride;
    const size_t end = std::min(ids.size(), begin + stride);
    std::vector<int32_t> window;
    if (has_bos) window.push_back(config.bos_token_ids[0]);
    window.insert(window.end(), ids.begin() + begin, ids.begin() + end);
    if (window.size() < 2) break;
    auto logits = loaded->generator->ScoreTokens(window);
    if (!logits.ok()) return fail(logits.status());
    for (size_t t = 0; t + 1 < window.size(); ++t) {
      total_nll += NegLogLikelihood(logits->data<float>() + t * vocab, vocab, window[t + 1]);
      ++scored;
    }
    if (progress_clock.ElapsedMillis() > 2000 || w + 1 == num_windows) {
      std::fprintf(stderr, "window %lld/%lld: perplexity so far %.4f (%.0f tokens/s)\n",
                   static_cast<long long>(w + 1), static_cast<long long>(num_windows),
                   std::exp(total_nll / scored), 1000.0 * scored / clock.ElapsedMillis());
      progress_clock.Reset();
    }
  }
  std::printf("perplexity %.4f over %lld tokens (%lld windows of %d, %s) in %.1f s\n",
              std::exp(total_nll / scored), static_cast<long long>(scored),
              static_cast<long long>(num_windows), options.context,
              has_bos ? "BOS-prefixed" : "no BOS", clock.ElapsedMillis() / 1000.0);
  return 0;
}

}  // namespace brisk::cli
