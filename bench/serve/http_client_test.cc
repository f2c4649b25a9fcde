// Tests of URL parsing and of the SSE parser, which must give the same events however the
// body's bytes are cut into reads.
#include "bench/serve/http_client.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace brisk::loadgen {
namespace {

TEST(ParseUrlTest, HostPortAndPath) {
  auto url = ParseUrl("http://127.0.0.1:8000");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8000);
  EXPECT_EQ(url->base_path, "");

  url = ParseUrl("HTTP://localhost/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "localhost");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->base_path, "");

  url = ParseUrl("http://gateway:9000/team/a//");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "gateway");
  EXPECT_EQ(url->port, 9000);
  EXPECT_EQ(url->base_path, "/team/a");

  url = ParseUrl("http://[::1]:8080/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 8080);
}

TEST(ParseUrlTest, RejectsWhatItCannotServe) {
  const std::vector<std::string> bad = {
      "https://example.com:443", "ftp://host:21", "localhost:8000",  "http://",
      "http://:8000",            "http://host:",  "http://host:0",   "http://host:65536",
      "http://host:80a",         "http://h:1?x",  "http://u@h:1",    "http://[::1:80"};
  for (const std::string& text : bad) {
    const auto url = ParseUrl(text);
    EXPECT_FALSE(url.ok()) << text;
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  const auto tls = ParseUrl("https://example.com");
  EXPECT_NE(std::string(tls.status().message()).find("only http://"), std::string::npos)
      << tls.status();
}

// A body exercising every line ending, comments, other fields, multi-line data, an event
// without data and a missing space after the colon.
constexpr char kStream[] =
    ": keep-alive comment\n\n"
    "data: {\"a\":1}\n\n"
    "event: message\r\nid: 7\r\ndata: line one\r\ndata: line two\r\n\r\n"
    "retry: 100\n\n"
    "data:no-space\r\r"
    "data:  two spaces\n\n"
    "data: [DONE]\n\n";

const std::vector<std::string> kExpected = {
    "{\"a\":1}", "line one\nline two", "no-space", " two spaces", "[DONE]"};

std::vector<std::string> ParseInPieces(const std::string& body, const std::vector<size_t>& cuts) {
  SseParser parser;
  std::vector<std::string> events;
  auto on_event = [&](std::string_view data) { events.emplace_back(data); };
  size_t begin = 0;
  for (size_t cut : cuts) {
    parser.Feed(std::string_view(body).substr(begin, cut - begin), on_event);
    begin = cut;
  }
  parser.Feed(std::string_view(body).substr(begin), on_event);
  return events;
}

TEST(SseParserTest, WholeBody) { EXPECT_EQ(ParseInPieces(kStream, {}), kExpected); }

TEST(SseParserTest, SplitAtEveryByteBoundary) {
  const std::string body = kStream;
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    EXPECT_EQ(ParseInPieces(body, {cut}), kExpected) << "cut at " << cut;
  }
}

TEST(SseParserTest, SplitAtEveryPairOfBoundaries) {
  const std::string body = kStream;
  for (size_t a = 0; a <= body.size(); ++a) {
    for (size_t b = a; b <= body.size(); ++b) {
      ASSERT_EQ(ParseInPieces(body, {a, b}), kExpected) << "cuts at " << a << ", " << b;
    }
  }
}

TEST(SseParserTest, OneByteAtATime) {
  const std::string body = kStream;
  std::vector<size_t> cuts;
  for (size_t i = 1; i < body.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(ParseInPieces(body, cuts), kExpected);
}

TEST(SseParserTest, IncompleteEventIsHeldBack) {
  SseParser parser;
  std::vector<std::string> events;
  auto on_event = [&](std::string_view data) { events.emplace_back(data); };
  parser.Feed("data: x\n", on_event);
  EXPECT_TRUE(events.empty());  // no blank line yet
  parser.Feed("\n", on_event);
  EXPECT_EQ(events, std::vector<std::string>{"x"});
}

}  // namespace
}  // namespace brisk::loadgen
