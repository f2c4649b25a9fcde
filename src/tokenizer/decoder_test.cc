// Tests for the decoders and the post-processors, built from their JSON configs.
#include "tokenizer/decoder.h"

#include <gtest/gtest.h>

#include "tokenizer/post_processor.h"

namespace brisk::tokenizer {
namespace {

using Tokens = std::vector<std::string>;
const std::string kFffd = "\xEF\xBF\xBD";

Tokens DecodeWith(const Json& config, Tokens tokens) {
  absl::StatusOr<std::unique_ptr<Decoder>> decoder = MakeDecoder(config, "test: decoder");
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  if (decoder.ok()) (*decoder)->DecodeChain(tokens);
  return tokens;
}

TEST(DecoderTest, ByteLevelMapsCharactersBackToBytes) {
  // "Ġhi" -> " hi"; "Ã©" -> C3 A9 = "é"; "Ċ" -> "\n".
  EXPECT_EQ(DecodeWith({{"type", "ByteLevel"}}, {"Ġhi", "Ã©", "Ċ"}), (Tokens{" hié\n"}));
  // A token with a character outside the alphabet (a plain space) keeps its own bytes.
  EXPECT_EQ(DecodeWith({{"type", "ByteLevel"}}, {"a b", "Ġc"}), (Tokens{"a b c"}));
  // Half an emoji: F0 9F ("ðŁ") is one maximal invalid subpart -> one U+FFFD.
  EXPECT_EQ(DecodeWith({{"type", "ByteLevel"}}, {"x", "ðŁ"}), (Tokens{"x" + kFffd}));
}

TEST(DecoderTest, ByteFallbackJoinsValidByteRuns) {
  EXPECT_EQ(DecodeWith({{"type", "ByteFallback"}},
                {"<0xE2>", "<0x82>", "<0xac>", "a", "<0xE2>", "b", "<0xZZ>", "<0x41"}),
            (Tokens{"€", "a", kFffd, "b", "<0xZZ>", "<0x41"}));
  // An invalid run gives one U+FFFD per byte.
  EXPECT_EQ(DecodeWith({{"type", "ByteFallback"}}, {"<0xF0>", "<0x9F>"}), (Tokens{kFffd, kFffd}));
}

TEST(DecoderTest, SequenceWithFuse) {
  const Json config = {{"type", "Sequence"},
                       {"decoders", Json::array({Json{{"type", "ByteFallback"}},
                                                 Json{{"type", "Fuse"}}})}};
  EXPECT_EQ(DecodeWith(config, {"a", "<0xC3>", "<0xA9>", "b"}), (Tokens{"aéb"}));
  EXPECT_EQ(DecodeWith({{"type", "Fuse"}}, {}), (Tokens{""}));
}

TEST(DecoderTest, UnsupportedDecodersAreRefusedByName) {
  absl::Status status = MakeDecoder({{"type", "CTC"}}, "t: decoder").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("CTC"), std::string::npos) << status;
  status = MakeDecoder({{"type", "Sequence"}, {"decoders", Json::array({Json{{"type", "BPEDecoder"}}})}},
                       "t").status();
  EXPECT_NE(status.message().find("BPEDecoder"), std::string::npos) << status;
  EXPECT_EQ(MakeDecoder(Json::array(), "t").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeDecoder({{"kind", "ByteLevel"}}, "t").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DecoderTest, MetaspaceDropsTheFirstPrefix) {
  const std::string meta = "\xE2\x96\x81";
  const Json always = {{"type", "Metaspace"}, {"replacement", meta}, {"prepend_scheme", "always"},
                       {"split", true}};
  EXPECT_EQ(DecodeWith(always, {meta + "Hey", meta + "friend!", "x" + meta + meta}),
            (Tokens{"Hey", " friend!", "x  "}));
  // In the first token every replacement is dropped, as `tokenizers` does.
  EXPECT_EQ(DecodeWith(always, {meta + meta + "a"}), (Tokens{"a"}));
  Json never = always;
  never["prepend_scheme"] = "never";
  EXPECT_EQ(DecodeWith(never, {meta + "Hey", meta + "friend!"}), (Tokens{" Hey", " friend!"}));
}

TEST(DecoderTest, StripReplaceAndLlama2Chain) {
  const Json strip = {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 2}};
  EXPECT_EQ(DecodeWith(strip, {"  a   ", "b", "c "}), (Tokens{" a ", "b", "c"}));
  const Json replace = {{"type", "Replace"},
                        {"pattern", {{"String", "\xE2\x96\x81"}}},
                        {"content", " "}};
  EXPECT_EQ(DecodeWith(replace, {"\xE2\x96\x81" "a\xE2\x96\x81" "b", "c"}),
            (Tokens{" a b", "c"}));
  // Llama 2: Replace, ByteFallback, Fuse, Strip one leading space.
  const Json llama2 = {
      {"type", "Sequence"},
      {"decoders", Json::array({replace, Json{{"type", "ByteFallback"}}, Json{{"type", "Fuse"}},
                                Json{{"type", "Strip"}, {"content", " "}, {"start", 1},
                                     {"stop", 0}}})}};
  EXPECT_EQ(DecodeWith(llama2, {"\xE2\x96\x81Hi", "<0xC3>", "<0xA9>", "\xE2\x96\x81there"}),
            (Tokens{"Hi\xC3\xA9 there"}));
}

TEST(DecoderTest, WordPieceJoinsContinuationsAndCleansUp) {
  const Json wordpiece = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  Tokens tokens = DecodeWith(wordpiece, {"un", "##aff", "##able", "is", "good", ".", "do", "not"});
  std::string text;
  for (const std::string& token : tokens) text += token;
  EXPECT_EQ(text, "unaffable is good. do not");
  // The cleanup works per token: " do not" only becomes " don't" within one token.
  EXPECT_EQ(DecodeWith(wordpiece, {"x", "do not"}), (Tokens{"x", " don't"}));
  Json raw = wordpiece;
  raw["cleanup"] = false;
  EXPECT_EQ(DecodeWith(raw, {"a", "."}), (Tokens{"a", " ."}));
}

TEST(DecoderTest, RegistryListsEveryDecoder) {
  std::vector<std::string> types;
  for (const auto& entry : DecoderRegistry()) types.emplace_back(entry.type);
  EXPECT_EQ(types, (std::vector<std::string>{"ByteLevel", "ByteFallback", "Fuse", "Metaspace", "Strip",
                                             "Replace", "WordPiece", "Sequence"}));
}

Json Llama3StyleTemplate() {
  return {{"type", "TemplateProcessing"},
          {"single", Json::array({Json{{"SpecialToken", {{"id", "<bos>"}, {"type_id", 0}}}},
                                  Json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                  Json{{"SpecialToken", {{"id", "<eos>"}, {"type_id", 0}}}}})},
          {"pair", Json::array()},
          {"special_tokens",
           {{"<bos>", {{"id", "<bos>"}, {"ids", {7}}, {"tokens", {"<bos>"}}}},
            {"<eos>", {{"id", "<eos>"}, {"ids", {8, 9}}, {"tokens", {"<e>", "<os>"}}}}}}};
}

TEST(PostProcessorTest, TemplateWrapsTheSequence) {
  auto processor = MakePostProcessor(Llama3StyleTemplate(), "t");
  ASSERT_TRUE(processor.ok()) << processor.status();
  std::vector<int32_t> ids = {1, 2};
  (*processor)->Process(ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{7, 1, 2, 8, 9}));
}

