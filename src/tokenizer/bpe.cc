// The BPE model: a vocabulary plus ranked merge rules, applied to each pre-token.
//
// Merging in one paragraph: a word starts as one symbol per character; every adjacent pair
// that has a merge rule is a candidate keyed by (rank, position). Repeatedly take the candidate
// with the lowest rank (leftmost on ties); if the pair is still adjacent and unchanged, fuse it
// into the rule's result and offer the two new pairs it forms with its neighbours. Stale
// candidates are skipped when popped. This is O(n log n) per word and gives exactly the
// sequence of merges of the textbook "merge the best-ranked pair until none applies" loop.
//
// Results are cached per word (bounded, sharded, mutex-guarded) because words repeat.
#include <algorithm>
#include <array>
#include <functional>
#include <mutex>
#include <queue>
#include <span>
#include <unordered_map>

#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "tokenizer/model.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

// Words longer than this are not cached, and the cache holds at most this many words; the
// same bounds as Hugging Face `tokenizers` (MAX_LENGTH and DEFAULT_CACHE_CAPACITY).
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kCacheCapacityWords = 10000;
constexpr size_t kCacheShards = 16;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct MergeRule {
  int32_t rank;
  int32_t new_id;
};

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Word -> ids, split into shards so that threads rarely wait on each other. A full shard is
// cleared: simple, bounded, and hot words come straight back.
class WordCache {
 public:
  bool Lookup(std::string_view word, size_t hash, std::vector<int32_t>& ids) const {
    Shard& shard = shards_[hash % kCacheShards];
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.words.find(word);
    if (it == shard.words.end()) return false;
    ids.insert(ids.end(), it->second.begin(), it->second.end());
    return true;
  }

  void Insert(std::string_view word, size_t hash, std::span<const int32_t> ids) const {
    Shard& shard = shards_[hash % kCacheShards];
    std::lock_guard<std::mutex> lock(shard.mu);
    if (shard.words.size() >= kCacheCapacityWords / kCacheShards) shard.words.clear();
    shard.words.emplace(std::string(word), std::vector<int32_t>(ids.begin(), ids.end()));
  }

 private:
  struct Shard {
    std::mutex mu;
    // Guarded by mu.
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> words;
  };
  mutable std::array<Shard, kCacheShards> shards_;
};

