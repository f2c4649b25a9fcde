// Tests of the OpenAI protocol layer: every validation rule with its exact message and param,
// null handling, the status -> HTTP table, and response bodies read back through nlohmann to
// check their fields and shapes.
#include "api/openai_protocol.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

// The tests build result structs with designated initializers that name only the members a
// case needs; g++ 12's -Wextra flags each member left out, which is the point of the idiom.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace brisk::api {
namespace {

using Json = nlohmann::ordered_json;

// A valid chat body plus `extra`, a fragment of further members ("\"n\":2,\"user\":\"u\"").
std::string ChatBody(absl::string_view extra = "") {
  return absl::StrCat(R"({"model":"m","messages":[{"role":"user","content":"hi"}])",
                      extra.empty() ? "" : ",", extra, "}");
}

std::string CompletionBodyJson(absl::string_view extra = "") {
  return absl::StrCat(R"({"model":"m","prompt":"hi")", extra.empty() ? "" : ",", extra, "}");
}

ParsedRequest ExpectOk(const ParseResult& result) {
  if (const ApiError* error = std::get_if<ApiError>(&result)) {
    ADD_FAILURE() << "unexpected error: " << error->message;
    return {};
  }
  return std::get<ParsedRequest>(result);
}

ApiError ExpectError(const ParseResult& result) {
  if (!std::holds_alternative<ApiError>(result)) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  return std::get<ApiError>(result);
}

ParsedRequest ChatOk(absl::string_view extra) {
  return ExpectOk(ParseChatCompletionRequest(ChatBody(extra)));
}
ApiError ChatError(absl::string_view extra) {
  return ExpectError(ParseChatCompletionRequest(ChatBody(extra)));
}
ParsedRequest CompletionOk(absl::string_view extra) {
  return ExpectOk(ParseCompletionRequest(CompletionBodyJson(extra)));
}
ApiError CompletionError(absl::string_view extra) {
  return ExpectError(ParseCompletionRequest(CompletionBodyJson(extra)));
}

void ExpectBadRequest(const ApiError& error, absl::string_view message, absl::string_view param) {
  EXPECT_EQ(error.http_status, 400);
  EXPECT_EQ(error.type, "invalid_request_error");
  EXPECT_EQ(error.message, message);
  EXPECT_EQ(error.param, param);
}

// ------------------------------------------------------------------------------ errors

TEST(ApiErrorTest, HelpersSetStatusTypeAndCode) {
  ApiError e = InvalidRequest("bad", "temperature");
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(e.param, "temperature");
  EXPECT_EQ(NotFound("no route").http_status, 404);
  ApiError model = ModelNotFound("llama");
  EXPECT_EQ(model.http_status, 404);
  EXPECT_EQ(model.code, "model_not_found");
  EXPECT_EQ(model.param, "model");
  EXPECT_NE(model.message.find("llama"), std::string::npos);
  EXPECT_EQ(Unauthorized("no key").http_status, 401);
  EXPECT_EQ(RateLimited("slow down").http_status, 429);
  EXPECT_EQ(RateLimited("slow down").code, "rate_limit_exceeded");
  EXPECT_EQ(ServiceUnavailable("draining").http_status, 503);
  EXPECT_EQ(InternalError("oops").http_status, 500);
  EXPECT_EQ(InternalError("oops").type, "server_error");
}

TEST(ApiErrorTest, FromStatusMapsEveryCode) {
  struct Case {
    absl::Status status;
    int http_status;
    std::string type;
  };
  const Case cases[] = {
      {absl::InvalidArgumentError("a"), 400, "invalid_request_error"},
      {absl::FailedPreconditionError("a"), 400, "invalid_request_error"},
      {absl::UnauthenticatedError("a"), 401, "authentication_error"},
      {absl::PermissionDeniedError("a"), 403, "permission_error"},
      {absl::NotFoundError("a"), 404, "invalid_request_error"},
      {absl::ResourceExhaustedError("a"), 429, "rate_limit_error"},
      {absl::UnavailableError("a"), 503, "server_error"},
      {absl::DeadlineExceededError("a"), 504, "timeout_error"},
      {absl::InternalError("a"), 500, "server_error"},
      {absl::UnknownError("a"), 500, "server_error"},
      {absl::CancelledError("a"), 500, "server_error"},
      {absl::AbortedError("a"), 500, "server_error"},
      {absl::AlreadyExistsError("a"), 500, "server_error"},
      {absl::OutOfRangeError("a"), 500, "server_error"},
      {absl::UnimplementedError("a"), 500, "server_error"},
      {absl::DataLossError("a"), 500, "server_error"},
  };
  for (const Case& c : cases) {
    ApiError e = FromStatus(c.status);
    EXPECT_EQ(e.http_status, c.http_status) << c.status;
    EXPECT_EQ(e.type, c.type) << c.status;
    EXPECT_EQ(e.message, "a");
  }
  EXPECT_EQ(FromStatus(absl::NotFoundError("no model 'x'")).message, "no model 'x'");
}

TEST(ApiErrorDeathTest, FromStatusRejectsOk) {
  EXPECT_DEATH(FromStatus(absl::OkStatus()), "OK status");
}

TEST(ApiErrorTest, ErrorBodyHasTheOpenAIShape) {
  Json body = Json::parse(ErrorBody(InvalidRequest("bad value", "top_p")));
  ASSERT_EQ(body.size(), 1u);
  const Json& error = body.at("error");
  std::vector<std::string> keys;
  for (const auto& [key, value] : error.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"message", "type", "param", "code"}));
  EXPECT_EQ(error["message"], "bad value");
  EXPECT_EQ(error["type"], "invalid_request_error");
  EXPECT_EQ(error["param"], "top_p");
  EXPECT_TRUE(error["code"].is_null());

  Json no_param = Json::parse(ErrorBody(RateLimited("queue full")))["error"];
  EXPECT_TRUE(no_param["param"].is_null());
  EXPECT_EQ(no_param["code"], "rate_limit_exceeded");
}

