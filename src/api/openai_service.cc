#include "api/openai_service.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/cached_answers.h"
#include "api/openai_protocol.h"
#include "api/stop_strings.h"
#include "base/check.h"
#include "base/clock.h"
#include "base/logging.h"

namespace brisk::api {
namespace {

constexpr char kJson[] = "application/json";

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A request id: the client's X-Request-Id when it is short printable ASCII, else 16 random hex
// digits (random so that ids of different server runs do not collide in logs).
std::string RequestId(const HttpRequest& r) {
  std::string_view given = r.Header("x-request-id");
  bool usable = !given.empty() && given.size() <= 128;
  for (char c : given) usable = usable && c > ' ' && c < 127;
  if (usable) return std::string(given);
  thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrFormat("%016x", rng());
}

std::string Ms(double seconds) { return absl::StrFormat("%.3f", seconds * 1e3); }

int CountCodePoints(std::string_view text) {
  int n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

// "abort" (as vLLM's server says) when the engine cancelled the request for another reason
// than a stop: the server is shutting down.
std::string FinishReasonName(engine::FinishReason reason, bool stopped_by_string) {
  if (stopped_by_string) return "stop";
  switch (reason) {
    case engine::FinishReason::kStop: return "stop";
    case engine::FinishReason::kLength: return "length";
    case engine::FinishReason::kAborted:
    case engine::FinishReason::kNone: return "abort";
  }
  return "abort";
}

ApiError MethodNotAllowed(std::string_view method, std::string_view path) {
  ApiError e = InvalidRequest(absl::StrCat(std::string(method), " is not allowed on ",
                                           std::string(path)));
  e.http_status = 405;
  return e;
}

}  // namespace

// One generation request in flight. Lives as long as someone holds it: the engine callbacks
// (until each choice's finished output) and the disconnect hook. Every method runs on the
// connection's strand (engine outputs are re-posted there), so no lock is needed.
struct OpenAiService::Call : std::enable_shared_from_this<Call> {
  struct Choice {
    int64_t engine_id = -1;
    std::unique_ptr<tokenizer::IncrementalDecoder> decoder;
    std::unique_ptr<StopStringMatcher> stops;
    std::string text;                    // non-streaming: the whole text
    std::vector<LogprobEntry> logprobs;  // non-streaming: every token's
    int num_tokens = 0;                  // generated tokens counted in usage
    bool done = false;                   // its text is complete (engine finish or stop string)
    bool engine_finished = false;
    bool stopped_by_string = false;
    std::string finish_reason;
    int num_code_points = 0;  // streamed so far (completions' text_offset)
  };

  OpenAiService* service = nullptr;
  std::shared_ptr<HttpExchange> ex;
  const ServedModel* model = nullptr;
  ParsedRequest req;
  bool chat = false;
  std::string id;          // the response's "id"
  std::string request_id;  // X-Request-Id
  int64_t created = 0;
  std::string tenant;
  int num_prompt_tokens = 0;
  int num_cached_tokens = 0;
  std::vector<Choice> choices;
  bool headers_sent = false;
  bool responded = false;
  // Response cache: the keys when the request is cacheable, whether to record the answer, and
  // the x-brisk-cache value the response carries ("miss", "skip", "bypass"; empty: no cache).
  std::optional<cache::CacheRequest> cache_request;
  cache::CacheLookup cache_lookup;
  bool record_answer = false;
  bool use_semantic = true;  // false with x-brisk-cache: no-semantic
  std::string cache_status;
  // Timings for Server-Timing: the engine's queue and prefill of the first output, then the
  // rest as seen here.
  double queue_s = 0, prefill_s = 0;
  int64_t first_output_us = 0;

  std::string_view endpoint() const {
    return chat ? "/v1/chat/completions" : "/v1/completions";
  }

