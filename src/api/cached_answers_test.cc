// Tests of the api side of the response cache: which request fields make the keys, and that a
// recorded answer replays byte for byte as the response the serializers write for the new id.
#include "api/cached_answers.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace brisk::api {
namespace {

using Json = nlohmann::ordered_json;

ParsedRequest ParseChat(std::string_view body) {
  ParseResult r = ParseChatCompletionRequest(body);
  EXPECT_TRUE(std::holds_alternative<ParsedRequest>(r)) << body;
  return std::get<ParsedRequest>(r);
}

ParsedRequest ParseCompletion(std::string_view body) {
  ParseResult r = ParseCompletionRequest(body);
  EXPECT_TRUE(std::holds_alternative<ParsedRequest>(r)) << body;
  return std::get<ParsedRequest>(r);
}

cache::CacheRequest ChatKeys(std::string_view body, std::string_view tenant = "") {
  std::optional<cache::CacheRequest> r = CacheRequestFor(body, ParseChat(body), tenant, true);
  EXPECT_TRUE(r.has_value()) << body;
  return r.value_or(cache::CacheRequest{});
}

constexpr std::string_view kChat =
    R"({"model":"m","temperature":0,"messages":[{"role":"system","content":"be brief"},)"
    R"({"role":"user","content":"What is a verse?"}]})";

TEST(CachedAnswersTest, IgnoredFieldsDoNotChangeTheKey) {
  const cache::CacheRequest base = ChatKeys(kChat);
  for (std::string_view extra :
       {R"("stream":true)", R"("stream":true,"stream_options":{"include_usage":true})",
        R"("user":"someone")", R"("priority":5)", R"("metadata":{"a":"b"})"}) {
    std::string body(kChat);
    body.insert(body.size() - 1, "," + std::string(extra));
    const cache::CacheRequest other = ChatKeys(body);
    EXPECT_EQ(other.exact_key, base.exact_key) << extra;
    EXPECT_EQ(other.fingerprint, base.fingerprint) << extra;
  }
  // Key order and number spelling do not matter either.
  const cache::CacheRequest reordered = ChatKeys(
      R"({"messages":[{"content":"be brief","role":"system"},)"
      R"({"role":"user","content":"What is a verse?"}],"temperature":0.0,"model":"m"})");
  EXPECT_EQ(reordered.exact_key, base.exact_key);
}

TEST(CachedAnswersTest, AnswerDeterminingFieldsChangeTheKey) {
  const cache::CacheRequest base = ChatKeys(kChat);
  for (std::string_view extra : {R"("max_tokens":5)", R"("seed":1)", R"("stop":["x"])",
                                 R"("logprobs":true)", R"("n":2)"}) {
    std::string body(kChat);
    body.insert(body.size() - 1, "," + std::string(extra));
    EXPECT_NE(ChatKeys(body).exact_key, base.exact_key) << extra;
    EXPECT_NE(ChatKeys(body).fingerprint, base.fingerprint) << extra;
  }
  EXPECT_NE(ChatKeys(kChat, "tenant-a").exact_key, base.exact_key);
  EXPECT_NE(ChatKeys(kChat, "tenant-a").exact_key, ChatKeys(kChat, "tenant-b").exact_key);
}

TEST(CachedAnswersTest, TheFingerprintLeavesOutOnlyTheLastUserTurn) {
  const cache::CacheRequest base = ChatKeys(kChat);
  ASSERT_TRUE(base.fingerprint.has_value());
  EXPECT_EQ(base.semantic_text, "What is a verse?");
  EXPECT_NE(*base.fingerprint, base.exact_key);

  // Another wording of the last turn: same fingerprint, different exact key.
  const cache::CacheRequest paraphrase = ChatKeys(
      R"({"model":"m","temperature":0,"messages":[{"role":"system","content":"be brief"},)"
      R"({"role":"user","content":"Tell me what a verse is"}]})");
  EXPECT_EQ(paraphrase.fingerprint, base.fingerprint);
  EXPECT_NE(paraphrase.exact_key, base.exact_key);
  EXPECT_EQ(paraphrase.semantic_text, "Tell me what a verse is");

  // A different system prompt, earlier turn, model or tenant: a different fingerprint.
  const cache::CacheRequest system = ChatKeys(
      R"({"model":"m","temperature":0,"messages":[{"role":"system","content":"be long"},)"
      R"({"role":"user","content":"What is a verse?"}]})");
  EXPECT_NE(system.fingerprint, base.fingerprint);
  const cache::CacheRequest model = ChatKeys(
      R"({"model":"m2","temperature":0,"messages":[{"role":"system","content":"be brief"},)"
      R"({"role":"user","content":"What is a verse?"}]})");
  EXPECT_NE(model.fingerprint, base.fingerprint);
  EXPECT_NE(ChatKeys(kChat, "t1").fingerprint, base.fingerprint);
  EXPECT_NE(ChatKeys(kChat, "t1").fingerprint, ChatKeys(kChat, "t2").fingerprint);

  // The last user turn is the one embedded, earlier ones stay in the fingerprint.
  const cache::CacheRequest turns = ChatKeys(
      R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"first"},)"
      R"({"role":"assistant","content":"ok"},{"role":"user","content":"second"}]})");
  EXPECT_EQ(turns.semantic_text, "second");
  const cache::CacheRequest turns2 = ChatKeys(
      R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"other"},)"
      R"({"role":"assistant","content":"ok"},{"role":"user","content":"second"}]})");
  EXPECT_NE(turns.fingerprint, turns2.fingerprint);
}

