// Tests for the pre-tokenizers: the GPT-2 regex, the Llama 3 regex through Split, the five
// delimiter behaviors, prefix spaces, sequences, and refusal of unsupported types.
#include "tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include "tokenizer/test_util.h"

namespace brisk::tokenizer {
namespace {

using Pieces = std::vector<std::string>;

// The pre-tokenizer regex of Llama 3's tokenizer.json.
constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

Pieces PreTokenizeWith(const Json& config, std::string text) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre = MakePreTokenizer(config, "test");
  EXPECT_TRUE(pre.ok()) << pre.status();
  if (!pre.ok()) return {};
  std::vector<PreToken> pieces{{std::move(text), 0}};
  (*pre)->PreTokenize(pieces);
  Pieces texts;
  for (PreToken& piece : pieces) texts.push_back(std::move(piece.text));
  return texts;
}

Json Split(std::string_view kind, std::string_view pattern, std::string_view behavior,
           bool invert = false) {
  return Json{{"type", "Split"},
              {"pattern", {{std::string(kind), std::string(pattern)}}},
              {"behavior", std::string(behavior)},
              {"invert", invert}};
}

TEST(PreTokenizerTest, ByteLevelSplitsWithTheGpt2Regex) {
  const Json config = testing::ByteLevelPreTokenizer(/*add_prefix_space=*/false);
  // Contractions, words with their leading space, digit runs, punctuation runs; a run of
  // spaces before a word leaves its last space to the word (`\s+(?!\S)`).
  EXPECT_EQ(PreTokenizeWith(config, "I'm  fine,42!!"),
            (Pieces{"I", "'m", "Ġ", "Ġfine", ",", "42", "!!"}));
  // Trailing whitespace is one piece; newlines are mapped to 'Ċ'.
  EXPECT_EQ(PreTokenizeWith(config, "a\n\n  "), (Pieces{"a", "ĊĊĠĠ"}));
  // Multi-byte characters come out as their bytes' characters: é = C3 A9 -> "Ã©".
  EXPECT_EQ(PreTokenizeWith(config, "café"), (Pieces{"cafÃ©"}));
}

TEST(PreTokenizerTest, ByteLevelPrefixSpaceAndNoRegex) {
  EXPECT_EQ(PreTokenizeWith(testing::ByteLevelPreTokenizer(true), "hi there"),
            (Pieces{"Ġhi", "Ġthere"}));
  EXPECT_EQ(PreTokenizeWith(testing::ByteLevelPreTokenizer(true), " hi"), (Pieces{"Ġhi"}));
  EXPECT_EQ(PreTokenizeWith(testing::ByteLevelPreTokenizer(false, /*use_regex=*/false), "a b, c"),
            (Pieces{"aĠb,Ġc"}));
  EXPECT_EQ(PreTokenizeWith(testing::ByteLevelPreTokenizer(false), ""), Pieces{});
}

TEST(PreTokenizerTest, SplitIsolatedWithTheLlama3Regex) {
  const Json config = Split("Regex", kLlama3Pattern, "Isolated");
  // Digits go in groups of at most three; a word may take one leading non-letter; the
  // contraction alternative is case-insensitive.
  EXPECT_EQ(PreTokenizeWith(config, "In 2024, WE'LL pay $1234567."),
            (Pieces{"In", " ", "202", "4", ",", " WE", "'LL", " pay", " $", "123", "456", "7",
                    "."}));
  // Newline runs with their leading spaces form one piece; spaces before a word keep the last
  // space for the word.
  EXPECT_EQ(PreTokenizeWith(config, "x  \n\n   y"), (Pieces{"x", "  \n\n", "  ", " y"}));
  // Punctuation followed by newlines keeps the newlines.
  EXPECT_EQ(PreTokenizeWith(config, "end.\n\nNext"), (Pieces{"end", ".\n\n", "Next"}));
  // CJK letters are \p{L}; an emoji is neither letter nor number.
  EXPECT_EQ(PreTokenizeWith(config, "中文 😀!"), (Pieces{"中文", " 😀!"}));
}

TEST(PreTokenizerTest, SplitBehaviorsOnALiteral) {
  const std::string text = "the-final--countdown";
  EXPECT_EQ(PreTokenizeWith(Split("String", "-", "Removed"), text),
            (Pieces{"the", "final", "countdown"}));
  EXPECT_EQ(PreTokenizeWith(Split("String", "-", "Isolated"), text),
            (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(PreTokenizeWith(Split("String", "-", "MergedWithPrevious"), text),
            (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(PreTokenizeWith(Split("String", "-", "MergedWithNext"), text),
            (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(PreTokenizeWith(Split("String", "-", "Contiguous"), text),
            (Pieces{"the", "-", "final", "--", "countdown"}));
}

TEST(PreTokenizerTest, SplitLiteralIsNotARegex) {
  EXPECT_EQ(PreTokenizeWith(Split("String", ".", "Isolated"), "a.b"), (Pieces{"a", ".", "b"}));
  EXPECT_EQ(PreTokenizeWith(Split("Regex", ".", "Removed"), "a.b"), Pieces{});
}

TEST(PreTokenizerTest, SplitInvertMakesTheGapsTheDelimiters) {
  // Matches are the words; inverted, the spaces between them are the delimiters.
  EXPECT_EQ(PreTokenizeWith(Split("Regex", "\\w+", "Removed", /*invert=*/true), "ab  cd e"),
            (Pieces{"ab", "cd", "e"}));
  EXPECT_EQ(PreTokenizeWith(Split("Regex", "\\w+", "MergedWithPrevious", true), "ab  cd e"),
            (Pieces{"ab  ", "cd ", "e"}));
}

TEST(PreTokenizerTest, SequenceAppliesStagesInOrder) {
  const Json config = {
      {"type", "Sequence"},
      {"pretokenizers",
       Json::array({Split("Regex", kLlama3Pattern, "Isolated"),
                    testing::ByteLevelPreTokenizer(false, /*use_regex=*/false)})}};
  EXPECT_EQ(PreTokenizeWith(config, "Hi  there\n"), (Pieces{"Hi", "Ġ", "Ġthere", "Ċ"}));
}

TEST(PreTokenizerTest, SplitAtMatchesKeepsEveryByteOnce) {
  const std::vector<ByteSpan> matches = {{0, 2}, {5, 6}, {6, 6}};
  EXPECT_EQ(SplitAtMatches(8, matches, SplitBehavior::kIsolated, Delimiters::kMatches),
            (std::vector<ByteSpan>{{0, 2}, {2, 5}, {5, 6}, {6, 8}}));
  EXPECT_EQ(SplitAtMatches(8, matches, SplitBehavior::kRemoved, Delimiters::kMatches),
            (std::vector<ByteSpan>{{2, 5}, {6, 8}}));
  EXPECT_EQ(SplitAtMatches(0, {}, SplitBehavior::kIsolated, Delimiters::kMatches),
            std::vector<ByteSpan>{});
}

TEST(PreTokenizerTest, UnsupportedOrMalformedConfigs) {
  absl::Status status =
      MakePreTokenizer({{"type", "UnicodeScripts"}}, "tok.json: pre_tokenizer").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("UnicodeScripts"), std::string::npos) << status;
  status = MakePreTokenizer(Split("Regex", "(", "Isolated"), "p").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = MakePreTokenizer(Split("Regex", "a", "Sideways"), "p").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = MakePreTokenizer({{"type", "Split"}, {"behavior", "Isolated"}}, "p").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status =
      MakePreTokenizer(
          {{"type", "Sequence"}, {"pretokenizers", Json::array({Json{{"type", "CharDelimiterSplit"}}})}}, "p")
          .status();
  EXPECT_NE(status.message().find("CharDelimiterSplit"), std::string::npos) << status;
  EXPECT_EQ(*MakePreTokenizer(nullptr, "p"), nullptr);
}

TEST(PreTokenizerTest, RegistryListsEveryPreTokenizer) {
  std::vector<std::string> types;
  for (const auto& entry : PreTokenizerRegistry()) types.emplace_back(entry.type);
  EXPECT_EQ(types, (std::vector<std::string>{"ByteLevel", "Split", "Metaspace", "Whitespace",
                                             "WhitespaceSplit", "Digits", "Punctuation",
                                             "BertPreTokenizer", "Sequence"}));
}

}  // namespace
}  // namespace brisk::tokenizer
