// JS-compatible text operations; see js_text.h.
#include "tokenizer/chat/js_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace brisk::tokenizer::jinja {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes one code point at text[pos] and advances pos; invalid bytes give U+FFFD (one byte).
char32_t Next(std::string_view text, size_t& pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(pos);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  int len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  }
  if (len == 0 || pos + len > text.size()) {
    ++pos;
    return kReplacement;
  }
  for (int i = 1; i < len; ++i) {
    const unsigned char b = byte(pos + i);
    if ((b & 0xC0) != 0x80) {
      ++pos;
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++pos;
    return kReplacement;
  }
  pos += len;
  return cp;
}

bool IsAsciiWord(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// Simple one-to-one case pairs: the ranges where upper = lower - delta.
struct CaseRange {
  char32_t lower_first, lower_last;
  int delta;  // lower - upper
};
constexpr CaseRange kCaseRanges[] = {
    {U'a', U'z', 32},         {0x00E0, 0x00F6, 32},   {0x00F8, 0x00FE, 32},
    {0x03B1, 0x03C1, 32},     {0x03C3, 0x03CB, 32},   {0x0430, 0x044F, 32},
    {0x0450, 0x045F, 80},     {0xFF41, 0xFF5A, 32},
};

// Latin Extended-A alternates upper/lower case in runs; `upper_parity` is the parity of the
// upper-case member of each pair in the run.
struct PairRun {
  char32_t first, last;
  int upper_parity;
};
constexpr PairRun kPairRuns[] = {
    {0x0100, 0x0137, 0}, {0x0139, 0x0148, 1}, {0x014A, 0x0177, 0}, {0x0179, 0x017E, 1}};

char32_t UpperOf(char32_t cp) {
  for (const CaseRange& r : kCaseRanges) {
    if (cp >= r.lower_first && cp <= r.lower_last) return cp - r.delta;
  }
  for (const PairRun& r : kPairRuns) {
    if (cp >= r.first && cp <= r.last && static_cast<int>(cp & 1) != r.upper_parity) {
      return cp == 0x0131 ? U'I' : cp - 1;
    }
  }
  switch (cp) {
    case 0x00FF: return 0x0178;
    case 0x00B5: return 0x039C;
    case 0x03C2: return 0x03A3;  // final sigma
    case 0x017F: return U'S';
    default: return cp;
  }
}

char32_t LowerOf(char32_t cp) {
  for (const CaseRange& r : kCaseRanges) {
    const char32_t upper_first = r.lower_first - r.delta, upper_last = r.lower_last - r.delta;
    if (cp >= upper_first && cp <= upper_last) return cp + r.delta;
  }
  if (cp == 0x0130) return cp;  // dotted capital I lowers to two code points; left as is
  for (const PairRun& r : kPairRuns) {
    if (cp >= r.first && cp < r.last && static_cast<int>(cp & 1) == r.upper_parity) {
      return cp + 1;
    }
  }
  return cp == 0x0178 ? 0x00FF : cp;
}

// The longest prefix of `text` (after JS whitespace) that is a StrDecimalLiteral, or empty.
std::string_view DecimalPrefix(std::string_view text, bool allow_fraction) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  if (allow_fraction && text.substr(i, 8) == "Infinity") return text.substr(0, i + 8);
  const auto digits = [&](size_t from) {
    size_t j = from;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    return j;
  };
  size_t end = digits(i);
  const bool int_part = end > i;
  if (!allow_fraction) return int_part ? text.substr(0, end) : std::string_view();
  bool frac_part = false;
  if (end < text.size() && text[end] == '.') {
    const size_t frac_end = digits(end + 1);
    frac_part = frac_end > end + 1;
    if (int_part || frac_part) end = frac_end;
  }
  if (!int_part && !frac_part) return {};
  if (end < text.size() && (text[end] == 'e' || text[end] == 'E')) {
    size_t j = end + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    const size_t exp_end = digits(j);
    if (exp_end > j) end = exp_end;
  }
  return text.substr(0, end);
}

double ParseDecimal(std::string_view literal) {
  std::string copy(literal);
  if (copy.find("Infinity") != std::string::npos) {
    return copy[0] == '-' ? -INFINITY : INFINITY;
  }
  return std::strtod(copy.c_str(), nullptr);
}

}  // namespace

std::vector<char32_t> DecodeUtf8(std::string_view text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) out.push_back(Next(text, pos));
  return out;
}

void AppendUtf8(char32_t cp, std::string& out) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = kReplacement;
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

bool IsJsSpace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
    case 0xFEFF:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

size_t JsSpaceLengthAt(std::string_view text, size_t pos) {
  if (pos >= text.size()) return 0;
  size_t next = pos;
  const char32_t cp = Next(text, next);
  return IsJsSpace(cp) ? next - pos : 0;
}

std::string_view TrimJsStart(std::string_view text) {
  size_t pos = 0;
  while (size_t n = JsSpaceLengthAt(text, pos)) pos += n;
  return text.substr(pos);
}

