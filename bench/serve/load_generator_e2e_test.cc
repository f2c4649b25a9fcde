// End-to-end tests of the load generator against a tiny fake OpenAI server written here on
// Boost.Beast: it binds 127.0.0.1 port 0, lists one model on /v1/models, and streams
// /v1/completions as SSE chunks (a few ms apart, then a usage chunk and [DONE]), or fails in
// one of several ways. The tests check counts, token totals, latency invariants and errors.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>  // before Asio: boost 1.74's awaitable.hpp uses std::exchange
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "bench/serve/load_generator.h"
#include "gtest/gtest.h"

namespace brisk::loadgen {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

enum class FakeMode {
  kStream,         // every completion streams normally
  kFailEveryOther, // the 2nd, 4th, ... completion request gets HTTP 500
  kErrorInStream,  // one token, then an `error` event
  kStall,          // one token, then nothing until the server stops
};

struct FakeServerOptions {
  FakeMode mode = FakeMode::kStream;
  bool list_vocab_size = true;
  int64_t vocab_size = 1000;
  int tokens_per_event = 1;
  // Small, so tests stay fast, but large enough that TTFT < E2E is a real ordering.
  std::chrono::microseconds token_gap{1500};
};

class FakeOpenAiServer {
 public:
  explicit FakeOpenAiServer(FakeServerOptions options)
      : options_(options), acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~FakeOpenAiServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (const auto& s : sockets_) ::shutdown(s->native_handle(), SHUT_RDWR);
    }
    stop_cv_.notify_all();
    beast::error_code ec;
    tcp::socket waker(ioc_);  // wakes the blocking accept()
    waker.connect({net::ip::make_address("127.0.0.1"), port_}, ec);
    accept_thread_.join();
    for (std::thread& t : connection_threads_) t.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int num_connections() const { return num_connections_.load(); }
  std::vector<json> completion_requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void AcceptLoop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(ioc_);
      beast::error_code ec;
      acceptor_.accept(*socket, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (ec) continue;
      ++num_connections_;
      // Without this, Nagle's algorithm holds each small SSE chunk until the client's delayed
      // ACK (~40 ms on Linux), and the tokens arrive in bursts.
      socket->set_option(tcp::no_delay(true), ec);
      sockets_.push_back(socket);
      connection_threads_.emplace_back([this, socket] { Serve(*socket); });
    }
  }

  void Serve(tcp::socket& socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      if (req.target() == "/v1/models") {
        json model = {{"id", "fake-model"}, {"object", "model"}};
        if (options_.list_vocab_size) model["vocab_size"] = options_.vocab_size;
        Respond(socket, req, 200, json{{"object", "list"}, {"data", {model}}}.dump());
      } else if (req.target() == "/v1/completions" && req.method() == http::verb::post) {
        if (!Complete(socket, req)) return;
      } else {
        Respond(socket, req, 404, R"({"error":{"message":"no such route"}})");
      }
      if (!req.keep_alive()) return;
    }
  }

  void Respond(tcp::socket& socket, const http::request<http::string_body>& req, int status,
               std::string body) {
    http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    beast::error_code ec;
    http::write(socket, res, ec);
  }

  // Streams one completion. Returns false when the connection should be dropped.
  bool Complete(tcp::socket& socket, const http::request<http::string_body>& req) {
    const json body = json::parse(req.body(), nullptr, false);
    if (!body.is_object()) {
      Respond(socket, req, 400, R"({"error":{"message":"body is not a JSON object"}})");
      return true;
    }
    int ordinal = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(body);
      ordinal = static_cast<int>(requests_.size());
    }
    if (options_.mode == FakeMode::kFailEveryOther && ordinal % 2 == 0) {
      Respond(socket, req, 500, R"({"error":{"message":"fake failure","type":"server_error"}})");
      return true;
    }
    const int max_tokens = body.value("max_tokens", 1);
    const int64_t prompt_len = body.contains("prompt") ? body["prompt"].size() : 0;
    http::response<http::empty_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/event-stream");
    res.chunked(true);
    res.keep_alive(req.keep_alive());
    http::response_serializer<http::empty_body> serializer{res};
    beast::error_code ec;
    http::write_header(socket, serializer, ec);
    auto send = [&](const std::string& event) {
      if (!ec) net::write(socket, http::make_chunk(net::buffer(event)), ec);
      return !ec;
    };
    auto text_event = [](const std::string& text) {
      return "data: " + json{{"object", "text_completion"},
                             {"choices", {{{"index", 0}, {"text", text}, {"finish_reason", nullptr}}}}}
                            .dump() + "\n\n";
    };
    for (int t = 0; t < max_tokens; t += options_.tokens_per_event) {
      std::this_thread::sleep_for(options_.token_gap);
      std::string text;
      for (int k = t; k < std::min(max_tokens, t + options_.tokens_per_event); ++k) {
        text += " tok" + std::to_string(k);
      }
      if (!send(text_event(text))) return false;
      if (options_.mode == FakeMode::kErrorInStream) {
        send("data: {\"error\":{\"message\":\"boom in stream\",\"code\":500}}\n\n");
        break;
      }
      if (options_.mode == FakeMode::kStall) {
        std::unique_lock<std::mutex> lock(mu_);
        stop_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return stopping_; });
        return false;
      }
    }
    if (options_.mode == FakeMode::kStream) {
      send("data: " + json{{"choices", {{{"index", 0}, {"text", ""}, {"finish_reason", "length"}}}}}
                          .dump() + "\n\n");
      send("data: " + json{{"choices", json::array()},
                           {"usage", {{"prompt_tokens", prompt_len},
                                      {"completion_tokens", max_tokens},
                                      {"total_tokens", prompt_len + max_tokens}}}}
                          .dump() + "\n\n");
    }
    send("data: [DONE]\n\n");
    if (!ec) net::write(socket, http::make_chunk_last(), ec);
    return !ec;
  }

  const FakeServerOptions options_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::atomic<int> num_connections_{0};
  // Guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> connection_threads_;
  std::vector<json> requests_;
};

