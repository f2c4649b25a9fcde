// Tests for the word-level pre-tokenizers: Whitespace, WhitespaceSplit, Digits, Punctuation,
// BertPreTokenizer and Metaspace with its three prepend schemes, with and without split.
#include <gtest/gtest.h>

#include "tokenizer/pre_tokenizer.h"

namespace brisk::tokenizer {
namespace {

using Pieces = std::vector<std::string>;

Pieces Words(const Json& config, std::vector<PreToken> pieces) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre = MakePreTokenizer(config, "test");
  EXPECT_TRUE(pre.ok()) << pre.status();
  if (!pre.ok()) return {};
  (*pre)->PreTokenize(pieces);
  Pieces texts;
  for (PreToken& piece : pieces) texts.push_back(std::move(piece.text));
  return texts;
}

Pieces Words(const Json& config, std::string text) { return Words(config, {{std::move(text), 0}}); }

Json Type(std::string_view type) { return Json{{"type", std::string(type)}}; }

TEST(WordPreTokenizerTest, WhitespaceAndWhitespaceSplit) {
  EXPECT_EQ(Words(Type("Whitespace"), "Hey friend!  How are_you?! x2 \xC3\xA9t\xC3\xA9"),
            (Pieces{"Hey", "friend", "!", "How", "are_you", "?!", "x2", "\xC3\xA9t\xC3\xA9"}));
  EXPECT_EQ(Words(Type("WhitespaceSplit"), "Hey  friend!\tok\xE3\x80\x80z"),
            (Pieces{"Hey", "friend!", "ok", "z"}));
  EXPECT_EQ(Words(Type("WhitespaceSplit"), "   "), Pieces{});
}

TEST(WordPreTokenizerTest, DigitsAndPunctuation) {
  EXPECT_EQ(Words({{"type", "Digits"}, {"individual_digits", true}}, "Call 123 now"),
            (Pieces{"Call ", "1", "2", "3", " now"}));
  EXPECT_EQ(Words({{"type", "Digits"}, {"individual_digits", false}}, "Call 123 now\xC2\xBD"),
            (Pieces{"Call ", "123", " now", "\xC2\xBD"}));  // ½ is numeric (No)
  EXPECT_EQ(Words(Type("Punctuation"), "Hey, you!!"), (Pieces{"Hey", ",", " you", "!", "!"}));
  EXPECT_EQ(Words({{"type", "Punctuation"}, {"behavior", "Contiguous"}}, "Hey, you!!"),
            (Pieces{"Hey", ",", " you", "!!"}));
  // U+00BF (inverted question mark) is Unicode punctuation; '$' is ASCII punctuation.
  EXPECT_EQ(Words(Type("Punctuation"), "\xC2\xBF" "a$"), (Pieces{"\xC2\xBF", "a", "$"}));
}

TEST(WordPreTokenizerTest, BertPreTokenizer) {
  EXPECT_EQ(Words(Type("BertPreTokenizer"), "Hey, friend!  don't \xE4\xB8\xAD"),
            (Pieces{"Hey", ",", "friend", "!", "don", "'", "t", "\xE4\xB8\xAD"}));
}

constexpr std::string_view kMeta = "\xE2\x96\x81";  // U+2581

std::string M(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '_') {
      out.append(kMeta);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Json Metaspace(std::string_view scheme, bool split) {
  return {{"type", "Metaspace"}, {"replacement", std::string(kMeta)},
          {"prepend_scheme", std::string(scheme)}, {"split", split}};
}

TEST(WordPreTokenizerTest, MetaspaceSchemesAndSplit) {
  EXPECT_EQ(Words(Metaspace("always", true), "Hey friend"), (Pieces{M("_Hey"), M("_friend")}));
  EXPECT_EQ(Words(Metaspace("always", true), "Hey   friend"),
            (Pieces{M("_Hey"), M("_"), M("_"), M("_friend")}));
  EXPECT_EQ(Words(Metaspace("always", true), " Hey"), (Pieces{M("_Hey")}));
  EXPECT_EQ(Words(Metaspace("never", true), "Hey friend"), (Pieces{"Hey", M("_friend")}));
  EXPECT_EQ(Words(Metaspace("always", false), "Hey friend"), (Pieces{M("_Hey_friend")}));
  // "first": only the piece that starts the input gets the prefix.
  EXPECT_EQ(Words(Metaspace("first", false), {{"Hey ", 0}, {"how", 7}}),
            (Pieces{M("_Hey_"), "how"}));
  EXPECT_EQ(Words(Metaspace("always", false), {{"Hey ", 0}, {"how", 7}}),
            (Pieces{M("_Hey_"), M("_how")}));
  // The old spelling: add_prefix_space false means "never".
  const Json legacy = {{"type", "Metaspace"}, {"replacement", std::string(kMeta)},
                       {"add_prefix_space", false}};
  EXPECT_EQ(Words(legacy, "a b"), (Pieces{"a", M("_b")}));
  EXPECT_EQ(MakePreTokenizer({{"type", "Metaspace"}, {"replacement", "ab"}}, "t").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakePreTokenizer(
                {{"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "sometimes"}}, "t")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WordPreTokenizerTest, SplitsTrackTheOriginOfEachPiece) {
  auto pre = MakePreTokenizer(Type("WhitespaceSplit"), "t");
  ASSERT_TRUE(pre.ok());
  std::vector<PreToken> pieces{{"ab  cd", 10}};
  (*pre)->PreTokenize(pieces);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].origin, 10u);
  EXPECT_EQ(pieces[1].origin, 14u);
}

}  // namespace
}  // namespace brisk::tokenizer
