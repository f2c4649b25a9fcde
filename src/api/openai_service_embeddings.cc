// OpenAiService's /v1/embeddings: parse, tokenize (with the model's special tokens), check every
// input against the model's limit, submit all inputs as one request to the embedding engine
// (which batches them with concurrent requests), and answer on the connection's strand.
// `dimensions` below the model's truncates each vector to its first features and, for a model
// whose vectors are normalized, renormalizes the rest (the Matryoshka convention); it is only as
// good as the model's training for it.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/openai_embeddings.h"
#include "api/openai_service.h"
#include "base/clock.h"

namespace brisk::api {
namespace {

constexpr char kJson[] = "application/json";

void Truncate(std::vector<float>& v, int dims, bool renormalize) {
  v.resize(static_cast<size_t>(dims));
  if (!renormalize) return;
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
}

}  // namespace

void OpenAiService::HandleEmbeddings(std::shared_ptr<HttpExchange> ex) {
  const HttpRequest& r = ex->request();
  const int64_t received_us = r.received_us;
  auto record = [this, received_us](int status) {
    options_.metrics->RecordHttp(
        {.endpoint = "/v1/embeddings", .status_code = status,
         .duration_s = static_cast<double>(base::NowMicros() - received_us) * 1e-6});
  };
  auto fail = [&](const ApiError& e) {
    record(e.http_status);
    HttpHeaders h;
    if (e.http_status == 429) h.emplace_back("Retry-After", "1");
    ex->Respond(e.http_status, kJson, ErrorBody(e), std::move(h));
  };
  EmbeddingParseResult parsed = ParseEmbeddingRequest(r.body);
  if (const ApiError* e = std::get_if<ApiError>(&parsed)) return fail(*e);
  EmbeddingRequest req = std::get<EmbeddingRequest>(std::move(parsed));
  const ServedEmbedder* embedder = FindEmbedder(req.model);
  if (embedder == nullptr) {
    if (FindModel(req.model) != nullptr) {
      return fail(InvalidRequest(absl::StrCat("model '", req.model, "' generates text and does "
                                              "not produce embeddings; use an embedding model"),
                                 "model"));
    }
    return fail(ModelNotFound(req.model));
  }
  const engine::EmbeddingInfo& info = embedder->client->info();
  if (req.dimensions && *req.dimensions > info.dimensions) {
    return fail(InvalidRequest(absl::StrCat("Invalid value for 'dimensions': model '", req.model,
                                            "' has ", info.dimensions, " dimensions, but ",
                                            *req.dimensions, " were asked for."),
                               "dimensions"));
  }

  std::vector<std::vector<int32_t>> inputs;
  if (auto* texts = std::get_if<std::vector<std::string>>(&req.input)) {
    inputs.reserve(texts->size());
    for (const std::string& text : *texts) {
      inputs.push_back(embedder->tokenizer->Encode(text, tokenizer::AddSpecial::kYes));
    }
  } else {
    inputs = std::get<std::vector<std::vector<int32_t>>>(std::move(req.input));
  }
  int num_tokens = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int n = static_cast<int>(inputs[i].size());
    num_tokens += n;
    if (n > info.max_tokens) {
      ApiError e = InvalidRequest(
          absl::StrCat("this model's maximum context length is ", info.max_tokens,
                       " tokens, but input ", i, " has ", n, " tokens; shorten it"),
          "input");
      e.code = "context_length_exceeded";
      return fail(e);
    }
  }

  const bool base64 = req.base64;
  const int dims = req.dimensions.value_or(info.dimensions);
  const bool renormalize = info.normalized;
  std::string model = req.model;
  absl::Status submitted = embedder->client->Submit(
      std::move(inputs), [ex, record, base64, dims, renormalize, num_tokens,
                          model = std::move(model), full = info.dimensions](
                             engine::EmbeddingResult result) mutable {
        ex->Post([ex, record, base64, dims, renormalize, num_tokens, full,
                  model = std::move(model), result = std::move(result)]() mutable {
          if (ex->disconnected()) return record(499);
          if (!result.status.ok()) {
            const ApiError e = FromStatus(result.status);
            record(e.http_status);
            return ex->Respond(e.http_status, kJson, ErrorBody(e));
          }
          if (dims < full) {
            for (std::vector<float>& v : result.vectors) Truncate(v, dims, renormalize);
          }
          record(200);
          ex->Respond(200, kJson, EmbeddingsBody(model, result.vectors, base64, num_tokens),
                      {{"Server-Timing",
                        absl::StrFormat("queue;dur=%.3f, embed;dur=%.3f", result.queue_s * 1e3,
                                        result.compute_s * 1e3)}});
        });
      });
  if (!submitted.ok()) return fail(FromStatus(submitted));
}

}  // namespace brisk::api
