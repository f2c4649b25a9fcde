// Builds the syntax tree (ast.h) from tokens with the grammar and operator precedence of
// @huggingface/jinja, lowest first: `a if c else b`, or, and, not, comparisons and `in`,
// `+ - ~`, `* / // %`, `**` (left-associative), `is` tests, `|` filters, unary signs, calls
// and member access. Nesting is bounded so a hostile template cannot exhaust the stack.
#pragma once

#include <vector>

#include "base/status.h"
#include "tokenizer/chat/ast.h"
#include "tokenizer/chat/lexer.h"

namespace brisk::tokenizer::jinja {

// Most nested constructs (blocks, parentheses, operator chains) the parser accepts.
inline constexpr int kMaxParseDepth = 200;

// Parses a token stream into the list of top-level statements. InvalidArgument "line N: ..."
// on a syntax error.
absl::StatusOr<NodeList> Parse(std::vector<Token> tokens);

}  // namespace brisk::tokenizer::jinja
