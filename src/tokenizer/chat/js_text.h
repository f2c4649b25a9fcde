// Text operations with the exact semantics of the JavaScript built-ins that @huggingface/jinja
// (the reference chat-template renderer) relies on: the JS whitespace set used by trim and
// split, UTF-16 lengths and indices, Number-to-string formatting, parseInt/parseFloat,
// JSON.stringify string quoting and the ASCII-only word rules of `\w` and `\b`.
// Strings are UTF-8 throughout; invalid bytes are read as U+FFFD.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brisk::tokenizer::jinja {

// Decodes UTF-8 into code points; each invalid byte becomes U+FFFD.
std::vector<char32_t> DecodeUtf8(std::string_view text);
// Appends the UTF-8 encoding of `cp`; surrogates and values past U+10FFFF become U+FFFD.
void AppendUtf8(char32_t cp, std::string& out);

// The JS WhiteSpace and LineTerminator characters (what `\s` and String.prototype.trim use).
bool IsJsSpace(char32_t cp);
// Length in bytes of the JS whitespace character at text[pos], or 0 when there is none.
size_t JsSpaceLengthAt(std::string_view text, size_t pos);
// Like String.prototype.trimStart / trimEnd / trim.
std::string_view TrimJsStart(std::string_view text);
std::string_view TrimJsEnd(std::string_view text);
std::string_view TrimJs(std::string_view text);

// Number of UTF-16 code units (JS `length`).
size_t Utf16Length(std::string_view text);
// JS `str.at(index)`: the UTF-16 unit at `index` (negative counts from the end) as UTF-8, a
// lone surrogate half becoming U+FFFD; nullopt when out of range.
std::optional<std::string> Utf16At(std::string_view text, long long index);

// JS Number.prototype.toString() (shortest round-trip digits, JS exponent rules).
std::string JsNumberToString(double value);
// JS parseInt(text, 10) and parseFloat(text); nullopt for NaN.
std::optional<double> JsParseInt(std::string_view text);
std::optional<double> JsParseFloat(std::string_view text);
// JS ToNumber(string) as used by loose equality; NaN when not numeric.
double JsStringToNumber(std::string_view text);

// JSON.stringify of a string; with `ensure_ascii` every UTF-16 unit at or above U+007F is
// written as \uXXXX (as @huggingface/jinja's tojson(ensure_ascii=true) does).
std::string JsonQuote(std::string_view text, bool ensure_ascii);

// String.prototype.toUpperCase / toLowerCase. Covers ASCII, Latin-1, Latin Extended-A, Greek,
// Cyrillic and fullwidth Latin; other scripts are left unchanged.
std::string JsToUpper(std::string_view text);
std::string JsToLower(std::string_view text);
// `s.replace(/\b\w/g, upper)`: upper-cases each ASCII word character that starts a word.
std::string JsTitle(std::string_view text);
// `s.charAt(0).toUpperCase() + s.slice(1)`.
std::string JsCapitalize(std::string_view text);

}  // namespace brisk::tokenizer::jinja