LoadGenOptions Options(const FakeOpenAiServer& server) {
  return {.url = server.url(), .concurrency = 4, .num_requests = 12, .input_len = 16,
          .output_len = 8, .seed = 11, .timeout_s = 20, .progress_interval_s = 0};
}

std::string ErrorText(const absl::Status& s) { return std::string(s.message()); }

TEST(LoadGeneratorE2eTest, ConcurrencyRunCountsEverything) {
  FakeOpenAiServer server({});
  LoadGenOptions o = Options(server);
  ASSERT_TRUE(ResolveServerDefaults(&o).ok());
  EXPECT_EQ(o.model, "fake-model");
  EXPECT_EQ(o.vocab_size, 1000);
  const LoadGenResult r = RunLoad(o);
  const Summary s = Summarize(o, r);
  std::cout << FormatReport(o, s);

  EXPECT_EQ(s.num_ok, 12);
  EXPECT_EQ(s.num_failed, 0) << s.first_error;
  EXPECT_EQ(s.total_output_tokens, 12 * 8);
  EXPECT_EQ(s.total_prompt_tokens, 12 * 16);
  EXPECT_EQ(s.ttft.count, 12);
  EXPECT_EQ(s.itl.count, 12 * 7);  // one gap between each pair of the 8 token events
  EXPECT_GT(s.duration_s, 0);
  EXPECT_DOUBLE_EQ(s.request_throughput, 12 / s.duration_s);
  for (const RequestRecord& rec : r.requests) {
    EXPECT_TRUE(rec.ok) << rec.error;
    EXPECT_GT(rec.ttft_ms, 0);
    EXPECT_LT(rec.ttft_ms, rec.e2e_ms);
    double itl_sum = 0;
    for (double gap : rec.itl_ms) itl_sum += gap;
    EXPECT_LE(rec.ttft_ms + itl_sum, rec.e2e_ms + 1e-9);  // first..last text lies inside E2E
    EXPECT_LE(rec.start_ms + rec.e2e_ms, s.duration_s * 1e3 + 1e-6);
  }
  // What went over the wire: the built prompts (in some order) and the OpenAI fields.
  const auto seen = server.completion_requests();
  ASSERT_EQ(seen.size(), 12u);
  std::vector<std::vector<int32_t>> prompts;
  for (const json& body : seen) {
    EXPECT_EQ(body["model"], "fake-model");
    EXPECT_EQ(body["max_tokens"], 8);
    EXPECT_EQ(body["stream"], true);
    EXPECT_EQ(body["stream_options"]["include_usage"], true);
    prompts.push_back(body["prompt"].get<std::vector<int32_t>>());
  }
  auto expected = BuildPrompts(12, 16, 0, 1000, 11);
  std::sort(prompts.begin(), prompts.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(prompts, expected);
  // Keep-alive: one connection for /v1/models, then one per worker.
  EXPECT_EQ(server.num_connections(), 1 + 4);
}

TEST(LoadGeneratorE2eTest, MultiTokenEventsCountAsOneGapAndUsageGivesTokens) {
  FakeOpenAiServer server({.tokens_per_event = 3});
  LoadGenOptions o = Options(server);
  o.num_requests = 3;
  o.output_len = 7;  // events of 3, 3 and 1 tokens
  ASSERT_TRUE(ResolveServerDefaults(&o).ok());
  const LoadGenResult r = RunLoad(o);
  for (const RequestRecord& rec : r.requests) {
    EXPECT_TRUE(rec.ok) << rec.error;
    EXPECT_EQ(rec.itl_ms.size(), 2u);
    EXPECT_EQ(rec.output_tokens, 7);
  }
}

TEST(LoadGeneratorE2eTest, RateModeKeepsTheScheduleAndSharedPrefix) {
  FakeOpenAiServer server({});
  LoadGenOptions o = Options(server);
  o.mode = ArrivalMode::kRate;
  o.rate = 200;
  o.num_requests = 10;
  o.shared_prefix_len = 8;
  ASSERT_TRUE(ResolveServerDefaults(&o).ok());
  const LoadGenResult r = RunLoad(o);
  const Summary s = Summarize(o, r);
  std::cout << FormatReport(o, s);
  EXPECT_EQ(s.num_ok, 10) << s.first_error;
  const auto arrivals = ArrivalTimesS(10, 200, o.seed);
  for (size_t i = 0; i < r.requests.size(); ++i) {
    EXPECT_GE(r.requests[i].start_ms, arrivals[i] * 1e3 - 1e-6) << i;  // never early
  }
  const auto seen = server.completion_requests();
  ASSERT_EQ(seen.size(), 10u);
  const auto first = seen[0]["prompt"].get<std::vector<int32_t>>();
  for (const json& body : seen) {
    const auto p = body["prompt"].get<std::vector<int32_t>>();
    ASSERT_EQ(p.size(), 16u);
    EXPECT_TRUE(std::equal(p.begin(), p.begin() + 8, first.begin()));
  }
  EXPECT_TRUE(s.has_shared_prefix);
  EXPECT_DOUBLE_EQ(s.cold_prefix_ttft_ms, r.requests[0].ttft_ms);
  EXPECT_GT(s.warm_prefix_ttft_p50_ms, 0);
  EXPECT_NE(FormatReport(o, s).find("shared prefix 8 tokens"), std::string::npos);
}

TEST(LoadGeneratorE2eTest, DistinctPromptsRepeatRequestsInTurn) {
  FakeOpenAiServer server({});
  LoadGenOptions o = Options(server);
  o.num_requests = 7;
  o.distinct_prompts = 3;
  ASSERT_TRUE(ResolveServerDefaults(&o).ok());
  const Summary s = Summarize(o, RunLoad(o));
  EXPECT_EQ(s.num_ok, 7) << s.first_error;
  const auto seen = server.completion_requests();
  ASSERT_EQ(seen.size(), 7u);
  std::set<std::vector<int32_t>> distinct;
  for (const json& body : seen) distinct.insert(body["prompt"].get<std::vector<int32_t>>());
  EXPECT_EQ(distinct.size(), 3u);
  // Request i sends prompt i mod 3: the same ids as the first requests of an unrepeated run.
  const auto prompts = BuildPrompts(3, o.input_len, 0, o.vocab_size, o.seed);
  for (const auto& p : prompts) EXPECT_EQ(distinct.count(p), 1u);
}

TEST(LoadGeneratorE2eTest, InfiniteRateSendsEverything) {
  FakeOpenAiServer server({});
  LoadGenOptions o = Options(server);
  o.mode = ArrivalMode::kRate;
  o.rate = std::numeric_limits<double>::infinity();
  o.num_requests = 6;
  ASSERT_TRUE(ResolveServerDefaults(&o).ok());
  const Summary s = Summarize(o, RunLoad(o));
  EXPECT_EQ(s.num_ok, 6) << s.first_error;
  EXPECT_EQ(server.num_connections(), 1 + 6);  // one worker per request
}

TEST(LoadGeneratorE2eTest, HttpErrorsAreCountedAndReported) {
  FakeOpenAiServer server({.mode = FakeMode::kFailEveryOther});
  LoadGenOptions o = Options(server);
  o.num_requests = 6;
  o.concurrency = 2;
  ASSERT_TRUE(ResolveServerDefaults(&o).ok());
  const Summary s = Summarize(o, RunLoad(o));
  std::cout << FormatReport(o, s);
  EXPECT_EQ(s.num_ok, 3);
  EXPECT_EQ(s.num_failed, 3);
  EXPECT_EQ(s.total_output_tokens, 3 * 8);
  EXPECT_NE(s.first_error.find("HTTP 500"), std::string::npos) << s.first_error;
  EXPECT_NE(s.first_error.find("fake failure"), std::string::npos) << s.first_error;
  EXPECT_NE(FormatReport(o, s).find("first error: request"), std::string::npos);
}

TEST(LoadGeneratorE2eTest, ErrorObjectInStreamFailsTheRequest) {
  FakeOpenAiServer server({.mode = FakeMode::kErrorInStream});
  LoadGenOptions o = Options(server);
  o.num_requests = 3;
  ASSERT_TRUE(ResolveServerDefaults(&o).ok());
  const Summary s = Summarize(o, RunLoad(o));
  EXPECT_EQ(s.num_failed, 3);
  EXPECT_NE(s.first_error.find("boom in stream"), std::string::npos) << s.first_error;
}

TEST(LoadGeneratorE2eTest, TimeoutFailsTheRequest) {
  FakeOpenAiServer server({.mode = FakeMode::kStall});
  LoadGenOptions o = Options(server);
  o.num_requests = 2;
  o.concurrency = 2;
  o.timeout_s = 0.3;
  ASSERT_TRUE(ResolveServerDefaults(&o).ok());
  const LoadGenResult r = RunLoad(o);
  for (const RequestRecord& rec : r.requests) {
    EXPECT_FALSE(rec.ok);
    EXPECT_NE(rec.error.find("timed out"), std::string::npos) << rec.error;
    EXPECT_GE(rec.e2e_ms, 290);   // the deadline, less timer slack
    EXPECT_LT(rec.e2e_ms, 5000);  // and not the server's 10 s stall
  }
}

TEST(LoadGeneratorE2eTest, UnreachableServer) {
  uint16_t port = 0;
  {
    net::io_context ioc;
    tcp::acceptor probe(ioc, {net::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }  // closed: nothing listens there now
  LoadGenOptions o = {.url = "http://127.0.0.1:" + std::to_string(port), .num_requests = 2,
                      .input_len = 4, .output_len = 2, .vocab_size = 10, .timeout_s = 5,
                      .progress_interval_s = 0};
  EXPECT_EQ(ResolveServerDefaults(&o).code(), absl::StatusCode::kUnavailable);
  o.model = "m";
  ASSERT_TRUE(ResolveServerDefaults(&o).ok());  // nothing to ask the server
  const Summary s = Summarize(o, RunLoad(o));
  EXPECT_EQ(s.num_failed, 2);
  EXPECT_NE(s.first_error.find("cannot connect"), std::string::npos) << s.first_error;
}

TEST(LoadGeneratorE2eTest, MissingVocabSizeAsksForTheFlag) {
  FakeOpenAiServer server({.list_vocab_size = false});
  LoadGenOptions o = Options(server);
  const absl::Status status = ResolveServerDefaults(&o);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(ErrorText(status).find("--vocab-size"), std::string::npos) << status;
  o.vocab_size = 50;
  ASSERT_TRUE(ResolveServerDefaults(&o).ok());
  EXPECT_EQ(o.model, "fake-model");
  EXPECT_EQ(o.vocab_size, 50);
}

}  // namespace
}  // namespace brisk::loadgen
