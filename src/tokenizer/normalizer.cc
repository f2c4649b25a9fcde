// NFC/NFD/NFKC/NFKD, Lowercase, Strip, Replace, Prepend and Sequence normalizers and the
// registry (see normalizer.h). Every normalizer rebuilds the text character by character,
// giving each output byte the origin of the input character it came from.
#include "tokenizer/normalizer.h"

#include <utility>

#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {

NormalizedText NormalizedText::Identity(std::string_view text) {
  NormalizedText out;
  out.text.assign(text);
  out.origin.resize(text.size());
  for (size_t i = 0; i < text.size(); ++i) out.origin[i] = static_cast<uint32_t>(i);
  return out;
}

void NormalizedText::Append(std::string_view piece, uint32_t origin_offset) {
  text.append(piece);
  origin.insert(origin.end(), piece.size(), origin_offset);
}

void NormalizedText::AppendFrom(const NormalizedText& from, size_t start, size_t stop) {
  text.append(from.text, start, stop - start);
  origin.insert(origin.end(), from.origin.begin() + static_cast<ptrdiff_t>(start),
                from.origin.begin() + static_cast<ptrdiff_t>(stop));
}

absl::StatusOr<Regex> ReadPattern(const Json& config, const char* key, const std::string& where) {
  auto it = config.find(key);
  if (it == config.end() || !it->is_object() || it->size() != 1 ||
      !it->begin().value().is_string() ||
      (it->begin().key() != "Regex" && it->begin().key() != "String")) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": '", key, "' must be {\"Regex\": string} or {\"String\": string}"));
  }
  const Regex::Syntax syntax =
      it->begin().key() == "Regex" ? Regex::Syntax::kPattern : Regex::Syntax::kLiteral;
  absl::StatusOr<Regex> regex = Regex::Compile(it->begin().value().get<std::string>(), syntax);
  if (!regex.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", regex.status().message()));
  }
  return regex;
}

namespace {

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) : form_(form) {}
  using Normalizer::Normalize;
  void Normalize(NormalizedText& text) const override { NormalizeUnicode(form_, text); }

 private:
  UnicodeForm form_;
};

// Rust's char::to_lowercase on every character (no final-sigma rule).
class LowercaseNormalizer final : public Normalizer {
 public:
  using Normalizer::Normalize;
  void Normalize(NormalizedText& text) const override {
    NormalizedText out;
    out.text.reserve(text.text.size());
    out.origin.reserve(text.text.size());
    std::string lowered;
    size_t pos = 0;
    while (pos < text.text.size()) {
      const size_t start = pos;
      const char32_t cp = NextCodePoint(text.text, pos);
      lowered.clear();
      AppendLowercase(cp, lowered);
      out.Append(lowered, text.origin[start]);
    }
    text = std::move(out);
  }
};

// Removes leading and/or trailing whitespace (Unicode White_Space).
class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  using Normalizer::Normalize;
  void Normalize(NormalizedText& text) const override {
    const std::string& s = text.text;
    size_t start = 0;
    size_t stop = s.size();
    if (left_) {
      while (start < stop) {
        size_t next = start;
        if (!IsUnicodeWhitespace(NextCodePoint(s, next))) break;
        start = next;
      }
    }
    if (right_) {
      while (stop > start) {
        size_t prev = stop - 1;
        while (prev > start && (static_cast<uint8_t>(s[prev]) & 0xC0) == 0x80) --prev;
        size_t at = prev;
        if (!IsUnicodeWhitespace(NextCodePoint(s, at))) break;
        stop = prev;
      }
    }
    if (start == 0 && stop == s.size()) return;
    NormalizedText out;
    out.AppendFrom(text, start, stop);
    text = std::move(out);
  }

 private:
  bool left_;
  bool right_;
};

// Replaces every match of a literal or regex with `content`; the replacement takes the origin of
// the first character of the match it replaces.
class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(Regex pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  using Normalizer::Normalize;
  void Normalize(NormalizedText& text) const override {
    std::vector<ByteSpan> matches;
    pattern_.FindAll(text.text, matches);
    if (matches.empty()) return;
    NormalizedText out;
    out.text.reserve(text.text.size());
    out.origin.reserve(text.text.size());
    size_t prev = 0;
    for (const ByteSpan& match : matches) {
      out.AppendFrom(text, prev, match.first);
      const uint32_t origin = match.first < text.origin.size()
                                  ? text.origin[match.first]
                                  : (text.origin.empty() ? 0 : text.origin.back());
      out.Append(content_, origin);
      prev = match.second;
    }
    out.AppendFrom(text, prev, text.text.size());
    text = std::move(out);
  }

 private:
  Regex pattern_;
  std::string content_;
};

