// Word-level pre-tokenizers: Metaspace, Whitespace, WhitespaceSplit, Digits, Punctuation and
// BertPreTokenizer, with the character classes `tokenizers` uses in Rust (char::is_whitespace,
// char::is_numeric, ASCII punctuation or Unicode P*, Oniguruma's \w and \s).
#include <utility>

#include "base/check.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

bool IsAsciiPunctuation(char32_t cp) {
  return (cp >= '!' && cp <= '/') || (cp >= ':' && cp <= '@') || (cp >= '[' && cp <= '`') ||
         (cp >= '{' && cp <= '~');
}

bool IsPunctuationChar(char32_t cp) { return IsAsciiPunctuation(cp) || IsPunctuation(cp); }

// Splits every piece at each character for which `is_delimiter` holds (each such character is
// one match), per `behavior`.
template <typename Predicate>
void SplitOnChars(std::vector<PreToken>& pieces, Predicate is_delimiter, SplitBehavior behavior) {
  std::vector<PreToken> out;
  out.reserve(pieces.size());
  std::vector<ByteSpan> matches;
  for (const PreToken& piece : pieces) {
    matches.clear();
    size_t pos = 0;
    while (pos < piece.text.size()) {
      const size_t start = pos;
      if (is_delimiter(NextCodePoint(piece.text, pos))) matches.emplace_back(start, pos);
    }
    if (matches.empty()) {
      if (!piece.text.empty()) out.push_back(piece);
      continue;
    }
    for (const ByteSpan& span :
         SplitAtMatches(piece.text.size(), matches, behavior, Delimiters::kMatches)) {
      out.push_back({piece.text.substr(span.first, span.second - span.first),
                     piece.origin + span.first});
    }
  }
  pieces = std::move(out);
}

class WhitespaceSplitPreTokenizer final : public PreTokenizer {
 public:
  void PreTokenize(std::vector<PreToken>& pieces) const override {
    SplitOnChars(pieces, IsUnicodeWhitespace, SplitBehavior::kRemoved);
  }
};

// Keeps the runs of word characters and the runs of other non-space characters.
class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  WhitespacePreTokenizer() {
    // The pattern of `tokenizers`; Regex gives \w and \s their Oniguruma meanings.
    absl::StatusOr<Regex> regex = Regex::Compile(R"(\w+|[^\w\s]+)", Regex::Syntax::kPattern);
    BRISK_CHECK(regex.ok()) << regex.status();
    regex_.emplace(*std::move(regex));
  }
  void PreTokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> out;
    std::vector<ByteSpan> matches;
    for (const PreToken& piece : pieces) {
      matches.clear();
      regex_->FindAll(piece.text, matches);
      for (const ByteSpan& span : matches) {
        if (span.first == span.second) continue;
        out.push_back({piece.text.substr(span.first, span.second - span.first),
                       piece.origin + span.first});
      }
    }
    pieces = std::move(out);
  }

 private:
  std::optional<Regex> regex_;
};

class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void PreTokenize(std::vector<PreToken>& pieces) const override {
    SplitOnChars(pieces, IsNumeric,
                 individual_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
  }

 private:
  bool individual_;
};

class PunctuationPreTokenizer final : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(SplitBehavior behavior) : behavior_(behavior) {}
  void PreTokenize(std::vector<PreToken>& pieces) const override {
    SplitOnChars(pieces, IsPunctuationChar, behavior_);
  }

 private:
  SplitBehavior behavior_;
};

class BertPreTokenizer final : public PreTokenizer {
 public:
  void PreTokenize(std::vector<PreToken>& pieces) const override {
    SplitOnChars(pieces, IsUnicodeWhitespace, SplitBehavior::kRemoved);
    SplitOnChars(pieces, IsPunctuationChar, SplitBehavior::kIsolated);
  }
};

enum class PrependScheme { kAlways, kFirst, kNever };

