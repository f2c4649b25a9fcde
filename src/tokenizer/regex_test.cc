// Tests for the regex wrapper: successive matches, and \s and \w with Oniguruma's Unicode
// meanings (the engine of Hugging Face `tokenizers`) rather than PCRE2's own.
#include "tokenizer/regex.h"

#include <gtest/gtest.h>

namespace brisk::tokenizer {
namespace {

std::vector<std::string> Matches(std::string_view pattern, std::string_view text) {
  absl::StatusOr<Regex> regex = Regex::Compile(pattern, Regex::Syntax::kPattern);
  EXPECT_TRUE(regex.ok()) << regex.status();
  std::vector<ByteSpan> spans;
  if (regex.ok()) regex->FindAll(text, spans);
  std::vector<std::string> out;
  for (const ByteSpan& span : spans) out.emplace_back(text.substr(span.first, span.second - span.first));
  return out;
}

TEST(RegexTest, SpaceIsUnicodeWhiteSpace) {
  // U+0085 (NEL) and U+3000 are White_Space; U+180E (Mongolian vowel separator) and U+FEFF
  // are not, although PCRE2's own \s takes U+180E.
  EXPECT_EQ(Matches(R"(\s+)", "a\xC2\x85" "b\xE3\x80\x80" "c\xE1\xA0\x8E" "d\xEF\xBB\xBF"),
            (std::vector<std::string>{"\xC2\x85", "\xE3\x80\x80"}));
  EXPECT_EQ(Matches(R"(\S+)", "a\xE1\xA0\x8E b"),
            (std::vector<std::string>{"a\xE1\xA0\x8E", "b"}));
  // Inside a class.
  EXPECT_EQ(Matches(R"([^\s\p{L}]+)", "ab\xE1\xA0\x8E!\t?"),
            (std::vector<std::string>{"\xE1\xA0\x8E!", "?"}));
}

TEST(RegexTest, WordIncludesMarksAndNumbers) {
  // e + COMBINING ACUTE, a superscript two (No) and an underscore are all word characters.
  EXPECT_EQ(Matches(R"(\w+)", "e\xCC\x81x\xC2\xB2_y-z"),
            (std::vector<std::string>{"e\xCC\x81x\xC2\xB2_y", "z"}));
  EXPECT_EQ(Matches(R"(\W+)", "a-+b"), (std::vector<std::string>{"-+"}));
}

TEST(RegexTest, EscapesAndLiteralsAreKept) {
  EXPECT_EQ(Matches(R"(\\s)", "x\\sy"), (std::vector<std::string>{"\\s"}));
  EXPECT_EQ(Matches(R"(\Q\s\E)", "a\\s b"), (std::vector<std::string>{"\\s"}));
  EXPECT_EQ(Matches(R"([]s]+)", "a]s]b"), (std::vector<std::string>{"]s]"}));
  EXPECT_EQ(Matches(R"([[:digit:]\s]+)", "a1 2b"), (std::vector<std::string>{"1 2"}));
}

}  // namespace
}  // namespace brisk::tokenizer
