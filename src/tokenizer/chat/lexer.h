// Splits a chat template into tokens the way @huggingface/jinja does, after the same
// preprocessing: one trailing newline dropped, lstrip_blocks and trim_blocks applied to the raw
// text (Hugging Face renders chat templates with both on), and the transformers-only
// `{% generation %}` / `{% endgeneration %}` tags removed with their whitespace control.
// Every token carries the 1-based line of the original source where it starts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace brisk::tokenizer::jinja {

enum class TokenType {
  kText,
  kNumericLiteral,
  kStringLiteral,
  kIdentifier,
  kEquals,
  kOpenParen,
  kCloseParen,
  kOpenStatement,
  kCloseStatement,
  kOpenExpression,
  kCloseExpression,
  kOpenSquareBracket,
  kCloseSquareBracket,
  kOpenCurlyBracket,
  kCloseCurlyBracket,
  kComma,
  kDot,
  kColon,
  kPipe,
  kAdditiveOperator,        // + - ~
  kMultiplicativeOperator,  // * / // %
  kExponentiationOperator,  // **
  kComparisonOperator,      // < > <= >= == !=
  kUnaryOperator,           // a sign not followed by digits
  kComment,
};

struct Token {
  TokenType type;
  std::string value;  // unescaped for string literals; the sign is kept on numeric literals
  int line;
};

// Human-readable token type for error messages.
const char* TokenTypeName(TokenType type);

// Tokenizes `source`. InvalidArgument "line N: ..." on an unterminated string, comment or tag,
// a bad escape, or a character that cannot start a token.
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view source);

}  // namespace brisk::tokenizer::jinja
