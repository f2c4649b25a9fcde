// UTF-8 helpers shared by the tokenizer components: stepping over code points, encoding one,
// and the lossy conversion of arbitrary bytes to valid UTF-8. The lossy conversion replaces
// each maximal invalid subpart with one U+FFFD (the Unicode "best practice" that Rust's
// String::from_utf8_lossy follows), so decoded text matches Hugging Face `tokenizers` exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace brisk::tokenizer {

// U+FFFD REPLACEMENT CHARACTER in UTF-8.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// Length in bytes of the valid UTF-8 sequence starting at text[pos], or 0 when the bytes there
// do not start a valid (complete, shortest-form, non-surrogate) sequence.
// REQUIRES: pos < text.size().
size_t ValidSequenceLength(std::string_view text, size_t pos);

// True when every byte of `text` belongs to a valid UTF-8 sequence.
bool IsValidUtf8(std::string_view text);

// Appends `bytes` to `out`, replacing each maximal invalid subpart by U+FFFD.
void AppendUtf8Lossy(std::string_view bytes, std::string& out);

// Decodes the code point starting at text[pos] and advances `pos` past it.
// REQUIRES: `text` is valid UTF-8 and pos < text.size().
char32_t NextCodePoint(std::string_view text, size_t& pos);

// Decodes the last code point of `text`. REQUIRES: `text` is valid UTF-8 and not empty.
char32_t LastCodePoint(std::string_view text);

// Appends the UTF-8 encoding of `cp` (REQUIRES: a Unicode scalar value) to `out`.
void AppendCodePoint(char32_t cp, std::string& out);

// Unicode White_Space property (what Rust's `\s` and char::is_whitespace test).
bool IsUnicodeWhitespace(char32_t cp);

}  // namespace brisk::tokenizer
