// The WordPiece model (BERT): each word is cut greedily into the longest vocabulary pieces
// from the left, pieces after the first carrying the continuing-subword prefix ("##"). A word
// with a part that matches nothing, or longer than max_input_chars_per_word characters, becomes
// the single unknown token.
#include <algorithm>
#include <functional>
#include <unordered_map>

#include "base/logging.h"
#include "tokenizer/model.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct WordPieceSettings {
  std::optional<int32_t> unk_id;
  std::string prefix = "##";
  size_t max_input_chars_per_word = 100;
};

class WordPieceModel final : public Model {
 public:
  WordPieceModel(Vocab vocab, WordPieceSettings settings)
      : vocab_(std::move(vocab)), settings_(std::move(settings)) {
    for (const auto& [token, id] : vocab_) id_end_ = std::max(id_end_, id + 1);
    id_to_token_.resize(static_cast<size_t>(id_end_));
    for (const auto& [token, id] : vocab_) id_to_token_[id] = &token;
  }

  void Tokenize(std::string_view word, std::vector<int32_t>& ids) const override {
    if (word.empty()) return;
    size_t num_chars = 0;
    for (char c : word) num_chars += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
    if (num_chars > settings_.max_input_chars_per_word) {
      PushUnknown(ids);
      return;
    }
    const size_t first = ids.size();
    std::string candidate;
    size_t start = 0;
    while (start < word.size()) {
      size_t end = word.size();
      std::optional<int32_t> found;
      while (start < end) {
        std::string_view piece = word.substr(start, end - start);
        if (start > 0) {
          candidate.assign(settings_.prefix);
          candidate.append(piece);
          piece = candidate;
        }
        if (auto it = vocab_.find(piece); it != vocab_.end()) {
          found = it->second;
          break;
        }
        // Drop the last character of the candidate.
        --end;
        while (end > start && (static_cast<uint8_t>(word[end]) & 0xC0) == 0x80) --end;
      }
      if (!found) {
        ids.resize(first);
        PushUnknown(ids);
        return;
      }
      ids.push_back(*found);
      start = end;
    }
  }

  std::optional<int32_t> TokenToId(std::string_view token) const override {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<std::string_view> IdToToken(int32_t id) const override {
    if (id < 0 || id >= id_end_ || id_to_token_[id] == nullptr) return std::nullopt;
    return *id_to_token_[id];
  }

  int32_t id_end() const override { return id_end_; }

 private:
  // `tokenizers` fails the whole encode when the unknown token is missing from the vocabulary;
  // here the word is dropped instead (a warning was logged at load).
  void PushUnknown(std::vector<int32_t>& ids) const {
    if (settings_.unk_id) ids.push_back(*settings_.unk_id);
  }

  // Constant after construction.
  Vocab vocab_;
  WordPieceSettings settings_;
  int32_t id_end_ = 0;
  std::vector<const std::string*> id_to_token_;  // [id_end_] null for ids without a token
};

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> MakeWordPieceModel(const Json& config,
                                                          const std::string& where) {
  auto vocab_it = config.find("vocab");
  if (vocab_it == config.end() || !vocab_it->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": WordPiece 'vocab' must be an object"));
  }
  Vocab vocab;
  vocab.reserve(vocab_it->size());
  int64_t max_id = -1;
  for (auto it = vocab_it->begin(); it != vocab_it->end(); ++it) {
    BRISK_ASSIGN_OR_RETURN(int32_t id, GetId(it.value(), absl::StrCat(where, ".vocab")));
    vocab.emplace(it.key(), id);
    max_id = std::max<int64_t>(max_id, id);
  }
  if (max_id >= 2 * static_cast<int64_t>(vocab.size()) + 65536) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": vocab ids are too sparse (max id ",
                                                   max_id, " for ", vocab.size(), " tokens)"));
  }
  WordPieceSettings settings;
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> unk,
                         GetOptionalString(config, "unk_token", where));
  const std::string unk_token = unk.value_or("[UNK]");
  if (auto it = vocab.find(unk_token); it != vocab.end()) {
    settings.unk_id = it->second;
  } else {
    BRISK_LOG(kWarning) << where << ": unk_token '" << unk_token
                        << "' is not in the vocabulary; unknown words will be dropped";
  }
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> prefix,
                         GetOptionalString(config, "continuing_subword_prefix", where));
  if (prefix) settings.prefix = *prefix;
  if (auto it = config.find("max_input_chars_per_word"); it != config.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": max_input_chars_per_word must be a non-negative integer"));
    }
    settings.max_input_chars_per_word = static_cast<size_t>(it->get<int64_t>());
  }
  return std::make_unique<WordPieceModel>(std::move(vocab), std::move(settings));
}

}  // namespace brisk::tokenizer
