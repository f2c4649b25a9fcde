// brisk-tiny-embed's WordPiece tokenizer (BERT normaliser: lowercase, accents stripped; BERT
// pre-tokenizer; [CLS] ... [SEP] template) against the ids the Hugging Face tokenizer produced
// for the probe texts of models/brisk-tiny-embed/reference.json. The reference ids are truncated
// as sentence-transformers truncates (max_seq_length 128: the first 126 content tokens, then
// [SEP]); brisk's Encode does not truncate (the server refuses longer inputs instead), so an
// over-long probe is compared on the positions both keep.
#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "nlohmann/json.hpp"
#include "tokenizer/tokenizer.h"

namespace brisk::tokenizer {
namespace {

const std::string kModelDir = std::string(BRISK_SOURCE_DIR) + "/models/brisk-tiny-embed";

TEST(BriskTinyEmbedTokenizerTest, MatchesHuggingFaceIdsOnEveryProbe) {
  auto tok = Tokenizer::FromFile(kModelDir + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  std::ifstream in(kModelDir + "/reference.json");
  const nlohmann::json ref = nlohmann::json::parse(in);
  const size_t max_len = ref["max_seq_length"].get<size_t>();
  const int32_t cls = *(*tok)->TokenToId("[CLS]");
  const int32_t sep = *(*tok)->TokenToId("[SEP]");
  EXPECT_EQ(cls, 2);
  EXPECT_EQ(sep, 3);
  ASSERT_GE(ref["probes"].size(), 10u);
  int num_truncated = 0;
  for (const auto& probe : ref["probes"]) {
    const std::string text = probe["text"];
    const auto want = probe["input_ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = (*tok)->Encode(text, AddSpecial::kYes);
    if (got.size() <= max_len) {
      EXPECT_EQ(got, want) << probe["name"] << ": " << text;
      continue;
    }
    // Truncated in the reference: [CLS] and the first max_len - 2 content tokens agree, and
    // both end in [SEP].
    ++num_truncated;
    ASSERT_EQ(want.size(), max_len) << probe["name"];
    std::vector<int32_t> cut(got.begin(), got.begin() + (max_len - 1));
    cut.push_back(got.back());
    EXPECT_EQ(cut, want) << probe["name"];
    EXPECT_EQ(got.back(), sep);
  }
  // Exactly one probe (the 200-word text) is longer than the model's positions.
  EXPECT_EQ(num_truncated, 1);
}

TEST(BriskTinyEmbedTokenizerTest, LowercasesAndStripsAccentsLikeBert) {
  auto tok = Tokenizer::FromFile(kModelDir + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("THE LORD", AddSpecial::kNo), (*tok)->Encode("the lord", AddSpecial::kNo));
  EXPECT_EQ((*tok)->Encode("café naïve", AddSpecial::kNo),
            (*tok)->Encode("cafe naive", AddSpecial::kNo));
}

}  // namespace
}  // namespace brisk::tokenizer