TEST(ApiErrorTest, ErrorBodySurvivesInvalidUtf8) {
  Json body = Json::parse(ErrorBody(InvalidRequest("bad \xff byte")));
  EXPECT_EQ(body["error"]["message"], "bad \xEF\xBF\xBD byte");
}

// ------------------------------------------------------------------------------ bodies

TEST(ParseTest, MalformedJsonSaysWhere) {
  ApiError e = ExpectError(ParseChatCompletionRequest(R"({"model": })"));
  EXPECT_EQ(e.http_status, 400);
  EXPECT_NE(e.message.find("not valid JSON (byte 11)"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("json.exception"), std::string::npos) << e.message;
  EXPECT_EQ(ExpectError(ParseCompletionRequest("")).http_status, 400);
  EXPECT_EQ(ExpectError(ParseCompletionRequest(R"({"model":"m",)")).http_status, 400);
  // Invalid UTF-8 inside a string is a parse error, not an exception.
  EXPECT_EQ(ExpectError(ParseChatCompletionRequest("{\"model\":\"\xff\"}")).http_status, 400);
}

TEST(ParseTest, NonObjectBodies) {
  ExpectBadRequest(ExpectError(ParseChatCompletionRequest("[]")),
                   "The request body must be a JSON object, but got an array.", "");
  ExpectBadRequest(ExpectError(ParseChatCompletionRequest("42")),
                   "The request body must be a JSON object, but got an integer.", "");
  ExpectBadRequest(ExpectError(ParseCompletionRequest(R"("text")")),
                   "The request body must be a JSON object, but got a string.", "");
  ExpectBadRequest(ExpectError(ParseCompletionRequest("null")),
                   "The request body must be a JSON object, but got null.", "");
}

TEST(ParseTest, DeepNestingIsRejectedButBracketsInStringsDoNotCount) {
  std::string deep = absl::StrCat(R"({"model":"m","prompt":"x","metadata":)",
                                  std::string(200, '['), std::string(200, ']'), "}");
  ApiError e = ExpectError(ParseCompletionRequest(deep));
  EXPECT_EQ(e.http_status, 400);
  EXPECT_NE(e.message.find("deeper than 128"), std::string::npos) << e.message;
  std::string in_string = CompletionBodyJson(
      absl::StrCat(R"("user":")", std::string(300, '['), R"(\"[")"));
  EXPECT_EQ(CompletionOk(absl::StrCat(R"("user":")", std::string(300, '{'), R"(\"{")")).user,
            absl::StrCat(std::string(300, '{'), "\"{"));
  ExpectOk(ParseCompletionRequest(in_string));
}

TEST(ParseTest, UnrecognizedFieldsNameTheField) {
  ExpectBadRequest(ChatError(R"("temprature":1)"),
                   "Unrecognized request argument supplied: temprature", "temprature");
  // Each endpoint accepts only its own fields.
  ExpectBadRequest(ChatError(R"("prompt":"x")"),
                   "Unrecognized request argument supplied: prompt", "prompt");
  ExpectBadRequest(CompletionError(R"("messages":[])"),
                   "Unrecognized request argument supplied: messages", "messages");
  ExpectBadRequest(CompletionError(R"("max_completion_tokens":5)"),
                   "Unrecognized request argument supplied: max_completion_tokens",
                   "max_completion_tokens");
  // Even a null value of an unknown field is rejected.
  ExpectBadRequest(ChatError(R"("foo":null)"), "Unrecognized request argument supplied: foo",
                   "foo");
}

TEST(ParseTest, RequiredFields) {
  const std::string messages = R"("messages":[{"role":"user","content":"hi"}])";
  ExpectBadRequest(ExpectError(ParseChatCompletionRequest(absl::StrCat("{", messages, "}"))),
                   "Missing required parameter: 'model'.", "model");
  ExpectBadRequest(
      ExpectError(ParseChatCompletionRequest(absl::StrCat(R"({"model":null,)", messages, "}"))),
      "Missing required parameter: 'model'.", "model");
  ExpectBadRequest(
      ExpectError(ParseChatCompletionRequest(absl::StrCat(R"({"model":"",)", messages, "}"))),
      "Invalid value for 'model': expected a non-empty string, but got \"\".", "model");
  ExpectBadRequest(
      ExpectError(ParseChatCompletionRequest(absl::StrCat(R"({"model":7,)", messages, "}"))),
      "Invalid type for 'model': expected a string, but got an integer.", "model");
  ExpectBadRequest(ExpectError(ParseChatCompletionRequest(R"({"model":"m"})")),
                   "Missing required parameter: 'messages'.", "messages");
  ExpectBadRequest(ExpectError(ParseCompletionRequest(R"({"model":"m","prompt":null})")),
                   "Missing required parameter: 'prompt'.", "prompt");
}

// ------------------------------------------------------------------------------ chat

TEST(ParseChatTest, MinimalRequestGetsTheDefaults) {
  ParsedRequest r = ChatOk("");
  EXPECT_EQ(r.endpoint, Endpoint::kChatCompletions);
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.messages, Json::parse(R"([{"role":"user","content":"hi"}])"));
  EXPECT_TRUE(r.tools.is_null());
  EXPECT_TRUE(r.add_generation_prompt);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_FALSE(r.sampling.seed.has_value());
  EXPECT_TRUE(r.stop.empty());
  EXPECT_EQ(r.num_top_logprobs, -1);
  EXPECT_EQ(r.n, 1);
  EXPECT_EQ(r.priority, 0);
}

TEST(ParseChatTest, EveryKnobIsStored) {
  ParsedRequest r = ChatOk(
      R"("temperature":0.5,"top_p":0.9,"top_k":40,"min_p":0.05,"seed":7,)"
      R"("stop":["</s>","###"],"stop_token_ids":[2,3],"presence_penalty":-1.5,)"
      R"("frequency_penalty":2,"repetition_penalty":1.1,"max_completion_tokens":64,)"
      R"("n":2,"user":"alice","priority":-3,"ignore_eos":true,"stream":true,)"
      R"("stream_options":{"include_usage":true},"add_generation_prompt":false,)"
      R"("tools":[{"type":"function","function":{"name":"f"}}])");
  EXPECT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 40);
  EXPECT_EQ(r.sampling.min_p, 0.05f);
  EXPECT_EQ(r.sampling.seed, std::optional<uint64_t>(7));
  EXPECT_EQ(r.stop, (std::vector<std::string>{"</s>", "###"}));
  EXPECT_EQ(r.sampling.stop_token_ids, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(r.sampling.presence_penalty, -1.5f);
  EXPECT_EQ(r.sampling.frequency_penalty, 2.0f);
  EXPECT_EQ(r.sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(r.max_tokens, std::optional<int>(64));
  EXPECT_EQ(r.sampling.max_tokens, 64);
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.priority, -3);
  EXPECT_TRUE(r.sampling.ignore_eos);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_FALSE(r.add_generation_prompt);
  EXPECT_EQ(r.tools, Json::parse(R"([{"type":"function","function":{"name":"f"}}])"));
}

TEST(ParseChatTest, NullsMeanAbsent) {
  ParsedRequest r = ChatOk(
      R"("temperature":null,"top_p":null,"top_k":null,"min_p":null,"seed":null,"stop":null,)"
      R"("stop_token_ids":null,"presence_penalty":null,"frequency_penalty":null,)"
      R"("repetition_penalty":null,"max_tokens":null,"max_completion_tokens":null,"n":null,)"
      R"("user":null,"priority":null,"ignore_eos":null,"stream":null,"stream_options":null,)"
      R"("logprobs":null,"top_logprobs":null,"tools":null,"tool_choice":null,)"
      R"("response_format":null,"logit_bias":null,"add_generation_prompt":null,)"
      R"("store":null,"metadata":null,"service_tier":null,"parallel_tool_calls":null)");
  EXPECT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_FALSE(r.sampling.seed.has_value());
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.num_top_logprobs, -1);
  EXPECT_TRUE(r.tools.is_null());
  EXPECT_TRUE(r.add_generation_prompt);
  ParsedRequest c = CompletionOk(R"("echo":null,"best_of":null,"suffix":null,"logprobs":null)");
  EXPECT_EQ(c.num_top_logprobs, -1);
}

TEST(ParseChatTest, IgnoredFieldsAreAccepted) {
  ChatOk(R"("store":true,"metadata":{"k":"v"},"service_tier":"auto","tool_choice":"auto",)"
         R"("parallel_tool_calls":false,"response_format":{"type":"text"},"logit_bias":{})");
}

TEST(ParseChatTest, ArrayContentIsFlattenedAndOtherKeysPass) {
  ParsedRequest r = ExpectOk(ParseChatCompletionRequest(R"({"model":"m","messages":[
      {"role":"system","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
      {"role":"user","content":"q","name":"bob"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"c1"}]},
      {"role":"tool","content":"42","tool_call_id":"c1"},
      {"role":"developer","content":[]}]})"));
  EXPECT_EQ(r.messages, Json::parse(R"([
      {"role":"system","content":"a\nb"},
      {"role":"user","content":"q","name":"bob"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"c1"}]},
      {"role":"tool","content":"42","tool_call_id":"c1"},
      {"role":"developer","content":""}])"));
  // An assistant message may leave content out entirely.
  ParsedRequest tool_only = ExpectOk(ParseChatCompletionRequest(
      R"({"model":"m","messages":[{"role":"assistant","tool_calls":[]}]})"));
  EXPECT_TRUE(tool_only.messages[0]["content"].is_null());
}