  HttpHeaders Headers(bool final) const {
    std::string timing = absl::StrCat("queue;dur=", Ms(queue_s), ", prefill;dur=", Ms(prefill_s));
    if (final && first_output_us != 0) {
      absl::StrAppend(&timing, ", decode;dur=",
                      Ms(static_cast<double>(base::NowMicros() - first_output_us) * 1e-6));
    }
    HttpHeaders h = {{"Server-Timing", timing}, {"X-Request-Id", request_id}};
    if (!cache_status.empty()) h.emplace_back("x-brisk-cache", cache_status);
    return h;
  }

  ResponseHeader Header() const { return {.id = id, .created = created, .model = model->name}; }
  void OnOutput(int idx, engine::EngineOutput out);
  void Abort() {
    for (Choice& c : choices) {
      if (c.engine_id >= 0 && !c.engine_finished) model->engine->Abort(c.engine_id);
    }
  }

 private:
  LogprobEntry MakeLogprob(const engine::TokenLogprobs& lp) const;
  void Send(int idx, const std::string& delta, std::vector<LogprobEntry> lps);
  void MaybeComplete();
  void RecordAnswer(const std::vector<ChoiceResult>& results, const Usage& usage);
};

LogprobEntry OpenAiService::Call::MakeLogprob(const engine::TokenLogprobs& lp) const {
  auto text = [&](int32_t id) {
    return model->tokenizer->Decode(std::span(&id, 1), tokenizer::SkipSpecial::kNo);
  };
  auto bytes = [](const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); };
  LogprobEntry e;
  e.token = text(lp.token_id);
  e.bytes = bytes(e.token);
  e.logprob = lp.logprob;
  for (const engine::TopLogprob& t : lp.top) {
    std::string token = text(t.token_id);
    e.top.push_back({.token = token, .bytes = bytes(token), .logprob = t.logprob});
  }
  return e;
}

void OpenAiService::Call::OnOutput(int idx, engine::EngineOutput out) {
  Choice& c = choices[idx];
  if (out.finished) c.engine_finished = true;
  // Recorded after the text is processed: a stop string in this output makes it a "stop".
  auto record = [&] {
    if (!out.finished) return;
    if (c.stopped_by_string) out.stats.finish_reason = "stop";
    service->options_.metrics->RecordRequest(out.stats);
  };
  if (first_output_us == 0 && !out.new_token_ids.empty()) {
    first_output_us = base::NowMicros();
    queue_s = out.stats.queue_s;
    prefill_s = out.stats.prefill_s;
  }
  if (idx == 0) num_cached_tokens = out.num_cached_tokens;
  if (c.done || responded) {
    record();
    return MaybeComplete();
  }

  std::string delta;
  std::vector<LogprobEntry> lps;
  const size_t n = out.new_token_ids.size();
  for (size_t k = 0; k < n && !c.done; ++k) {
    ++c.num_tokens;
    // The token that ended the request at an end-of-sequence or stop id has no text.
    if (out.finished && out.finish_reason == engine::FinishReason::kStop && k + 1 == n) break;
    if (k < out.logprobs.size()) lps.push_back(MakeLogprob(out.logprobs[k]));
    StopStringMatcher::Result r = c.stops->Append(c.decoder->Append(out.new_token_ids[k]));
    delta += r.emit;
    if (r.stopped) {
      c.done = c.stopped_by_string = true;
      c.finish_reason = "stop";
      if (!c.engine_finished) model->engine->Abort(c.engine_id);
    }
  }
  if (!c.done && out.finished) {
    StopStringMatcher::Result r = c.stops->Append(c.decoder->Flush());
    delta += r.emit;
    if (!r.stopped) delta += c.stops->Flush();  // may still cut at a stop string
    c.done = true;
    c.stopped_by_string = c.stops->stopped();
    c.finish_reason = FinishReasonName(out.finish_reason, c.stopped_by_string);
  }
  Send(idx, delta, std::move(lps));
  record();
  MaybeComplete();
}

void OpenAiService::Call::Send(int idx, const std::string& delta, std::vector<LogprobEntry> lps) {
  Choice& c = choices[idx];
  if (!req.stream) {
    c.text += delta;
    for (LogprobEntry& e : lps) c.logprobs.push_back(std::move(e));
    return;
  }
  if (record_answer) {  // the recording needs the whole text as well
    c.text += delta;
    c.logprobs.insert(c.logprobs.end(), lps.begin(), lps.end());
  }
  const ResponseHeader header = Header();
  const ChunkUsage usage = req.include_usage ? ChunkUsage::kNull : ChunkUsage::kOmit;
  if (!headers_sent) {
    headers_sent = true;
    HttpHeaders h = Headers(false);
    h.emplace_back("Cache-Control", "no-cache");
    ex->StartStream(200, "text/event-stream", std::move(h));
    // Every choice opens with its role, as OpenAI streams do.
    if (chat) {
      for (size_t i = 0; i < choices.size(); ++i) {
        ChoiceResult opening;
        opening.index = static_cast<int>(i);
        ex->Write(SseEvent(ChatChunk(header, opening, DeltaRole::kAssistant, usage)));
      }
    }
  }
  if (!delta.empty() || !lps.empty()) {
    ChoiceResult piece{.index = idx, .text = delta, .finish_reason = "",
                       .logprobs = std::move(lps), .has_logprobs = req.num_top_logprobs >= 0,
                       .text_offset = c.num_code_points};
    ex->Write(SseEvent(chat ? ChatChunk(header, piece, DeltaRole::kNone, usage)
                            : CompletionChunk(header, piece, usage)));
  }
  c.num_code_points += CountCodePoints(delta);
  if (c.done) {
    ChoiceResult last;
    last.index = idx;
    last.finish_reason = c.finish_reason;
    ex->Write(SseEvent(chat ? ChatChunk(header, last, DeltaRole::kNone, usage)
                            : CompletionChunk(header, last, usage)));
  }
}

void OpenAiService::Call::MaybeComplete() {
  if (responded) return;
  for (const Choice& c : choices) {
    if (!c.done) return;
  }
  responded = true;
  Usage usage{.prompt_tokens = num_prompt_tokens, .completion_tokens = 0,
              .cached_tokens = num_cached_tokens};
  for (const Choice& c : choices) usage.completion_tokens += c.num_tokens;
  const double duration_s =
      static_cast<double>(base::NowMicros() - ex->request().received_us) * 1e-6;
  service->options_.metrics->RecordHttp(
      {.endpoint = std::string(endpoint()),
       // 499: the client closed the connection first (the nginx convention).
       .status_code = ex->disconnected() ? 499 : 200,
       .duration_s = duration_s});
  if (ex->disconnected()) return;
  const bool has_logprobs = req.num_top_logprobs >= 0;
  std::vector<ChoiceResult> results;
  for (size_t i = 0; i < choices.size(); ++i) {
    results.push_back({.index = static_cast<int>(i),
                       .text = std::move(choices[i].text),
                       .finish_reason = choices[i].finish_reason,
                       .logprobs = std::move(choices[i].logprobs),
                       .has_logprobs = has_logprobs});
  }
  if (record_answer) RecordAnswer(results, usage);
  if (req.stream) {
    if (!headers_sent) {  // nothing was generated at all (cannot happen: max_tokens >= 1)
      headers_sent = true;
      ex->StartStream(200, "text/event-stream", Headers(true));
    }
    if (req.include_usage) {
      ex->Write(SseEvent(UsageChunk(
          Header(), chat ? Endpoint::kChatCompletions : Endpoint::kCompletions, usage)));
    }
    ex->Write(std::string(kSseDone));
    ex->End();
    return;
  }
  ex->Respond(200, kJson,
              chat ? ChatCompletionBody(Header(), results, usage)
                   : CompletionBody(Header(), results, usage),
              Headers(true));
}

// Records the finished answer unless a choice ended abnormally (the server shutting down): an
// answer cut short is not the answer to replay.
void OpenAiService::Call::RecordAnswer(const std::vector<ChoiceResult>& results,
                                       const Usage& usage) {
  for (const ChoiceResult& r : results) {
    if (r.finish_reason != "stop" && r.finish_reason != "length") return;
  }
  cache::ResponseCache* cache = service->response_cache_;
  auto answer = std::make_shared<cache::CachedResponse>(api::RecordAnswer(
      req, model->name, results, usage, base::NowMicros() - ex->request().received_us));
  for (const metrics::CacheInsertStats& s :
       cache->Insert(*cache_request, &cache_lookup, std::move(answer), use_semantic)) {
    service->options_.metrics->RecordCacheInsert(s);
  }
}

OpenAiService::OpenAiService(const OpenAiServiceOptions& options) : options_(options) {
  BRISK_CHECK(options_.metrics != nullptr);
}

void OpenAiService::AddModel(ServedModel model) {
  BRISK_CHECK(!ready_.load()) << "AddModel after SetReady";
  BRISK_CHECK(FindModel(model.name) == nullptr && FindEmbedder(model.name) == nullptr)
      << "model '" << model.name << "' twice";
  models_.push_back(std::move(model));
}

void OpenAiService::SetResponseCache(cache::ResponseCache* cache) {
  BRISK_CHECK(!ready_.load()) << "SetResponseCache after SetReady";
  response_cache_ = cache;
}

void OpenAiService::AddEmbedder(ServedEmbedder embedder) {
  BRISK_CHECK(!ready_.load()) << "AddEmbedder after SetReady";
  BRISK_CHECK(FindModel(embedder.name) == nullptr && FindEmbedder(embedder.name) == nullptr)
      << "model '" << embedder.name << "' twice";
  embedders_.push_back(std::move(embedder));
}

const ServedEmbedder* OpenAiService::FindEmbedder(const std::string& name) const {
  for (const ServedEmbedder& e : embedders_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

void OpenAiService::SetReady() { ready_.store(true); }

void OpenAiService::BeginShutdown() { stopping_.store(true); }

const ServedModel* OpenAiService::FindModel(const std::string& name) const {
  for (const ServedModel& m : models_) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

void OpenAiService::Handle(std::shared_ptr<HttpExchange> ex) {
  const HttpRequest& r = ex->request();
  const std::string_view path = r.path();
  const int64_t start_us = r.received_us;
  auto reply = [&](int status, std::string_view content_type, std::string body,
                   HttpHeaders headers = {}) {
    const bool known = path == "/health" || path == "/ready" || path == "/metrics" ||
                       path.starts_with("/v1/");
    options_.metrics->RecordHttp(
        {.endpoint = known ? std::string(path.starts_with("/v1/models/") ? "/v1/models/{id}"
                                                                          : path)
                           : "other",
         .status_code = status,
         .duration_s = static_cast<double>(base::NowMicros() - start_us) * 1e-6});
    ex->Respond(status, content_type, std::move(body), std::move(headers));
  };
  auto error = [&](const ApiError& e) {
    HttpHeaders h;
    if (e.http_status == 429) h.emplace_back("Retry-After", "1");
    if (e.http_status == 401) h.emplace_back("WWW-Authenticate", "Bearer");
    reply(e.http_status, kJson, ErrorBody(e), std::move(h));
  };

  if (path == "/health") return reply(200, kJson, R"({"status":"ok"})");
  std::string tenant;
  if (options_.api_keys != nullptr) {
    std::optional<std::string> t = options_.api_keys->TenantFor(r.Header("authorization"));
    if (!t) {
      return error(Unauthorized(
          "missing or unknown API key: send the header 'Authorization: Bearer <key>' with a "
          "key of the server's --api-keys file"));
    }
    tenant = *std::move(t);
  }
  if (stopping_.load() && (path == "/ready" || path.starts_with("/v1/"))) {
    return error(ServiceUnavailable("the server is shutting down"));
  }
  const bool ready = ready_.load();
  if (path == "/ready") {
    return ready ? reply(200, kJson, R"({"status":"ready"})")
                 : reply(503, kJson, R"({"status":"loading"})");
  }
  if (path == "/metrics") {
    if (r.method != "GET") return error(MethodNotAllowed(r.method, path));
    return HandleMetrics(*ex);
  }
  const bool chat = path == "/v1/chat/completions";
  const bool embeddings = path == "/v1/embeddings";
  const bool generation = chat || path == "/v1/completions";
  const bool models = path == "/v1/models" || path.starts_with("/v1/models/");
  if (!generation && !models && !embeddings) {
    return error(NotFound(absl::StrCat("no route for ", r.method, " ", std::string(path))));
  }
  if (r.method != (generation || embeddings ? "POST" : "GET")) {
    return error(MethodNotAllowed(r.method, path));
  }
  if (!ready) {
    return error(ServiceUnavailable("the server is still loading its models; poll GET /ready"));
  }
  if (models) return HandleModels(*ex, path);
  if (embeddings) return HandleEmbeddings(std::move(ex));
  HandleGeneration(std::move(ex), chat, tenant);
}

void OpenAiService::HandleModels(HttpExchange& ex, std::string_view path) {
  std::vector<ModelCard> cards;
  for (const ServedModel& m : models_) {
    cards.push_back({.id = m.name, .created = m.created_unix_s, .owned_by = "brisk",
                     .max_model_len = m.engine->info().max_model_len,
                     .vocab_size = m.engine->info().vocab_size});
  }
  for (const ServedEmbedder& e : embedders_) {
    cards.push_back({.id = e.name, .created = e.created_unix_s, .owned_by = "brisk",
                     .max_model_len = e.client->info().max_tokens,
                     .vocab_size = e.tokenizer->vocab_size()});
  }
  const int64_t start_us = ex.request().received_us;
  auto record = [&](int status) {
    options_.metrics->RecordHttp(
        {.endpoint = path == "/v1/models" ? "/v1/models" : "/v1/models/{id}",
         .status_code = status,
         .duration_s = static_cast<double>(base::NowMicros() - start_us) * 1e-6});
  };
  if (path == "/v1/models") {
    record(200);
    return ex.Respond(200, kJson, ModelsBody(cards));
  }
  const std::string name(path.substr(std::string_view("/v1/models/").size()));
  for (const ModelCard& card : cards) {
    if (card.id == name) {
      record(200);
      return ex.Respond(200, kJson, ModelBody(card));
    }
  }
  record(404);
  ex.Respond(404, kJson, ErrorBody(ModelNotFound(name)));
}

void OpenAiService::HandleMetrics(HttpExchange& ex) {
  std::vector<metrics::EngineGauges> gauges;
  if (ready_.load()) {
    for (const ServedModel& m : models_) gauges.push_back(m.engine->Gauges());
  }
  ex.Respond(200, "text/plain; version=0.0.4; charset=utf-8", options_.metrics->Render(gauges));
}

// The prompt's token ids: the chat template rendered and encoded without added special tokens
// (the template writes them, as in transformers' apply_chat_template), or the completion prompt
// encoded with them (text) or taken as is (ids).
static std::variant<std::vector<int32_t>, ApiError> PromptIds(const ServedModel& m,
                                                              const ParsedRequest& req,
                                                              bool chat) {
  if (chat) {
    if (m.chat_template == nullptr) {
      return InvalidRequest(absl::StrCat("model '", m.name, "' has no chat template; use "
                                         "/v1/completions"), "model");
    }
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    for (const auto& [k, v] : m.special_tokens.items()) ctx[k] = v;
    ctx["messages"] = req.messages;
    if (!req.tools.is_null()) ctx["tools"] = req.tools;
    ctx["add_generation_prompt"] = req.add_generation_prompt;
    absl::StatusOr<std::string> text = m.chat_template->Render(ctx);
    if (!text.ok()) {
      return InvalidRequest(absl::StrCat("the chat template of model '", m.name,
                                         "' cannot render these messages: ",
                                         std::string(text.status().message())),
                            "messages");
    }
    return m.tokenizer->Encode(*text, tokenizer::AddSpecial::kNo);
  }
  if (const auto* ids = std::get_if<std::vector<int32_t>>(&req.prompt)) return *ids;
  return m.tokenizer->Encode(std::get<std::string>(req.prompt), tokenizer::AddSpecial::kYes);
}

void OpenAiService::HandleGeneration(std::shared_ptr<HttpExchange> ex, bool chat,
                                     const std::string& tenant) {
  const HttpRequest& r = ex->request();
  const std::string endpoint = chat ? "/v1/chat/completions" : "/v1/completions";
  auto fail = [&](const ApiError& e) {
    options_.metrics->RecordHttp(
        {.endpoint = endpoint, .status_code = e.http_status,
         .duration_s = static_cast<double>(base::NowMicros() - r.received_us) * 1e-6});
    HttpHeaders h;
    if (e.http_status == 429) h.emplace_back("Retry-After", "1");
    ex->Respond(e.http_status, kJson, ErrorBody(e), std::move(h));
  };
  ParseResult parsed = chat ? ParseChatCompletionRequest(r.body) : ParseCompletionRequest(r.body);
  if (const ApiError* e = std::get_if<ApiError>(&parsed)) return fail(*e);
  auto call = std::make_shared<Call>();
  call->req = std::get<ParsedRequest>(std::move(parsed));
  const ParsedRequest& req = call->req;
  call->model = FindModel(req.model);
  if (call->model == nullptr) return fail(ModelNotFound(req.model));
  const ServedModel& m = *call->model;
  call->service = this;
  call->ex = ex;
  call->chat = chat;
  call->request_id = RequestId(r);
  call->id = absl::StrCat(chat ? "chatcmpl-" : "cmpl-", call->request_id);
  call->created = UnixSeconds();
  call->tenant = tenant;

  // The response cache, before any tokenization: a hit skips all of it.
  absl::StatusOr<cache::CacheControl> control = cache::ParseCacheControl(r.Header("x-brisk-cache"));
  if (!control.ok()) return fail(InvalidRequest(std::string(control.status().message())));
  cache::ResponseCache* response_cache = response_cache_;
  std::string_view why_not_cached;
  if (response_cache == nullptr) {
    why_not_cached = "the server runs without a response cache";
  } else if (*control == cache::CacheControl::kSkip) {
    call->cache_status = "skip";
    why_not_cached = "x-brisk-cache: skip";
  } else if (!options_.cache_sampled && !IsCacheable(req)) {
    call->cache_status = "bypass";
    why_not_cached = "only reproducible requests (temperature 0 or a seed) are cached";
  } else {
    call->cache_request = CacheRequestFor(r.body, req, tenant, response_cache->semantic_enabled());
    if (!call->cache_request) {
      call->cache_status = "bypass";
      why_not_cached = "this request cannot be keyed";
    }
  }
  if (call->cache_request) {
    call->use_semantic = *control != cache::CacheControl::kNoSemantic;
    call->cache_status = "miss";
    call->record_answer = true;
    if (*control != cache::CacheControl::kRefresh) {
      call->cache_lookup =
          response_cache->Lookup(*call->cache_request, /*use_exact=*/true, call->use_semantic);
      for (const metrics::CacheLookupStats& s : call->cache_lookup.stats) {
        options_.metrics->RecordCacheLookup(s);
      }
      if (call->cache_lookup.value != nullptr) return ReplayCached(*call, call->cache_lookup);
    }
  }
  if (*control == cache::CacheControl::kOnly) {
    ApiError e{.http_status = 504, .type = "cache_miss",
               .message = why_not_cached.empty()
                              ? std::string("no cached answer for this request "
                                            "(x-brisk-cache: only)")
                              : absl::StrCat("no cached answer for this request "
                                             "(x-brisk-cache: only): ",
                                             std::string(why_not_cached)),
               .param = "",
               .code = "cache_miss"};
    return fail(e);
  }

  auto ids = PromptIds(m, req, chat);
  if (const ApiError* e = std::get_if<ApiError>(&ids)) return fail(*e);
  std::vector<int32_t> prompt = std::get<std::vector<int32_t>>(std::move(ids));
  const int max_len = m.engine->info().max_model_len;
  const int num_prompt = static_cast<int>(prompt.size());
  if (num_prompt == 0) return fail(InvalidRequest("the prompt is empty", "prompt"));
  // Checked here as well as in the engine so the error carries the OpenAI param and code.
  const int64_t asked = int64_t{num_prompt} + req.max_tokens.value_or(1);
  if (num_prompt >= max_len || asked > max_len) {
    ApiError e = InvalidRequest(
        absl::StrCat("this model's maximum context length is ", max_len, " tokens, but the ",
                     chat ? "messages have " : "prompt has ", num_prompt, " tokens",
                     req.max_tokens ? absl::StrCat(" and max_tokens is ", *req.max_tokens,
                                                   " (", asked, " in all)")
                                    : std::string(", leaving no room for output"),
                     "; shorten the ", chat ? "messages" : "prompt",
                     req.max_tokens ? " or lower max_tokens" : ""),
        chat ? "messages" : "prompt");
    e.code = "context_length_exceeded";
    return fail(e);
  }
  engine::EngineRequest er;
  er.params = req.sampling;
  er.params.max_tokens = req.max_tokens.value_or(max_len - num_prompt);
  er.priority = req.priority;
  er.num_top_logprobs = req.num_top_logprobs;
  er.tenant = tenant;

  call->num_prompt_tokens = num_prompt;
  call->choices.resize(req.n);
  for (auto& c : call->choices) {
    c.decoder = std::make_unique<tokenizer::IncrementalDecoder>(*m.tokenizer,
                                                                tokenizer::SkipSpecial::kYes);
    c.stops = std::make_unique<StopStringMatcher>(req.stop);
  }
  er.prompt_token_ids = std::move(prompt);
  for (int i = 0; i < req.n; ++i) {
    engine::EngineRequest choice_req = er;
    // Choices of one seeded request differ from each other but not between runs.
    if (er.params.seed) choice_req.params.seed = *er.params.seed + static_cast<uint64_t>(i);
    absl::StatusOr<int64_t> id = m.engine->Submit(
        std::move(choice_req), [call, i](engine::EngineOutput out) {
          call->ex->Post([call, i, out = std::move(out)]() mutable {
            call->OnOutput(i, std::move(out));
          });
        });
    if (!id.ok()) {
      call->responded = true;  // outputs of choices already submitted are dropped
      call->Abort();
      return fail(FromStatus(id.status()));
    }
    call->choices[i].engine_id = *id;
  }
  ex->OnDisconnect([weak = std::weak_ptr<Call>(call)] {
    if (auto c = weak.lock()) c->Abort();
  });
}

void OpenAiService::ReplayCached(Call& call, const cache::CacheLookup& lookup) {
  const cache::CachedResponse& answer = *lookup.value;
  HttpExchange& ex = *call.ex;
  HttpHeaders h = {{"Server-Timing", absl::StrCat("cache;dur=", Ms(lookup.lookup_s))},
                   {"X-Request-Id", call.request_id},
                   {"x-brisk-cache", "hit"},
                   {"x-brisk-cache-tier", std::string(lookup.tier)},
                   {"x-brisk-cache-store", std::string(lookup.store)}};
  if (lookup.tier == "semantic") {
    h.emplace_back("x-brisk-cache-similarity", absl::StrFormat("%.4f", lookup.similarity));
  }
  if (!call.req.stream) {
    ex.Respond(200, kJson, Rehead(answer.body_json, call.id, call.created), std::move(h));
  } else {
    h.emplace_back("Cache-Control", "no-cache");
    ex.StartStream(200, "text/event-stream", std::move(h));
    const size_t n = answer.sse_events.size();
    std::string out;
    for (size_t i = 0; i + 1 < n; ++i) {
      out += SseEvent(Rehead(answer.sse_events[i], call.id, call.created));
    }
    // The last recorded event is the usage chunk.
    if (n > 0 && call.req.include_usage) {
      out += SseEvent(Rehead(answer.sse_events[n - 1], call.id, call.created));
    }
    out += kSseDone;
    ex.Write(std::move(out));
    ex.End();
  }
  options_.metrics->RecordHttp(
      {.endpoint = std::string(call.endpoint()), .status_code = 200,
       .duration_s = static_cast<double>(base::NowMicros() - ex.request().received_us) * 1e-6});
}

}  // namespace brisk::api
