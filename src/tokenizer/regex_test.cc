// Tests for the regex wrapper: successive matches, \s and \w with Oniguruma's Unicode
// meanings (the engine of Hugging Face `tokenizers`) rather than PCRE2's own, and general
// categories \p{..} with Unicode 15 assignments, which PCRE2's older tables lack.
#include "tokenizer/regex.h"

#include <gtest/gtest.h>

#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

std::vector<std::string> Matches(std::string_view pattern, std::string_view text) {
  absl::StatusOr<Regex> regex = Regex::Compile(pattern, Regex::Syntax::kPattern);
  EXPECT_TRUE(regex.ok()) << regex.status();
  std::vector<ByteSpan> spans;
  if (regex.ok()) regex->FindAll(text, spans);
  std::vector<std::string> out;
  for (const ByteSpan& span : spans) out.emplace_back(text.substr(span.first, span.second - span.first));
  return out;
}

TEST(RegexTest, SpaceIsUnicodeWhiteSpace) {
  // U+0085 (NEL) and U+3000 are White_Space; U+180E (Mongolian vowel separator) and U+FEFF
  // are not, although PCRE2's own \s takes U+180E.
  EXPECT_EQ(Matches(R"(\s+)", "a\xC2\x85" "b\xE3\x80\x80" "c\xE1\xA0\x8E" "d\xEF\xBB\xBF"),
            (std::vector<std::string>{"\xC2\x85", "\xE3\x80\x80"}));
  EXPECT_EQ(Matches(R"(\S+)", "a\xE1\xA0\x8E b"),
            (std::vector<std::string>{"a\xE1\xA0\x8E", "b"}));
  // Inside a class.
  EXPECT_EQ(Matches(R"([^\s\p{L}]+)", "ab\xE1\xA0\x8E!\t?"),
            (std::vector<std::string>{"\xE1\xA0\x8E!", "?"}));
}

TEST(RegexTest, WordIncludesMarksAndNumbers) {
  // e + COMBINING ACUTE, a superscript two (No) and an underscore are all word characters.
  EXPECT_EQ(Matches(R"(\w+)", "e\xCC\x81x\xC2\xB2_y-z"),
            (std::vector<std::string>{"e\xCC\x81x\xC2\xB2_y", "z"}));
  EXPECT_EQ(Matches(R"(\W+)", "a-+b"), (std::vector<std::string>{"-+"}));
}

TEST(RegexTest, EscapesAndLiteralsAreKept) {
  EXPECT_EQ(Matches(R"(\\s)", "x\\sy"), (std::vector<std::string>{"\\s"}));
  EXPECT_EQ(Matches(R"(\Q\s\E)", "a\\s b"), (std::vector<std::string>{"\\s"}));
  EXPECT_EQ(Matches(R"([]s]+)", "a]s]b"), (std::vector<std::string>{"]s]"}));
  EXPECT_EQ(Matches(R"([[:digit:]\s]+)", "a1 2b"), (std::vector<std::string>{"1 2"}));
}

// Characters first assigned in Unicode 15.0, which PCRE2 10.42 (Unicode 14) takes as Cn.
constexpr std::string_view kPinkHeart = "\xF0\x9F\xA9\xB7";      // U+1FA77, So
constexpr std::string_view kShakingFace = "\xF0\x9F\xAB\xA8";    // U+1FAE8, So
constexpr std::string_view kCjkExtH = "\xF0\xB1\x8D\x90";        // U+31350, Lo
constexpr std::string_view kLatinDHook = "\xF0\x9D\xBC\xA5";     // U+1DF25, Ll

std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out.append(part);
  return out;
}

