// Tests for streaming detokenization: characters split across tokens are held back until
// complete, and the pieces always add up to the full decode.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

using testing::Json;
using Ids = std::vector<int32_t>;

std::unique_ptr<Tokenizer> ByteLevelToy() {
  // Ids: bytes 0..255 and "he"=256; every other byte is its own token. "<|eot|>" = 300.
  Json json = testing::TokenizerJson(
      testing::ByteLevelBpe({{"h", "e"}}), testing::ByteLevelPreTokenizer(false),
      Json::array({testing::AddedTokenJson(300, "<|eot|>", true)}));
  auto tok = Tokenizer::FromJson(json.dump(), "toy.json");
  EXPECT_TRUE(tok.ok()) << tok.status();
  return *std::move(tok);
}

std::vector<std::string> Stream(const Tokenizer& tok, const Ids& ids, SkipSpecial skip) {
  IncrementalDecoder decoder(tok, skip);
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(decoder.Append(id));
  pieces.push_back(decoder.Flush());
  return pieces;
}

std::string Join(const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& piece : pieces) out += piece;
  return out;
}

TEST(IncrementalDecoderTest, EmojiSplitAcrossByteTokensIsHeldBack) {
  auto tok = ByteLevelToy();
  // "he" then the four bytes of 😀 (F0 9F 98 80), each its own token, then "!".
  const Ids ids = {256, 0xF0, 0x9F, 0x98, 0x80, '!'};
  const auto pieces = Stream(*tok, ids, SkipSpecial::kNo);
  EXPECT_EQ(pieces, (std::vector<std::string>{"he", "", "", "", "😀", "!", ""}));
  EXPECT_EQ(Join(pieces), tok->Decode(ids, SkipSpecial::kNo));
}

TEST(IncrementalDecoderTest, EncodedTextStreamsBackExactly) {
  auto tok = ByteLevelToy();
  const std::string text = "hé 😀👍🏽 中文<|eot|> the end\n";
  const Ids ids = tok->Encode(text, AddSpecial::kNo);
  const auto pieces = Stream(*tok, ids, SkipSpecial::kNo);
  for (const auto& piece : pieces) EXPECT_TRUE(IsValidUtf8(piece)) << piece;
  EXPECT_EQ(Join(pieces), text);
  EXPECT_EQ(Join(Stream(*tok, ids, SkipSpecial::kYes)), tok->Decode(ids, SkipSpecial::kYes));
}

TEST(IncrementalDecoderTest, IncompleteTailComesOutAtFlush) {
  auto tok = ByteLevelToy();
  const Ids ids = {'a', 0xE2, 0x82};  // "a" + the first two bytes of "€"
  const auto pieces = Stream(*tok, ids, SkipSpecial::kNo);
  EXPECT_EQ(pieces, (std::vector<std::string>{"a", "", "", "\xEF\xBF\xBD"}));
  EXPECT_EQ(Join(pieces), tok->Decode(ids, SkipSpecial::kNo));
}

TEST(IncrementalDecoderTest, RandomIdsAddUpToTheFullDecode) {
  auto tok = ByteLevelToy();
  std::mt19937 rng(1234);
  // Mostly high bytes so that incomplete and invalid UTF-8 sequences are common.
  std::uniform_int_distribution<int> pick(0, 299);
  for (int trial = 0; trial < 200; ++trial) {
    Ids ids;
    for (int i = 0; i < 12; ++i) {
      const int r = pick(rng);
      ids.push_back(r < 256 ? (r < 128 ? 0x80 + r : r) : (r < 290 ? 'a' + r % 26 : 300));
    }
    for (SkipSpecial skip : {SkipSpecial::kNo, SkipSpecial::kYes}) {
      const auto pieces = Stream(*tok, ids, skip);
      for (const auto& piece : pieces) EXPECT_TRUE(IsValidUtf8(piece));
      ASSERT_EQ(Join(pieces), tok->Decode(ids, skip)) << "trial " << trial;
    }
  }
}

TEST(IncrementalDecoderTest, ByteFallbackTokensStreamPerCharacter) {
  Json model = {{"type", "BPE"},
                {"byte_fallback", true},
                {"vocab", {{"<0xF0>", 0}, {"<0x9F>", 1}, {"<0x98>", 2}, {"<0x80>", 3}, {"a", 4}}},
                {"merges", Json::array()}};
  Json decoder = {
      {"type", "Sequence"},
      {"decoders", Json::array({Json{{"type", "ByteFallback"}}, Json{{"type", "Fuse"}}})}};
  auto tok = Tokenizer::FromJson(testing::TokenizerJson(model, nullptr, Json::array(), nullptr,
                                                        decoder).dump(),
                                 "fallback.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  const Ids ids = (*tok)->Encode("a😀a", AddSpecial::kNo);
  EXPECT_EQ(ids, (Ids{4, 0, 1, 2, 3, 4}));
  const auto pieces = Stream(**tok, ids, SkipSpecial::kNo);
  EXPECT_EQ(pieces, (std::vector<std::string>{"a", "", "", "", "😀", "a", ""}));
}

}  // namespace
}  // namespace brisk::tokenizer
