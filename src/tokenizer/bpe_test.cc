// Tests for the BPE model: merge order by rank, both merge spellings, ignore_merges, byte
// fallback, unknown tokens, the word cache, and refusal of unsupported options. Expected ids
// are derived by hand in the comments.
#include <gtest/gtest.h>

#include <thread>

#include "tokenizer/model.h"
#include "tokenizer/test_util.h"

namespace brisk::tokenizer {
namespace {

using testing::ByteLevelBpe;

std::unique_ptr<Model> MustMake(const Json& config) {
  absl::StatusOr<std::unique_ptr<Model>> model = MakeModel(config, "test: model");
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

std::vector<int32_t> Tokenize(const Model& model, std::string_view word) {
  std::vector<int32_t> ids;
  model.Tokenize(word, ids);
  return ids;
}

TEST(BpeTest, LowestRankMergesFirst) {
  // Ids: bytes 0..255, then "Ġt"=256 "he"=257 "Ġthe"=258 "ll"=259 "ell"=260 "hell"=261
  // "hello"=262.
  auto model = MustMake(ByteLevelBpe({{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"l", "l"},
                                      {"e", "ll"}, {"h", "ell"}, {"hell", "o"}}));
  // h e l l o: "h e" (rank 1) beats "l l" (rank 3); then "he" and "ll" have no rule together,
  // so "e ll" never applies: he, ll, o.
  EXPECT_EQ(Tokenize(*model, "hello"), (std::vector<int32_t>{257, 259, 'o'}));
  // Ġ t h e: "Ġ t" (0), then "h e" (1), then "Ġt he" (2).
  EXPECT_EQ(Tokenize(*model, "Ġthe"), (std::vector<int32_t>{258}));
  // No rule applies at all: one id per character.
  EXPECT_EQ(Tokenize(*model, "xyz"), (std::vector<int32_t>{'x', 'y', 'z'}));
}

TEST(BpeTest, DifferentRanksGiveADifferentSegmentation) {
  // Same tokens, but "l l" < "e ll" < "h ell" < "hell o" < "h e".
  // Ids: "ll"=256 "ell"=257 "hell"=258 "hello"=259 "he"=260.
  auto model = MustMake(
      ByteLevelBpe({{"l", "l"}, {"e", "ll"}, {"h", "ell"}, {"hell", "o"}, {"h", "e"}}));
  // h e l l o -> h e ll o -> h ell o -> hell o -> hello.
  EXPECT_EQ(Tokenize(*model, "hello"), (std::vector<int32_t>{259}));
  // Leftmost wins a tie of equal ranks: l l l -> ll l.
  EXPECT_EQ(Tokenize(*model, "lll"), (std::vector<int32_t>{256, 'l'}));
}

TEST(BpeTest, RepeatedPairsAcrossTheWord) {
  // "a a"=256, "aa aa"=257. a a a a a -> (aa) a a a -> aa aa a -> aaaa a.
  auto model = MustMake(ByteLevelBpe({{"a", "a"}, {"aa", "aa"}}));
  EXPECT_EQ(Tokenize(*model, "aaaaa"), (std::vector<int32_t>{257, 'a'}));
  EXPECT_EQ(Tokenize(*model, "aaaaaaaa"), (std::vector<int32_t>{257, 257}));
}

TEST(BpeTest, MergesAsPairsEqualMergesAsStrings) {
  Json config = ByteLevelBpe({{"h", "e"}, {"l", "l"}, {"he", "ll"}});
  Json pairs = Json::array();
  for (const Json& merge : config["merges"]) {
    const std::string text = merge.get<std::string>();
    const size_t space = text.find(' ');
    pairs.push_back(Json::array({text.substr(0, space), text.substr(space + 1)}));
  }
  Json pair_config = config;
  pair_config["merges"] = pairs;
  auto from_strings = MustMake(config);
  auto from_pairs = MustMake(pair_config);
  // h e l l o -> he l l o -> he ll o -> hell o ("hell"=258).
  EXPECT_EQ(Tokenize(*from_strings, "hello"), (std::vector<int32_t>{258, 'o'}));
  EXPECT_EQ(Tokenize(*from_pairs, "hello"), Tokenize(*from_strings, "hello"));
}

TEST(BpeTest, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  // "hello" is in the vocabulary but unreachable with these merges ("hel" + "lo" has no rule).
  Json config = ByteLevelBpe({{"h", "e"}, {"he", "l"}, {"l", "o"}});
  config["vocab"]["hello"] = 300;
  auto with_merges = MustMake(config);
  // h e l l o -> he l l o -> hel l o -> hel lo ("he"=256 "hel"=257 "lo"=258).
  EXPECT_EQ(Tokenize(*with_merges, "hello"), (std::vector<int32_t>{257, 258}));
  config["ignore_merges"] = true;
  auto ignoring = MustMake(config);
  EXPECT_EQ(Tokenize(*ignoring, "hello"), (std::vector<int32_t>{300}));
  EXPECT_EQ(Tokenize(*ignoring, "helo"), (std::vector<int32_t>{257, 'o'}));
}

Json ByteFallbackModel() {
  // A SentencePiece-style BPE over raw characters: é is missing, its bytes are present; ü's
  // second byte 0xBC is missing.
  return Json{
      {"type", "BPE"},
      {"unk_token", "<unk>"},
      {"byte_fallback", true},
      {"fuse_unk", true},
      {"vocab", {{"<unk>", 0}, {"<0xC3>", 1}, {"<0xA9>", 2}, {"a", 3}, {"b", 4}, {"ab", 5}}},
      {"merges", Json::array({"a b"})}};
}

TEST(BpeTest, ByteFallbackSpellsUnknownCharactersAsBytes) {
  auto model = MustMake(ByteFallbackModel());
  // a b é -> "ab" + <0xC3> <0xA9>.
  EXPECT_EQ(Tokenize(*model, "ab\xC3\xA9"), (std::vector<int32_t>{5, 1, 2}));
  // ü = C3 BC: <0xBC> is missing, so the whole character is unknown; fuse_unk joins the
  // two unknown characters into one <unk>.
  EXPECT_EQ(Tokenize(*model, "\xC3\xBC\xC3\xBC" "a"), (std::vector<int32_t>{0, 3}));
}

TEST(BpeTest, UnknownTokensWithoutFusing) {
  Json config = ByteFallbackModel();
  config["byte_fallback"] = false;
  config["fuse_unk"] = false;
  auto model = MustMake(config);
  EXPECT_EQ(Tokenize(*model, "zzab"), (std::vector<int32_t>{0, 0, 5}));
  config.erase("unk_token");
  auto dropping = MustMake(config);
  EXPECT_EQ(Tokenize(*dropping, "zzab"), (std::vector<int32_t>{5}));
}

TEST(BpeTest, VocabularyLookups) {
  auto model = MustMake(ByteLevelBpe({{"h", "e"}}));
  EXPECT_EQ(model->TokenToId("he"), 256);
  EXPECT_EQ(model->TokenToId("Ġ"), ' ');
  EXPECT_FALSE(model->TokenToId("nope").has_value());
  EXPECT_EQ(model->IdToToken(256), "he");
  EXPECT_FALSE(model->IdToToken(257).has_value());
  EXPECT_FALSE(model->IdToToken(-1).has_value());
  EXPECT_EQ(model->id_end(), 257);
}

TEST(BpeTest, CachedResultsEqualFreshOnesAcrossThreads) {
  auto model = MustMake(ByteLevelBpe({{"a", "b"}, {"ab", "c"}, {"c", "a"}, {"abc", "ab"}}));
  const std::vector<std::string> words = {"abcab", "cabc", "abcabcab", "ccc", "ab"};
  std::vector<std::vector<int32_t>> first;
  for (const auto& word : words) first.push_back(Tokenize(*model, word));
  // abcab: a b c a b -> ab c a b -> ab c ab (the "a b" at 3 comes before "c a", rank 0 < 2)
  // -> abc ab -> abcab. Ids: "ab"=256 "abc"=257 "ca"=258 "abcab"=259.
  EXPECT_EQ(first[0], (std::vector<int32_t>{259}));
  std::vector<std::thread> threads;
  std::vector<bool> ok(4, true);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        for (size_t i = 0; i < words.size(); ++i) {
          if (Tokenize(*model, words[i]) != first[i]) ok[t] = false;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(ok[t]) << "thread " << t;
}

TEST(BpeTest, LongWordsBypassTheCacheButMergeTheSame) {
  auto model = MustMake(ByteLevelBpe({{"a", "a"}}));
  const std::string word(1001, 'a');
  std::vector<int32_t> expected(500, 256);
  expected.push_back('a');
  EXPECT_EQ(Tokenize(*model, word), expected);
}

TEST(BpeTest, MalformedConfigsAreErrors) {
  Json config = ByteLevelBpe({{"h", "e"}});
  Json bad = config;
  bad["merges"] = Json::array({"h e x"});
  EXPECT_EQ(MakeModel(bad, "m").status().code(), absl::StatusCode::kInvalidArgument);
  bad["merges"] = Json::array({"q Q"});  // "qQ" is not in the vocabulary
  EXPECT_EQ(MakeModel(bad, "m").status().code(), absl::StatusCode::kInvalidArgument);
  bad["merges"] = Json::array({Json::array({"h"})});
  EXPECT_EQ(MakeModel(bad, "m").status().code(), absl::StatusCode::kInvalidArgument);
  bad = config;
  bad["vocab"]["x"] = "not an id";
  EXPECT_EQ(MakeModel(bad, "m").status().code(), absl::StatusCode::kInvalidArgument);
  bad = config;
  bad["vocab"]["far away"] = 2000000000;  // would need a 2-billion-entry table
  EXPECT_EQ(MakeModel(bad, "m").status().code(), absl::StatusCode::kInvalidArgument);
  bad = config;
  bad.erase("merges");
  EXPECT_EQ(MakeModel(bad, "m").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BpeTest, UnsupportedOptionsAreRefusedByName) {
  Json config = ByteLevelBpe({});
  config["continuing_subword_prefix"] = "##";
  absl::Status status = MakeModel(config, "m").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("continuing_subword_prefix"), std::string::npos) << status;
  config = ByteLevelBpe({});
  config["end_of_word_suffix"] = "</w>";
  status = MakeModel(config, "m").status();
  EXPECT_NE(status.message().find("end_of_word_suffix"), std::string::npos) << status;
  config = ByteLevelBpe({});
  config["dropout"] = 0.1;
  EXPECT_EQ(MakeModel(config, "m").status().code(), absl::StatusCode::kUnimplemented);
  Json word_level = {{"type", "WordLevel"}, {"vocab", Json::object()}};
  status = MakeModel(word_level, "m").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("WordLevel"), std::string::npos) << status;
}

TEST(BpeTest, RegistryListsEveryModel) {
  std::vector<std::string> types;
  for (const auto& entry : ModelRegistry()) types.emplace_back(entry.type);
  EXPECT_EQ(types, (std::vector<std::string>{"BPE", "WordPiece", "Unigram"}));
}

}  // namespace
}  // namespace brisk::tokenizer
