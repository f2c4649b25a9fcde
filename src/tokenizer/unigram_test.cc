// Tests for the Unigram model: the best-scoring segmentation, ties, unknown characters (their
// penalty, fusion and byte fallback) and malformed configs. Scores are chosen so that each
// expected path can be checked by adding the numbers by hand.
#include <gtest/gtest.h>

#include "tokenizer/model.h"

namespace brisk::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

Json Unigram(Json vocab, Json unk_id = 0, bool byte_fallback = false) {
  return {{"type", "Unigram"}, {"unk_id", std::move(unk_id)}, {"byte_fallback", byte_fallback},
          {"vocab", std::move(vocab)}};
}

// ids: <unk> 0, a 1, b 2, ab 3, c 4, abc 5.
Json BasicVocab() {
  return Json::array({Json::array({"<unk>", 0.0}), Json::array({"a", -1.0}),
                      Json::array({"b", -2.0}), Json::array({"ab", -2.5}),
                      Json::array({"c", -3.0}), Json::array({"abc", -6.0})});
}

Ids Tokenize(const Json& config, std::string_view word) {
  absl::StatusOr<std::unique_ptr<Model>> model = MakeModel(config, "test");
  EXPECT_TRUE(model.ok()) << model.status();
  Ids ids;
  if (model.ok()) (*model)->Tokenize(word, ids);
  return ids;
}

TEST(UnigramTest, BestPath) {
  // a+b+c = -6, ab+c = -5.5, abc = -6: ab+c wins.
  EXPECT_EQ(Tokenize(Unigram(BasicVocab()), "abc"), (Ids{3, 4}));
  // a+b = -3 < ab = -2.5.
  EXPECT_EQ(Tokenize(Unigram(BasicVocab()), "ab"), (Ids{3}));
  EXPECT_EQ(Tokenize(Unigram(BasicVocab()), "ba"), (Ids{2, 1}));
  EXPECT_EQ(Tokenize(Unigram(BasicVocab()), ""), Ids{});
}

TEST(UnigramTest, TiesKeepTheFirstPathFound) {
  // a+b = -2 ties with ab = -2; ab reaches the end first (from start 0) and keeps it.
  Json vocab = Json::array({Json::array({"<unk>", 0.0}), Json::array({"a", -1.0}),
                            Json::array({"b", -1.0}), Json::array({"ab", -2.0})});
  EXPECT_EQ(Tokenize(Unigram(vocab), "ab"), (Ids{3}));
}

TEST(UnigramTest, UnknownCharactersArePenalizedAndFused) {
  // min score -6, so an unknown character scores -16: abxc = ab, <unk>, c.
  EXPECT_EQ(Tokenize(Unigram(BasicVocab()), "abxc"), (Ids{3, 0, 4}));
  // Adjacent unknown characters fuse into one unknown token, including multi-byte ones.
  EXPECT_EQ(Tokenize(Unigram(BasicVocab()), "xy\xE4\xB8\xAD" "ab"), (Ids{0, 3}));
  EXPECT_EQ(Tokenize(Unigram(BasicVocab()), "x" "a" "y"), (Ids{0, 1, 0}));
  // Without an unknown id, unknown pieces are dropped.
  EXPECT_EQ(Tokenize(Unigram(BasicVocab(), nullptr), "axb"), (Ids{1, 2}));
}

TEST(UnigramTest, ByteFallbackSpellsUnknownPiecesInBytes) {
  Json vocab = BasicVocab();
  vocab.push_back(Json::array({"<0x78>", -10.0}));  // 'x', id 6
  vocab.push_back(Json::array({"<0x79>", -10.0}));  // 'y', id 7
  EXPECT_EQ(Tokenize(Unigram(vocab, 0, true), "xyab"), (Ids{6, 7, 3}));
  // One byte missing ('z'): the fused piece becomes the unknown token.
  EXPECT_EQ(Tokenize(Unigram(vocab, 0, true), "xza"), (Ids{0, 1}));
  EXPECT_EQ(Tokenize(Unigram(vocab, 0, false), "xyab"), (Ids{0, 3}));
}

TEST(UnigramTest, VocabularyAccessAndMalformedConfigs) {
  auto model = MakeModel(Unigram(BasicVocab()), "t");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->TokenToId("abc"), 5);
  EXPECT_EQ((*model)->IdToToken(3), "ab");
  EXPECT_EQ((*model)->id_end(), 6);
  EXPECT_EQ(MakeModel(Unigram(Json::array({Json::array({"a"})})), "t").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeModel(Unigram(BasicVocab(), 17), "t").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace brisk::tokenizer
