// Unicode properties and normalization forms over utf8proc (see unicode.h).
//
// Normalization with alignment in one paragraph: the text is cut before every character whose
// decomposition starts with a starter that can never be the second half of a composition (not a
// mark, combining class 0, not a Hangul vowel or trailing consonant). No reordering or
// composition crosses such a cut, so each run can be normalized on its own. A run of one
// character that maps to itself (almost all text) is copied with its origins; any other run is
// decomposed, reordered and composed by utf8proc, and its output takes the run's first origin.
#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>
#include <vector>

#include "base/check.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

utf8proc_option_t FormOptions(UnicodeForm form) {
  const int base = UTF8PROC_STABLE;
  switch (form) {
    case UnicodeForm::kNfc:
      return static_cast<utf8proc_option_t>(base | UTF8PROC_COMPOSE);
    case UnicodeForm::kNfd:
      return static_cast<utf8proc_option_t>(base | UTF8PROC_DECOMPOSE);
    case UnicodeForm::kNfkc:
      return static_cast<utf8proc_option_t>(base | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    case UnicodeForm::kNfkd:
      return static_cast<utf8proc_option_t>(base | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  }
  return static_cast<utf8proc_option_t>(base);
}

// Decomposes `cp` (canonically, or compatibly too for K forms) into `out`; returns the count.
// Compose and decompose forms share the decomposition step.
int Decompose(char32_t cp, utf8proc_option_t options, std::array<utf8proc_int32_t, 32>& out) {
  const auto decompose_options = static_cast<utf8proc_option_t>(
      (options & ~UTF8PROC_COMPOSE) | UTF8PROC_DECOMPOSE);
  int boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp),
                                                     out.data(), out.size(), decompose_options,
                                                     &boundclass);
  BRISK_CHECK(n > 0 && n <= static_cast<utf8proc_ssize_t>(out.size())) << "decomposition of U+" << static_cast<uint32_t>(cp);
  return static_cast<int>(n);
}

bool IsHangulVowelOrTrailing(char32_t cp) {
  return (cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2);
}

// True when no composition or reordering can join `first` (the first code point of a
// character's decomposition) to the text before it.
bool StartsStableRun(char32_t first) {
  const utf8proc_property_t* prop = utf8proc_get_property(static_cast<utf8proc_int32_t>(first));
  if (prop->combining_class != 0) return false;
  const auto category = static_cast<utf8proc_category_t>(prop->category);
  if (category == UTF8PROC_CATEGORY_MN || category == UTF8PROC_CATEGORY_MC ||
      category == UTF8PROC_CATEGORY_ME) {
    return false;
  }
  return !IsHangulVowelOrTrailing(first);
}

// Normalizes the UTF-8 `run` as a whole and appends the result to `out` with `origin`.
void NormalizeRun(std::string_view run, utf8proc_option_t options, uint32_t origin,
                  std::vector<utf8proc_int32_t>& buffer, NormalizedText& out) {
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(run.data());
  const auto length = static_cast<utf8proc_ssize_t>(run.size());
  utf8proc_ssize_t n = 0;
  while (true) {
    n = utf8proc_decompose(bytes, length, buffer.data(),
                           static_cast<utf8proc_ssize_t>(buffer.size()), options);
    BRISK_CHECK(n >= 0) << utf8proc_errmsg(n);
    if (static_cast<size_t>(n) <= buffer.size()) break;
    buffer.resize(static_cast<size_t>(n));
  }
  n = utf8proc_normalize_utf32(buffer.data(), n, options);
  BRISK_CHECK(n >= 0) << utf8proc_errmsg(n);
  std::string utf8;
  for (utf8proc_ssize_t i = 0; i < n; ++i) AppendCodePoint(static_cast<char32_t>(buffer[i]), utf8);
  out.Append(utf8, origin);
}

}  // namespace

void NormalizeUnicode(UnicodeForm form, NormalizedText& text) {
  const std::string& in = text.text;
  // Fast path: ASCII is invariant under every form and never combines with what follows it
  // unless a non-ASCII mark follows, which the general path handles.
  bool ascii = true;
  for (char c : in) ascii = ascii && static_cast<uint8_t>(c) < 0x80;
  if (ascii) return;

  const utf8proc_option_t options = FormOptions(form);
  NormalizedText out;
  out.text.reserve(in.size());
  out.origin.reserve(in.size());
  std::array<utf8proc_int32_t, 32> decomposed;
  std::vector<utf8proc_int32_t> buffer(64);
  size_t run_start = 0;       // byte offset in `in` of the pending run
  size_t run_chars = 0;       // characters in the pending run
  bool run_changes = false;   // whether the pending run may differ from its input
  auto flush = [&](size_t stop) {
    if (run_chars == 0) return;
    if (run_changes) {
      NormalizeRun(std::string_view(in).substr(run_start, stop - run_start), options,
                   text.origin[run_start], buffer, out);
    } else {
      out.AppendFrom(text, run_start, stop);
    }
    run_chars = 0;
    run_changes = false;
  };
  size_t pos = 0;
  while (pos < in.size()) {
    const size_t start = pos;
    const char32_t cp = NextCodePoint(in, pos);
    int n = 1;
    decomposed[0] = static_cast<utf8proc_int32_t>(cp);
    if (cp >= 0x80) n = Decompose(cp, options, decomposed);
    if (cp < 0x80 || StartsStableRun(static_cast<char32_t>(decomposed[0]))) {
      flush(start);
      run_start = start;
    }
    // A run changes when it holds a character that decomposes, or more than one character
    // (marks may need reordering, pairs composing); a lone character never composes.
    run_changes = run_changes || run_chars > 0 || n != 1 ||
                  decomposed[0] != static_cast<utf8proc_int32_t>(cp);
    ++run_chars;
  }
  flush(in.size());
  text = std::move(out);
}

