// ByteLevel, Split and Sequence pre-tokenizers and the registry (see pre_tokenizer.h); the
// word-level ones live in word_pre_tokenizers.cc.
#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <array>
#include <utility>

#include "base/check.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"

namespace brisk::tokenizer {
namespace {

// A span of the text and whether it is a delimiter.
struct Part {
  ByteSpan span;
  bool is_delimiter;
};

// Lays the matches and the gaps between them end to end over the whole text.
std::vector<Part> PartsOf(size_t text_size, std::span<const ByteSpan> matches,
                          Delimiters delimiters) {
  const bool invert = delimiters == Delimiters::kGaps;
  std::vector<Part> parts;
  parts.reserve(2 * matches.size() + 1);
  size_t prev = 0;
  for (const ByteSpan& match : matches) {
    if (prev != match.first) parts.push_back({{prev, match.first}, invert});
    parts.push_back({match, !invert});
    prev = match.second;
  }
  if (prev != text_size || parts.empty()) parts.push_back({{prev, text_size}, invert});
  return parts;
}

// Joins each delimiter to the piece before it (kMergedWithPrevious) or, run backwards over the
// parts, to the piece after it (kMergedWithNext): a delimiter that follows a non-delimiter
// extends the last piece, any other part starts a new one.
void MergeDelimiters(std::vector<Part>& parts, bool backwards, std::vector<ByteSpan>& pieces) {
  if (backwards) std::reverse(parts.begin(), parts.end());
  bool previous_delimiter = false;
  for (const Part& part : parts) {
    if (part.is_delimiter && !previous_delimiter && !pieces.empty()) {
      if (backwards) {
        pieces.back().first = part.span.first;
      } else {
        pieces.back().second = part.span.second;
      }
    } else {
      pieces.push_back(part.span);
    }
    previous_delimiter = part.is_delimiter;
  }
  if (backwards) std::reverse(pieces.begin(), pieces.end());
}

}  // namespace

std::vector<ByteSpan> SplitAtMatches(size_t text_size, std::span<const ByteSpan> matches,
                                     SplitBehavior behavior, Delimiters delimiters) {
  std::vector<Part> parts = PartsOf(text_size, matches, delimiters);
  std::vector<ByteSpan> pieces;
  pieces.reserve(parts.size());
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const Part& part : parts) {
        if (!part.is_delimiter) pieces.push_back(part.span);
      }
      break;
    case SplitBehavior::kIsolated:
      for (const Part& part : parts) pieces.push_back(part.span);
      break;
    case SplitBehavior::kMergedWithPrevious:
      MergeDelimiters(parts, /*backwards=*/false, pieces);
      break;
    case SplitBehavior::kMergedWithNext:
      MergeDelimiters(parts, /*backwards=*/true, pieces);
      break;
    case SplitBehavior::kContiguous: {
      // Runs of parts of the same kind (delimiter or not) fuse into one piece.
      bool previous_delimiter = false;
      for (const Part& part : parts) {
        if (part.is_delimiter == previous_delimiter && !pieces.empty()) {
          pieces.back().second = part.span.second;
        } else {
          pieces.push_back(part.span);
        }
        previous_delimiter = part.is_delimiter;
      }
      break;
    }
  }
  std::erase_if(pieces, [](const ByteSpan& s) { return s.first == s.second; });
  return pieces;
}

namespace {

// ByteLevel: optionally prefixes a space, splits with the GPT-2 regex, then rewrites every
// byte into the byte-level alphabet.
class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, const Regex* split_regex)
      : add_prefix_space_(add_prefix_space), split_regex_(split_regex) {}

  void PreTokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> out;
    out.reserve(pieces.size());
    std::vector<ByteSpan> matches;
    std::string prefixed;
    for (const PreToken& piece : pieces) {
      if (piece.text.empty()) continue;
      std::string_view text = piece.text;
      // A prefixed space belongs to the first character: offsets after it shift by one.
      size_t shift = 0;
      if (add_prefix_space_ && text.front() != ' ') {
        prefixed.assign(" ");
        prefixed.append(piece.text);
        text = prefixed;
        shift = 1;
      }
      if (split_regex_ == nullptr) {
        PreToken& token = out.emplace_back();
        token.origin = piece.origin;
        AppendByteLevel(text, token.text);
        continue;
      }
      matches.clear();
      split_regex_->FindAll(text, matches);
      for (const ByteSpan& span :
           SplitAtMatches(text.size(), matches, SplitBehavior::kIsolated, Delimiters::kMatches)) {
        PreToken& token = out.emplace_back();
        token.origin = piece.origin + (span.first > shift ? span.first - shift : 0);
        AppendByteLevel(text.substr(span.first, span.second - span.first), token.text);
      }
    }
    pieces = std::move(out);
  }

 private:
  bool add_prefix_space_;
  const Regex* split_regex_;  // null: no regex split. Points to a process-lifetime pattern.
};