// Prepends a string to non-empty text; it takes the origin of the first character.
class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  using Normalizer::Normalize;
  void Normalize(NormalizedText& text) const override {
    if (text.text.empty()) return;
    std::string prefixed = prefix_;
    prefixed.append(text.text);
    text.text = std::move(prefixed);
    text.origin.insert(text.origin.begin(), prefix_.size(), text.origin.front());
  }

 private:
  std::string prefix_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> stages)
      : stages_(std::move(stages)) {}
  using Normalizer::Normalize;
  void Normalize(NormalizedText& text) const override {
    for (const auto& stage : stages_) stage->Normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> stages_;
};

template <UnicodeForm kForm>
absl::StatusOr<std::unique_ptr<Normalizer>> MakeUnicode(const Json& config,
                                                        const std::string& where) {
  return std::make_unique<UnicodeNormalizer>(kForm);
}

absl::StatusOr<std::unique_ptr<Normalizer>> MakeLowercase(const Json& config,
                                                          const std::string& where) {
  return std::make_unique<LowercaseNormalizer>();
}

absl::StatusOr<std::unique_ptr<Normalizer>> MakeStrip(const Json& config,
                                                      const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(bool left, GetBool(config, "strip_left", true, where));
  BRISK_ASSIGN_OR_RETURN(bool right, GetBool(config, "strip_right", true, where));
  return std::make_unique<StripNormalizer>(left, right);
}

absl::StatusOr<std::unique_ptr<Normalizer>> MakeReplace(const Json& config,
                                                        const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(Regex pattern, ReadPattern(config, "pattern", where));
  BRISK_ASSIGN_OR_RETURN(std::string content, GetString(config, "content", where));
  return std::make_unique<ReplaceNormalizer>(std::move(pattern), std::move(content));
}

absl::StatusOr<std::unique_ptr<Normalizer>> MakePrepend(const Json& config,
                                                        const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(std::string prefix, GetString(config, "prepend", where));
  return std::make_unique<PrependNormalizer>(std::move(prefix));
}

absl::StatusOr<std::unique_ptr<Normalizer>> MakeSequence(const Json& config,
                                                         const std::string& where) {
  BRISK_ASSIGN_OR_RETURN(const Json* list, GetArray(config, "normalizers", where));
  std::vector<std::unique_ptr<Normalizer>> stages;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string stage_where = absl::StrCat(where, ".normalizers[", i, "]");
    if ((*list)[i].is_null()) {
      return absl::InvalidArgumentError(absl::StrCat(stage_where, ": must not be null"));
    }
    BRISK_ASSIGN_OR_RETURN(auto stage, MakeNormalizer((*list)[i], stage_where));
    stages.push_back(std::move(stage));
  }
  return std::make_unique<SequenceNormalizer>(std::move(stages));
}

constexpr RegistryEntry<Normalizer> kRegistry[] = {
    {"NFC", &MakeUnicode<UnicodeForm::kNfc>},
    {"NFD", &MakeUnicode<UnicodeForm::kNfd>},
    {"NFKC", &MakeUnicode<UnicodeForm::kNfkc>},
    {"NFKD", &MakeUnicode<UnicodeForm::kNfkd>},
    {"Lowercase", &MakeLowercase},
    {"Strip", &MakeStrip},
    {"Replace", &MakeReplace},
    {"Prepend", &MakePrepend},
    {"BertNormalizer", &MakeBertNormalizer},
    {"Sequence", &MakeSequence},
};

}  // namespace

std::span<const RegistryEntry<Normalizer>> NormalizerRegistry() { return kRegistry; }

absl::StatusOr<std::unique_ptr<Normalizer>> MakeNormalizer(const Json& config,
                                                           const std::string& where) {
  if (config.is_null()) return std::unique_ptr<Normalizer>();
  return MakeFromRegistry(NormalizerRegistry(), "normalizer", config, where);
}

}  // namespace brisk::tokenizer
