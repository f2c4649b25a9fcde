// Tests of whole tokenizers built from the newer components: added tokens with
// "normalized": true matched after normalization (by their normalized content), Metaspace's
// "first" scheme after an added token, and BERT and SentencePiece-style pipelines end to end.
// Every document is small and inline, and every expected id is derived by hand in a comment.
#include <gtest/gtest.h>

#include "tokenizer/test_util.h"
#include "tokenizer/tokenizer.h"

namespace brisk::tokenizer {
namespace {

using Ids = std::vector<int32_t>;
using testing::Json;

const std::string kMeta = "\xE2\x96\x81";  // U+2581

std::unique_ptr<Tokenizer> MustLoad(const Json& json) {
  auto tok = Tokenizer::FromJson(json.dump(), "test.json");
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? *std::move(tok) : nullptr;
}

Json Added(int id, const std::string& content, bool special, bool normalized) {
  return {{"id", id},         {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},  {"normalized", normalized}, {"special", special}};
}

Json Document(Json normalizer, Json pre_tokenizer, Json model, Json added, Json post, Json decoder) {
  return {{"version", "1.0"},        {"truncation", nullptr},
          {"padding", nullptr},      {"added_tokens", std::move(added)},
          {"normalizer", std::move(normalizer)}, {"pre_tokenizer", std::move(pre_tokenizer)},
          {"post_processor", std::move(post)},   {"decoder", std::move(decoder)},
          {"model", std::move(model)}};
}

// WordPiece over [UNK] 0, x 1, y 2, with a Lowercase normalizer and two added tokens:
// "<Mask>" (normalized, so looked for as "<mask>" in lowercased text) and "<RAW>" (not).
std::unique_ptr<Tokenizer> LowercasedWithAddedTokens() {
  Json model = {{"type", "WordPiece"}, {"unk_token", "[UNK]"},
                {"continuing_subword_prefix", "##"}, {"max_input_chars_per_word", 100},
                {"vocab", {{"[UNK]", 0}, {"x", 1}, {"y", 2}}}};
  Json added = Json::array({Added(3, "<Mask>", false, true), Added(4, "<RAW>", true, false)});
  return MustLoad(Document({{"type", "Lowercase"}}, {{"type", "WhitespaceSplit"}}, model, added,
                           nullptr, {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}));
}

TEST(PipelineTest, NormalizedAddedTokensMatchTheirNormalizedContent) {
  auto tok = LowercasedWithAddedTokens();
  ASSERT_NE(tok, nullptr);
  // "X <MASK> y" lowercases to "x <mask> y", where the normalized "<mask>" is found.
  EXPECT_EQ(tok->Encode("X <MASK> y", AddSpecial::kNo), (Ids{1, 3, 2}));
  EXPECT_EQ(tok->Encode("x<mask>Y", AddSpecial::kNo), (Ids{1, 3, 2}));
  // "<RAW>" is matched only as written, before normalization.
  EXPECT_EQ(tok->Encode("X<RAW>Y", AddSpecial::kNo), (Ids{1, 4, 2}));
  EXPECT_EQ(tok->Encode("<raw>", AddSpecial::kNo), (Ids{0}));
  EXPECT_EQ(tok->Decode(Ids{1, 3, 2}, SkipSpecial::kNo), "x <Mask> y");
}

// Unigram over <unk> 0, ▁ 1, h 2, i 3, hi 4, ▁hi 5 (scores -1 for ▁, hi, ▁hi, -2 for h, i),
// a special "<s>" (id 6), Metaspace pre-tokenization without split and the given scheme.
std::unique_ptr<Tokenizer> SentencePieceStyle(const std::string& scheme) {
  Json vocab = Json::array({Json::array({"<unk>", 0.0}), Json::array({kMeta, -1.0}),
                            Json::array({"h", -2.0}), Json::array({"i", -2.0}),
                            Json::array({"hi", -1.0}), Json::array({kMeta + "hi", -1.0}),
                            Json::array({"<s>", 0.0})});
  Json model = {{"type", "Unigram"}, {"unk_id", 0}, {"byte_fallback", false}, {"vocab", vocab}};
  Json metaspace = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme},
                    {"split", false}};
  Json post = {{"type", "TemplateProcessing"},
               {"single", Json::array({Json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                       Json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
               {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {6}}, {"tokens", {"<s>"}}}}}}};
  Json decoder = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme},
                  {"split", false}};
  return MustLoad(Document(nullptr, metaspace, model, Json::array({Added(6, "<s>", true, false)}),
                           post, decoder));
}