struct BpeSettings {
  std::optional<int32_t> unk_id;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class BpeModel final : public Model {
 public:
  BpeModel(Vocab vocab, std::unordered_map<uint64_t, MergeRule> merges, BpeSettings settings)
      : vocab_(std::move(vocab)), merges_(std::move(merges)), settings_(settings) {
    for (const auto& [token, id] : vocab_) id_end_ = std::max(id_end_, id + 1);
    id_to_token_.resize(static_cast<size_t>(id_end_));
    has_id_.resize(static_cast<size_t>(id_end_), false);
    for (const auto& [token, id] : vocab_) {
      if (has_id_[id]) continue;
      id_to_token_[id] = token;
      has_id_[id] = true;
    }
    for (int byte = 0; byte < 256; ++byte) {
      auto it = vocab_.find(absl::StrFormat("<0x%02X>", byte));
      byte_ids_[byte] = it == vocab_.end() ? -1 : it->second;
    }
  }

  void Tokenize(std::string_view word, std::vector<int32_t>& ids) const override {
    if (word.empty()) return;
    if (settings_.ignore_merges) {
      if (auto it = vocab_.find(word); it != vocab_.end()) {
        ids.push_back(it->second);
        return;
      }
    }
    if (word.size() > kMaxCachedWordBytes) {
      MergeWord(word, ids);
      return;
    }
    const size_t hash = StringHash{}(word);
    if (cache_.Lookup(word, hash, ids)) return;
    const size_t first = ids.size();
    MergeWord(word, ids);
    cache_.Insert(word, hash, std::span<const int32_t>(ids).subspan(first));
  }

  std::optional<int32_t> TokenToId(std::string_view token) const override {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<std::string_view> IdToToken(int32_t id) const override {
    if (id < 0 || id >= id_end_ || !has_id_[id]) return std::nullopt;
    return id_to_token_[id];
  }

  int32_t id_end() const override { return id_end_; }

 private:
  struct Symbol {
    int32_t id;
    int32_t prev;  // index of the previous live symbol, -1 at the start
    int32_t next;  // index of the next live symbol, -1 at the end
    bool alive;
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;  // index of the left symbol
    int32_t left_id;
    int32_t right_id;
    int32_t new_id;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : pos > other.pos;
    }
  };

  std::vector<int32_t> InitialSymbols(std::string_view word) const;
  void MergeWord(std::string_view word, std::vector<int32_t>& ids) const;

  // Constant after construction.
  Vocab vocab_;
  std::unordered_map<uint64_t, MergeRule> merges_;  // PairKey(left, right) -> rule
  BpeSettings settings_;
  int32_t id_end_ = 0;
  std::vector<std::string> id_to_token_;  // [id_end_]
  std::vector<bool> has_id_;              // [id_end_]
  std::array<int32_t, 256> byte_ids_;     // id of "<0xAB>" per byte, -1 when absent
  // Thread-safe by itself.
  WordCache cache_;
};

// One symbol per character. A character missing from the vocabulary becomes its "<0xAB>"
// byte tokens (byte_fallback, when all of them exist), else the unknown token (consecutive ones
// fused with fuse_unk), else it is dropped. The order of the pending unknown token relative to
// byte-fallback tokens follows `tokenizers` exactly.
std::vector<int32_t> BpeModel::InitialSymbols(std::string_view word) const {
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  bool unk_pending = false;
  size_t pos = 0;
  while (pos < word.size()) {
    const size_t start = pos;
    NextCodePoint(word, pos);
    const std::string_view ch = word.substr(start, pos - start);
    if (auto it = vocab_.find(ch); it != vocab_.end()) {
      if (unk_pending) symbols.push_back(*settings_.unk_id);
      unk_pending = false;
      symbols.push_back(it->second);
      continue;
    }
    if (settings_.byte_fallback) {
      bool all_bytes = true;
      for (char c : ch) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(c)] >= 0;
      if (all_bytes) {
        for (char c : ch) symbols.push_back(byte_ids_[static_cast<uint8_t>(c)]);
        continue;
      }
    }
    if (!settings_.unk_id) continue;
    if (unk_pending && !settings_.fuse_unk) symbols.push_back(*settings_.unk_id);
    unk_pending = true;
  }
  if (unk_pending) symbols.push_back(*settings_.unk_id);
  return symbols;
}

void BpeModel::MergeWord(std::string_view word, std::vector<int32_t>& ids) const {
  const std::vector<int32_t> initial = InitialSymbols(word);
  const auto num_symbols = static_cast<int32_t>(initial.size());
  std::vector<Symbol> symbols(initial.size());
  for (int32_t i = 0; i < num_symbols; ++i) {
    symbols[i] = {initial[i], i - 1, i + 1 < num_symbols ? i + 1 : -1, true};
  }
  std::vector<Candidate> heap_storage;
  heap_storage.reserve(initial.size());
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap(
      std::greater<Candidate>(), std::move(heap_storage));
  auto offer = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    auto it = merges_.find(PairKey(symbols[left].id, symbols[right].id));
    if (it == merges_.end()) return;
    heap.push({it->second.rank, left, symbols[left].id, symbols[right].id, it->second.new_id});
  };
  for (int32_t i = 0; i + 1 < num_symbols; ++i) offer(i);

  while (!heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0 || left.id != top.left_id) continue;
    Symbol& right = symbols[left.next];
    if (right.id != top.right_id) continue;  // stale: the right neighbour grew
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    offer(left.prev);
    offer(top.pos);
  }
  for (int32_t i = num_symbols > 0 ? 0 : -1; i >= 0; i = symbols[i].next) {
    ids.push_back(symbols[i].id);
  }
}

