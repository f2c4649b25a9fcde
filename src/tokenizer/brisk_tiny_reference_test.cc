// brisk-tiny's tokenizer (trained with Hugging Face `tokenizers`) against the ids that
// `tokenizers` itself produced for fixed probe texts (models/brisk-tiny/reference.json), with
// and without special tokens, plus decode round trips.
#include <gtest/gtest.h>

#include <fstream>

#include "nlohmann/json.hpp"
#include "tokenizer/tokenizer.h"

namespace brisk::tokenizer {
namespace {

const std::string kModelDir = std::string(BRISK_SOURCE_DIR) + "/models/brisk-tiny";

TEST(BriskTinyTokenizerTest, MatchesTokenizersOnEveryProbe) {
  auto tok = Tokenizer::FromFile(kModelDir + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  std::ifstream in(kModelDir + "/reference.json");
  nlohmann::json ref = nlohmann::json::parse(in);
  ASSERT_GE(ref["tokenizer_probes"].size(), 5u);
  for (const auto& probe : ref["tokenizer_probes"]) {
    const std::string text = probe["text"];
    EXPECT_EQ((*tok)->Encode(text, AddSpecial::kNo), probe["ids"].get<std::vector<int32_t>>())
        << "text: " << text;
    const auto with_special = probe["ids_with_special"].get<std::vector<int32_t>>();
    EXPECT_EQ((*tok)->Encode(text, AddSpecial::kYes), with_special) << "text: " << text;
    // Byte-level BPE is lossless: decoding the plain ids gives the text back.
    const auto ids = probe["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ((*tok)->Decode(ids, SkipSpecial::kNo), text);
  }
}

TEST(BriskTinyTokenizerTest, GreedyPromptEncodesAsTransformersDid) {
  auto tok = Tokenizer::FromFile(kModelDir + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  std::ifstream in(kModelDir + "/reference.json");
  nlohmann::json greedy = nlohmann::json::parse(in)["greedy"];
  EXPECT_EQ((*tok)->Encode(greedy["prompt"].get<std::string>(), AddSpecial::kYes),
            greedy["prompt_ids"].get<std::vector<int32_t>>());
}

}  // namespace
}  // namespace brisk::tokenizer
