// Added-token extraction (see added_vocabulary.h).
#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "base/check.h"
#include "base/logging.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

// Rust's Unicode `\w`, which `tokenizers` uses to decide whether a single_word token touches a
// word: Alphabetic, marks, decimal digits, connector punctuation and the joiners.
constexpr std::string_view kWordCharPattern =
    R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}])";

uint64_t EdgeKey(int32_t node, uint8_t byte) {
  return (static_cast<uint64_t>(node) << 8) | byte;
}

absl::StatusOr<AddedToken> ReadAddedToken(const Json& entry, const std::string& where) {
  if (!entry.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": must be an object"));
  }
  AddedToken token;
  auto id_it = entry.find("id");
  if (id_it == entry.end()) return absl::InvalidArgumentError(absl::StrCat(where, ": missing id"));
  BRISK_ASSIGN_OR_RETURN(token.id, GetId(*id_it, where));
  BRISK_ASSIGN_OR_RETURN(token.content, GetString(entry, "content", where));
  if (token.content.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": content must not be empty"));
  }
  if (!IsValidUtf8(token.content)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": content is not valid UTF-8"));
  }
  BRISK_ASSIGN_OR_RETURN(token.special, GetBool(entry, "special", false, where));
  BRISK_ASSIGN_OR_RETURN(token.lstrip, GetBool(entry, "lstrip", false, where));
  BRISK_ASSIGN_OR_RETURN(token.rstrip, GetBool(entry, "rstrip", false, where));
  BRISK_ASSIGN_OR_RETURN(token.single_word, GetBool(entry, "single_word", false, where));
  BRISK_ASSIGN_OR_RETURN(token.normalized, GetBool(entry, "normalized", !token.special, where));
  return token;
}

// Byte length of the whitespace run that ends `text`.
size_t TrailingWhitespaceBytes(std::string_view text) {
  size_t start = text.size();
  while (start > 0) {
    size_t prev = start - 1;
    while (prev > 0 && (static_cast<uint8_t>(text[prev]) & 0xC0) == 0x80) --prev;
    size_t pos = prev;
    if (!IsUnicodeWhitespace(NextCodePoint(text, pos))) break;
    start = prev;
  }
  return text.size() - start;
}

// Byte length of the whitespace run that starts `text`.
size_t LeadingWhitespaceBytes(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = pos;
    if (!IsUnicodeWhitespace(NextCodePoint(text, next))) break;
    pos = next;
  }
  return pos;
}

}  // namespace

void AddedVocabulary::Trie::Insert(std::string_view content, int32_t token_idx) {
  int32_t node = 0;
  for (char c : content) {
    const uint64_t key = EdgeKey(node, static_cast<uint8_t>(c));
    auto it = edges_.find(key);
    if (it == edges_.end()) {
      const auto child = static_cast<int32_t>(terminal_.size());
      terminal_.push_back(-1);
      it = edges_.emplace(key, child).first;
    }
    node = it->second;
  }
  if (terminal_[node] < 0) terminal_[node] = token_idx;
  first_bytes_.set(static_cast<uint8_t>(content.front()));
}

std::optional<std::pair<size_t, int32_t>> AddedVocabulary::Trie::LongestAt(std::string_view text,
                                                                           size_t pos) const {
  std::optional<std::pair<size_t, int32_t>> best;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    auto it = edges_.find(EdgeKey(node, static_cast<uint8_t>(text[i])));
    if (it == edges_.end()) break;
    node = it->second;
    if (terminal_[node] >= 0) best = std::make_pair(i + 1 - pos, terminal_[node]);
  }
  return best;
}