// Reads "merges" in either spelling: ["a b", ...] or [["a", "b"], ...].
absl::Status ReadMerges(const Json& list, const Vocab& vocab, const std::string& where,
                        std::unordered_map<uint64_t, MergeRule>& merges) {
  merges.reserve(list.size());
  std::string left;
  std::string right;
  for (size_t rank = 0; rank < list.size(); ++rank) {
    const Json& entry = list[rank];
    if (entry.is_string()) {
      const std::string& text = entry.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": merge #", rank, " '", text, "' must be two tokens separated by one space"));
      }
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
               entry[1].is_string()) {
      left = entry[0].get<std::string>();
      right = entry[1].get<std::string>();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": merge #", rank, " must be \"a b\" or [\"a\", \"b\"], got ", entry.dump()));
    }
    const std::string merged = left + right;
    for (const std::string* token : std::array<const std::string*, 3>{&left, &right, &merged}) {
      if (!vocab.contains(*token)) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": merge #", rank, " uses '", *token, "', which is not in the vocabulary"));
      }
    }
    // A repeated pair keeps its last rank, as `tokenizers` does.
    merges[PairKey(vocab.find(left)->second, vocab.find(right)->second)] = {
        static_cast<int32_t>(rank), vocab.find(merged)->second};
  }
  return absl::OkStatus();
}

absl::Status RefuseAffix(const Json& config, const char* key, const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> value, GetOptionalString(config, key, where));
  if (value && !value->empty()) {
    return absl::UnimplementedError(
        absl::StrCat(where, ": BPE option '", key, "' = '", *value, "' is not supported yet"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BpeSettings> ReadSettings(const Json& config, const Vocab& vocab,
                                         const std::string& where) {
  BRISK_RETURN_IF_ERROR(RefuseAffix(config, "continuing_subword_prefix", where));
  BRISK_RETURN_IF_ERROR(RefuseAffix(config, "end_of_word_suffix", where));
  if (auto it = config.find("dropout"); it != config.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() != 0.0) {
      return absl::UnimplementedError(
          absl::StrCat(where, ": BPE dropout ", it->dump(), " is not supported"));
    }
  }
  BpeSettings settings;
  BRISK_ASSIGN_OR_RETURN(settings.fuse_unk, GetBool(config, "fuse_unk", false, where));
  BRISK_ASSIGN_OR_RETURN(settings.byte_fallback, GetBool(config, "byte_fallback", false, where));
  BRISK_ASSIGN_OR_RETURN(settings.ignore_merges, GetBool(config, "ignore_merges", false, where));
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> unk,
                         GetOptionalString(config, "unk_token", where));
  if (unk) {
    if (auto it = vocab.find(*unk); it != vocab.end()) {
      settings.unk_id = it->second;
    } else {
      // `tokenizers` fails at encode time in this case; we drop unknown characters instead.
      BRISK_LOG(kWarning) << where << ": unk_token '" << *unk
                          << "' is not in the vocabulary; unknown characters will be dropped";
    }
  }
  return settings;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> MakeBpeModel(const Json& config, const std::string& where) {
  if (!config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": BPE model must be an object"));
  }
  auto vocab_it = config.find("vocab");
  if (vocab_it == config.end() || !vocab_it->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": BPE 'vocab' must be an object"));
  }
  Vocab vocab;
  vocab.reserve(vocab_it->size());
  for (auto it = vocab_it->begin(); it != vocab_it->end(); ++it) {
    BRISK_ASSIGN_OR_RETURN(int32_t id, GetId(it.value(), absl::StrCat(where, ".vocab")));
    vocab.emplace(it.key(), id);
  }
  // Ids index dense tables; a file with wildly sparse ids is malformed, not a reason to
  // allocate gigabytes. Real vocabularies are dense (the slack covers reserved gaps).
  int64_t max_id = -1;
  for (const auto& [token, id] : vocab) max_id = std::max<int64_t>(max_id, id);
  if (max_id >= 2 * static_cast<int64_t>(vocab.size()) + 65536) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": vocab ids are too sparse (max id ",
                                                   max_id, " for ", vocab.size(), " tokens)"));
  }
  BRISK_ASSIGN_OR_RETURN(const Json* merge_list, GetArray(config, "merges", where));
  std::unordered_map<uint64_t, MergeRule> merges;
  BRISK_RETURN_IF_ERROR(ReadMerges(*merge_list, vocab, where, merges));
  BRISK_ASSIGN_OR_RETURN(BpeSettings settings, ReadSettings(config, vocab, where));
  return std::make_unique<BpeModel>(std::move(vocab), std::move(merges), settings);
}

}  // namespace brisk::tokenizer
