// Tests for the general-category range sets and the set operations in unicode.h. Expected
// values are from the Unicode 15.0 character database.
#include "tokenizer/unicode.h"

#include <gtest/gtest.h>

namespace brisk::tokenizer {
namespace {

bool Contains(const CodePointRanges& set, char32_t cp) {
  for (const auto& [first, last] : set) {
    if (cp >= first && cp <= last) return true;
  }
  return false;
}

TEST(UnicodeTest, CategoryRanges) {
  const CategoryMask upper = GeneralCategoryMask("Lu");
  ASSERT_NE(upper, 0u);
  EXPECT_EQ(CategoryRanges(upper).front(), (std::pair<char32_t, char32_t>{'A', 'Z'}));
  EXPECT_EQ(GeneralCategoryMask("uppercase letter"), upper);
  EXPECT_EQ(GeneralCategoryBit('Q'), upper);
  EXPECT_NE(GeneralCategoryMask("L") & upper, 0u);
  EXPECT_EQ(GeneralCategoryMask("N") & upper, 0u);
  EXPECT_TRUE(Contains(CategoryRanges(GeneralCategoryMask("So")), 0x1FA77));  // PINK HEART, 15.0
  EXPECT_TRUE(Contains(CategoryRanges(GeneralCategoryMask("Lo")), 0x31350));  // CJK Extension H
  EXPECT_FALSE(Contains(CategoryRanges(GeneralCategoryMask("Cn")), 0x1FA77));
  EXPECT_TRUE(Contains(CategoryRanges(GeneralCategoryMask("Unassigned")), 0xFDD0));
  EXPECT_TRUE(Contains(CategoryRanges(GeneralCategoryMask("P")), '!'));
  EXPECT_FALSE(Contains(CategoryRanges(GeneralCategoryMask("P")), '+'));  // Sm
  EXPECT_FALSE(Contains(CategoryRanges(GeneralCategoryMask("C")), 0xD800));  // never surrogates
  EXPECT_EQ(GeneralCategoryMask("Greek"), 0u);
  // Ranges are sorted, disjoint and non-adjacent.
  const CodePointRanges letters = CategoryRanges(GeneralCategoryMask("L"));
  for (size_t i = 1; i < letters.size(); ++i) {
    EXPECT_GT(letters[i].first, letters[i - 1].second + 1);
  }
}

TEST(UnicodeTest, UnionAndComplement) {
  EXPECT_EQ(UnionRanges({{1, 3}, {10, 12}}, {{4, 5}, {11, 20}}),
            (CodePointRanges{{1, 5}, {10, 20}}));
  EXPECT_EQ(ComplementRanges({{0, 9}, {0xE000, 0x10FFFF}}),
            (CodePointRanges{{10, 0xD7FF}}));
  EXPECT_EQ(ComplementRanges({{'b', 'c'}}),
            (CodePointRanges{{0, 'a'}, {'d', 0xD7FF}, {0xE000, 0x10FFFF}}));
}

}  // namespace
}  // namespace brisk::tokenizer