std::string_view TrimJsEnd(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80 &&
           end - start < 4) {
      --start;
    }
    if (JsSpaceLengthAt(text, start) != end - start) break;
    end = start;
  }
  return text.substr(0, end);
}

std::string_view TrimJs(std::string_view text) { return TrimJsEnd(TrimJsStart(text)); }

size_t Utf16Length(std::string_view text) {
  size_t units = 0;
  for (size_t pos = 0; pos < text.size();) units += Next(text, pos) >= 0x10000 ? 2 : 1;
  return units;
}

std::optional<std::string> Utf16At(std::string_view text, long long index) {
  const long long length = static_cast<long long>(Utf16Length(text));
  if (index < 0) index += length;
  if (index < 0 || index >= length) return std::nullopt;
  long long unit = 0;
  for (size_t pos = 0; pos < text.size();) {
    const char32_t cp = Next(text, pos);
    const int width = cp >= 0x10000 ? 2 : 1;
    if (index < unit + width) {
      std::string out;
      AppendUtf8(width == 2 ? kReplacement : cp, out);
      return out;
    }
    unit += width;
  }
  return std::nullopt;
}

std::string JsNumberToString(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (value == 0) return "0";
  std::string out;
  if (value < 0) {
    out.push_back('-');
    value = -value;
  }
  // Shortest round-trip digits from to_chars in scientific form "d.ddde±x".
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value,
                                    std::chars_format::scientific);
  const std::string_view sci(buffer, result.ptr - buffer);
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  const int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;  // position of the decimal point relative to the digits
  if (k <= n && n <= 21) {
    out += digits;
    out.append(n - k, '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, n);
    out.push_back('.');
    out += digits.substr(n);
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(-n, '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out += digits.substr(1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

std::optional<double> JsParseInt(std::string_view text) {
  const std::string_view literal = DecimalPrefix(TrimJsStart(text), /*allow_fraction=*/false);
  if (literal.empty()) return std::nullopt;
  return ParseDecimal(literal);
}

std::optional<double> JsParseFloat(std::string_view text) {
  const std::string_view literal = DecimalPrefix(TrimJsStart(text), /*allow_fraction=*/true);
  if (literal.empty()) return std::nullopt;
  return ParseDecimal(literal);
}

double JsStringToNumber(std::string_view text) {
  text = TrimJs(text);
  if (text.empty()) return 0;
  if (text.size() > 2 && text[0] == '0') {
    const char base_char = static_cast<char>(text[1] | 0x20);
    const int base = base_char == 'x' ? 16 : base_char == 'o' ? 8 : base_char == 'b' ? 2 : 0;
    if (base != 0) {
      double value = 0;
      for (char c : text.substr(2)) {
        const int digit = (c >= '0' && c <= '9')   ? c - '0'
                          : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                                   : 99;
        if (digit >= base) return NAN;
        value = value * base + digit;
      }
      return value;
    }
  }
  const std::string_view literal = DecimalPrefix(text, /*allow_fraction=*/true);
  if (literal.size() != text.size()) return NAN;
  return ParseDecimal(literal);
}

std::string JsonQuote(std::string_view text, bool ensure_ascii) {
  std::string out = "\"";
  for (size_t pos = 0; pos < text.size();) {
    const char32_t cp = Next(text, pos);
    char escape[16];
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (cp < 0x20 || (ensure_ascii && cp >= 0x7F && cp < 0x10000)) {
      std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned>(cp));
      out += escape;
    } else if (ensure_ascii && cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      std::snprintf(escape, sizeof(escape), "\\u%04x\\u%04x",
                    static_cast<unsigned>(0xD800 + (v >> 10)),
                    static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      out += escape;
    } else {
      AppendUtf8(cp, out);
    }
  }
  out.push_back('"');
  return out;
}

std::string JsToUpper(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const char32_t cp = Next(text, pos);
    if (cp == 0x00DF) {
      out += "SS";  // sharp s has no single-character upper case
    } else {
      AppendUtf8(UpperOf(cp), out);
    }
  }
  return out;
}

std::string JsToLower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) AppendUtf8(LowerOf(Next(text, pos)), out);
  return out;
}

std::string JsTitle(std::string_view text) {
  std::string out(text);
  for (size_t i = 0; i < out.size(); ++i) {
    const unsigned char c = out[i];
    if (IsAsciiWord(c) && (i == 0 || !IsAsciiWord(out[i - 1])) && c >= 'a' && c <= 'z') {
      out[i] = static_cast<char>(c - 32);
    }
  }
  return out;
}

std::string JsCapitalize(std::string_view text) {
  if (text.empty()) return std::string();
  size_t pos = 0;
  const char32_t first = Next(text, pos);
  // A code point beyond the BMP is two UTF-16 units; charAt(0) alone has no case.
  std::string out = first >= 0x10000 ? std::string(text.substr(0, pos))
                                     : JsToUpper(text.substr(0, pos));
  out += text.substr(pos);
  return out;
}

}  // namespace brisk::tokenizer::jinja