absl::StatusOr<AddedVocabulary> AddedVocabulary::FromJson(const Json* list, const Model& model,
                                                          const Normalizer* normalizer,
                                                          const std::string& where) {
  AddedVocabulary vocab;
  absl::StatusOr<Regex> word_char = Regex::Compile(kWordCharPattern, Regex::Syntax::kPattern);
  BRISK_CHECK(word_char.ok()) << word_char.status();
  vocab.word_char_ = *std::move(word_char);
  if (list == nullptr || list->is_null()) return vocab;
  if (!list->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": must be an array"));
  }
  for (size_t i = 0; i < list->size(); ++i) {
    BRISK_ASSIGN_OR_RETURN(AddedToken token,
                           ReadAddedToken((*list)[i], absl::StrCat(where, "[", i, "]")));
    if (std::optional<int32_t> model_id = model.TokenToId(token.content)) {
      if (*model_id != token.id) {
        BRISK_LOG(kWarning) << where << "[" << i << "]: '" << token.content << "' has id "
                            << token.id << " but the model vocabulary says " << *model_id
                            << "; using " << *model_id;
      }
      token.id = *model_id;
    }
    auto existing = vocab.index_by_content_.find(token.content);
    if (existing != vocab.index_by_content_.end()) {
      token.id = vocab.tokens_[existing->second].id;
      vocab.tokens_[existing->second] = std::move(token);
      continue;
    }
    vocab.index_by_content_.emplace(token.content, static_cast<int32_t>(vocab.tokens_.size()));
    vocab.tokens_.push_back(std::move(token));
  }
  vocab.Rebuild(normalizer);
  return vocab;
}

void AddedVocabulary::Rebuild(const Normalizer* normalizer) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& token = tokens_[i];
    const auto idx = static_cast<int32_t>(i);
    index_by_id_[token.id] = idx;
    id_end_ = std::max(id_end_, token.id + 1);
    if (!token.normalized) {
      raw_trie_.Insert(token.content, idx);
      continue;
    }
    const std::string content =
        normalizer != nullptr ? normalizer->Normalize(token.content) : token.content;
    if (!content.empty()) normalized_trie_.Insert(content, idx);
  }
}

bool AddedVocabulary::IsStandaloneWord(std::string_view text, size_t start, size_t stop) const {
  auto is_word_char = [&](char32_t cp) {
    std::string utf8;
    AppendCodePoint(cp, utf8);
    return word_char_->FullMatch(utf8);
  };
  const bool free_before = start == 0 || !is_word_char(LastCodePoint(text.substr(0, start)));
  size_t pos = stop;
  const bool free_after = stop == text.size() || !is_word_char(NextCodePoint(text, pos));
  return free_before && free_after;
}

void AddedVocabulary::Split(std::string_view text, Pass pass, std::vector<Segment>& out) const {
  const Trie& trie = pass == Pass::kRaw ? raw_trie_ : normalized_trie_;
  size_t emitted = 0;  // text[0, emitted) is covered by segments already appended
  size_t search = 0;   // where the next leftmost-longest search starts
  while (!trie.empty() && search < text.size()) {
    std::optional<std::pair<size_t, int32_t>> match;
    size_t start = search;
    for (; start < text.size(); ++start) {
      if (!trie.MayStartWith(static_cast<uint8_t>(text[start]))) continue;
      match = trie.LongestAt(text, start);
      if (match) break;
    }
    if (!match) break;
    size_t stop = start + match->first;
    search = stop;  // like Aho-Corasick, later matches never overlap this one
    const AddedToken& token = tokens_[match->second];
    if (token.single_word && !IsStandaloneWord(text, start, stop)) continue;
    if (token.lstrip) {
      start = std::max(start - TrailingWhitespaceBytes(text.substr(0, start)), emitted);
    }
    if (token.rstrip) stop += LeadingWhitespaceBytes(text.substr(stop));
    // An rstrip run may have swallowed the start of this match; never emit text twice.
    start = std::max(start, emitted);
    if (stop <= start) continue;
    if (emitted < start) out.push_back({text.substr(emitted, start - emitted), std::nullopt});
    out.push_back({text.substr(start, stop - start), token.id});
    emitted = stop;
  }
  if (emitted < text.size()) out.push_back({text.substr(emitted), std::nullopt});
}

const AddedToken* AddedVocabulary::FindById(int32_t id) const {
  auto it = index_by_id_.find(id);
  return it == index_by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedVocabulary::FindByContent(std::string_view content) const {
  auto it = index_by_content_.find(std::string(content));
  if (it == index_by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

}  // namespace brisk::tokenizer
