// Template tokenizer; see lexer.h. The preprocessing passes keep a line number per byte so
// tokens can name the source line after newlines were removed.
#include "tokenizer/chat/lexer.h"

#include <cctype>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "tokenizer/chat/js_text.h"

namespace brisk::tokenizer::jinja {
namespace {

// Preprocessed text with the original line of every byte.
struct Source {
  std::string text;
  std::vector<int> lines;

  void Append(const Source& from, size_t begin, size_t end) {
    text.append(from.text, begin, end - begin);
    lines.insert(lines.end(), from.lines.begin() + begin, from.lines.begin() + end);
  }
};

// True when a JS multiline `^` matches at `pos` (start, or after \n, \r, U+2028, U+2029).
bool AtLineStart(const std::string& s, size_t pos) {
  if (pos == 0) return true;
  const char c = s[pos - 1];
  if (c == '\n' || c == '\r') return true;
  return pos >= 3 && s.compare(pos - 3, 2, "\xE2\x80") == 0 &&
         (c == '\xA8' || c == '\xA9');
}

// `^[ \t]*({[#%-])` with the m flag, replaced by the brace part.
Source LstripBlocks(const Source& in) {
  Source out;
  const std::string& s = in.text;
  size_t copied = 0;
  for (size_t pos = 0; pos < s.size(); ++pos) {
    if (!AtLineStart(s, pos)) continue;
    size_t end = pos;
    while (end < s.size() && (s[end] == ' ' || s[end] == '\t')) ++end;
    if (end > pos && end + 1 < s.size() && s[end] == '{' &&
        (s[end + 1] == '#' || s[end + 1] == '%' || s[end + 1] == '-')) {
      out.Append(in, copied, pos);
      copied = end;
      pos = end;
    }
  }
  out.Append(in, copied, s.size());
  return out;
}

// `([#%-]})\n` replaced by the tag end: the newline after a block tag is dropped.
Source TrimBlocks(const Source& in) {
  Source out;
  const std::string& s = in.text;
  size_t copied = 0;
  for (size_t pos = 0; pos + 2 < s.size(); ++pos) {
    if ((s[pos] == '#' || s[pos] == '%' || s[pos] == '-') && s[pos + 1] == '}' &&
        s[pos + 2] == '\n') {
      out.Append(in, copied, pos + 2);
      copied = pos + 3;
      pos += 2;
    }
  }
  out.Append(in, copied, s.size());
  return out;
}

size_t SkipJsSpace(const std::string& s, size_t pos) {
  while (size_t n = JsSpaceLengthAt(s, pos)) pos += n;
  return pos;
}

// Matches `{%(-?)\s*(?:end)?generation\s*(-?)%}` at `pos`; returns the end or 0.
size_t MatchGenerationTag(const std::string& s, size_t pos, bool& lstrip, bool& rstrip) {
  if (s.compare(pos, 2, "{%") != 0) return 0;
  size_t p = pos + 2;
  lstrip = p < s.size() && s[p] == '-';
  if (lstrip) ++p;
  p = SkipJsSpace(s, p);
  if (s.compare(p, 3, "end") == 0 && s.compare(p + 3, 10, "generation") == 0) p += 3;
  if (s.compare(p, 10, "generation") != 0) return 0;
  p = SkipJsSpace(s, p + 10);
  rstrip = p < s.size() && s[p] == '-';
  if (rstrip) ++p;
  if (s.compare(p, 2, "%}") != 0) return 0;
  return p + 2;
}

Source RemoveGenerationTags(const Source& in) {
  Source out;
  const std::string& s = in.text;
  size_t copied = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t tag = SkipJsSpace(s, pos);
    bool lstrip = false, rstrip = false;
    const size_t tag_end = tag < s.size() ? MatchGenerationTag(s, tag, lstrip, rstrip) : 0;
    if (tag_end == 0) {
      pos = tag > pos ? tag : pos + 1;
      continue;
    }
    const size_t after_end = SkipJsSpace(s, tag_end);
    out.Append(in, copied, lstrip ? pos : tag);
    if (!rstrip) out.Append(in, tag_end, after_end);
    copied = after_end;
    pos = after_end;
  }
  out.Append(in, copied, s.size());
  return out;
}

Source Preprocess(std::string_view source) {
  Source src;
  src.text.assign(source);
  src.lines.resize(source.size());
  int line = 1;
  for (size_t i = 0; i < source.size(); ++i) {
    src.lines[i] = line;
    if (source[i] == '\n') ++line;
  }
  if (!src.text.empty() && src.text.back() == '\n') {
    src.text.pop_back();
    src.lines.pop_back();
  }
  return RemoveGenerationTags(TrimBlocks(LstripBlocks(src)));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWord(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// Longest-first operator table, in the reference's matching order.
constexpr std::pair<std::string_view, TokenType> kOperators[] = {
    {"{%", TokenType::kOpenStatement},
    {"%}", TokenType::kCloseStatement},
    {"{{", TokenType::kOpenExpression},
    {"}}", TokenType::kCloseExpression},
    {"(", TokenType::kOpenParen},
    {")", TokenType::kCloseParen},
    {"{", TokenType::kOpenCurlyBracket},
    {"}", TokenType::kCloseCurlyBracket},
    {"[", TokenType::kOpenSquareBracket},
    {"]", TokenType::kCloseSquareBracket},
    {",", TokenType::kComma},
    {".", TokenType::kDot},
    {":", TokenType::kColon},
    {"|", TokenType::kPipe},
    {"<=", TokenType::kComparisonOperator},
    {">=", TokenType::kComparisonOperator},
    {"==", TokenType::kComparisonOperator},
    {"!=", TokenType::kComparisonOperator},
    {"<", TokenType::kComparisonOperator},
    {">", TokenType::kComparisonOperator},
    {"+", TokenType::kAdditiveOperator},
    {"-", TokenType::kAdditiveOperator},
    {"~", TokenType::kAdditiveOperator},
    {"**", TokenType::kExponentiationOperator},
    {"*", TokenType::kMultiplicativeOperator},
    {"//", TokenType::kMultiplicativeOperator},
    {"/", TokenType::kMultiplicativeOperator},
    {"%", TokenType::kMultiplicativeOperator},
    {"=", TokenType::kEquals},
};

class Lexer {
 public:
  explicit Lexer(Source src) : src_(std::move(src)), s_(src_.text) {}

  absl::StatusOr<std::vector<Token>> Run();

 private:
  int LineAt(size_t pos) const {
    if (src_.lines.empty()) return 1;
    return src_.lines[pos < src_.lines.size() ? pos : src_.lines.size() - 1];
  }
  absl::Status Error(size_t pos, const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", LineAt(pos), ": ", message));
  }
  void Push(TokenType type, std::string value, size_t pos) {
    tokens_.push_back(Token{type, std::move(value), LineAt(pos)});
  }
  bool LastIs(TokenType type) const { return !tokens_.empty() && tokens_.back().type == type; }
  void StripTrailingWhitespace() {
    if (!LastIs(TokenType::kText)) return;
    std::string& text = tokens_.back().value;
    text.resize(TrimJsEnd(text).size());
    if (text.empty()) tokens_.pop_back();
  }
  bool LexText();
  absl::Status LexComment();
  absl::StatusOr<std::string> LexStringBody(char quote);
  void LexNumber(std::string prefix);

  Source src_;
  const std::string& s_;
  size_t pos_ = 0;
  int curly_depth_ = 0;
  std::vector<Token> tokens_;
};

// Consumes text up to the next `{%`, `{{` or `{#`; false when there was none.
bool Lexer::LexText() {
  const size_t start = pos_;
  while (pos_ < s_.size() &&
         !(s_[pos_] == '{' && pos_ + 1 < s_.size() &&
           (s_[pos_ + 1] == '%' || s_[pos_ + 1] == '{' || s_[pos_ + 1] == '#'))) {
    ++pos_;
  }
  if (pos_ == start) return false;
  Push(TokenType::kText, s_.substr(start, pos_ - start), start);
  return true;
}

absl::Status Lexer::LexComment() {
  const size_t start = pos_;
  pos_ += 2;
  const bool strip_before = pos_ < s_.size() && s_[pos_] == '-';
  if (strip_before) ++pos_;
  const size_t end = s_.find("#}", pos_);
  if (end == std::string::npos) return Error(start, "missing end of comment tag '#}'");
  std::string comment = s_.substr(pos_, end - pos_);
  const bool strip_after = !comment.empty() && comment.back() == '-';
  if (strip_after) comment.pop_back();
  if (strip_before) StripTrailingWhitespace();
  Push(TokenType::kComment, std::move(comment), start);
  pos_ = end + 2;
  if (strip_after) pos_ = SkipJsSpace(s_, pos_);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Lexer::LexStringBody(char quote) {
  const size_t start = pos_;
  std::string out;
  while (pos_ < s_.size() && s_[pos_] != quote) {
    if (s_[pos_] != '\\') {
      out.push_back(s_[pos_++]);
      continue;
    }
    if (++pos_ >= s_.size()) break;
    const char escaped = s_[pos_++];
    if (escaped == 'x' || escaped == 'u') {
      const size_t length = escaped == 'x' ? 2 : 4;
      const std::string hex = s_.substr(pos_, length);
      bool valid = hex.size() == length;
      for (char c : hex) valid = valid && std::isxdigit(static_cast<unsigned char>(c));
      if (!valid) return Error(pos_, absl::StrCat("invalid escape sequence \\", std::string(1, escaped), hex));
      AppendUtf8(static_cast<char32_t>(std::strtoul(hex.c_str(), nullptr, 16)), out);
      pos_ += length;
      continue;
    }
    static constexpr std::pair<char, char> kEscapes[] = {
        {'n', '\n'}, {'t', '\t'}, {'r', '\r'}, {'b', '\b'},  {'f', '\f'},
        {'v', '\v'}, {'\'', '\''}, {'"', '"'}, {'\\', '\\'}};
    bool known = false;
    for (const auto& [from, to] : kEscapes) {
      if (escaped == from) {
        out.push_back(to);
        known = true;
      }
    }
    if (!known) {
      return Error(pos_ - 1, absl::StrCat("unexpected escaped character '", std::string(1, escaped), "'"));
    }
  }
  if (pos_ >= s_.size()) return Error(start, "unterminated string literal");
  ++pos_;  // closing quote
  return out;
}

void Lexer::LexNumber(std::string prefix) {
  const size_t start = pos_;
  std::string num = std::move(prefix);
  while (pos_ < s_.size() && IsDigit(s_[pos_])) num.push_back(s_[pos_++]);
  const bool after_dot = LastIs(TokenType::kDot);
  if (!after_dot && pos_ + 1 < s_.size() && s_[pos_] == '.' && IsDigit(s_[pos_ + 1])) {
    num.push_back(s_[pos_++]);
    while (pos_ < s_.size() && IsDigit(s_[pos_])) num.push_back(s_[pos_++]);
  }
  Push(TokenType::kNumericLiteral, std::move(num), start);
}

absl::StatusOr<std::vector<Token>> Lexer::Run() {
  while (pos_ < s_.size()) {
    if (tokens_.empty() || LastIs(TokenType::kCloseStatement) ||
        LastIs(TokenType::kCloseExpression) || LastIs(TokenType::kComment)) {
      if (LexText()) continue;
    }
    if (s_.compare(pos_, 2, "{#") == 0) {
      BRISK_RETURN_IF_ERROR(LexComment());
      continue;
    }
    if (s_.compare(pos_, 3, "{%-") == 0 || s_.compare(pos_, 3, "{{-") == 0) {
      StripTrailingWhitespace();
      const bool statement = s_[pos_ + 1] == '%';
      Push(statement ? TokenType::kOpenStatement : TokenType::kOpenExpression,
           statement ? "{%" : "{{", pos_);
      if (!statement) curly_depth_ = 0;
      pos_ += 3;
      continue;
    }
    pos_ = SkipJsSpace(s_, pos_);
    if (pos_ >= s_.size()) return Error(pos_, "unexpected end of template inside a tag");
    if (s_.compare(pos_, 3, "-%}") == 0 || s_.compare(pos_, 3, "-}}") == 0) {
      const bool statement = s_[pos_ + 1] == '%';
      Push(statement ? TokenType::kCloseStatement : TokenType::kCloseExpression,
           statement ? "%}" : "}}", pos_);
      pos_ = SkipJsSpace(s_, pos_ + 3);
      continue;
    }
    const char c = s_[pos_];
    if (c == '-' || c == '+') {
      if (tokens_.empty() || LastIs(TokenType::kText)) {
        return Error(pos_, absl::StrCat("unexpected character '", std::string(1, c), "'"));
      }
      const TokenType last = tokens_.back().type;
      const bool binary = last == TokenType::kIdentifier || last == TokenType::kNumericLiteral ||
                          last == TokenType::kStringLiteral || last == TokenType::kCloseParen ||
                          last == TokenType::kCloseSquareBracket;
      if (!binary) {
        ++pos_;
        if (pos_ < s_.size() && IsDigit(s_[pos_])) {
          LexNumber(std::string(1, c));
        } else {
          Push(TokenType::kUnaryOperator, std::string(1, c), pos_ - 1);
        }
        continue;
      }
    }
    bool matched = false;
    for (const auto& [text, type] : kOperators) {
      if (text == "}}" && curly_depth_ > 0) continue;
      if (s_.compare(pos_, text.size(), text) != 0) continue;
      Push(type, std::string(text), pos_);
      if (type == TokenType::kOpenExpression) curly_depth_ = 0;
      if (type == TokenType::kOpenCurlyBracket) ++curly_depth_;
      if (type == TokenType::kCloseCurlyBracket) --curly_depth_;
      pos_ += text.size();
      matched = true;
      break;
    }
    if (matched) continue;
    if (c == '\'' || c == '"') {
      const size_t start = pos_++;
      BRISK_ASSIGN_OR_RETURN(std::string body, LexStringBody(c));
      Push(TokenType::kStringLiteral, std::move(body), start);
    } else if (IsDigit(c)) {
      LexNumber("");
    } else if (IsWord(c)) {
      const size_t start = pos_;
      while (pos_ < s_.size() && IsWord(s_[pos_])) ++pos_;
      Push(TokenType::kIdentifier, s_.substr(start, pos_ - start), start);
    } else {
      const std::vector<char32_t> cp = DecodeUtf8(std::string_view(s_).substr(pos_, 4));
      std::string shown;
      AppendUtf8(cp.empty() ? U'?' : cp[0], shown);
      return Error(pos_, absl::StrCat("unexpected character '", shown, "'"));
    }
  }
  return std::move(tokens_);
}

}  // namespace

const char* TokenTypeName(TokenType type) {
  switch (type) {
    case TokenType::kText: return "text";
    case TokenType::kNumericLiteral: return "number";
    case TokenType::kStringLiteral: return "string";
    case TokenType::kIdentifier: return "identifier";
    case TokenType::kEquals: return "'='";
    case TokenType::kOpenParen: return "'('";
    case TokenType::kCloseParen: return "')'";
    case TokenType::kOpenStatement: return "'{%'";
    case TokenType::kCloseStatement: return "'%}'";
    case TokenType::kOpenExpression: return "'{{'";
    case TokenType::kCloseExpression: return "'}}'";
    case TokenType::kOpenSquareBracket: return "'['";
    case TokenType::kCloseSquareBracket: return "']'";
    case TokenType::kOpenCurlyBracket: return "'{'";
    case TokenType::kCloseCurlyBracket: return "'}'";
    case TokenType::kComma: return "','";
    case TokenType::kDot: return "'.'";
    case TokenType::kColon: return "':'";
    case TokenType::kPipe: return "'|'";
    case TokenType::kAdditiveOperator: return "additive operator";
    case TokenType::kMultiplicativeOperator: return "multiplicative operator";
    case TokenType::kExponentiationOperator: return "'**'";
    case TokenType::kComparisonOperator: return "comparison operator";
    case TokenType::kUnaryOperator: return "unary operator";
    case TokenType::kComment: return "comment";
  }
  return "token";
}

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view source) {
  return Lexer(Preprocess(source)).Run();
}

}  // namespace brisk::tokenizer::jinja