TEST(PostProcessorTest, SequenceOfByteLevelAndTemplate) {
  const Json config = {
      {"type", "Sequence"},
      {"processors",
       Json::array({Json{{"type", "ByteLevel"}, {"trim_offsets", false}}, Llama3StyleTemplate()})}};
  auto processor = MakePostProcessor(config, "t");
  ASSERT_TRUE(processor.ok()) << processor.status();
  std::vector<int32_t> ids = {};
  (*processor)->Process(ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{7, 8, 9}));
}

TEST(PostProcessorTest, BertAndRobertaWrapInClsAndSep) {
  auto bert = MakePostProcessor(
      {{"type", "BertProcessing"}, {"sep", Json::array({"[SEP]", 102})},
       {"cls", Json::array({"[CLS]", 101})}},
      "t");
  ASSERT_TRUE(bert.ok()) << bert.status();
  std::vector<int32_t> ids = {5, 6};
  (*bert)->Process(ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{101, 5, 6, 102}));
  auto roberta = MakePostProcessor(
      {{"type", "RobertaProcessing"}, {"sep", Json::array({"</s>", 2})},
       {"cls", Json::array({"<s>", 0})}, {"trim_offsets", true}, {"add_prefix_space", true}},
      "t");
  ASSERT_TRUE(roberta.ok()) << roberta.status();
  ids = {};
  (*roberta)->Process(ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(MakePostProcessor({{"type", "BertProcessing"}, {"sep", "[SEP]"}}, "t").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PostProcessorTest, BadTemplatesAndUnsupportedTypes) {
  Json config = Llama3StyleTemplate();
  config["single"][0]["SpecialToken"]["id"] = "<missing>";
  EXPECT_EQ(MakePostProcessor(config, "t").status().code(), absl::StatusCode::kInvalidArgument);
  config = Llama3StyleTemplate();
  config["single"][1]["Sequence"]["id"] = "B";
  EXPECT_EQ(MakePostProcessor(config, "t").status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status status = MakePostProcessor({{"type", "PairOnlyProcessing"}}, "t").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("PairOnlyProcessing"), std::string::npos) << status;
  std::vector<std::string> types;
  for (const auto& entry : PostProcessorRegistry()) types.emplace_back(entry.type);
  EXPECT_EQ(types, (std::vector<std::string>{"TemplateProcessing", "BertProcessing",
                                             "RobertaProcessing", "ByteLevel", "Sequence"}));
}

}  // namespace
}  // namespace brisk::tokenizer
