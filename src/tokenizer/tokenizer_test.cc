// End-to-end tests of Tokenizer on small tokenizer.json documents: the pipeline, added tokens
// (special or not, lstrip/rstrip, single_word, leftmost-longest), template post-processing,
// decoding, lookups, thread safety and load errors. Expected ids are derived by hand.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tokenizer/test_util.h"

namespace brisk::tokenizer {
namespace {

using testing::AddedTokenJson;
using testing::Json;
using Ids = std::vector<int32_t>;

// Ids: bytes 0..255, "Ġt"=256 "he"=257 "Ġthe"=258 "ll"=259 "hell"=260 "hello"=261
// "Ġhello"=262; added tokens 300..306.
Json ToyJson() {
  Json model = testing::ByteLevelBpe({{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"l", "l"},
                                      {"he", "ll"}, {"hell", "o"}, {"Ġ", "hello"}});
  Json added = Json::array({
      AddedTokenJson(300, "<|bos|>", true),
      AddedTokenJson(301, "<|eot|>", true),
      AddedTokenJson(302, "<mask>", false, /*lstrip=*/true, /*rstrip=*/true),
      AddedTokenJson(303, "<|eot|>!", true),
      AddedTokenJson(304, "ell", false, false, false, /*single_word=*/true),
      AddedTokenJson(305, "a b", false),
      AddedTokenJson(306, "<|bos|>hi", false),
  });
  Json post = {{"type", "TemplateProcessing"},
               {"single", Json::array({Json{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}},
                                       Json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
               {"special_tokens",
                {{"<|bos|>", {{"id", "<|bos|>"}, {"ids", {300}}, {"tokens", {"<|bos|>"}}}}}}};
  return testing::TokenizerJson(model, testing::ByteLevelPreTokenizer(false), added, post);
}

std::unique_ptr<Tokenizer> MustLoad(const Json& json) {
  auto tokenizer = Tokenizer::FromJson(json.dump(), "toy.json");
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
}

TEST(TokenizerTest, EncodesWithByteLevelBpe) {
  auto tok = MustLoad(ToyJson());
  // "hello" -> he l l o -> he ll o -> hell o -> hello; " the" -> Ġthe.
  EXPECT_EQ(tok->Encode("hello the", AddSpecial::kNo), (Ids{261, 258}));
  // " hello" -> Ġ hello -> Ġhello.
  EXPECT_EQ(tok->Encode("hello hello", AddSpecial::kNo), (Ids{261, 262}));
  // "the" without a space: t he.
  EXPECT_EQ(tok->Encode("the", AddSpecial::kNo), (Ids{'t', 257}));
  // A two-byte character becomes its two byte ids.
  EXPECT_EQ(tok->Encode("\xC3\xA9", AddSpecial::kNo), (Ids{0xC3, 0xA9}));
  EXPECT_EQ(tok->Encode("", AddSpecial::kNo), Ids{});
}

TEST(TokenizerTest, TemplateAddsBos) {
  auto tok = MustLoad(ToyJson());
  EXPECT_EQ(tok->Encode("hello", AddSpecial::kYes), (Ids{300, 261}));
  EXPECT_EQ(tok->Encode("", AddSpecial::kYes), (Ids{300}));
  EXPECT_EQ(tok->Encode("hello", AddSpecial::kNo), (Ids{261}));
}

TEST(TokenizerTest, AddedTokensAreCutOutBeforePreTokenization) {
  auto tok = MustLoad(ToyJson());
  // Special tokens map straight to their ids; the text around them is encoded on its own.
  EXPECT_EQ(tok->Encode("hello<|eot|>the", AddSpecial::kNo), (Ids{261, 301, 't', 257}));
  // Leftmost-longest: "<|eot|>!" wins over "<|eot|>".
  EXPECT_EQ(tok->Encode("<|eot|>!<|eot|>", AddSpecial::kNo), (Ids{303, 301}));
  // Not special but added: still one id. Its content has a space, which no pre-tokenizer sees.
  EXPECT_EQ(tok->Encode("xa b", AddSpecial::kNo), (Ids{'x', 305}));
  // Tokens with "normalized": false are cut out first, even where a longer normalized token
  // ("<|bos|>hi") would match.
  EXPECT_EQ(tok->Encode("<|bos|>hi", AddSpecial::kNo), (Ids{300, 'h', 'i'}));
  // A special token in the text is honored even with AddSpecial::kNo.
  EXPECT_EQ(tok->Encode("<|bos|>hello", AddSpecial::kYes), (Ids{300, 300, 261}));
}

TEST(TokenizerTest, LstripAndRstripAbsorbWhitespace) {
  auto tok = MustLoad(ToyJson());
  // "<mask>" takes the spaces on both sides: "hello", <mask>, "the".
  EXPECT_EQ(tok->Encode("hello  <mask>\t the", AddSpecial::kNo), (Ids{261, 302, 't', 257}));
  // "<|eot|>" strips nothing: the spaces stay with the text ("Ġ" = 32, then Ġthe).
  EXPECT_EQ(tok->Encode("<|eot|>  the", AddSpecial::kNo), (Ids{301, ' ', 258}));
}

TEST(TokenizerTest, SingleWordTokensMustStandAlone) {
  auto tok = MustLoad(ToyJson());
  // Inside "hello" the added "ell" is not a word of its own: plain BPE.
  EXPECT_EQ(tok->Encode("hello", AddSpecial::kNo), (Ids{261}));
  // Standing alone it is extracted: "x ", ell, " y" -> x Ġ | 304 | Ġ y.
  EXPECT_EQ(tok->Encode("x ell y", AddSpecial::kNo), (Ids{'x', ' ', 304, ' ', 'y'}));
  // Punctuation next to it does not make a word.
  EXPECT_EQ(tok->Encode("ell.", AddSpecial::kNo), (Ids{304, '.'}));
}

TEST(TokenizerTest, InvalidUtf8IsReplacedBeforeEncoding) {
  auto tok = MustLoad(ToyJson());
  EXPECT_EQ(tok->Encode("\xFFhello", AddSpecial::kNo),
            tok->Encode("\xEF\xBF\xBDhello", AddSpecial::kNo));
}

TEST(TokenizerTest, DecodeSkipsSpecialTokensOnRequest) {
  auto tok = MustLoad(ToyJson());
  const Ids ids = {300, 261, 258, 302, 305, 301};
  EXPECT_EQ(tok->Decode(ids, SkipSpecial::kNo), "<|bos|>hello the<mask>a b<|eot|>");
  EXPECT_EQ(tok->Decode(ids, SkipSpecial::kYes), "hello the<mask>a b");
  // Unknown ids are dropped.
  EXPECT_EQ(tok->Decode(Ids{261, 99999, -3, 258}, SkipSpecial::kNo), "hello the");
}

TEST(TokenizerTest, EncodeDecodeRoundTripsArbitraryText) {
  auto tok = MustLoad(ToyJson());
  const std::string text = "Tab\there, naïve café — 😀 x\r\n\n  end  ";
  EXPECT_EQ(tok->Decode(tok->Encode(text, AddSpecial::kNo), SkipSpecial::kNo), text);
}

TEST(TokenizerTest, WithoutDecoderTokensAreJoinedWithSpaces) {
  Json json = ToyJson();
  json["decoder"] = nullptr;
  auto tok = MustLoad(json);
  EXPECT_EQ(tok->Decode(Ids{261, 258}, SkipSpecial::kNo), "hello Ġthe");
}

TEST(TokenizerTest, Lookups) {
  auto tok = MustLoad(ToyJson());
  EXPECT_EQ(tok->vocab_size(), 307);
  EXPECT_EQ(tok->TokenToId("<mask>"), 302);
  EXPECT_EQ(tok->TokenToId("Ġthe"), 258);
  EXPECT_FALSE(tok->TokenToId("Ġzebra").has_value());
  EXPECT_EQ(tok->IdToToken(258), "Ġthe");
  EXPECT_EQ(tok->IdToToken(301), "<|eot|>");
  EXPECT_EQ(tok->IdToToken(280), "");
  EXPECT_TRUE(tok->IsSpecial(300));
  EXPECT_FALSE(tok->IsSpecial(302));
  EXPECT_FALSE(tok->IsSpecial(261));
}

TEST(TokenizerTest, EncodeIsThreadSafe) {
  auto tok = MustLoad(ToyJson());
  const std::vector<std::string> texts = {"hello the hello", "<mask> hello<|eot|>", "théé  x",
                                          "ell ell hell", "😀😀 the the"};
  std::vector<Ids> expected;
  for (const auto& text : texts) expected.push_back(tok->Encode(text, AddSpecial::kYes));
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 300; ++round) {
        const size_t i = (round + t) % texts.size();
        if (tok->Encode(texts[i], AddSpecial::kYes) != expected[i]) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(TokenizerTest, FromFileReadsTheDocument) {
  const std::string path = ::testing::TempDir() + "/brisk_toy_tokenizer.json";
  {
    std::ofstream out(path);
    out << ToyJson().dump(2);
  }
  auto tok = Tokenizer::FromFile(path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("hello", AddSpecial::kYes), (Ids{300, 261}));
  std::filesystem::remove(path);
  EXPECT_EQ(Tokenizer::FromFile(path).status().code(), absl::StatusCode::kNotFound);
}

TEST(TokenizerTest, MalformedDocumentsGiveStatusNotCrash) {
  const std::string good = ToyJson().dump();
  for (const std::string& bad :
       {std::string("{"), std::string("[]"), std::string("null"), std::string(""),
        good.substr(0, good.size() / 2), std::string(R"({"model": 5})"),
        std::string(R"({"model": {"type": "BPE", "vocab": [], "merges": []}})"),
        std::string(R"({"added_tokens": {}, "model": {"type": "BPE", "vocab": {}, "merges": []}})"),
        std::string(R"({"version": "2.0", "model": {"type": "BPE", "vocab": {}, "merges": []}})"),
        std::string(
            R"({"pre_tokenizer": 3, "model": {"type": "BPE", "vocab": {}, "merges": []}})")}) {
    auto tok = Tokenizer::FromJson(bad, "bad.json");
    EXPECT_FALSE(tok.ok()) << bad;
    EXPECT_NE(tok.status().message().find("bad.json"), std::string::npos) << tok.status();
  }
  Json no_model = ToyJson();
  no_model.erase("model");
  EXPECT_FALSE(Tokenizer::FromJson(no_model.dump(), "x").ok());
  Json bad_added = ToyJson();
  bad_added["added_tokens"][0]["content"] = "";
  EXPECT_EQ(Tokenizer::FromJson(bad_added.dump(), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TokenizerTest, UnsupportedComponentsAreRefusedByName) {
  const std::vector<std::pair<std::string, Json>> cases = {
      {"normalizer", {{"type", "Precompiled"}, {"precompiled_charsmap", "AAAA"}}},
      {"pre_tokenizer", {{"type", "UnicodeScripts"}}},
      {"decoder", {{"type", "CTC"}}},
      {"post_processor", {{"type", "PairOnlyProcessing"}}},
      {"model", {{"type", "WordLevel"}, {"vocab", Json::object()}}},
  };
  for (const auto& [field, config] : cases) {
    Json json = ToyJson();
    json[field] = config;
    auto tok = Tokenizer::FromJson(json.dump(), "tok.json");
    ASSERT_FALSE(tok.ok()) << field;
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kUnimplemented) << tok.status();
    const std::string type = config["type"];
    EXPECT_NE(tok.status().message().find(type), std::string::npos) << tok.status();
    EXPECT_NE(tok.status().message().find(field), std::string::npos) << tok.status();
  }
}

TEST(TokenizerTest, AddedTokenIdsFollowTheModelVocabulary) {
  // An added token whose content is already a model token takes the model's id.
  Json json = ToyJson();
  json["added_tokens"].push_back(AddedTokenJson(400, "hello", false));
  auto tok = MustLoad(json);
  EXPECT_EQ(tok->TokenToId("hello"), 261);
  EXPECT_EQ(tok->Encode("hellohello", AddSpecial::kNo), (Ids{261, 261}));
  EXPECT_EQ(tok->vocab_size(), 307);
}

}  // namespace
}  // namespace brisk::tokenizer
