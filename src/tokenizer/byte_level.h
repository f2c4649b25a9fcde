// The GPT-2 byte-level alphabet: a bijection between the 256 byte values and 256 printable
// Unicode characters, so that byte-level BPE vocabularies are plain strings. Printable bytes
// ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves; the other 68 bytes map, in
// increasing byte order, to U+0100, U+0101, ... (so ' ' is U+0120 'Ġ' and '\n' is U+010A 'Ċ').
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace brisk::tokenizer {

// The code point that stands for `byte`.
char32_t ByteToChar(uint8_t byte);

// The UTF-8 encoding of ByteToChar(byte) (1 or 2 bytes).
std::string_view ByteToCharUtf8(uint8_t byte);

// The byte that `cp` stands for, or nullopt when `cp` is not in the alphabet.
std::optional<uint8_t> CharToByte(char32_t cp);

// Appends the alphabet form of every byte of `bytes` to `out`.
void AppendByteLevel(std::string_view bytes, std::string& out);

// Maps the characters of `token` back to bytes and appends them to `out`. Returns false (and
// appends nothing) when some character of `token` is outside the alphabet.
// REQUIRES: `token` is valid UTF-8.
bool AppendBytesFromByteLevel(std::string_view token, std::string& out);

}  // namespace brisk::tokenizer