TEST(RegexTest, CategoriesKnowUnicode15) {
  const std::string text = Cat({"a", kPinkHeart, kShakingFace, "b"});
  EXPECT_EQ(Matches(R"(\p{So}+)", text), (std::vector<std::string>{Cat({kPinkHeart, kShakingFace})}));
  EXPECT_EQ(Matches(R"(\p{S}+)", text), (std::vector<std::string>{Cat({kPinkHeart, kShakingFace})}));
  EXPECT_TRUE(Matches(R"(\p{Cn})", text).empty());
  EXPECT_EQ(Matches(R"(\P{So}+)", text), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Matches(R"(\p{L}+)", Cat({"x", kCjkExtH, kLatinDHook, "!"})),
            (std::vector<std::string>{Cat({"x", kCjkExtH, kLatinDHook})}));
  EXPECT_EQ(Matches(R"(\p{Ll})", Cat({kCjkExtH, kLatinDHook})),
            (std::vector<std::string>{std::string(kLatinDHook)}));
  EXPECT_EQ(Matches(R"(\p{Lo})", Cat({kCjkExtH, kLatinDHook})),
            (std::vector<std::string>{std::string(kCjkExtH)}));
  // Unassigned (a noncharacter) stays Cn.
  EXPECT_EQ(Matches(R"(\p{Cn}+)", "a\xEF\xB7\x90" "b"), (std::vector<std::string>{"\xEF\xB7\x90"}));
}

// Every code point (surrogates aside) in one text, one character each.
std::string AllCodePoints() {
  std::string text;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp == 0xD800) cp = 0xE000;
    AppendCodePoint(cp, text);
  }
  return text;
}

// The code points that `pattern` (one character per match) matches in AllCodePoints().
CodePointRanges MatchedCodePoints(std::string_view pattern, const std::string& text) {
  absl::StatusOr<Regex> regex = Regex::Compile(pattern, Regex::Syntax::kPattern);
  EXPECT_TRUE(regex.ok()) << regex.status();
  std::vector<ByteSpan> spans;
  if (regex.ok()) regex->FindAll(text, spans);
  CodePointRanges singles;
  for (const ByteSpan& span : spans) {
    size_t pos = span.first;
    const char32_t cp = NextCodePoint(text, pos);
    singles.emplace_back(cp, cp);
  }
  return UnionRanges({}, singles);
}

TEST(RegexTest, CategoriesAgreeWithUtf8procEverywhere) {
  // The whole code space, standalone, spliced and negated, against utf8proc's tables.
  const std::string text = AllCodePoints();
  for (std::string_view name : {"L", "So", "P", "Cn"}) {
    SCOPED_TRACE(name);
    const CodePointRanges expected = CategoryRanges(GeneralCategoryMask(name));
    const std::string n(name);
    EXPECT_EQ(MatchedCodePoints("\\p{" + n + "}", text), expected);
    EXPECT_EQ(MatchedCodePoints("[\\p{" + n + "}]", text), expected);
    EXPECT_EQ(MatchedCodePoints("[^\\P{" + n + "}]", text), expected);
    EXPECT_EQ(MatchedCodePoints("\\P{" + n + "}", text), ComplementRanges(expected));
    EXPECT_EQ(MatchedCodePoints("[\\P{" + n + "}]", text), ComplementRanges(expected));
  }
  const CodePointRanges letters_numbers =
      CategoryRanges(GeneralCategoryMask("L") | GeneralCategoryMask("N"));
  EXPECT_EQ(MatchedCodePoints(R"([^\p{L}\p{N}])", text), ComplementRanges(letters_numbers));
}

TEST(RegexTest, CategoryNameForms) {
  const std::string text = Cat({"1a", kCjkExtH, "-", kPinkHeart});
  const std::vector<std::string> letters = {Cat({"a", kCjkExtH})};
  EXPECT_EQ(Matches(R"(\pL+)", text), letters);
  EXPECT_EQ(Matches(R"(\p{Letter}+)", text), letters);
  EXPECT_EQ(Matches(R"(\p{ letter }+)", text), letters);
  EXPECT_EQ(Matches(R"(\p{other_Symbol})", text), (std::vector<std::string>{std::string(kPinkHeart)}));
  EXPECT_EQ(Matches(R"(\p{^L}+)", text), (std::vector<std::string>{"1", Cat({"-", kPinkHeart})}));
  EXPECT_EQ(Matches(R"(\P{^L}+)", text), letters);
  // Scripts are not categories and stay with PCRE2.
  EXPECT_EQ(Matches(R"(\p{Greek}+)", "a\xCE\xB1\xCE\xB2" "b"), (std::vector<std::string>{"\xCE\xB1\xCE\xB2"}));
}