TEST(CachedAnswersTest, CompletionsEmbedTheTextPromptOnly) {
  const std::string text = R"({"model":"m","prompt":"In the beginning","max_tokens":4})";
  std::optional<cache::CacheRequest> r =
      CacheRequestFor(text, ParseCompletion(text), "", true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->semantic_text, "In the beginning");
  EXPECT_TRUE(r->fingerprint.has_value());
  // The same fields on the chat endpoint key differently.
  const std::string ids = R"({"model":"m","prompt":[1,2,3],"max_tokens":4})";
  r = CacheRequestFor(ids, ParseCompletion(ids), "", true);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->fingerprint.has_value());
  // Without the semantic tier there is no fingerprint.
  r = CacheRequestFor(text, ParseCompletion(text), "", false);
  EXPECT_FALSE(r->fingerprint.has_value());
}

TEST(CachedAnswersTest, ReproducibleMeansGreedyOrSeeded) {
  EXPECT_TRUE(IsCacheable(ParseChat(kChat)));
  EXPECT_TRUE(IsCacheable(ParseChat(
      R"({"model":"m","temperature":0.8,"seed":3,"messages":[{"role":"user","content":"a"}]})")));
  EXPECT_FALSE(IsCacheable(ParseChat(
      R"({"model":"m","temperature":0.8,"messages":[{"role":"user","content":"a"}]})")));
}

std::vector<ChoiceResult> Choices(bool logprobs) {
  std::vector<ChoiceResult> c(2);
  c[0] = {.index = 0, .text = R"(He said "created":0 and "id":"x")", .finish_reason = "stop",
          .has_logprobs = logprobs};
  c[1] = {.index = 1, .text = "caf\xc3\xa9", .finish_reason = "length", .has_logprobs = logprobs};
  if (logprobs) {
    c[0].logprobs = {{.token = "He", .bytes = {'H', 'e'}, .logprob = -0.5f,
                      .top = {{.token = "She", .bytes = {'S', 'h', 'e'}, .logprob = -1.0f}}}};
    c[1].logprobs = {{.token = "caf", .bytes = {'c', 'a', 'f'}, .logprob = -0.25f}};
  }
  return c;
}

TEST(CachedAnswersTest, ReplayedBodiesEqualFreshlySerializedOnes) {
  const Usage usage{.prompt_tokens = 12, .completion_tokens = 7, .cached_tokens = 0};
  for (bool chat : {true, false}) {
    for (bool logprobs : {false, true}) {
      ParsedRequest req = chat ? ParseChat(kChat)
                               : ParseCompletion(R"({"model":"m","prompt":"x"})");
      const std::vector<ChoiceResult> choices = Choices(logprobs);
      cache::CachedResponse rec = RecordAnswer(req, "m", choices, usage, 1234);
      EXPECT_EQ(rec.prompt_tokens, 12);
      EXPECT_EQ(rec.completion_tokens, 7);
      EXPECT_EQ(rec.compute_time_us, 1234);
      const ResponseHeader header{.id = "chatcmpl-abc", .created = 1700000000, .model = "m"};
      const std::string fresh = chat ? ChatCompletionBody(header, choices, usage)
                                     : CompletionBody(header, choices, usage);
      EXPECT_EQ(Rehead(rec.body_json, header.id, header.created), fresh);

      // The stream: reassembled text per choice, finish reasons, and the usage chunk last.
      std::vector<std::string> texts(2), finish(2);
      for (size_t i = 0; i + 1 < rec.sse_events.size(); ++i) {
        Json chunk = Json::parse(Rehead(rec.sse_events[i], header.id, header.created));
        EXPECT_EQ(chunk["id"], header.id);
        EXPECT_EQ(chunk["created"], header.created);
        EXPECT_EQ(chunk["object"], chat ? "chat.completion.chunk" : "text_completion");
        const Json& c = chunk["choices"][0];
        const int idx = c["index"].get<int>();
        if (chat) {
          if (c["delta"].contains("content")) texts[idx] += c["delta"]["content"].get<std::string>();
        } else {
          texts[idx] += c["text"].get<std::string>();
        }
        if (!c["finish_reason"].is_null()) finish[idx] = c["finish_reason"].get<std::string>();
      }
      EXPECT_EQ(texts[0], choices[0].text);
      EXPECT_EQ(texts[1], choices[1].text);
      EXPECT_EQ(finish[0], "stop");
      EXPECT_EQ(finish[1], "length");
      Json last = Json::parse(Rehead(rec.sse_events.back(), header.id, header.created));
      EXPECT_EQ(last["usage"]["completion_tokens"], 7);
      EXPECT_TRUE(last["choices"].empty());
    }
  }
}

TEST(CachedAnswersTest, ReheadWithoutThePlaceholderChangesNothing) {
  EXPECT_EQ(Rehead(R"({"id":"chatcmpl-1","created":0})", "new", 5),
            R"({"id":"chatcmpl-1","created":0})");
}

}  // namespace
}  // namespace brisk::api
