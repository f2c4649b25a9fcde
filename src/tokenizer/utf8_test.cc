// Tests for the UTF-8 helpers: validity and the maximal-subpart lossy conversion.
#include "tokenizer/utf8.h"

#include <gtest/gtest.h>

namespace brisk::tokenizer {
namespace {

constexpr std::string_view kFffd = "\xEF\xBF\xBD";

std::string Lossy(std::string_view bytes) {
  std::string out;
  AppendUtf8Lossy(bytes, out);
  return out;
}

TEST(Utf8Test, ValidityFollowsTheUtf8Definition) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_FALSE(IsValidUtf8("\x80"));                               // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));                           // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));                       // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));                   // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xF0\x9F\x98"));                       // truncated emoji
}

TEST(Utf8Test, LossyReplacesEachMaximalInvalidSubpartOnce) {
  EXPECT_EQ(Lossy("a\xC3\xA9z"), "a\xC3\xA9z");
  // A truncated 4-byte sequence is one maximal subpart: one U+FFFD.
  EXPECT_EQ(Lossy("\xF0\x9F\x98"), std::string(kFffd));
  EXPECT_EQ(Lossy("x\xF0\x9F\x98y"), "x" + std::string(kFffd) + "y");
  // E0 needs A0..BF next, so E0 80 is two separate errors.
  EXPECT_EQ(Lossy("\xE0\x80"), std::string(kFffd) + std::string(kFffd));
  // Each stray continuation byte is its own error.
  EXPECT_EQ(Lossy("\x80\x80"), std::string(kFffd) + std::string(kFffd));
  // A valid lead cut short by a valid ASCII byte: the lead alone is replaced.
  EXPECT_EQ(Lossy("\xE2\x82" "A"), std::string(kFffd) + "A");
}

TEST(Utf8Test, CodePointsRoundTrip) {
  for (char32_t cp : {U'A', U'\u00E9', U'\u20AC', U'\U0001F600', U'\U0010FFFF'}) {
    std::string utf8;
    AppendCodePoint(cp, utf8);
    size_t pos = 0;
    EXPECT_EQ(NextCodePoint(utf8, pos), cp);
    EXPECT_EQ(pos, utf8.size());
    EXPECT_EQ(LastCodePoint("ab" + utf8), cp);
  }
}

TEST(Utf8Test, WhiteSpaceProperty) {
  for (char32_t cp : {U'\t', U'\n', U'\r', U' ', U'\u0085', U'\u00A0', U'\u2003', U'\u3000'}) {
    EXPECT_TRUE(IsUnicodeWhitespace(cp)) << static_cast<uint32_t>(cp);
  }
  for (char32_t cp : {U'a', U'\u200B', U'\u180E', U'\u001C', U'_'}) {
    EXPECT_FALSE(IsUnicodeWhitespace(cp)) << static_cast<uint32_t>(cp);
  }
}

}  // namespace
}  // namespace brisk::tokenizer
