// The Unigram model (SentencePiece): every word is cut into the sequence of vocabulary pieces
// with the highest total log-probability score.
//
// Viterbi in one paragraph, exactly as `tokenizers` runs it: walk the word's character starts
// left to right; from each start, every vocabulary piece that begins there (a trie walk)
// offers best[start] + score to best[start + length], a strictly better score replacing the
// old one. When no piece covers just the one character at a start, that character is offered
// as the unknown token with score min_score - 10. Backtracking from the end gives the pieces;
// adjacent unknown pieces fuse into one string, which becomes its vocabulary id if it has one,
// else its "<0xAB>" byte tokens (byte_fallback, when all exist), else the unknown id.
#include <algorithm>
#include <functional>
#include <limits>
#include <unordered_map>

#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "tokenizer/model.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

// The score penalty of an unknown character below the lowest piece score (`tokenizers` and
// SentencePiece both use 10).
constexpr double kUnknownPenalty = 10.0;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// A byte trie over the pieces: node 0 is the root; `terminal_` holds the id ending at a node.
class PieceTrie {
 public:
  void Insert(std::string_view piece, int32_t id) {
    int32_t node = 0;
    for (char c : piece) {
      const uint64_t key = Key(node, c);
      auto it = edges_.find(key);
      if (it == edges_.end()) {
        it = edges_.emplace(key, static_cast<int32_t>(terminal_.size())).first;
        terminal_.push_back(-1);
      }
      node = it->second;
    }
    terminal_[node] = id;
  }
  // Calls visit(length, id) for every piece that is a prefix of `text`, shortest first.
  template <typename Visit>
  void ForEachPrefix(std::string_view text, Visit visit) const {
    int32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      auto it = edges_.find(Key(node, text[i]));
      if (it == edges_.end()) return;
      node = it->second;
      if (terminal_[node] >= 0) visit(i + 1, terminal_[node]);
    }
  }

 private:
  static uint64_t Key(int32_t node, char c) {
    return (static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(c);
  }
  std::unordered_map<uint64_t, int32_t> edges_;
  std::vector<int32_t> terminal_{-1};
};

class UnigramModel final : public Model {
 public:
  UnigramModel(std::vector<std::pair<std::string, double>> pieces, std::optional<int32_t> unk_id,
               bool byte_fallback)
      : pieces_(std::move(pieces)), unk_id_(unk_id), byte_fallback_(byte_fallback) {
    min_score_ = std::numeric_limits<double>::infinity();
    for (size_t id = 0; id < pieces_.size(); ++id) {
      // A repeated piece maps to its last id, as in `tokenizers`.
      ids_[pieces_[id].first] = static_cast<int32_t>(id);
      min_score_ = std::min(min_score_, pieces_[id].second);
    }
    for (const auto& [piece, id] : ids_) trie_.Insert(piece, id);
    for (int byte = 0; byte < 256; ++byte) {
      auto it = ids_.find(absl::StrFormat("<0x%02X>", byte));
      byte_ids_[byte] = it == ids_.end() ? -1 : it->second;
    }
  }

  void Tokenize(std::string_view word, std::vector<int32_t>& ids) const override;