TEST(RegexTest, CategoriesSplicedIntoClasses) {
  // DeepSeek V3's shape: letters and symbols of Unicode 15 inside classes.
  const std::string text = Cat({"ab ", kPinkHeart, "!? 12", kCjkExtH});
  EXPECT_EQ(Matches(R"([^\s\p{L}\p{N}]+)", text), (std::vector<std::string>{Cat({kPinkHeart, "!?"})}));
  EXPECT_EQ(Matches(R"([\p{P}\p{S}]+)", text), (std::vector<std::string>{Cat({kPinkHeart, "!?"})}));
  EXPECT_EQ(Matches(R"([\p{L}\d]+)", text), (std::vector<std::string>{"ab", Cat({"12", kCjkExtH})}));
  // Literal members and ranges around the spliced ranges keep their meaning.
  EXPECT_EQ(Matches(R"([-\p{N}x-z]+)", "a-1yb9"), (std::vector<std::string>{"-1y", "9"}));
  EXPECT_EQ(Matches(R"([\p{N}-]+)", "a-1b"), (std::vector<std::string>{"-1"}));
}

TEST(RegexTest, NegatedCategoriesInsideClasses) {
  // \P{..} inside a class is the complement, merged with the other members.
  EXPECT_EQ(Matches(R"([\P{L}]+)", Cat({"ab1 ", kPinkHeart, "c"})),
            (std::vector<std::string>{Cat({"1 ", kPinkHeart})}));
  EXPECT_EQ(Matches(R"([x\P{L}]+)", "abx1!cd"), (std::vector<std::string>{"x1!"}));
  EXPECT_EQ(Matches(R"([a\P{So}]+)", Cat({"b", kPinkHeart, "a"})), (std::vector<std::string>{"b", "a"}));
  // A negated class of a negated category is the category itself.
  EXPECT_EQ(Matches(R"([^\P{So}]+)", Cat({"b", kPinkHeart, "a"})),
            (std::vector<std::string>{std::string(kPinkHeart)}));
  // \S and \W inside a class now have Oniguruma's meaning too (U+180E is not a space).
  EXPECT_EQ(Matches(R"([\S]+)", "a\xE1\xA0\x8E b"), (std::vector<std::string>{"a\xE1\xA0\x8E", "b"}));
  EXPECT_EQ(Matches(R"([\W\d]+)", "ab-1e\xCC\x81+"), (std::vector<std::string>{"-1", "+"}));
}

TEST(RegexTest, CaselessGroupsKeepCaseSensitiveCategories) {
  // PCRE2 never case-folds \p{Lu}; explicit ranges under (?i) would be.
  EXPECT_EQ(Matches(R"((?i:\p{Lu})+)", "abCDe"), (std::vector<std::string>{"CD"}));
  EXPECT_EQ(Matches(R"((?i)x\p{Lu})", "xAxa"), (std::vector<std::string>{"xA"}));
  // The caseless scope ends with its group.
  EXPECT_EQ(Matches(R"((?:(?i)x)\p{Lu})", "XAXa"), (std::vector<std::string>{"XA"}));
  EXPECT_EQ(Matches(R"((?i:'s)|\p{So})", Cat({"'S", kPinkHeart})),
            (std::vector<std::string>{"'S", std::string(kPinkHeart)}));
}

}  // namespace
}  // namespace brisk::tokenizer