// Split: cuts pieces at the matches of a regex or a literal string.
class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(Regex pattern, SplitBehavior behavior, Delimiters delimiters)
      : pattern_(std::move(pattern)), behavior_(behavior), delimiters_(delimiters) {}

  void PreTokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> out;
    out.reserve(pieces.size());
    std::vector<ByteSpan> matches;
    for (const PreToken& piece : pieces) {
      if (piece.text.empty()) continue;
      matches.clear();
      pattern_.FindAll(piece.text, matches);
      for (const ByteSpan& span :
           SplitAtMatches(piece.text.size(), matches, behavior_, delimiters_)) {
        out.push_back({piece.text.substr(span.first, span.second - span.first),
                       piece.origin + span.first});
      }
    }
    pieces = std::move(out);
  }

 private:
  Regex pattern_;
  SplitBehavior behavior_;
  Delimiters delimiters_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> stages)
      : stages_(std::move(stages)) {}

  void PreTokenize(std::vector<PreToken>& pieces) const override {
    for (const auto& stage : stages_) stage->PreTokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> stages_;
};

const Regex& Gpt2SplitRegex() {
  static const Regex* const regex = [] {
    absl::StatusOr<Regex> compiled = Regex::Compile(kGpt2SplitPattern, Regex::Syntax::kPattern);
    BRISK_CHECK(compiled.ok()) << compiled.status();
    return new Regex(*std::move(compiled));
  }();
  return *regex;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeByteLevel(const Json& config,
                                                            const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(bool add_prefix_space,
                         GetBool(config, "add_prefix_space", /*fallback=*/true, where));
  BRISK_ASSIGN_OR_RETURN(bool use_regex, GetBool(config, "use_regex", /*fallback=*/true, where));
  return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space,
                                                 use_regex ? &Gpt2SplitRegex() : nullptr);
}

}  // namespace

absl::StatusOr<SplitBehavior> ParseSplitBehavior(std::string_view name, const std::string& where) {
  static constexpr std::array<std::pair<std::string_view, SplitBehavior>, 5> kNames = {{
      {"Removed", SplitBehavior::kRemoved},
      {"Isolated", SplitBehavior::kIsolated},
      {"MergedWithPrevious", SplitBehavior::kMergedWithPrevious},
      {"MergedWithNext", SplitBehavior::kMergedWithNext},
      {"Contiguous", SplitBehavior::kContiguous},
  }};
  for (const auto& [known, behavior] : kNames) {
    if (known == name) return behavior;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": unknown Split behavior '", std::string(name), "'"));
}

namespace {

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeSplit(const Json& config,
                                                        const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(Regex regex, ReadPattern(config, "pattern", where));
  BRISK_ASSIGN_OR_RETURN(std::string behavior_name, GetString(config, "behavior", where));
  BRISK_ASSIGN_OR_RETURN(SplitBehavior behavior, ParseSplitBehavior(behavior_name, where));
  BRISK_ASSIGN_OR_RETURN(bool invert, GetBool(config, "invert", /*fallback=*/false, where));
  return std::make_unique<SplitPreTokenizer>(std::move(regex), behavior,
                                             invert ? Delimiters::kGaps : Delimiters::kMatches);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeSequence(const Json& config,
                                                           const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(const Json* list, GetArray(config, "pretokenizers", where));
  std::vector<std::unique_ptr<PreTokenizer>> stages;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string stage_where = absl::StrCat(where, ".pretokenizers[", i, "]");
    if ((*list)[i].is_null()) {
      return absl::InvalidArgumentError(absl::StrCat(stage_where, ": must not be null"));
    }
    BRISK_ASSIGN_OR_RETURN(auto stage, MakePreTokenizer((*list)[i], stage_where));
    stages.push_back(std::move(stage));
  }
  return std::make_unique<SequencePreTokenizer>(std::move(stages));
}

constexpr RegistryEntry<PreTokenizer> kRegistry[] = {
    {"ByteLevel", &MakeByteLevel},
    {"Split", &MakeSplit},
    {"Metaspace", &MakeMetaspace},
    {"Whitespace", &MakeWhitespace},
    {"WhitespaceSplit", &MakeWhitespaceSplit},
    {"Digits", &MakeDigits},
    {"Punctuation", &MakePunctuation},
    {"BertPreTokenizer", &MakeBertPreTokenizer},
    {"Sequence", &MakeSequence},
};

}  // namespace

std::span<const RegistryEntry<PreTokenizer>> PreTokenizerRegistry() { return kRegistry; }

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakePreTokenizer(const Json& config,
                                                               const std::string& where) {
  if (config.is_null()) return std::unique_ptr<PreTokenizer>();
  return MakeFromRegistry(PreTokenizerRegistry(), "pre_tokenizer", config, where);
}

}  // namespace brisk::tokenizer
