// BertNormalizer: the text cleanup of the original BERT tokenizer, in the order `tokenizers`
// applies it: clean_text (drop NUL, U+FFFD and "other" characters, turn whitespace into ' '),
// handle_chinese_chars (a space on both sides of every CJK ideograph), strip_accents (NFD, then
// drop nonspacing marks; when null it follows `lowercase`), then lowercase.
#include <utility>

#include "tokenizer/normalizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

// The CJK Unified Ideographs blocks that BERT pads with spaces (its _is_chinese_char ranges).
bool IsChineseChar(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool IsBertWhitespace(char32_t cp) {
  return cp == '\t' || cp == '\n' || cp == '\r' || IsUnicodeWhitespace(cp);
}

bool IsBertControl(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return IsOtherCategory(cp);
}

struct BertOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
};

// Rewrites `text` character by character with `map(cp, out_utf8)`.
template <typename Map>
void MapChars(NormalizedText& text, Map map) {
  NormalizedText out;
  out.text.reserve(text.text.size());
  out.origin.reserve(text.text.size());
  std::string piece;
  size_t pos = 0;
  while (pos < text.text.size()) {
    const size_t start = pos;
    const char32_t cp = NextCodePoint(text.text, pos);
    piece.clear();
    map(cp, piece);
    out.Append(piece, text.origin[start]);
  }
  text = std::move(out);
}

class BertNormalizer final : public Normalizer {
 public:
  explicit BertNormalizer(BertOptions options) : options_(options) {}
  using Normalizer::Normalize;

  void Normalize(NormalizedText& text) const override {
    if (options_.clean_text) {
      MapChars(text, [](char32_t cp, std::string& out) {
        if (cp == 0 || cp == 0xFFFD || IsBertControl(cp)) return;
        if (IsBertWhitespace(cp)) {
          out.push_back(' ');
        } else {
          AppendCodePoint(cp, out);
        }
      });
    }
    if (options_.handle_chinese_chars) {
      MapChars(text, [](char32_t cp, std::string& out) {
        if (!IsChineseChar(cp)) {
          AppendCodePoint(cp, out);
          return;
        }
        out.push_back(' ');
        AppendCodePoint(cp, out);
        out.push_back(' ');
      });
    }
    if (options_.strip_accents) {
      NormalizeUnicode(UnicodeForm::kNfd, text);
      MapChars(text, [](char32_t cp, std::string& out) {
        if (!IsMarkNonspacing(cp)) AppendCodePoint(cp, out);
      });
    }
    if (options_.lowercase) {
      MapChars(text, [](char32_t cp, std::string& out) { AppendLowercase(cp, out); });
    }
  }

 private:
  BertOptions options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> MakeBertNormalizer(const Json& config,
                                                               const std::string& where) {
  BertOptions options;
  BRISK_ASSIGN_OR_RETURN(options.clean_text, GetBool(config, "clean_text", true, where));
  BRISK_ASSIGN_OR_RETURN(options.handle_chinese_chars,
                         GetBool(config, "handle_chinese_chars", true, where));
  BRISK_ASSIGN_OR_RETURN(options.lowercase, GetBool(config, "lowercase", true, where));
  BRISK_ASSIGN_OR_RETURN(options.strip_accents,
                         GetBool(config, "strip_accents", options.lowercase, where));
  return std::make_unique<BertNormalizer>(options);
}

}  // namespace brisk::tokenizer