  std::optional<int32_t> TokenToId(std::string_view token) const override {
    auto it = ids_.find(token);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<std::string_view> IdToToken(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return std::nullopt;
    return pieces_[id].first;
  }

  int32_t id_end() const override { return static_cast<int32_t>(pieces_.size()); }

 private:
  struct Node {
    double score = 0;
    int32_t start = -1;  // byte where the best piece ending here starts; -1: unreached
    int32_t id = -1;     // that piece's id, or -1 for an unknown character
  };
  void PushPiece(std::string_view piece, std::vector<int32_t>& ids) const;

  // Constant after construction.
  std::vector<std::pair<std::string, double>> pieces_;  // [id] (piece, score)
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_;
  PieceTrie trie_;
  std::optional<int32_t> unk_id_;
  bool byte_fallback_;
  double min_score_;
  std::array<int32_t, 256> byte_ids_;  // id of "<0xAB>" per byte, -1 when absent
};

void UnigramModel::Tokenize(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  const double unk_score = min_score_ - kUnknownPenalty;
  std::vector<Node> best(word.size() + 1);
  size_t start = 0;
  while (start < word.size()) {
    const double base = best[start].score;
    size_t char_end = start;
    NextCodePoint(word, char_end);
    const size_t char_len = char_end - start;
    bool has_single_char_piece = false;
    trie_.ForEachPrefix(word.substr(start), [&](size_t length, int32_t id) {
      Node& target = best[start + length];
      const double score = base + pieces_[id].second;
      if (target.start < 0 || score > target.score) {
        target = {score, static_cast<int32_t>(start), id};
      }
      has_single_char_piece = has_single_char_piece || length == char_len;
    });
    if (!has_single_char_piece) {
      Node& target = best[char_end];
      const double score = base + unk_score;
      if (target.start < 0 || score > target.score) {
        target = {score, static_cast<int32_t>(start), -1};
      }
    }
    start = char_end;
  }
  // Backtrack, then emit in order; unknown runs are fused.
  std::vector<std::pair<size_t, size_t>> spans;  // pieces, last first
  std::vector<bool> unknown;
  for (size_t end = word.size(); end > 0;) {
    const Node& node = best[end];
    const auto begin = static_cast<size_t>(node.start);
    const bool is_unknown = node.id < 0 || (unk_id_ && node.id == *unk_id_);
    if (is_unknown && !unknown.empty() && unknown.back()) {
      spans.back().first = begin;  // fuse with the unknown piece after it
    } else {
      spans.emplace_back(begin, end);
      unknown.push_back(is_unknown);
    }
    end = begin;
  }
  for (size_t i = spans.size(); i-- > 0;) {
    const std::string_view piece = word.substr(spans[i].first, spans[i].second - spans[i].first);
    PushPiece(piece, ids);
  }
}

void UnigramModel::PushPiece(std::string_view piece, std::vector<int32_t>& ids) const {
  if (auto it = ids_.find(piece); it != ids_.end()) {
    ids.push_back(it->second);
    return;
  }
  if (byte_fallback_) {
    bool all_bytes = true;
    for (char c : piece) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(c)] >= 0;
    if (all_bytes) {
      for (char c : piece) ids.push_back(byte_ids_[static_cast<uint8_t>(c)]);
      return;
    }
  }
  // `tokenizers` fails the encode without an unknown id; the piece is dropped instead.
  if (unk_id_) ids.push_back(*unk_id_);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> MakeUnigramModel(const Json& config,
                                                        const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(const Json* vocab, GetArray(config, "vocab", where));
  std::vector<std::pair<std::string, double>> pieces;
  pieces.reserve(vocab->size());
  for (size_t i = 0; i < vocab->size(); ++i) {
    const Json& entry = (*vocab)[i];
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": Unigram vocab[", i, "] must be [piece, score], got ", entry.dump()));
    }
    pieces.emplace_back(entry[0].get<std::string>(), entry[1].get<double>());
  }
  std::optional<int32_t> unk_id;
  if (auto it = config.find("unk_id"); it != config.end() && !it->is_null()) {
    BRISK_ASSIGN_OR_RETURN(unk_id, GetId(*it, absl::StrCat(where, ".unk_id")));
    if (static_cast<size_t>(*unk_id) >= pieces.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unk_id ", *unk_id, " is outside the vocabulary"));
    }
  }
  if (!unk_id) {
    BRISK_LOG(kWarning) << where
                        << ": Unigram model without unk_id; unknown characters will be dropped";
  }
  BRISK_ASSIGN_OR_RETURN(bool byte_fallback, GetBool(config, "byte_fallback", false, where));
  return std::make_unique<UnigramModel>(std::move(pieces), unk_id, byte_fallback);
}

}  // namespace brisk::tokenizer