TEST(PipelineTest, MetaspaceFirstPrependsOnlyAtTheStartOfTheInput) {
  auto first = SentencePieceStyle("first");
  ASSERT_NE(first, nullptr);
  // "hi" -> "▁hi" (score -1 beats ▁ + hi = -2).
  EXPECT_EQ(first->Encode("hi", AddSpecial::kNo), (Ids{5}));
  EXPECT_EQ(first->Encode("hi", AddSpecial::kYes), (Ids{6, 5}));
  // After an added token the text does not start the input: no prefix, "hi" -> hi.
  EXPECT_EQ(first->Encode("<s>hi", AddSpecial::kNo), (Ids{6, 4}));
  // "hi <s>hi": "hi " -> "▁hi▁" -> ▁hi, ▁; then <s>; then hi.
  EXPECT_EQ(first->Encode("hi <s>hi", AddSpecial::kNo), (Ids{5, 1, 6, 4}));
  EXPECT_EQ(first->Decode(Ids{5, 1, 6, 4}, SkipSpecial::kNo), "hi <s>hi");

  auto always = SentencePieceStyle("always");
  ASSERT_NE(always, nullptr);
  EXPECT_EQ(always->Encode("<s>hi", AddSpecial::kNo), (Ids{6, 5}));
}

// BERT: BertNormalizer, BertPreTokenizer, WordPiece, BertProcessing, WordPiece decoder.
TEST(PipelineTest, BertEndToEnd) {
  Json vocab = {{"[UNK]", 0}, {"[CLS]", 1}, {"[SEP]", 2}, {"hello", 3}, {"world", 4},
                {"!", 5},     {"un", 6},    {"##aff", 7}, {"\xE4\xB8\xAD", 8}, {"cafe", 9}};
  Json model = {{"type", "WordPiece"}, {"unk_token", "[UNK]"},
                {"continuing_subword_prefix", "##"}, {"max_input_chars_per_word", 100},
                {"vocab", vocab}};
  Json normalizer = {{"type", "BertNormalizer"}, {"clean_text", true},
                     {"handle_chinese_chars", true}, {"strip_accents", nullptr},
                     {"lowercase", true}};
  Json post = {{"type", "BertProcessing"}, {"sep", Json::array({"[SEP]", 2})},
               {"cls", Json::array({"[CLS]", 1})}};
  Json added = Json::array({Added(0, "[UNK]", true, false), Added(1, "[CLS]", true, false),
                            Added(2, "[SEP]", true, false)});
  auto tok = MustLoad(Document(normalizer, {{"type", "BertPreTokenizer"}}, model, added, post,
                               {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}));
  ASSERT_NE(tok, nullptr);
  // "Hello WORLD! Unaff 中Café" -> hello world ! un ##aff 中 cafe.
  const Ids ids = tok->Encode("Hello WORLD! Unaff \xE4\xB8\xAD" "Caf\xC3\xA9", AddSpecial::kYes);
  EXPECT_EQ(ids, (Ids{1, 3, 4, 5, 6, 7, 8, 9, 2}));
  EXPECT_EQ(tok->Decode(ids, SkipSpecial::kYes), "hello world! unaff \xE4\xB8\xAD cafe");
  EXPECT_EQ(tok->Encode("zzz", AddSpecial::kNo), (Ids{0}));
}

}  // namespace
}  // namespace brisk::tokenizer
