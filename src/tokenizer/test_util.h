// Helpers for the tokenizer tests: small tokenizer.json documents built in code. The GPT-2
// byte alphabet is re-derived here from its definition (independently of byte_level.cc) so that
// fixtures do not depend on the code under test.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace brisk::tokenizer::testing {

using Json = nlohmann::json;

// The byte-level character of `byte`, in UTF-8: printable latin-1 stands for itself, the other
// bytes take U+0100, U+0101, ... in increasing byte order.
inline std::string GptChar(int byte) {
  auto printable = [](int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  int cp = byte;
  if (!printable(byte)) {
    cp = 0x100;
    for (int b = 0; b < byte; ++b) cp += printable(b) ? 0 : 1;
  }
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

// A byte-level BPE model: ids 0..255 are the byte characters (id == byte value), then each merge
// result that is new gets the next id (256, 257, ...) in merge order.
inline Json ByteLevelBpe(const std::vector<std::pair<std::string, std::string>>& merges,
                         bool ignore_merges = false) {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[GptChar(b)] = b;
  Json merge_list = Json::array();
  int next_id = 256;
  for (const auto& [left, right] : merges) {
    merge_list.push_back(left + " " + right);
    if (!vocab.contains(left + right)) vocab[left + right] = next_id++;
  }
  return Json{{"type", "BPE"},         {"dropout", nullptr},     {"unk_token", nullptr},
              {"continuing_subword_prefix", nullptr},          {"end_of_word_suffix", nullptr},
              {"fuse_unk", false},     {"byte_fallback", false}, {"ignore_merges", ignore_merges},
              {"vocab", vocab},        {"merges", merge_list}};
}

inline Json ByteLevelPreTokenizer(bool add_prefix_space = false, bool use_regex = true) {
  return Json{{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space},
              {"trim_offsets", true}, {"use_regex", use_regex}};
}

inline Json AddedTokenJson(int id, const std::string& content, bool special, bool lstrip = false,
                           bool rstrip = false, bool single_word = false) {
  return Json{{"id", id},           {"content", content},         {"single_word", single_word},
              {"lstrip", lstrip},   {"rstrip", rstrip},           {"normalized", !special},
              {"special", special}};
}

// A whole tokenizer.json document around `model`.
inline Json TokenizerJson(Json model, Json pre_tokenizer, Json added_tokens = Json::array(),
                          Json post_processor = nullptr,
                          Json decoder = Json{{"type", "ByteLevel"}}) {
  return Json{{"version", "1.0"},           {"truncation", nullptr},
              {"padding", nullptr},         {"added_tokens", std::move(added_tokens)},
              {"normalizer", nullptr},      {"pre_tokenizer", std::move(pre_tokenizer)},
              {"post_processor", std::move(post_processor)},
              {"decoder", std::move(decoder)}, {"model", std::move(model)}};
}

}  // namespace brisk::tokenizer::testing