// Replaces spaces by the replacement character, prepends one per the scheme ("first": only to
// the piece that starts the input), then optionally splits before every replacement character.
class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}

  void PreTokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> out;
    out.reserve(pieces.size());
    std::vector<ByteSpan> matches;
    for (const PreToken& piece : pieces) {
      std::string text;
      text.reserve(piece.text.size() + replacement_.size());
      const bool prepend =
          (scheme_ == PrependScheme::kAlways ||
           (scheme_ == PrependScheme::kFirst && piece.origin == 0)) &&
          !(piece.text.starts_with(replacement_) || piece.text.starts_with(' '));
      if (prepend) text.append(replacement_);
      for (char c : piece.text) {
        if (c == ' ') {
          text.append(replacement_);
        } else {
          text.push_back(c);
        }
      }
      if (!split_) {
        if (!text.empty()) out.push_back({std::move(text), piece.origin});
        continue;
      }
      matches.clear();
      for (size_t at = text.find(replacement_); at != std::string::npos;
           at = text.find(replacement_, at + replacement_.size())) {
        matches.emplace_back(at, at + replacement_.size());
      }
      for (const ByteSpan& span : SplitAtMatches(text.size(), matches,
                                                 SplitBehavior::kMergedWithNext,
                                                 Delimiters::kMatches)) {
        out.push_back({text.substr(span.first, span.second - span.first),
                       span.first == 0 ? piece.origin : piece.origin + span.first + 1});
      }
    }
    pieces = std::move(out);
  }

 private:
  std::string replacement_;  // one character, in UTF-8
  PrependScheme scheme_;
  bool split_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeMetaspace(const Json& config,
                                                            const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(std::string replacement, GetString(config, "replacement", where));
  size_t pos = 0;
  if (replacement.empty() || !IsValidUtf8(replacement) ||
      (NextCodePoint(replacement, pos), pos != replacement.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": Metaspace replacement must be one character"));
  }
  PrependScheme scheme = PrependScheme::kAlways;
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> name,
                         GetOptionalString(config, "prepend_scheme", where));
  if (name) {
    if (*name == "always") {
      scheme = PrependScheme::kAlways;
    } else if (*name == "first") {
      scheme = PrependScheme::kFirst;
    } else if (*name == "never") {
      scheme = PrependScheme::kNever;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unknown Metaspace prepend_scheme '", *name, "'"));
    }
  }
  // Files from before prepend_scheme existed say add_prefix_space instead.
  BRISK_ASSIGN_OR_RETURN(bool add_prefix_space, GetBool(config, "add_prefix_space", true, where));
  if (!add_prefix_space) scheme = PrependScheme::kNever;
  BRISK_ASSIGN_OR_RETURN(bool split, GetBool(config, "split", true, where));
  return std::make_unique<MetaspacePreTokenizer>(std::move(replacement), scheme, split);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeWhitespace(const Json& config,
                                                             const std::string& where) {
  return std::make_unique<WhitespacePreTokenizer>();
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeWhitespaceSplit(const Json& config,
                                                                  const std::string& where) {
  return std::make_unique<WhitespaceSplitPreTokenizer>();
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeDigits(const Json& config,
                                                         const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(bool individual, GetBool(config, "individual_digits", false, where));
  return std::make_unique<DigitsPreTokenizer>(individual);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakePunctuation(const Json& config,
                                                              const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(std::optional<std::string> name,
                         GetOptionalString(config, "behavior", where));
  SplitBehavior behavior = SplitBehavior::kIsolated;
  if (name) {
    BRISK_ASSIGN_OR_RETURN(behavior, ParseSplitBehavior(*name, where));
  }
  return std::make_unique<PunctuationPreTokenizer>(behavior);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeBertPreTokenizer(const Json& config,
                                                                   const std::string& where) {
  return std::make_unique<BertPreTokenizer>();
}

}  // namespace brisk::tokenizer
