// Unicode character properties and transformations that the normalizers and pre-tokenizers
// need, matching what Hugging Face `tokenizers` computes in Rust: general categories, Rust's
// char::is_numeric and char::to_lowercase, and the four normalization forms with alignment.
// Tables come from utf8proc; where its Unicode version differs from the Rust crates', the
// newer assignments win (a difference only for characters added in recent versions).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/components.h"

namespace brisk::tokenizer {

enum class UnicodeForm { kNfc, kNfd, kNfkc, kNfkd };

// Rewrites `text` into the normalization form, keeping the alignment: every output character of
// a run that starts with a character that cannot combine with what precedes it (a "stable
// boundary") takes the origin of that run's first character. Runs without any change keep
// their origins byte for byte.
void NormalizeUnicode(UnicodeForm form, NormalizedText& text);

// Appends Rust's char::to_lowercase(cp): the simple lowercase mapping, except U+0130, which
// becomes "i" + U+0307. No context rule (a final sigma stays σ).
void AppendLowercase(char32_t cp, std::string& out);

// General-category tests (Unicode 15 tables).
bool IsPunctuation(char32_t cp);       // P*
bool IsMarkNonspacing(char32_t cp);    // Mn
bool IsNumeric(char32_t cp);           // Nd, Nl, No (Rust char::is_numeric)
bool IsOtherCategory(char32_t cp);     // Cc, Cf, Co (the `unicode_categories` crate's is_other)

// A set of code points as closed ranges [first, last], sorted, disjoint and non-adjacent.
using CodePointRanges = std::vector<std::pair<char32_t, char32_t>>;

// General categories as bit sets: bit i stands for utf8proc's category number i (0 Cn, 1 Lu,
// 2 Ll, 3 Lt, 4 Lm, 5 Lo, 6 Mn, 7 Mc, 8 Me, 9 Nd, 10 Nl, 11 No, 12 Pc, 13 Pd, 14 Ps, 15 Pe,
// 16 Pi, 17 Pf, 18 Po, 19 Sm, 20 Sc, 21 Sk, 22 So, 23 Zs, 24 Zl, 25 Zp, 26 Cc, 27 Cf, 28 Cs,
// 29 Co), the order of the Unicode standard's table of values.
using CategoryMask = uint32_t;

// The categories that a category or one-letter group name covers, by short name ("Lu", "L",
// "LC") or long name ("Uppercase_Letter", "Letter"); case, spaces, '-' and '_' in `name` are
// ignored. "C" and "Other" are Cc, Cf, Co and Cn. Returns 0 for any other name.
CategoryMask GeneralCategoryMask(std::string_view name);

// The bit of the general category of `cp` (Unicode 15 tables).
CategoryMask GeneralCategoryBit(char32_t cp);

// The code points whose category is in `mask`; surrogates are never members. The
// per-category lists are built once, on the first call. Thread-safe.
CodePointRanges CategoryRanges(CategoryMask mask);

// The union of two sets. Both inputs REQUIRE the CodePointRanges invariants.
CodePointRanges UnionRanges(const CodePointRanges& a, const CodePointRanges& b);

// The Unicode scalar values (U+0000..U+10FFFF without surrogates) that are not in `set`.
CodePointRanges ComplementRanges(const CodePointRanges& set);

}  // namespace brisk::tokenizer
