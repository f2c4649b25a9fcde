// Tables of the GPT-2 byte-level alphabet (see byte_level.h), built once on first use.
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace brisk::tokenizer {
namespace {

// The highest code point of the alphabet: 256 + 68 - 1.
constexpr char32_t kMaxAlphabetChar = 0x143;

struct Tables {
  std::array<char32_t, 256> byte_to_char{};
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, kMaxAlphabetChar + 1> char_to_byte{};  // -1: not in the alphabet
};

bool StandsForItself(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

const Tables& GetTables() {
  static const Tables* const tables = [] {
    auto* t = new Tables();
    t->char_to_byte.fill(-1);
    char32_t next_shifted = 0x100;
    for (int byte = 0; byte < 256; ++byte) {
      const char32_t cp = StandsForItself(byte) ? static_cast<char32_t>(byte) : next_shifted++;
      t->byte_to_char[byte] = cp;
      AppendCodePoint(cp, t->byte_to_utf8[byte]);
      t->char_to_byte[cp] = static_cast<int16_t>(byte);
    }
    return t;
  }();
  return *tables;
}

}  // namespace

char32_t ByteToChar(uint8_t byte) { return GetTables().byte_to_char[byte]; }

std::string_view ByteToCharUtf8(uint8_t byte) { return GetTables().byte_to_utf8[byte]; }

std::optional<uint8_t> CharToByte(char32_t cp) {
  if (cp > kMaxAlphabetChar) return std::nullopt;
  const int16_t byte = GetTables().char_to_byte[cp];
  if (byte < 0) return std::nullopt;
  return static_cast<uint8_t>(byte);
}

void AppendByteLevel(std::string_view bytes, std::string& out) {
  const Tables& tables = GetTables();
  out.reserve(out.size() + 2 * bytes.size());
  for (char c : bytes) out.append(tables.byte_to_utf8[static_cast<uint8_t>(c)]);
}

bool AppendBytesFromByteLevel(std::string_view token, std::string& out) {
  const size_t old_size = out.size();
  size_t pos = 0;
  while (pos < token.size()) {
    const std::optional<uint8_t> byte = CharToByte(NextCodePoint(token, pos));
    if (!byte) {
      out.resize(old_size);
      return false;
    }
    out.push_back(static_cast<char>(*byte));
  }
  return true;
}

}  // namespace brisk::tokenizer
