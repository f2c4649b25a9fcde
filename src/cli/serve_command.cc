// `brisk serve`: wires the concrete pieces together (DESIGN.md: only cli/ does): models and
// their LlmEngines, the OpenAiService, metrics and the HTTP server. The port opens before the
// models load, so /health answers at once and /ready turns 200 when every model is up.
#include "cli/serve_command.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "api/api_keys.h"
#include "api/http_server.h"
#include "api/openai_protocol.h"
#include "api/openai_service.h"
#include "base/logging.h"
#include "engine/llm_engine.h"
#include "metrics/serving_metrics.h"
#include "tokenizer/chat/chat_template.h"

namespace brisk::cli {
namespace {

struct ServedEngine {
  LoadedModel loaded;
  std::unique_ptr<engine::LlmEngine> engine;
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
                                                       : kvcache::PrefixCaching::kEnabled};
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
  api::OpenAiService service({.api_keys = keys.get(), .metrics = &metrics});
  // Engines are declared before the server so that they stop first: their last outputs are
  // posted to connections that still exist.
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
  service.SetReady();
  std::fprintf(stderr, "brisk: ready (%zu model%s)\n", engines.size(),
               engines.size() == 1 ? "" : "s");
  std::fflush(stderr);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "brisk: %s received, stopping\n", signal_number == SIGINT ? "SIGINT"
                                                                                 : "SIGTERM");
  engines.clear();  // live requests end with an abort; their streams are closed
  server->reset();
  return 0;
}

}  // namespace brisk::cli
