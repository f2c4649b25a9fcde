// PCRE2 wrapper (see regex.h). Patterns are rewritten first so that \s, \w and \p{..} mean
// what they mean in Oniguruma with Unicode 15 tables (RewriteClasses). Per-thread scratch: one
// match-data block (only the overall match is recorded, which fits every pattern) and one JIT
// stack, grown beyond PCRE2's 32 KiB default so that long runs of letters or spaces never
// exhaust it.
#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/logging.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

// JIT stack bounds: start small, allow up to 8 MiB per thread. PCRE2's JIT stores a frame
// per nested backtracking point, not per repeated character, so the tokenizer patterns stay far
// below this; the bound only protects against user-supplied pathological patterns.
constexpr size_t kJitStackStartBytes = 32 * 1024;
constexpr size_t kJitStackMaxBytes = 8 * 1024 * 1024;

class MatchScratch {
 public:
  MatchScratch()
      : data_(pcre2_match_data_create(1, nullptr)),
        context_(pcre2_match_context_create(nullptr)),
        jit_stack_(pcre2_jit_stack_create(kJitStackStartBytes, kJitStackMaxBytes, nullptr)) {
    if (jit_stack_ != nullptr) pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(jit_stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(data_);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;

  pcre2_match_data* data() { return data_; }
  pcre2_match_context* context() { return context_; }

 private:
  pcre2_match_data* data_;
  pcre2_match_context* context_;
  pcre2_jit_stack* jit_stack_;
};

MatchScratch& ThreadScratch() {
  thread_local MatchScratch scratch;
  return scratch;
}

std::string ErrorMessage(int code) {
  PCRE2_UCHAR buffer[256];
  const int len = pcre2_get_error_message(code, buffer, sizeof(buffer));
  if (len < 0) return absl::StrCat("PCRE2 error ", code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(len));
}

size_t CharLengthAt(std::string_view text, size_t pos) {
  size_t len = 1;
  while (pos + len < text.size() && (static_cast<uint8_t>(text[pos + len]) & 0xC0) == 0x80) ++len;
  return len;
}

// Oniguruma's Unicode classes, which `tokenizers` patterns are written for, as PCRE2 class
// bodies (the form kept inside a caseless group, see RewriteClasses). \s is White_Space
// (PCRE2's own \s also takes U+180E, which stopped being a space in Unicode 6.3); \w is
// letters, marks, numbers and connector punctuation (PCRE2's lacks marks).
constexpr std::string_view kSpaceBody = R"(\t\n\x0B\f\r\x{85}\p{Z})";
constexpr std::string_view kWordBody = R"(\p{L}\p{M}\p{N}\p{Pc})";

// PCRE2's names of utf8proc's categories, by category number (see CategoryMask).
constexpr std::string_view kPcreCategoryNames[] = {
    "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
    "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};
constexpr size_t kSurrogateCategory = 28;

// The groups PCRE2 knows, for spelling a group as one property test.
constexpr std::string_view kPcreGroupNames[][2] = {
    {"L", "L"}, {"LC", "L&"}, {"M", "M"}, {"N", "N"}, {"P", "P"}, {"S", "S"}, {"Z", "Z"}, {"C", "C"}};

// A code point on which PCRE2's tables and utf8proc's (Unicode 15) disagree: in practice the
// characters assigned after PCRE2's Unicode version, which PCRE2 takes as unassigned (Cn).
struct CategoryChange {
  char32_t cp;
  CategoryMask pcre;     // PCRE2's category (one bit)
  CategoryMask current;  // utf8proc's
};

// Compiles `pattern` as is (UTF, UCP, JIT) and returns the first code point of each match in
// `text`, which holds one character per code point. For building tables only.
std::vector<char32_t> RawMatchStarts(std::string_view pattern, const std::string& text) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  BRISK_CHECK(code != nullptr) << pattern << ": " << ErrorMessage(error_code);
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  std::vector<char32_t> out;
  size_t start = 0;
  while (start < text.size() &&
         pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start,
                     PCRE2_NO_UTF_CHECK, data, nullptr) >= 0) {
    size_t pos = pcre2_get_ovector_pointer(data)[0];
    start = pos + CharLengthAt(text, pos);
    out.push_back(NextCodePoint(text, pos));
  }
  pcre2_match_data_free(data);
  pcre2_code_free(code);
  return out;
}

// Every code point whose category differs between PCRE2 and utf8proc. Found once: the code
// points of each utf8proc category are matched against PCRE2's negated property, then the
// few found are sorted into PCRE2's categories.
const std::vector<CategoryChange>& CategoryChanges() {
  static const auto* const changes = [] {
    std::string differing;
    for (size_t category = 0; category < std::size(kPcreCategoryNames); ++category) {
      if (category == kSurrogateCategory) continue;
      std::string text;
      for (const auto& [first, last] : CategoryRanges(CategoryMask{1} << category)) {
        for (char32_t cp = first; cp <= last; ++cp) AppendCodePoint(cp, text);
      }
      const std::string pattern = "\\P{" + std::string(kPcreCategoryNames[category]) + "}";
      for (char32_t cp : RawMatchStarts(pattern, text)) AppendCodePoint(cp, differing);
    }
    auto* out = new std::vector<CategoryChange>();
    for (size_t category = 0; category < std::size(kPcreCategoryNames); ++category) {
      const std::string pattern = "\\p{" + std::string(kPcreCategoryNames[category]) + "}";
      for (char32_t cp : RawMatchStarts(pattern, differing)) {
        out->push_back({cp, CategoryMask{1} << category, GeneralCategoryBit(cp)});
      }
    }
    return out;
  }();
  return *changes;
}

// One rewritable member of a pattern: \s, \w or a general category \p{..}, maybe negated.
struct ClassItem {
  enum class Kind { kSpace, kWord, kCategory };
  Kind kind;
  bool negated;
  std::string category;  // for kCategory: the name as written
};

// A set of code points as PCRE2 property tests (for the categories in `mask`, under PCRE2's
// tables) plus explicit ranges.
struct ClassSet {
  CategoryMask mask = 0;
  std::string properties;  // e.g. "\p{L}\p{N}"
  CodePointRanges ranges;
};

void AddCategories(CategoryMask mask, std::string_view written, ClassSet& set) {
  std::string name = std::string(written);
  for (const auto& [short_name, pcre_name] : kPcreGroupNames) {
    if (GeneralCategoryMask(short_name) == mask) name = std::string(pcre_name);
  }
  for (size_t category = 0; category < std::size(kPcreCategoryNames); ++category) {
    if (mask == CategoryMask{1} << category) name = std::string(kPcreCategoryNames[category]);
  }
  set.mask |= mask;
  absl::StrAppend(&set.properties, "\\p{", name, "}");
}

// The members of `item` with its negation ignored.
ClassSet ItemSet(const ClassItem& item) {
  ClassSet set;
  switch (item.kind) {
    case ClassItem::Kind::kSpace:
      set.ranges = {{0x09, 0x0D}, {0x85, 0x85}};
      AddCategories(GeneralCategoryMask("Z"), "Z", set);
      break;
    case ClassItem::Kind::kWord:
      for (std::string_view name : {"L", "M", "N", "Pc"}) {
        AddCategories(GeneralCategoryMask(name), name, set);
      }
      break;
    case ClassItem::Kind::kCategory:
      AddCategories(GeneralCategoryMask(item.category), item.category, set);
      break;
  }
  return set;
}

// Exact Unicode 15 ranges of a set: for the body of a negated member, or when PCRE2 puts
// into `set.mask` a character that Unicode 15 has moved out of it.
CodePointRanges ExactRanges(const ClassSet& set) {
  return UnionRanges(set.ranges, CategoryRanges(set.mask));
}

std::string RangesText(const CodePointRanges& ranges) {
  std::string body;
  for (const auto& [first, last] : ranges) {
    absl::StrAppend(&body, "\\x{", absl::Hex(static_cast<uint32_t>(first)), "}");
    if (last != first) {
      absl::StrAppend(&body, "-\\x{", absl::Hex(static_cast<uint32_t>(last)), "}");
    }
  }
  return body;
}

// A PCRE2 class body (without brackets) for the union of `items` under Unicode 15. Positive
// members keep PCRE2's property tests (fast) plus explicit ranges for the characters PCRE2's
// tables lack; a negated member becomes the explicit complement of its exact ranges. Bodies
// are cached by the items' text, since the same few occur in every pattern; the cache only
// grows. Thread-safe.
const std::string& ClassBody(const std::vector<ClassItem>& items) {
  static std::mutex mutex;
  static auto* const cache = new std::map<std::string, std::string, std::less<>>();
  std::string key;
  for (const ClassItem& item : items) {
    absl::StrAppend(&key, item.negated ? "-" : "+", static_cast<int>(item.kind), item.category,
                    ";");
  }
  const std::lock_guard<std::mutex> lock(mutex);
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  ClassSet positive;
  for (const ClassItem& item : items) {
    ClassSet set = ItemSet(item);
    if (item.negated) {
      positive.ranges = UnionRanges(positive.ranges, ComplementRanges(ExactRanges(set)));
    } else {
      positive.mask |= set.mask;
      positive.properties.append(set.properties);
      positive.ranges = UnionRanges(positive.ranges, set.ranges);
    }
  }
  bool pcre_exceeds = false;  // whether PCRE2 puts a non-member into positive.mask
  CodePointRanges missing;  // members that PCRE2's tables leave out, one range per character
  for (const CategoryChange& change : CategoryChanges()) {
    pcre_exceeds = pcre_exceeds || ((change.pcre & positive.mask) != 0 &&
                                    (change.current & positive.mask) == 0);
    if ((change.current & positive.mask) != 0 && (change.pcre & positive.mask) == 0) {
      missing.emplace_back(change.cp, change.cp);
    }
  }
  std::sort(missing.begin(), missing.end());
  std::string body;
  if (pcre_exceeds) {
    body = RangesText(ExactRanges(positive));
  } else {
    body = positive.properties + RangesText(UnionRanges(positive.ranges, UnionRanges({}, missing)));
  }
  return cache->emplace(std::move(key), std::move(body)).first->second;
}

// Parses a rewritable escape at pattern[i] == '\\'. On success fills `item` and returns the
// escape's length; returns 0 for any other escape (left to PCRE2).
size_t ParseItem(std::string_view pattern, size_t i, ClassItem& item) {
  if (i + 1 >= pattern.size()) return 0;
  const char c = pattern[i + 1];
  if (c == 's' || c == 'S' || c == 'w' || c == 'W') {
    item = {c == 's' || c == 'S' ? ClassItem::Kind::kSpace : ClassItem::Kind::kWord,
            c == 'S' || c == 'W', ""};
    return 2;
  }
  if (c != 'p' && c != 'P') return 0;
  std::string_view name;
  size_t length = 0;
  if (i + 2 < pattern.size() && pattern[i + 2] == '{') {
    const size_t close = pattern.find('}', i + 3);
    if (close == std::string_view::npos) return 0;
    name = pattern.substr(i + 3, close - (i + 3));
    length = close + 1 - i;
  } else if (i + 2 < pattern.size()) {
    name = pattern.substr(i + 2, 1);  // the one-letter form \pL
    length = 3;
  } else {
    return 0;
  }
  bool negated = c == 'P';
  if (!name.empty() && name.front() == '^') {  // \p{^L} is \P{L}
    negated = !negated;
    name.remove_prefix(1);
  }
  if (GeneralCategoryMask(name) == 0) return 0;  // a script or binary property
  item = {ClassItem::Kind::kCategory, negated, std::string(name)};
  return length;
}

// Updates `caseless` for the inline options `flags` (the text between "(?" and ')' or ':').
void ApplyFlags(std::string_view flags, bool& caseless) {
  bool set = true;
  for (char f : flags) {
    if (f == '-') set = false;
    if (f == '^') caseless = false;
    if (f == 'i') caseless = set;
  }
}

// Rewrites \s, \S, \w, \W and the general categories \p{..} / \P{..} into classes (see
// ClassBody): Oniguruma's meanings for \s and \w, and Unicode 15 categories (utf8proc's
// tables) instead of PCRE2's older ones. Inside a character class, consecutive members of
// these kinds are merged into one body. \Q...\E is kept. Within a caseless group the rewrite
// is skipped (PCRE2 would add case variants to explicit ranges, but not to \p{..}); there
// only \s and \w get their former class bodies.
std::string RewriteClasses(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  bool quoted = false;
  bool caseless = false;
  std::vector<bool> caseless_stack;  // the state to restore at each open group's ')'
  std::vector<ClassItem> pending;    // members of the current class awaiting their ranges
  auto flush = [&] {
    if (!pending.empty()) out.append(ClassBody(pending));
    pending.clear();
  };
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (quoted) {
      if (c == '\\' && i + 1 < pattern.size() && pattern[i + 1] == 'E') quoted = false;
      out.push_back(c);
      continue;
    }
    ClassItem item;
    const size_t item_length = c == '\\' ? ParseItem(pattern, i, item) : 0;
    if (item_length > 0 && !caseless) {
      if (in_class) {
        pending.push_back(std::move(item));
      } else {
        const bool negated = item.negated;
        item.negated = false;
        out.append(negated ? "[^" : "[");
        out.append(ClassBody({item}));
        out.push_back(']');
      }
      i += item_length - 1;
      continue;
    }
    flush();
    if (item_length > 0 && item.kind != ClassItem::Kind::kCategory) {  // caseless \s or \w
      const std::string_view body =
          item.kind == ClassItem::Kind::kSpace ? kSpaceBody : kWordBody;
      if (!in_class) {
        out.append(item.negated ? "[^" : "[");
        out.append(body);
        out.push_back(']');
        ++i;
        continue;
      }
      if (!item.negated) {
        out.append(body);
        ++i;
        continue;
      }
    }
    if (c == '\\' && i + 1 < pattern.size()) {
      quoted = pattern[i + 1] == 'Q';
      out.push_back(c);
      out.push_back(pattern[++i]);
      continue;
    }
    out.push_back(c);
    if (!in_class && c == '[') {
      in_class = true;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out.push_back(pattern[++i]);
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out.push_back(pattern[++i]);
    } else if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      const size_t close = pattern.find(":]", i + 2);  // a POSIX class such as [:alpha:]
      if (close != std::string_view::npos) {
        out.append(pattern.substr(i + 1, close + 2 - (i + 1)));
        i = close + 1;
      }
    } else if (in_class && c == ']') {
      in_class = false;
    } else if (!in_class && c == '(') {
      size_t end = i + 1;
      if (end < pattern.size() && pattern[end] == '?') {
        ++end;
        while (end < pattern.size() && (std::isalpha(static_cast<unsigned char>(pattern[end])) ||
                                        pattern[end] == '-' || pattern[end] == '^')) {
          ++end;
        }
      }
      const std::string_view flags = end > i + 2 ? pattern.substr(i + 2, end - (i + 2)) : "";
      if (end < pattern.size() && pattern[end] == ')' && end > i + 1 && pattern[i + 1] == '?') {
        ApplyFlags(flags, caseless);  // (?i): to the end of the enclosing group
        out.append(pattern.substr(i + 1, end - i));
        i = end;
      } else {
        caseless_stack.push_back(caseless);
        if (end < pattern.size() && pattern[end] == ':') ApplyFlags(flags, caseless);
      }
    } else if (!in_class && c == ')' && !caseless_stack.empty()) {
      caseless = caseless_stack.back();
      caseless_stack.pop_back();
    }
  }
  flush();
  return out;
}

}  // namespace