ApiError MessagesError(absl::string_view messages) {
  return ExpectError(
      ParseChatCompletionRequest(absl::StrCat(R"({"model":"m","messages":)", messages, "}")));
}

TEST(ParseChatTest, MessageRules) {
  ExpectBadRequest(MessagesError(R"("hi")"),
                   "Invalid type for 'messages': expected an array, but got a string.",
                   "messages");
  ExpectBadRequest(MessagesError("[]"), "'messages' must contain at least one message.",
                   "messages");
  ExpectBadRequest(MessagesError(R"([{"role":"user","content":"a"},3])"),
                   "Invalid type for 'messages[1]': expected an object, but got an integer.",
                   "messages[1]");
  ExpectBadRequest(MessagesError(R"([{"content":"a"}])"),
                   "Missing required parameter: 'messages[0].role'.", "messages[0].role");
  ExpectBadRequest(MessagesError(R"([{"role":"bot","content":"a"}])"),
                   "Invalid value for 'messages[0].role': expected one of 'system', "
                   "'developer', 'user', 'assistant', 'tool', but got \"bot\".",
                   "messages[0].role");
  ExpectBadRequest(MessagesError(R"([{"role":"user"}])"),
                   "Missing required parameter: 'messages[0].content'.", "messages[0].content");
  ExpectBadRequest(MessagesError(R"([{"role":"user","content":5}])"),
                   "Invalid type for 'messages[0].content': expected a string or an array of "
                   "content parts, but got an integer.",
                   "messages[0].content");
  ExpectBadRequest(
      MessagesError(R"([{"role":"user","content":[{"type":"text","text":"a"},)"
                    R"({"type":"image_url","image_url":{"url":"http://x"}}]}])"),
      "This model takes text only: content part 'messages[0].content[1]' has type "
      "'image_url', which is not supported.",
      "messages[0].content[1].type");
  ExpectBadRequest(MessagesError(R"([{"role":"user","content":[{"type":"input_audio"}]}])"),
                   "This model takes text only: content part 'messages[0].content[0]' has "
                   "type 'input_audio', which is not supported.",
                   "messages[0].content[0].type");
  ExpectBadRequest(MessagesError(R"([{"role":"user","content":[{"type":"blob"}]}])"),
                   "Invalid value for 'messages[0].content[0].type': expected 'text', but got "
                   "\"blob\".",
                   "messages[0].content[0].type");
  ExpectBadRequest(MessagesError(R"([{"role":"user","content":[{"type":"text"}]}])"),
                   "Missing required parameter: 'messages[0].content[0].text'.",
                   "messages[0].content[0].text");
  ExpectBadRequest(MessagesError(R"([{"role":"user","content":["a"]}])"),
                   "Invalid type for 'messages[0].content[0]': expected an object, but got a "
                   "string.",
                   "messages[0].content[0]");
}

TEST(ParseChatTest, TypeErrors) {
  ExpectBadRequest(ChatError(R"("temperature":"hot")"),
                   "Invalid type for 'temperature': expected a number, but got a string.",
                   "temperature");
  ExpectBadRequest(ChatError(R"("stream":"yes")"),
                   "Invalid type for 'stream': expected a boolean, but got a string.", "stream");
  ExpectBadRequest(ChatError(R"("max_tokens":1.5)"),
                   "Invalid type for 'max_tokens': expected an integer, but got a decimal "
                   "number.",
                   "max_tokens");
  ExpectBadRequest(ChatError(R"("n":true)"),
                   "Invalid type for 'n': expected an integer, but got a boolean.", "n");
  ExpectBadRequest(ChatError(R"("user":{})"),
                   "Invalid type for 'user': expected a string, but got an object.", "user");
  ExpectBadRequest(ChatError(R"("tools":{})"),
                   "Invalid type for 'tools': expected an array, but got an object.", "tools");
  ExpectBadRequest(ChatError(R"("stop":5)"),
                   "Invalid type for 'stop': expected a string or an array of strings, but got "
                   "an integer.",
                   "stop");
  ExpectBadRequest(ChatError(R"("stream":true,"stream_options":{"include_usage":1})"),
                   "Invalid type for 'stream_options.include_usage': expected a boolean, but "
                   "got an integer.",
                   "stream_options.include_usage");
}

TEST(ParseChatTest, RangeErrorsNameFieldValueAndRange) {
  struct Case {
    std::string field;
    std::string value;
    std::string expected;
  };
  const Case cases[] = {
      {"temperature", "2.5", "a number in [0, 2]"},
      {"temperature", "-0.1", "a number in [0, 2]"},
      {"top_p", "0", "a number in (0, 1]"},
      {"top_p", "1.01", "a number in (0, 1]"},
      {"min_p", "1.5", "a number in [0, 1]"},
      {"presence_penalty", "-3", "a number in [-2, 2]"},
      {"frequency_penalty", "2.1", "a number in [-2, 2]"},
      {"repetition_penalty", "0", "a number > 0"},
      {"top_k", "-2", "an integer >= 1, or -1 or 0 to disable top-k"},
      {"max_tokens", "0", "an integer >= 1"},
      {"max_tokens", "4294967296", "an integer >= 1"},
      {"max_completion_tokens", "-5", "an integer >= 1"},
      {"n", "0", "an integer in [1, 16]"},
      {"n", "17", "an integer in [1, 16]"},
      {"priority", "3000000000", "a 32-bit integer"},
  };
  for (const Case& c : cases) {
    ExpectBadRequest(ChatError(absl::StrCat("\"", c.field, "\":", c.value)),
                     absl::StrCat("Invalid value for '", c.field, "': expected ", c.expected,
                                  ", but got ", c.value, "."),
                     c.field);
  }
}

TEST(ParseChatTest, RangeBoundariesAreAccepted) {
  ParsedRequest r = ChatOk(
      R"("temperature":0,"top_p":1,"min_p":1,"presence_penalty":-2,"frequency_penalty":2,)"
      R"("top_k":-1,"max_tokens":1)");
  EXPECT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_EQ(r.sampling.top_k, 0);  // -1 means off, stored as 0
  EXPECT_EQ(ChatOk(R"("temperature":2,"top_k":0)").sampling.temperature, 2.0f);
  EXPECT_EQ(ChatOk(R"("top_k":1)").sampling.top_k, 1);
  EXPECT_EQ(ChatOk(R"("n":16)").n, 16);
}

TEST(ParseChatTest, MaxCompletionTokensWins) {
  ParsedRequest both = ChatOk(R"("max_tokens":10,"max_completion_tokens":20)");
  EXPECT_EQ(both.max_tokens, std::optional<int>(20));
  EXPECT_EQ(both.sampling.max_tokens, 20);
  EXPECT_EQ(ChatOk(R"("max_tokens":10)").max_tokens, std::optional<int>(10));
  EXPECT_EQ(ChatOk(R"("max_tokens":10,"max_completion_tokens":null)").max_tokens,
            std::optional<int>(10));
}

TEST(ParseChatTest, StreamOptionsNeedStream) {
  ExpectBadRequest(ChatError(R"("stream_options":{"include_usage":true})"),
                   "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                   "stream_options");
  ExpectBadRequest(ChatError(R"("stream":false,"stream_options":{})"),
                   "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                   "stream_options");
  ExpectBadRequest(ChatError(R"("stream":true,"stream_options":5)"),
                   "Invalid type for 'stream_options': expected an object, but got an integer.",
                   "stream_options");
  EXPECT_FALSE(ChatOk(R"("stream":true)").include_usage);
  EXPECT_FALSE(ChatOk(R"("stream":true,"stream_options":{"include_usage":false})").include_usage);
  EXPECT_FALSE(ChatOk(R"("stream":true,"stream_options":{})").include_usage);
  EXPECT_TRUE(ChatOk(R"("stream_options":{"include_usage":true},"stream":true)").include_usage);
}

TEST(ParseChatTest, Logprobs) {
  EXPECT_EQ(ChatOk(R"("logprobs":true)").num_top_logprobs, 0);
  EXPECT_EQ(ChatOk(R"("logprobs":true,"top_logprobs":5)").num_top_logprobs, 5);
  EXPECT_EQ(ChatOk(R"("logprobs":true,"top_logprobs":20)").num_top_logprobs, 20);
  EXPECT_EQ(ChatOk(R"("logprobs":false)").num_top_logprobs, -1);
  ExpectBadRequest(ChatError(R"("top_logprobs":3)"),
                   "'top_logprobs' requires 'logprobs' to be true.", "top_logprobs");
  ExpectBadRequest(ChatError(R"("logprobs":false,"top_logprobs":0)"),
                   "'top_logprobs' requires 'logprobs' to be true.", "top_logprobs");
  ExpectBadRequest(ChatError(R"("logprobs":true,"top_logprobs":21)"),
                   "Invalid value for 'top_logprobs': expected an integer in [0, 20], but got "
                   "21.",
                   "top_logprobs");
  ExpectBadRequest(ChatError(R"("logprobs":3)"),
                   "Invalid type for 'logprobs': expected a boolean, but got an integer.",
                   "logprobs");
}

TEST(ParseChatTest, Stop) {
  EXPECT_EQ(ChatOk(R"("stop":"END")").stop, (std::vector<std::string>{"END"}));
  EXPECT_TRUE(ChatOk(R"("stop":[])").stop.empty());
  ExpectBadRequest(ChatError(R"("stop":"")"),
                   "Invalid value for 'stop': expected a non-empty string, but got \"\".",
                   "stop");
  ExpectBadRequest(ChatError(R"("stop":["a",""])"),
                   "Invalid value for 'stop[1]': expected a non-empty string, but got \"\".",
                   "stop[1]");
  ExpectBadRequest(ChatError(R"("stop":["a",1])"),
                   "Invalid type for 'stop[1]': expected a string, but got an integer.",
                   "stop[1]");
  std::string sixteen = R"("stop":["0")";
  for (int i = 1; i < 16; ++i) absl::StrAppend(&sixteen, ",\"", i, "\"");
  EXPECT_EQ(ChatOk(absl::StrCat(sixteen, "]")).stop.size(), 16u);
  ExpectBadRequest(ChatError(absl::StrCat(sixteen, ",\"x\"]")),
                   "Invalid value for 'stop': at most 16 stop strings are allowed, but got 17.",
                   "stop");
}

TEST(ParseChatTest, StopTokenIds) {
  ExpectBadRequest(ChatError(R"("stop_token_ids":[1,-2])"),
                   "Invalid value for 'stop_token_ids[1]': expected a token id (an integer >= "
                   "0), but got -2.",
                   "stop_token_ids[1]");
  ExpectBadRequest(ChatError(R"("stop_token_ids":7)"),
                   "Invalid type for 'stop_token_ids': expected an array of integers, but got "
                   "an integer.",
                   "stop_token_ids");
}

TEST(ParseChatTest, SeedsKeepTheirBits) {
  EXPECT_EQ(ChatOk(R"("seed":-1)").sampling.seed, std::optional<uint64_t>(UINT64_MAX));
  EXPECT_EQ(ChatOk(R"("seed":-9223372036854775808)").sampling.seed,
            std::optional<uint64_t>(uint64_t{1} << 63));
  EXPECT_EQ(ChatOk(R"("seed":9223372036854775808)").sampling.seed,
            std::optional<uint64_t>(uint64_t{1} << 63));
  EXPECT_EQ(ChatOk(R"("seed":18446744073709551615)").sampling.seed,
            std::optional<uint64_t>(UINT64_MAX));
  EXPECT_EQ(ChatOk(R"("seed":0)").sampling.seed, std::optional<uint64_t>(0));
  ExpectBadRequest(ChatError(R"("seed":1.5)"),
                   "Invalid type for 'seed': expected an integer, but got a decimal number.",
                   "seed");
  // 2^64 no longer fits: nlohmann reads it as a double.
  ApiError big = ChatError(R"("seed":18446744073709551616)");
  EXPECT_EQ(big.param, "seed");
  EXPECT_NE(big.message.find("expected an integer in [-2^63, 2^64)"), std::string::npos)
      << big.message;
}

TEST(ParseChatTest, UnsupportedOptions) {
  ExpectBadRequest(ChatError(R"("response_format":{"type":"json_object"})"),
                   "response_format of type 'json_object' is not supported; only 'text' is.",
                   "response_format");
  ExpectBadRequest(ChatError(R"("response_format":{})"),
                   "Missing required parameter: 'response_format.type'.",
                   "response_format.type");
  ExpectBadRequest(ChatError(R"("logit_bias":{"50256":-100})"),
                   "logit_bias is not supported; send null or {}.", "logit_bias");
  ExpectBadRequest(ChatError(R"("logit_bias":[])"),
                   "Invalid type for 'logit_bias': expected an object, but got an array.",
                   "logit_bias");
}

// ------------------------------------------------------------------------------ completions

TEST(ParseCompletionTest, PromptForms) {
  ParsedRequest text = CompletionOk("");
  EXPECT_EQ(text.endpoint, Endpoint::kCompletions);
  EXPECT_EQ(std::get<std::string>(text.prompt), "hi");
  auto parse_prompt = [](absl::string_view prompt) {
    return ExpectOk(ParseCompletionRequest(absl::StrCat(R"({"model":"m","prompt":)", prompt, "}")))
        .prompt;
  };
  EXPECT_EQ(std::get<std::vector<int32_t>>(parse_prompt("[1,2,3]")),
            (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(std::get<std::string>(parse_prompt(R"(["one"])")), "one");
  EXPECT_EQ(std::get<std::vector<int32_t>>(parse_prompt("[[0,2147483647]]")),
            (std::vector<int32_t>{0, 2147483647}));
  EXPECT_EQ(std::get<std::string>(parse_prompt(R"("")")), "");
}

ApiError PromptError(absl::string_view prompt) {
  return ExpectError(
      ParseCompletionRequest(absl::StrCat(R"({"model":"m","prompt":)", prompt, "}")));
}

TEST(ParseCompletionTest, PromptRules) {
  const std::string batched = "batched prompts are not supported; send one request per prompt";
  ExpectBadRequest(PromptError(R"(["a","b"])"), batched, "prompt");
  ExpectBadRequest(PromptError("[[1],[2]]"), batched, "prompt");
  ExpectBadRequest(PromptError("[]"), "'prompt' must not be empty.", "prompt");
  ExpectBadRequest(PromptError("[[]]"), "'prompt[0]' must not be empty.", "prompt[0]");
  ExpectBadRequest(PromptError("[5,-1]"),
                   "Invalid value for 'prompt[1]': expected a token id (an integer >= 0), but "
                   "got -1.",
                   "prompt[1]");
  ExpectBadRequest(PromptError("[2147483648]"),
                   "Invalid value for 'prompt[0]': expected a token id (an integer >= 0), but "
                   "got 2147483648.",
                   "prompt[0]");
  ExpectBadRequest(PromptError(R"([1,"a"])"),
                   "Invalid type for 'prompt[1]': expected an integer, but got a string.",
                   "prompt[1]");
  ExpectBadRequest(PromptError("3"),
                   "Invalid type for 'prompt': expected a string, an array of token ids, or an "
                   "array holding one of these, but got an integer.",
                   "prompt");
  ExpectBadRequest(PromptError("[{}]"),
                   "Invalid type for 'prompt[0]': expected a string, a token id or an array of "
                   "token ids, but got an object.",
                   "prompt[0]");
}

TEST(ParseCompletionTest, LogprobsIsACount) {
  EXPECT_EQ(CompletionOk(R"("logprobs":0)").num_top_logprobs, 0);
  EXPECT_EQ(CompletionOk(R"("logprobs":5)").num_top_logprobs, 5);
  ExpectBadRequest(CompletionError(R"("logprobs":21)"),
                   "Invalid value for 'logprobs': expected an integer in [0, 20], but got 21.",
                   "logprobs");
  ExpectBadRequest(CompletionError(R"("logprobs":true)"),
                   "Invalid type for 'logprobs': expected an integer, but got a boolean.",
                   "logprobs");
}

TEST(ParseCompletionTest, UnsupportedOptions) {
  EXPECT_EQ(CompletionOk(R"("echo":false,"suffix":"","best_of":1)").n, 1);
  EXPECT_EQ(CompletionOk(R"("n":3,"best_of":3)").n, 3);
  ExpectBadRequest(CompletionError(R"("echo":true)"),
                   "echo=true is not supported; send false or leave it out.", "echo");
  ExpectBadRequest(CompletionError(R"("suffix":"tail")"),
                   "suffix is not supported; send null or leave it out.", "suffix");
  ExpectBadRequest(CompletionError(R"("best_of":2)"),
                   "best_of (2) must equal n (1): choosing the best of several samples is not "
                   "supported.",
                   "best_of");
  // Chat-only fields are unknown here.
  ExpectBadRequest(CompletionError(R"("top_logprobs":2)"),
                   "Unrecognized request argument supplied: top_logprobs", "top_logprobs");
}

TEST(ParseCompletionTest, SharedKnobs) {
  ParsedRequest r = CompletionOk(
      R"("max_tokens":8,"temperature":0,"stream":true,"stream_options":{"include_usage":true},)"
      R"("seed":-2,"stop":"\n")");
  EXPECT_EQ(r.max_tokens, std::optional<int>(8));
  EXPECT_EQ(r.sampling.max_tokens, 8);
  EXPECT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.sampling.seed, std::optional<uint64_t>(UINT64_MAX - 1));
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n"}));
}

// ------------------------------------------------------------------------------ responses

const ResponseHeader kHeader{.id = "chatcmpl-1", .created = 1700000000, .model = "tiny"};

LogprobEntry Entry(std::string token, float logprob, std::vector<TopLogprobEntry> top = {}) {
  std::vector<uint8_t> bytes(token.begin(), token.end());
  return LogprobEntry{.token = std::move(token), .bytes = std::move(bytes), .logprob = logprob,
                      .top = std::move(top)};
}

TEST(SerializeTest, ChatCompletionBody) {
  ChoiceResult choice{.index = 0, .text = "Hello", .finish_reason = "stop"};
  choice.has_logprobs = true;
  choice.logprobs = {
      Entry("Hel", -0.25f, {{.token = "Hel", .bytes = {72, 101, 108}, .logprob = -0.25f},
                            {.token = "He", .bytes = {72, 101}, .logprob = -1.5f}}),
      Entry("lo", -std::numeric_limits<float>::infinity())};
  Json body = Json::parse(ChatCompletionBody(
      kHeader, {choice}, Usage{.prompt_tokens = 7, .completion_tokens = 2, .cached_tokens = 4}));
  EXPECT_EQ(body["id"], "chatcmpl-1");
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["created"], 1700000000);
  EXPECT_EQ(body["model"], "tiny");
  ASSERT_EQ(body["choices"].size(), 1u);
  const Json& c = body["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["message"], Json::parse(R"({"role":"assistant","content":"Hello"})"));
  EXPECT_EQ(c["finish_reason"], "stop");
  const Json& content = c["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0]["token"], "Hel");
  EXPECT_EQ(content[0]["logprob"], -0.25);
  EXPECT_EQ(content[0]["bytes"], Json::parse("[72,101,108]"));
  EXPECT_EQ(content[0]["top_logprobs"],
            Json::parse(R"([{"token":"Hel","logprob":-0.25,"bytes":[72,101,108]},
                            {"token":"He","logprob":-1.5,"bytes":[72,101]}])"));
  EXPECT_EQ(content[1]["logprob"], -9999.0);  // -inf has no JSON spelling
  EXPECT_EQ(content[1]["top_logprobs"], Json::array());
  EXPECT_EQ(body["usage"], Json::parse(R"({"prompt_tokens":7,"completion_tokens":2,
      "total_tokens":9,"prompt_tokens_details":{"cached_tokens":4}})"));
}

TEST(SerializeTest, NoLogprobsIsNullAndEmptyFinishIsNull) {
  ChoiceResult a{.index = 0, .text = "x", .finish_reason = "length"};
  ChoiceResult b{.index = 1, .text = "y", .finish_reason = ""};
  Json body = Json::parse(ChatCompletionBody(kHeader, {a, b}, Usage{}));
  ASSERT_EQ(body["choices"].size(), 2u);
  EXPECT_TRUE(body["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["choices"][1]["index"], 1);
  EXPECT_TRUE(body["choices"][1]["finish_reason"].is_null());
}

TEST(SerializeTest, FloatsRoundTripAndStayShort) {
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> dist(-30.0f, 0.0f);
  for (int i = 0; i < 1000; ++i) {
    const float lp = dist(rng);
    ChoiceResult choice{.text = "t"};
    choice.has_logprobs = true;
    choice.logprobs = {Entry("t", lp)};
    Json body = Json::parse(ChatCompletionBody(kHeader, {choice}, Usage{}));
    const double read = body["choices"][0]["logprobs"]["content"][0]["logprob"].get<double>();
    ASSERT_EQ(static_cast<float>(read), lp) << i;
  }
  ChoiceResult tenth{.text = "t"};
  tenth.has_logprobs = true;
  tenth.logprobs = {Entry("t", -0.1f)};
  EXPECT_NE(ChatCompletionBody(kHeader, {tenth}, Usage{}).find(R"("logprob":-0.1,)"),
            std::string::npos);
}

TEST(SerializeTest, CompletionBodyUsesTheLegacyLogprobsShape) {
  ChoiceResult choice{.index = 0, .text = "caf\xC3\xA9!", .finish_reason = "length"};
  choice.has_logprobs = true;
  choice.logprobs = {Entry("caf", -0.5f, {{.token = "caf", .logprob = -0.5f},
                                          {.token = "ca", .logprob = -2.0f},
                                          {.token = "ca", .logprob = -3.0f}}),
                     Entry("\xC3\xA9", -1.0f), Entry("!", -0.75f)};
  Json body = Json::parse(CompletionBody(
      {.id = "cmpl-9", .created = 5, .model = "tiny"}, {choice},
      Usage{.prompt_tokens = 3, .completion_tokens = 3, .cached_tokens = 0}));
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["id"], "cmpl-9");
  const Json& c = body["choices"][0];
  EXPECT_EQ(c["text"], "caf\xC3\xA9!");
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["finish_reason"], "length");
  EXPECT_EQ(c["logprobs"]["tokens"], Json::parse("[\"caf\",\"\xC3\xA9\",\"!\"]"));
  EXPECT_EQ(c["logprobs"]["token_logprobs"], Json::parse("[-0.5,-1.0,-0.75]"));
  // Duplicate token texts keep the first (most likely) alternative.
  EXPECT_EQ(c["logprobs"]["top_logprobs"], Json::parse(R"([{"caf":-0.5,"ca":-2.0},{},{}])"));
  // Offsets count code points: "é" is two bytes but one character.
  EXPECT_EQ(c["logprobs"]["text_offset"], Json::parse("[0,3,4]"));
  EXPECT_EQ(body["usage"]["total_tokens"], 6);
  EXPECT_EQ(body["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
}

TEST(SerializeTest, ChatChunks) {
  Json first = Json::parse(ChatChunk(kHeader, ChoiceResult{.index = 0}, DeltaRole::kAssistant,
                                     ChunkUsage::kOmit));
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["id"], "chatcmpl-1");
  EXPECT_FALSE(first.contains("usage"));
  ASSERT_EQ(first["choices"].size(), 1u);
  EXPECT_EQ(first["choices"][0]["delta"], Json::parse(R"({"role":"assistant","content":""})"));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(first["choices"][0]["logprobs"].is_null());

  ChoiceResult piece{.index = 2, .text = "lo"};
  piece.has_logprobs = true;
  piece.logprobs = {Entry("lo", -0.5f)};
  Json middle = Json::parse(ChatChunk(kHeader, piece, DeltaRole::kNone, ChunkUsage::kNull));
  EXPECT_EQ(middle["choices"][0]["index"], 2);
  EXPECT_EQ(middle["choices"][0]["delta"], Json::parse(R"({"content":"lo"})"));
  EXPECT_EQ(middle["choices"][0]["logprobs"]["content"][0]["token"], "lo");
  ASSERT_TRUE(middle.contains("usage"));
  EXPECT_TRUE(middle["usage"].is_null());

  Json last = Json::parse(ChatChunk(kHeader, ChoiceResult{.finish_reason = "stop"},
                                    DeltaRole::kNone, ChunkUsage::kOmit));
  EXPECT_EQ(last["choices"][0]["delta"], Json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
}

TEST(SerializeTest, CompletionChunkAndOffsets) {
  ChoiceResult piece{.index = 0, .text = "ab", .text_offset = 10};
  piece.has_logprobs = true;
  piece.logprobs = {Entry("a", -1.0f), Entry("b", -2.0f)};
  Json chunk = Json::parse(CompletionChunk(kHeader, piece, ChunkUsage::kNull));
  EXPECT_EQ(chunk["object"], "text_completion");
  EXPECT_EQ(chunk["choices"][0]["text"], "ab");
  EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
  EXPECT_EQ(chunk["choices"][0]["logprobs"]["text_offset"], Json::parse("[10,11]"));
  EXPECT_TRUE(chunk.contains("usage") && chunk["usage"].is_null());
  EXPECT_FALSE(Json::parse(CompletionChunk(kHeader, piece, ChunkUsage::kOmit)).contains("usage"));
}

TEST(SerializeTest, UsageChunkHasNoChoices) {
  const Usage usage{.prompt_tokens = 4, .completion_tokens = 6, .cached_tokens = 2};
  Json chat = Json::parse(UsageChunk(kHeader, Endpoint::kChatCompletions, usage));
  EXPECT_EQ(chat["object"], "chat.completion.chunk");
  EXPECT_EQ(chat["choices"], Json::array());
  EXPECT_EQ(chat["usage"]["total_tokens"], 10);
  EXPECT_EQ(chat["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
  Json completion = Json::parse(UsageChunk(kHeader, Endpoint::kCompletions, usage));
  EXPECT_EQ(completion["object"], "text_completion");
  EXPECT_EQ(completion["choices"], Json::array());
}

TEST(SerializeTest, SseFraming) {
  EXPECT_EQ(SseEvent(R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
  // Serialized chunks are one line, so they frame as one event.
  std::string chunk = ChatChunk(kHeader, ChoiceResult{.text = "a\nb"}, DeltaRole::kNone,
                                ChunkUsage::kOmit);
  EXPECT_EQ(chunk.find('\n'), std::string::npos);
}

TEST(SerializeTest, InvalidUtf8TextIsReplacedNotThrown) {
  ChoiceResult choice{.text = "ok\xE2\x82"};  // a cut three-byte character
  choice.has_logprobs = true;
  choice.logprobs = {Entry("\xE2\x82", -1.0f)};
  Json body = Json::parse(ChatCompletionBody(kHeader, {choice}, Usage{}));
  EXPECT_EQ(body["choices"][0]["message"]["content"], "ok\xEF\xBF\xBD");
  // The raw bytes still travel.
  EXPECT_EQ(body["choices"][0]["logprobs"]["content"][0]["bytes"], Json::parse("[226,130]"));
}

TEST(SerializeTest, ModelsBody) {
  Json body = Json::parse(ModelsBody(
      {ModelCard{.id = "a", .created = 11, .max_model_len = 2048, .vocab_size = 32000},
       ModelCard{.id = "b", .created = 12, .owned_by = "me", .max_model_len = 4096,
                 .vocab_size = 151936}}));
  EXPECT_EQ(body["object"], "list");
  ASSERT_EQ(body["data"].size(), 2u);
  EXPECT_EQ(body["data"][0], Json::parse(R"({"id":"a","object":"model","created":11,
      "owned_by":"brisk","max_model_len":2048,"vocab_size":32000})"));
  EXPECT_EQ(body["data"][1]["owned_by"], "me");
  EXPECT_EQ(Json::parse(ModelsBody({})), Json::parse(R"({"object":"list","data":[]})"));
  EXPECT_EQ(Json::parse(ModelBody(ModelCard{.id = "a"}))["object"], "model");
}

}  // namespace
}  // namespace brisk::api
