// Tests for the normalizers: the four Unicode forms (composition, decomposition, reordering,
// compatibility, Hangul), their alignment, Lowercase, Strip, Replace, Prepend, BertNormalizer,
// Sequence, and refusal of unsupported types. Expected strings are written from the Unicode
// tables by hand.
#include "tokenizer/normalizer.h"

#include <gtest/gtest.h>

namespace brisk::tokenizer {
namespace {

std::string NormalizeWith(const Json& config, std::string_view text) {
  absl::StatusOr<std::unique_ptr<Normalizer>> normalizer = MakeNormalizer(config, "test");
  EXPECT_TRUE(normalizer.ok()) << normalizer.status();
  if (!normalizer.ok()) return "<error>";
  return (*normalizer)->Normalize(text);
}

Json Type(std::string_view type) { return Json{{"type", std::string(type)}}; }

TEST(NormalizerTest, UnicodeForms) {
  // e + COMBINING ACUTE <-> U+00E9.
  EXPECT_EQ(NormalizeWith(Type("NFC"), "cafe\xCC\x81"), "caf\xC3\xA9");
  EXPECT_EQ(NormalizeWith(Type("NFD"), "caf\xC3\xA9"), "cafe\xCC\x81");
  // e + CIRCUMFLEX (230) + DOT BELOW (220) reorders to dot below first, composing U+1EC7.
  EXPECT_EQ(NormalizeWith(Type("NFC"), "e\xCC\x82\xCC\xA3"), "\xE1\xBB\x87");
  EXPECT_EQ(NormalizeWith(Type("NFD"), "\xE1\xBB\x87"), "e\xCC\xA3\xCC\x82");
  // Hangul: U+1100 U+1161 <-> U+AC00.
  EXPECT_EQ(NormalizeWith(Type("NFC"), "\xE1\x84\x80\xE1\x85\xA1"), "\xEA\xB0\x80");
  EXPECT_EQ(NormalizeWith(Type("NFD"), "\xEA\xB0\x80"), "\xE1\x84\x80\xE1\x85\xA1");
  // Compatibility: the fi ligature, circled one, halfwidth KA + voiced mark (-> U+30AC).
  EXPECT_EQ(NormalizeWith(Type("NFKC"), "\xEF\xAC\x81 \xE2\x91\xA0"), "fi 1");
  EXPECT_EQ(NormalizeWith(Type("NFC"), "\xEF\xAC\x81"), "\xEF\xAC\x81");
  EXPECT_EQ(NormalizeWith(Type("NFKC"), "\xEF\xBD\xB6\xEF\xBE\x9E"), "\xE3\x82\xAC");
  EXPECT_EQ(NormalizeWith(Type("NFKD"), "\xEF\xBD\xB6\xEF\xBE\x9E"), "\xE3\x82\xAB\xE3\x82\x99");
  // OHM SIGN is a canonical singleton: NFC gives GREEK CAPITAL OMEGA.
  EXPECT_EQ(NormalizeWith(Type("NFC"), "\xE2\x84\xA6"), "\xCE\xA9");
  EXPECT_EQ(NormalizeWith(Type("NFC"), "plain ascii"), "plain ascii");
  EXPECT_EQ(NormalizeWith(Type("NFD"), ""), "");
}

TEST(NormalizerTest, UnicodeFormsKeepTheAlignment) {
  auto nfc = MakeNormalizer(Type("NFC"), "t");
  ASSERT_TRUE(nfc.ok());
  NormalizedText text = NormalizedText::Identity("xe\xCC\x81y\xE4\xB8\xAD");  // x, e+acute, y, 中
  (*nfc)->Normalize(text);
  EXPECT_EQ(text.text, "x\xC3\xA9y\xE4\xB8\xAD");
  EXPECT_EQ(text.origin, (std::vector<uint32_t>{0, 1, 1, 4, 5, 6, 7}));
}

TEST(NormalizerTest, LowercaseFollowsRustCharToLowercase) {
  // U+0130 becomes "i" + U+0307; a final capital sigma becomes σ, not ς.
  EXPECT_EQ(NormalizeWith(Type("Lowercase"), "HeLLo \xC4\xB0 \xCE\xA3\xCE\xA3"),
            "hello i\xCC\x87 \xCF\x83\xCF\x83");
  auto lower = MakeNormalizer(Type("Lowercase"), "t");
  ASSERT_TRUE(lower.ok());
  NormalizedText text = NormalizedText::Identity("A\xC4\xB0");
  (*lower)->Normalize(text);
  EXPECT_EQ(text.origin, (std::vector<uint32_t>{0, 1, 1, 1}));
}

TEST(NormalizerTest, StripReplacePrepend) {
  const Json strip = {{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}};
  EXPECT_EQ(NormalizeWith(strip, " \t hi there \xE3\x80\x80\n"), "hi there");
  const Json left = {{"type", "Strip"}, {"strip_left", true}, {"strip_right", false}};
  EXPECT_EQ(NormalizeWith(left, "  hi  "), "hi  ");
  EXPECT_EQ(NormalizeWith(strip, "   "), "");

  const Json space = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}};
  EXPECT_EQ(NormalizeWith(space, "a b  c"), "a\xE2\x96\x81" "b\xE2\x96\x81\xE2\x96\x81" "c");
  const Json runs = {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", "_"}};
  EXPECT_EQ(NormalizeWith(runs, "a \t b\n"), "a_b_");
  const Json dot = {{"type", "Replace"}, {"pattern", {{"String", "."}}}, {"content", ""}};
  EXPECT_EQ(NormalizeWith(dot, "a.b.c"), "abc");

  const Json prepend = {{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}};
  EXPECT_EQ(NormalizeWith(prepend, "hi"), "\xE2\x96\x81hi");
  EXPECT_EQ(NormalizeWith(prepend, ""), "");

  // Llama 2: Prepend then Replace.
  const Json llama2 = {{"type", "Sequence"}, {"normalizers", Json::array({prepend, space})}};
  EXPECT_EQ(NormalizeWith(llama2, "a b"), "\xE2\x96\x81" "a\xE2\x96\x81" "b");
  EXPECT_EQ(NormalizeWith({{"type", "Sequence"}, {"normalizers", Json::array()}}, "As Is"),
            "As Is");
}

TEST(NormalizerTest, BertNormalizer) {
  const Json bert = {{"type", "BertNormalizer"}, {"clean_text", true},
                     {"handle_chinese_chars", true}, {"strip_accents", nullptr},
                     {"lowercase", true}};
  // Tab -> space, U+0001 and U+FFFD dropped, 中 padded, accents stripped, lowercased.
  EXPECT_EQ(NormalizeWith(bert, "H\xC3\xA9llo\tWORLD\x01\xEF\xBF\xBD\xE4\xB8\xAD!"),
            "hello world \xE4\xB8\xAD !");
  Json keep_accents = bert;
  keep_accents["strip_accents"] = false;
  EXPECT_EQ(NormalizeWith(keep_accents, "H\xC3\xA9llo"), "h\xC3\xA9llo");
  Json cased = bert;
  cased["lowercase"] = false;  // strip_accents null follows lowercase: accents stay
  EXPECT_EQ(NormalizeWith(cased, "H\xC3\xA9llo"), "H\xC3\xA9llo");
  cased["strip_accents"] = true;
  EXPECT_EQ(NormalizeWith(cased, "H\xC3\xA9llo"), "Hello");
  Json raw = bert;
  raw["clean_text"] = false;
  raw["handle_chinese_chars"] = false;
  EXPECT_EQ(NormalizeWith(raw, "A\t\xE4\xB8\xAD"), "a\t\xE4\xB8\xAD");
}

TEST(NormalizerTest, UnsupportedOrMalformedConfigs) {
  absl::Status status =
      MakeNormalizer({{"type", "Precompiled"}, {"precompiled_charsmap", ""}}, "t: normalizer")
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("Precompiled"), std::string::npos) << status;
  status = MakeNormalizer({{"type", "Replace"}, {"pattern", {{"String", " "}}}}, "t").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = MakeNormalizer({{"type", "Replace"}, {"pattern", {{"Regex", "("}}}, {"content", ""}},
                          "t")
               .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = MakeNormalizer({{"type", "Sequence"}, {"normalizers", Json::array({Type("NMT")})}}, "t")
               .status();
  EXPECT_NE(status.message().find("NMT"), std::string::npos) << status;
  EXPECT_EQ(*MakeNormalizer(nullptr, "t"), nullptr);
}

TEST(NormalizerTest, RegistryListsEveryNormalizer) {
  std::vector<std::string> types;
  for (const auto& entry : NormalizerRegistry()) types.emplace_back(entry.type);
  EXPECT_EQ(types, (std::vector<std::string>{"NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Strip",
                                             "Replace", "Prepend", "BertNormalizer",
                                             "Sequence"}));
}

}  // namespace
}  // namespace brisk::tokenizer
