// Unicode character properties and transformations that the normalizers and pre-tokenizers
// need, matching what Hugging Face `tokenizers` computes in Rust: general categories, Rust's
// char::is_numeric and char::to_lowercase, and the four normalization forms with alignment.
// Tables come from utf8proc; where its Unicode version differs from the Rust crates', the
// newer assignments win (a difference only for characters added in recent versions).
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace brisk::tokenizer
