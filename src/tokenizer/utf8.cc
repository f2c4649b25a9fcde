// UTF-8 validation, stepping and lossy conversion (see utf8.h).
#include "tokenizer/utf8.h"

#include "base/check.h"

namespace brisk::tokenizer {
namespace {

bool IsContinuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

// Number of bytes of the longest prefix of the sequence at text[pos] that could still start a
// valid sequence (at least 1). Used to size the piece that one U+FFFD replaces.
size_t MaximalInvalidSubpart(std::string_view text, size_t pos) {
  const auto lead = static_cast<uint8_t>(text[pos]);
  size_t need = 0;
  uint8_t lo = 0x80;  // allowed range of the second byte
  uint8_t hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lo = 0xA0;  // no overlong forms
    if (lead == 0xED) hi = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lo = 0x90;  // no overlong forms
    if (lead == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 1;
  }
  size_t len = 1;
  for (size_t k = 1; k <= need; ++k) {
    if (pos + k >= text.size()) return len;
    const auto byte = static_cast<uint8_t>(text[pos + k]);
    const bool ok = k == 1 ? (byte >= lo && byte <= hi) : IsContinuation(byte);
    if (!ok) return len;
    ++len;
  }
  return len;  // only reached for a valid sequence, which callers handle before
}

}  // namespace

size_t ValidSequenceLength(std::string_view text, size_t pos) {
  const auto lead = static_cast<uint8_t>(text[pos]);
  if (lead < 0x80) return 1;
  size_t need = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
  } else {
    return 0;
  }
  return MaximalInvalidSubpart(text, pos) == need + 1 ? need + 1 : 0;
}

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t len = ValidSequenceLength(text, pos);
    if (len == 0) return false;
    pos += len;
  }
  return true;
}

void AppendUtf8Lossy(std::string_view bytes, std::string& out) {
  out.reserve(out.size() + bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t len = ValidSequenceLength(bytes, pos);
    if (len > 0) {
      out.append(bytes.substr(pos, len));
      pos += len;
    } else {
      out.append(kReplacementChar);
      pos += MaximalInvalidSubpart(bytes, pos);
    }
  }
}

char32_t NextCodePoint(std::string_view text, size_t& pos) {
  BRISK_CHECK_LT(pos, text.size());
  const auto lead = static_cast<uint8_t>(text[pos]);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  BRISK_CHECK_LE(pos + len, text.size()) << "truncated UTF-8";
  char32_t cp = lead & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(text[pos + k]) & 0x3F);
  pos += len;
  return cp;
}

char32_t LastCodePoint(std::string_view text) {
  BRISK_CHECK(!text.empty());
  size_t start = text.size() - 1;
  while (start > 0 && IsContinuation(static_cast<uint8_t>(text[start]))) --start;
  return NextCodePoint(text, start);
}

void AppendCodePoint(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsUnicodeWhitespace(char32_t cp) {
  // The White_Space property list of Unicode's PropList.txt (stable since Unicode 6.3).
  if (cp >= 0x09 && cp <= 0x0D) return true;
  if (cp >= 0x2000 && cp <= 0x200A) return true;
  switch (cp) {
    case 0x20: case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F:
    case 0x205F: case 0x3000:
      return true;
    default:
      return false;
  }
}

}  // namespace brisk::tokenizer