absl::StatusOr<Regex> Regex::Compile(std::string_view pattern, Syntax syntax) {
  // PCRE2 refuses UCP together with LITERAL; a literal has no classes for UCP to affect.
  const uint32_t options =
      syntax == Syntax::kLiteral ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP;
  const std::string source =
      syntax == Syntax::kLiteral ? std::string(pattern) : RewriteClasses(pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(), options,
                    &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot compile regex '", std::string(pattern),
                                                   "' at offset ", error_offset, ": ",
                                                   ErrorMessage(error_code)));
  }
  auto owned = std::make_shared<Code>();
  owned->code = code;
  // JIT is an optimisation: without it pcre2_match falls back to the interpreter.
  const int jit_rc = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  if (jit_rc != 0) {
    BRISK_LOG(kWarning) << "regex JIT unavailable (" << ErrorMessage(jit_rc) << "), interpreting '"
                        << pattern << "'";
  }
  return Regex(std::string(pattern), std::move(owned));
}

void Regex::FindAll(std::string_view text, std::vector<ByteSpan>& matches) const {
  MatchScratch& scratch = ThreadScratch();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(code_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                               scratch.data(), scratch.context());
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      BRISK_LOG(kError) << "regex '" << pattern_ << "' failed on a " << text.size()
                        << "-byte text: " << ErrorMessage(rc);
      return;
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.data());
    const size_t match_start = ovector[0];
    const size_t match_end = ovector[1];
    matches.emplace_back(match_start, match_end);
    if (match_end > match_start) {
      start = match_end;
    } else if (match_end < text.size()) {
      start = match_end + CharLengthAt(text, match_end);
    } else {
      return;
    }
  }
}

bool Regex::FullMatch(std::string_view text) const {
  MatchScratch& scratch = ThreadScratch();
  const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                             0, PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED | PCRE2_ENDANCHORED,
                             scratch.data(), scratch.context());
  return rc >= 0;
}

}  // namespace brisk::tokenizer