void AppendLowercase(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp));
    return;
  }
  if (cp == 0x130) {  // the one unconditional multi-character lowercase mapping
    out.append("i\xCC\x87");
    return;
  }
  AppendCodePoint(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))), out);
}

namespace {
utf8proc_category_t Category(char32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}
}  // namespace

bool IsPunctuation(char32_t cp) {
  const utf8proc_category_t c = Category(cp);
  return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

bool IsMarkNonspacing(char32_t cp) { return Category(cp) == UTF8PROC_CATEGORY_MN; }

bool IsNumeric(char32_t cp) {
  const utf8proc_category_t c = Category(cp);
  return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

bool IsOtherCategory(char32_t cp) {
  const utf8proc_category_t c = Category(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO;
}

namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr char32_t kSurrogateFirst = 0xD800;
constexpr char32_t kSurrogateLast = 0xDFFF;

// Lower case without spaces, '-' and '_': the loose matching of property names.
std::string LooseName(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ' ' || c == '-' || c == '_') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

constexpr CategoryMask Bit(utf8proc_category_t category) { return CategoryMask{1} << category; }

// A category name (short and long) and the categories it covers.
struct CategoryName {
  std::string_view short_name;
  std::string_view long_name;
  CategoryMask mask;
};

constexpr CategoryMask kLetters = Bit(UTF8PROC_CATEGORY_LU) | Bit(UTF8PROC_CATEGORY_LL) |
                                  Bit(UTF8PROC_CATEGORY_LT) | Bit(UTF8PROC_CATEGORY_LM) |
                                  Bit(UTF8PROC_CATEGORY_LO);
constexpr CategoryMask kMarks =
    Bit(UTF8PROC_CATEGORY_MN) | Bit(UTF8PROC_CATEGORY_MC) | Bit(UTF8PROC_CATEGORY_ME);
constexpr CategoryMask kNumbers =
    Bit(UTF8PROC_CATEGORY_ND) | Bit(UTF8PROC_CATEGORY_NL) | Bit(UTF8PROC_CATEGORY_NO);
constexpr CategoryMask kPunctuation =
    Bit(UTF8PROC_CATEGORY_PC) | Bit(UTF8PROC_CATEGORY_PD) | Bit(UTF8PROC_CATEGORY_PS) |
    Bit(UTF8PROC_CATEGORY_PE) | Bit(UTF8PROC_CATEGORY_PI) | Bit(UTF8PROC_CATEGORY_PF) |
    Bit(UTF8PROC_CATEGORY_PO);
constexpr CategoryMask kSymbols = Bit(UTF8PROC_CATEGORY_SM) | Bit(UTF8PROC_CATEGORY_SC) |
                                  Bit(UTF8PROC_CATEGORY_SK) | Bit(UTF8PROC_CATEGORY_SO);
constexpr CategoryMask kSeparators =
    Bit(UTF8PROC_CATEGORY_ZS) | Bit(UTF8PROC_CATEGORY_ZL) | Bit(UTF8PROC_CATEGORY_ZP);
constexpr CategoryMask kOthers = Bit(UTF8PROC_CATEGORY_CC) | Bit(UTF8PROC_CATEGORY_CF) |
                                 Bit(UTF8PROC_CATEGORY_CO) | Bit(UTF8PROC_CATEGORY_CN);

constexpr CategoryName kCategoryNames[] = {
    {"L", "Letter", kLetters},
    {"LC", "Cased_Letter",
     Bit(UTF8PROC_CATEGORY_LU) | Bit(UTF8PROC_CATEGORY_LL) | Bit(UTF8PROC_CATEGORY_LT)},
    {"Lu", "Uppercase_Letter", Bit(UTF8PROC_CATEGORY_LU)},
    {"Ll", "Lowercase_Letter", Bit(UTF8PROC_CATEGORY_LL)},
    {"Lt", "Titlecase_Letter", Bit(UTF8PROC_CATEGORY_LT)},
    {"Lm", "Modifier_Letter", Bit(UTF8PROC_CATEGORY_LM)},
    {"Lo", "Other_Letter", Bit(UTF8PROC_CATEGORY_LO)},
    {"M", "Mark", kMarks},
    {"Mn", "Nonspacing_Mark", Bit(UTF8PROC_CATEGORY_MN)},
    {"Mc", "Spacing_Mark", Bit(UTF8PROC_CATEGORY_MC)},
    {"Me", "Enclosing_Mark", Bit(UTF8PROC_CATEGORY_ME)},
    {"N", "Number", kNumbers},
    {"Nd", "Decimal_Number", Bit(UTF8PROC_CATEGORY_ND)},
    {"Nl", "Letter_Number", Bit(UTF8PROC_CATEGORY_NL)},
    {"No", "Other_Number", Bit(UTF8PROC_CATEGORY_NO)},
    {"P", "Punctuation", kPunctuation},
    {"Pc", "Connector_Punctuation", Bit(UTF8PROC_CATEGORY_PC)},
    {"Pd", "Dash_Punctuation", Bit(UTF8PROC_CATEGORY_PD)},
    {"Ps", "Open_Punctuation", Bit(UTF8PROC_CATEGORY_PS)},
    {"Pe", "Close_Punctuation", Bit(UTF8PROC_CATEGORY_PE)},
    {"Pi", "Initial_Punctuation", Bit(UTF8PROC_CATEGORY_PI)},
    {"Pf", "Final_Punctuation", Bit(UTF8PROC_CATEGORY_PF)},
    {"Po", "Other_Punctuation", Bit(UTF8PROC_CATEGORY_PO)},
    {"S", "Symbol", kSymbols},
    {"Sm", "Math_Symbol", Bit(UTF8PROC_CATEGORY_SM)},
    {"Sc", "Currency_Symbol", Bit(UTF8PROC_CATEGORY_SC)},
    {"Sk", "Modifier_Symbol", Bit(UTF8PROC_CATEGORY_SK)},
    {"So", "Other_Symbol", Bit(UTF8PROC_CATEGORY_SO)},
    {"Z", "Separator", kSeparators},
    {"Zs", "Space_Separator", Bit(UTF8PROC_CATEGORY_ZS)},
    {"Zl", "Line_Separator", Bit(UTF8PROC_CATEGORY_ZL)},
    {"Zp", "Paragraph_Separator", Bit(UTF8PROC_CATEGORY_ZP)},
    {"C", "Other", kOthers},
    {"Cc", "Control", Bit(UTF8PROC_CATEGORY_CC)},
    {"Cf", "Format", Bit(UTF8PROC_CATEGORY_CF)},
    {"Co", "Private_Use", Bit(UTF8PROC_CATEGORY_CO)},
    {"Cn", "Unassigned", Bit(UTF8PROC_CATEGORY_CN)},
};

using PerCategory = std::array<CodePointRanges, UTF8PROC_CATEGORY_CO + 1>;

// The code points of every category, by one scan.
PerCategory BuildPerCategory() {
  PerCategory by_category;
  for (char32_t cp = 0; cp <= kMaxCodePoint; ++cp) {
    if (cp == kSurrogateFirst) cp = kSurrogateLast + 1;
    CodePointRanges& ranges = by_category[static_cast<size_t>(Category(cp))];
    if (!ranges.empty() && ranges.back().second + 1 == cp) {
      ranges.back().second = cp;
    } else {
      ranges.emplace_back(cp, cp);
    }
  }
  return by_category;
}

}  // namespace

CategoryMask GeneralCategoryMask(std::string_view name) {
  const std::string loose = LooseName(name);
  for (const CategoryName& entry : kCategoryNames) {
    if (loose == LooseName(entry.short_name) || loose == LooseName(entry.long_name)) {
      return entry.mask;
    }
  }
  return 0;
}

CategoryMask GeneralCategoryBit(char32_t cp) { return Bit(Category(cp)); }

CodePointRanges CategoryRanges(CategoryMask mask) {
  static const PerCategory* const by_category = new PerCategory(BuildPerCategory());
  CodePointRanges set;
  for (size_t category = 0; category < by_category->size(); ++category) {
    if ((mask >> category) & 1) set = UnionRanges(set, (*by_category)[category]);
  }
  return set;
}

CodePointRanges UnionRanges(const CodePointRanges& a, const CodePointRanges& b) {
  CodePointRanges all;
  all.reserve(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(all));
  CodePointRanges out;
  for (const auto& range : all) {
    // Ranges that overlap or touch merge into one.
    if (!out.empty() && range.first <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, range.second);
    } else {
      out.push_back(range);
    }
  }
  return out;
}

CodePointRanges ComplementRanges(const CodePointRanges& set) {
  const CodePointRanges surrogates = {{kSurrogateFirst, kSurrogateLast}};
  const CodePointRanges excluded = UnionRanges(set, surrogates);
  CodePointRanges out;
  char32_t next = 0;  // the first code point not yet accounted for
  for (const auto& [first, last] : excluded) {
    if (first > next) out.emplace_back(next, first - 1);
    next = last + 1;
  }
  if (next <= kMaxCodePoint) out.emplace_back(next, kMaxCodePoint);
  return out;
}

}  // namespace brisk::tokenizer
