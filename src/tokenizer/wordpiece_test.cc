// Tests for the WordPiece model: greedy longest-match from the left with the "##" prefix, the
// unknown token for unmatched or over-long words, options, and malformed configs.
#include <gtest/gtest.h>

#include "tokenizer/model.h"

namespace brisk::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

Json Vocab() {
  return {{"[UNK]", 0}, {"un", 1}, {"##aff", 2}, {"##able", 3}, {"a", 4},
          {"##ff", 5},  {"aff", 6}, {"##a", 7},  {"\xC3\xA9", 8}, {"##t\xC3\xA9", 9}};
}

Json WordPiece(Json vocab = Vocab()) {
  return {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
          {"max_input_chars_per_word", 100}, {"vocab", std::move(vocab)}};
}

Ids Tokenize(const Json& config, std::string_view word) {
  absl::StatusOr<std::unique_ptr<Model>> model = MakeModel(config, "test");
  EXPECT_TRUE(model.ok()) << model.status();
  Ids ids;
  if (model.ok()) (*model)->Tokenize(word, ids);
  return ids;
}

TEST(WordPieceTest, GreedyLongestMatchFirst) {
  EXPECT_EQ(Tokenize(WordPiece(), "unaffable"), (Ids{1, 2, 3}));
  // "aff" is a whole token at the start; in "aaff" the longest start is "a", then "##aff"
  // (longer than "##a"); in "aafff" the rest after "a", "##aff" is "f", which matches nothing.
  EXPECT_EQ(Tokenize(WordPiece(), "aff"), (Ids{6}));
  EXPECT_EQ(Tokenize(WordPiece(), "aaff"), (Ids{4, 2}));
  EXPECT_EQ(Tokenize(WordPiece(), "aafff"), (Ids{0}));
  EXPECT_EQ(Tokenize(WordPiece(), "aaaff"), (Ids{4, 7, 2}));
  // Multi-byte characters are never cut inside.
  EXPECT_EQ(Tokenize(WordPiece(), "\xC3\xA9t\xC3\xA9"), (Ids{8, 9}));
}

TEST(WordPieceTest, UnknownWordsBecomeOneUnknownToken) {
  EXPECT_EQ(Tokenize(WordPiece(), "xyz"), (Ids{0}));
  EXPECT_EQ(Tokenize(WordPiece(), "unx"), (Ids{0}));  // a matched prefix does not survive
  Json config = WordPiece();
  config["max_input_chars_per_word"] = 4;
  EXPECT_EQ(Tokenize(config, "unaffable"), (Ids{0}));
  EXPECT_EQ(Tokenize(config, "\xC3\xA9t\xC3\xA9"), (Ids{8, 9}));  // 3 characters, 5 bytes
  Json no_unk = WordPiece();
  no_unk["unk_token"] = "<missing>";
  EXPECT_EQ(Tokenize(no_unk, "xyz"), Ids{});
}

TEST(WordPieceTest, CustomPrefixAndVocabularyAccess) {
  Json vocab = {{"[UNK]", 0}, {"un", 1}, {"@@aff", 2}, {"@@able", 3}};
  Json config = WordPiece(vocab);
  config["continuing_subword_prefix"] = "@@";
  EXPECT_EQ(Tokenize(config, "unaffable"), (Ids{1, 2, 3}));
  auto model = MakeModel(WordPiece(), "t");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->TokenToId("##able"), 3);
  EXPECT_EQ((*model)->IdToToken(2), "##aff");
  EXPECT_EQ((*model)->IdToToken(99), std::nullopt);
  EXPECT_EQ((*model)->id_end(), 10);
}

TEST(WordPieceTest, MalformedConfigs) {
  EXPECT_EQ(MakeModel({{"type", "WordPiece"}}, "t").status().code(),
            absl::StatusCode::kInvalidArgument);
  Json config = WordPiece();
  config["max_input_chars_per_word"] = "many";
  EXPECT_EQ(MakeModel(config, "t").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace brisk::tokenizer
