// Tests of the JavaScript-compatible text helpers against values JavaScript itself produces
// (Number#toString, parseInt, parseFloat, trim, JSON.stringify, String#length).
#include "tokenizer/chat/js_text.h"

#include <cmath>

#include <gtest/gtest.h>

namespace brisk::tokenizer::jinja {
namespace {

TEST(JsTextTest, NumberToStringFollowsJavaScript) {
  EXPECT_EQ(JsNumberToString(1), "1");
  EXPECT_EQ(JsNumberToString(-42), "-42");
  EXPECT_EQ(JsNumberToString(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(JsNumberToString(2.5), "2.5");
  EXPECT_EQ(JsNumberToString(1e21), "1e+21");
  EXPECT_EQ(JsNumberToString(1e20), "100000000000000000000");
  EXPECT_EQ(JsNumberToString(1.5e-7), "1.5e-7");
  EXPECT_EQ(JsNumberToString(0.000001), "0.000001");
  EXPECT_EQ(JsNumberToString(-0.0), "0");
  EXPECT_EQ(JsNumberToString(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(JsNumberToString(INFINITY), "Infinity");
  EXPECT_EQ(JsNumberToString(-INFINITY), "-Infinity");
  EXPECT_EQ(JsNumberToString(NAN), "NaN");
}

TEST(JsTextTest, ParseIntAndParseFloatTakeTheLongestPrefix) {
  EXPECT_EQ(JsParseInt("  42abc"), 42);
  EXPECT_EQ(JsParseInt("-7.9"), -7);
  EXPECT_EQ(JsParseInt("+3"), 3);
  EXPECT_FALSE(JsParseInt("abc").has_value());
  EXPECT_FALSE(JsParseInt("").has_value());
  EXPECT_EQ(JsParseFloat("3.5e1z"), 35);
  EXPECT_EQ(JsParseFloat(".5"), 0.5);
  EXPECT_EQ(JsParseFloat("1e"), 1);
  EXPECT_EQ(JsParseFloat("-Infinity"), -INFINITY);
  EXPECT_FALSE(JsParseFloat("x1").has_value());
}

TEST(JsTextTest, StringToNumberForLooseEquality) {
  EXPECT_EQ(JsStringToNumber(" 12 "), 12);
  EXPECT_EQ(JsStringToNumber(""), 0);
  EXPECT_EQ(JsStringToNumber("0x1f"), 31);
  EXPECT_TRUE(std::isnan(JsStringToNumber("12px")));
}

TEST(JsTextTest, TrimUsesTheJavaScriptWhitespaceSet) {
  // NBSP, ideographic space and BOM are whitespace to JS; NEL (U+0085) is not.
  EXPECT_EQ(TrimJs("\xC2\xA0\xE3\x80\x80 a b\t\n\xEF\xBB\xBF"), "a b");
  EXPECT_EQ(TrimJs("\xC2\x85x"), "\xC2\x85x");
  EXPECT_EQ(TrimJsStart("  x  "), "x  ");
  EXPECT_EQ(TrimJsEnd("  x  "), "  x");
  EXPECT_EQ(TrimJs(" \n "), "");
}

TEST(JsTextTest, LengthsAndIndicesAreInUtf16Units) {
  EXPECT_EQ(Utf16Length("abc"), 3u);
  EXPECT_EQ(Utf16Length("h\xC3\xA9"), 2u);           // é
  EXPECT_EQ(Utf16Length("\xF0\x9F\x98\x80"), 2u);    // 😀 is a surrogate pair
  EXPECT_EQ(Utf16At("h\xC3\xA9", -1), "\xC3\xA9");
  EXPECT_EQ(Utf16At("abc", 3), std::nullopt);
  EXPECT_EQ(Utf16At("\xF0\x9F\x98\x80", 0), "\xEF\xBF\xBD");  // half a pair
}

TEST(JsTextTest, JsonQuoteMatchesJsonStringify) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\t\x01/", false), "\"a\\\"b\\\\c\\n\\t\\u0001/\"");
  EXPECT_EQ(JsonQuote("caf\xC3\xA9 \xF0\x9F\x98\x80", false), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  EXPECT_EQ(JsonQuote("caf\xC3\xA9 \xF0\x9F\x98\x80\x7F", true),
            "\"caf\\u00e9 \\ud83d\\ude00\\u007f\"");
}

TEST(JsTextTest, CaseMappingAndTitle) {
  EXPECT_EQ(JsToUpper("abc \xC3\xA9\xC3\x9F \xD0\xB4"), "ABC \xC3\x89SS \xD0\x94");  // é ß д
  EXPECT_EQ(JsToLower("ABC \xC3\x89 \xCE\xA3"), "abc \xC3\xA9 \xCF\x83");          // É Σ
  EXPECT_EQ(JsTitle("hello wORLD-foo_bar 1st \xC3\xA9t\xC3\xA9"), "Hello WORLD-Foo_bar 1st \xC3\xA9T\xC3\xA9");
  EXPECT_EQ(JsCapitalize("abc DEF"), "Abc DEF");
  EXPECT_EQ(JsCapitalize(""), "");
}

}  // namespace
}  // namespace brisk::tokenizer::jinja
