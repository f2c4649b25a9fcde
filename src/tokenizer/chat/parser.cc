// Recursive-descent parser for templates; see parser.h.
#include "tokenizer/chat/parser.h"

#include <cstdlib>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace brisk::tokenizer::jinja {
namespace {

NodePtr MakeNode(NodeKind kind, int line) {
  auto node = std::make_unique<Node>();
  node->kind = kind;
  node->line = line;
  return node;
}

NodePtr MakeBinary(NodeKind kind, std::string op, NodePtr a, NodePtr b, int line) {
  NodePtr node = MakeNode(kind, line);
  node->str = std::move(op);
  node->a = std::move(a);
  node->b = std::move(b);
  return node;
}

enum class ArgsMode { kCall, kParameters };

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<NodeList> ParseProgram() {
    NodeList program;
    while (pos_ < tokens_.size()) {
      BRISK_ASSIGN_OR_RETURN(NodePtr node, ParseAny());
      program.push_back(std::move(node));
    }
    return program;
  }

 private:
  // Counts nesting while alive; Enter() fails past kMaxParseDepth.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& parser, int amount = 1) : parser_(parser), amount_(amount) {
      parser_.depth_ += amount_;
    }
    ~DepthGuard() { parser_.depth_ -= amount_; }
    void Add() {
      ++amount_;
      ++parser_.depth_;
    }

   private:
    Parser& parser_;
    int amount_;
  };
  absl::Status CheckDepth() const {
    if (depth_ > kMaxParseDepth) return Error("template nesting is too deep");
    return absl::OkStatus();
  }

  int Line() const {
    if (tokens_.empty()) return 1;
    return tokens_[pos_ < tokens_.size() ? pos_ : tokens_.size() - 1].line;
  }
  absl::Status Error(const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", Line(), ": ", message));
  }
  bool Is(TokenType type, size_t ahead = 0) const {
    return pos_ + ahead < tokens_.size() && tokens_[pos_ + ahead].type == type;
  }
  bool IsIdentifier(std::string_view name, size_t ahead = 0) const {
    return Is(TokenType::kIdentifier, ahead) && tokens_[pos_ + ahead].value == name;
  }
  bool IsStatement(std::initializer_list<std::string_view> names) const {
    if (!Is(TokenType::kOpenStatement) || !Is(TokenType::kIdentifier, 1)) return false;
    for (std::string_view name : names) {
      if (tokens_[pos_ + 1].value == name) return true;
    }
    return false;
  }
  absl::Status Expect(TokenType type, const std::string& what) {
    if (!Is(type)) {
      const std::string found =
          pos_ < tokens_.size() ? TokenTypeName(tokens_[pos_].type) : "end of template";
      return Error(absl::StrCat("expected ", what, ", found ", found));
    }
    ++pos_;
    return absl::OkStatus();
  }
  absl::Status ExpectStatementEnd(const std::string& name) {
    BRISK_RETURN_IF_ERROR(Expect(TokenType::kOpenStatement, absl::StrCat("{% ", name, " %}")));
    if (!IsIdentifier(name)) return Error(absl::StrCat("expected {% ", name, " %}"));
    ++pos_;
    return Expect(TokenType::kCloseStatement, "'%}'");
  }
  // Parses statements into `out` until one of `names` opens the next statement.
  absl::Status ParseUntil(std::initializer_list<std::string_view> names, NodeList& out) {
    while (!IsStatement(names)) {
      if (pos_ >= tokens_.size()) {
        return Error(absl::StrCat("unexpected end of template, expected {% ", std::string(*names.begin()),
                                  " %}"));
      }
      BRISK_ASSIGN_OR_RETURN(NodePtr node, ParseAny());
      out.push_back(std::move(node));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<NodePtr> ParseAny();
  absl::StatusOr<NodePtr> ParseStatement();
  absl::StatusOr<NodePtr> ParseSet(int line);
  absl::StatusOr<NodePtr> ParseIf(int line);
  absl::StatusOr<NodePtr> ParseFor(int line);
  absl::StatusOr<NodePtr> ParseMacro(int line);
  absl::StatusOr<NodePtr> ParseCallBlock(int line);
  absl::StatusOr<NodePtr> ParseFilterBlock(int line);
  absl::StatusOr<NodePtr> ParseExpressionSequence(bool primary);
  absl::StatusOr<NodePtr> ParseExpression();
  absl::StatusOr<NodePtr> ParseOr();
  absl::StatusOr<NodePtr> ParseAnd();
  absl::StatusOr<NodePtr> ParseNot();
  absl::StatusOr<NodePtr> ParseComparison();
  absl::StatusOr<NodePtr> ParseAdditive();
  absl::StatusOr<NodePtr> ParseMultiplicative();
  absl::StatusOr<NodePtr> ParsePower();
  absl::StatusOr<NodePtr> ParseTest();
  absl::StatusOr<NodePtr> ParseFilter();
  absl::StatusOr<NodePtr> ParseUnarySign();
  absl::StatusOr<NodePtr> ParseCallMember();
  absl::StatusOr<NodePtr> ParseCall(NodePtr callee);
  absl::StatusOr<NodePtr> ParseMember(NodePtr object);
  absl::StatusOr<NodePtr> ParseSubscript();
  absl::StatusOr<NodeList> ParseArgs(ArgsMode mode);
  absl::StatusOr<NodePtr> ParsePrimary();

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

absl::StatusOr<NodePtr> Parser::ParseAny() {
  DepthGuard guard(*this);
  BRISK_RETURN_IF_ERROR(CheckDepth());
  const Token& token = tokens_[pos_];
  switch (token.type) {
    case TokenType::kComment:
      ++pos_;
      return MakeNode(NodeKind::kComment, token.line);
    case TokenType::kText: {
      NodePtr node = MakeNode(NodeKind::kText, token.line);
      node->str = token.value;
      ++pos_;
      return node;
    }
    case TokenType::kOpenStatement:
      return ParseStatement();
    case TokenType::kOpenExpression: {
      ++pos_;
      BRISK_ASSIGN_OR_RETURN(NodePtr node, ParseExpression());
      BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseExpression, "'}}'"));
      return node;
    }
    default:
      return Error(absl::StrCat("unexpected ", TokenTypeName(token.type)));
  }
}

absl::StatusOr<NodePtr> Parser::ParseStatement() {
  const int line = Line();
  ++pos_;  // {%
  if (!Is(TokenType::kIdentifier)) return Error("expected a statement name after '{%'");
  const std::string name = tokens_[pos_++].value;
  if (name == "set") return ParseSet(line);
  if (name == "if") {
    BRISK_ASSIGN_OR_RETURN(NodePtr node, ParseIf(line));
    BRISK_RETURN_IF_ERROR(ExpectStatementEnd("endif"));
    return node;
  }
  if (name == "for") {
    BRISK_ASSIGN_OR_RETURN(NodePtr node, ParseFor(line));
    BRISK_RETURN_IF_ERROR(ExpectStatementEnd("endfor"));
    return node;
  }
  if (name == "macro") {
    BRISK_ASSIGN_OR_RETURN(NodePtr node, ParseMacro(line));
    BRISK_RETURN_IF_ERROR(ExpectStatementEnd("endmacro"));
    return node;
  }
  if (name == "call") return ParseCallBlock(line);
  if (name == "filter") return ParseFilterBlock(line);
  if (name == "break" || name == "continue") {
    BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "'%}'"));
    return MakeNode(name == "break" ? NodeKind::kBreak : NodeKind::kContinue, line);
  }
  --pos_;
  return Error(absl::StrCat("unknown statement '", name, "'"));
}

absl::StatusOr<NodePtr> Parser::ParseSet(int line) {
  NodePtr node = MakeNode(NodeKind::kSet, line);
  BRISK_ASSIGN_OR_RETURN(node->a, ParseExpressionSequence(false));
  if (Is(TokenType::kEquals)) {
    ++pos_;
    BRISK_ASSIGN_OR_RETURN(node->b, ParseExpressionSequence(false));
  } else {
    BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "'=' or '%}'"));
    BRISK_RETURN_IF_ERROR(ParseUntil({"endset"}, node->body));
    pos_ += 2;  // {% endset
  }
  BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "'%}'"));
  return node;
}

absl::StatusOr<NodePtr> Parser::ParseIf(int line) {
  NodePtr node = MakeNode(NodeKind::kIf, line);
  BRISK_ASSIGN_OR_RETURN(node->a, ParseExpression());
  BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "'%}'"));
  BRISK_RETURN_IF_ERROR(ParseUntil({"endif", "elif", "else"}, node->body));
  if (IsStatement({"elif"})) {
    const int elif_line = Line();
    pos_ += 2;
    DepthGuard guard(*this);
    BRISK_RETURN_IF_ERROR(CheckDepth());
    BRISK_ASSIGN_OR_RETURN(NodePtr elif, ParseIf(elif_line));
    node->alternate.push_back(std::move(elif));
  } else if (IsStatement({"else"})) {
    pos_ += 2;
    BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "'%}'"));
    BRISK_RETURN_IF_ERROR(ParseUntil({"endif"}, node->alternate));
  }
  return node;
}

absl::StatusOr<NodePtr> Parser::ParseFor(int line) {
  NodePtr node = MakeNode(NodeKind::kFor, line);
  BRISK_ASSIGN_OR_RETURN(node->a, ParseExpressionSequence(true));
  if (node->a->kind != NodeKind::kIdentifier && node->a->kind != NodeKind::kTuple) {
    return Error("expected a name or a tuple of names as the loop variable");
  }
  if (!IsIdentifier("in")) return Error("expected 'in' after the loop variable");
  ++pos_;
  BRISK_ASSIGN_OR_RETURN(node->b, ParseExpression());
  BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "'%}'"));
  BRISK_RETURN_IF_ERROR(ParseUntil({"endfor", "else"}, node->body));
  if (IsStatement({"else"})) {
    pos_ += 2;
    BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "'%}'"));
    BRISK_RETURN_IF_ERROR(ParseUntil({"endfor"}, node->alternate));
  }
  return node;
}

absl::StatusOr<NodePtr> Parser::ParseMacro(int line) {
  NodePtr node = MakeNode(NodeKind::kMacro, line);
  if (!Is(TokenType::kIdentifier)) return Error("expected a macro name");
  node->str = tokens_[pos_++].value;
  BRISK_ASSIGN_OR_RETURN(node->items, ParseArgs(ArgsMode::kParameters));
  BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "'%}'"));
  BRISK_RETURN_IF_ERROR(ParseUntil({"endmacro"}, node->body));
  return node;
}

absl::StatusOr<NodePtr> Parser::ParseCallBlock(int line) {
  NodePtr node = MakeNode(NodeKind::kCallBlock, line);
  if (Is(TokenType::kOpenParen)) {
    BRISK_ASSIGN_OR_RETURN(node->items, ParseArgs(ArgsMode::kParameters));
  }
  if (!Is(TokenType::kIdentifier)) return Error("expected a macro name after 'call'");
  NodePtr callee = MakeNode(NodeKind::kIdentifier, Line());
  callee->str = tokens_[pos_++].value;
  node->a = MakeNode(NodeKind::kCall, callee->line);
  node->a->a = std::move(callee);
  BRISK_ASSIGN_OR_RETURN(node->a->items, ParseArgs(ArgsMode::kCall));
  BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "'%}'"));
  BRISK_RETURN_IF_ERROR(ParseUntil({"endcall"}, node->body));
  BRISK_RETURN_IF_ERROR(ExpectStatementEnd("endcall"));
  return node;
}

absl::StatusOr<NodePtr> Parser::ParseFilterBlock(int line) {
  NodePtr node = MakeNode(NodeKind::kFilterBlock, line);
  if (!Is(TokenType::kIdentifier)) return Error("expected a filter name");
  NodePtr filter = MakeNode(NodeKind::kIdentifier, Line());
  filter->str = tokens_[pos_++].value;
  if (Is(TokenType::kOpenParen)) {
    NodePtr call = MakeNode(NodeKind::kCall, filter->line);
    call->a = std::move(filter);
    BRISK_ASSIGN_OR_RETURN(call->items, ParseArgs(ArgsMode::kCall));
    filter = std::move(call);
  }
  node->a = std::move(filter);
  BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "'%}'"));
  BRISK_RETURN_IF_ERROR(ParseUntil({"endfilter"}, node->body));
  BRISK_RETURN_IF_ERROR(ExpectStatementEnd("endfilter"));
  return node;
}

absl::StatusOr<NodePtr> Parser::ParseExpressionSequence(bool primary) {
  const int line = Line();
  BRISK_ASSIGN_OR_RETURN(NodePtr first, primary ? ParsePrimary() : ParseExpression());
  if (!Is(TokenType::kComma)) return first;
  NodePtr tuple = MakeNode(NodeKind::kTuple, line);
  tuple->items.push_back(std::move(first));
  while (Is(TokenType::kComma)) {
    ++pos_;
    BRISK_ASSIGN_OR_RETURN(NodePtr next, primary ? ParsePrimary() : ParseExpression());
    tuple->items.push_back(std::move(next));
  }
  return tuple;
}

absl::StatusOr<NodePtr> Parser::ParseExpression() {
  DepthGuard guard(*this);
  BRISK_RETURN_IF_ERROR(CheckDepth());
  const int line = Line();
  BRISK_ASSIGN_OR_RETURN(NodePtr value, ParseOr());
  if (!IsIdentifier("if")) return value;
  ++pos_;
  BRISK_ASSIGN_OR_RETURN(NodePtr condition, ParseOr());
  if (!IsIdentifier("else")) return MakeBinary(NodeKind::kSelect, "", std::move(value),
                                               std::move(condition), line);
  ++pos_;
  NodePtr node = MakeNode(NodeKind::kTernary, line);
  node->a = std::move(condition);
  node->b = std::move(value);
  BRISK_ASSIGN_OR_RETURN(node->c, ParseExpression());
  return node;
}

absl::StatusOr<NodePtr> Parser::ParseOr() {
  DepthGuard guard(*this, 0);
  BRISK_ASSIGN_OR_RETURN(NodePtr left, ParseAnd());
  while (IsIdentifier("or")) {
    const int line = Line();
    ++pos_;
    guard.Add();
    BRISK_RETURN_IF_ERROR(CheckDepth());
    BRISK_ASSIGN_OR_RETURN(NodePtr right, ParseAnd());
    left = MakeBinary(NodeKind::kBinary, "or", std::move(left), std::move(right), line);
  }
  return left;
}

absl::StatusOr<NodePtr> Parser::ParseAnd() {
  DepthGuard guard(*this, 0);
  BRISK_ASSIGN_OR_RETURN(NodePtr left, ParseNot());
  while (IsIdentifier("and")) {
    const int line = Line();
    ++pos_;
    guard.Add();
    BRISK_RETURN_IF_ERROR(CheckDepth());
    BRISK_ASSIGN_OR_RETURN(NodePtr right, ParseNot());
    left = MakeBinary(NodeKind::kBinary, "and", std::move(left), std::move(right), line);
  }
  return left;
}

absl::StatusOr<NodePtr> Parser::ParseNot() {
  if (!IsIdentifier("not")) return ParseComparison();
  DepthGuard guard(*this);
  BRISK_RETURN_IF_ERROR(CheckDepth());
  const int line = Line();
  ++pos_;
  NodePtr node = MakeNode(NodeKind::kUnary, line);
  node->str = "not";
  BRISK_ASSIGN_OR_RETURN(node->a, ParseNot());
  return node;
}

absl::StatusOr<NodePtr> Parser::ParseComparison() {
  DepthGuard guard(*this, 0);
  BRISK_ASSIGN_OR_RETURN(NodePtr left, ParseAdditive());
  while (true) {
    const int line = Line();
    std::string op;
    if (IsIdentifier("not") && IsIdentifier("in", 1)) {
      op = "not in";
      pos_ += 2;
    } else if (IsIdentifier("in")) {
      op = "in";
      ++pos_;
    } else if (Is(TokenType::kComparisonOperator)) {
      op = tokens_[pos_++].value;
    } else {
      break;
    }
    guard.Add();
    BRISK_RETURN_IF_ERROR(CheckDepth());
    BRISK_ASSIGN_OR_RETURN(NodePtr right, ParseAdditive());
    left = MakeBinary(NodeKind::kBinary, op, std::move(left), std::move(right), line);
  }
  return left;
}

absl::StatusOr<NodePtr> Parser::ParseAdditive() {
  DepthGuard guard(*this, 0);
  BRISK_ASSIGN_OR_RETURN(NodePtr left, ParseMultiplicative());
  while (Is(TokenType::kAdditiveOperator)) {
    const int line = Line();
    std::string op = tokens_[pos_++].value;
    guard.Add();
    BRISK_RETURN_IF_ERROR(CheckDepth());
    BRISK_ASSIGN_OR_RETURN(NodePtr right, ParseMultiplicative());
    left = MakeBinary(NodeKind::kBinary, std::move(op), std::move(left), std::move(right), line);
  }
  return left;
}

absl::StatusOr<NodePtr> Parser::ParseMultiplicative() {
  DepthGuard guard(*this, 0);
  BRISK_ASSIGN_OR_RETURN(NodePtr left, ParsePower());
  while (Is(TokenType::kMultiplicativeOperator)) {
    const int line = Line();
    std::string op = tokens_[pos_++].value;
    guard.Add();
    BRISK_RETURN_IF_ERROR(CheckDepth());
    BRISK_ASSIGN_OR_RETURN(NodePtr right, ParsePower());
    left = MakeBinary(NodeKind::kBinary, std::move(op), std::move(left), std::move(right), line);
  }
  return left;
}

absl::StatusOr<NodePtr> Parser::ParsePower() {
  DepthGuard guard(*this, 0);
  BRISK_ASSIGN_OR_RETURN(NodePtr left, ParseTest());
  while (Is(TokenType::kExponentiationOperator)) {
    const int line = Line();
    ++pos_;
    guard.Add();
    BRISK_RETURN_IF_ERROR(CheckDepth());
    BRISK_ASSIGN_OR_RETURN(NodePtr right, ParseTest());
    left = MakeBinary(NodeKind::kBinary, "**", std::move(left), std::move(right), line);
  }
  return left;
}

absl::StatusOr<NodePtr> Parser::ParseTest() {
  DepthGuard guard(*this, 0);
  BRISK_ASSIGN_OR_RETURN(NodePtr operand, ParseFilter());
  while (IsIdentifier("is")) {
    const int line = Line();
    ++pos_;
    guard.Add();
    BRISK_RETURN_IF_ERROR(CheckDepth());
    NodePtr node = MakeNode(NodeKind::kTest, line);
    node->flag = IsIdentifier("not");
    if (node->flag) ++pos_;
    if (!Is(TokenType::kIdentifier)) return Error("expected a test name after 'is'");
    node->str = tokens_[pos_++].value;
    if (Is(TokenType::kOpenParen)) {
      BRISK_ASSIGN_OR_RETURN(node->items, ParseArgs(ArgsMode::kCall));
    }
    node->a = std::move(operand);
    operand = std::move(node);
  }
  return operand;
}

absl::StatusOr<NodePtr> Parser::ParseFilter() {
  DepthGuard guard(*this, 0);
  BRISK_ASSIGN_OR_RETURN(NodePtr operand, ParseUnarySign());
  while (Is(TokenType::kPipe)) {
    const int line = Line();
    ++pos_;
    guard.Add();
    BRISK_RETURN_IF_ERROR(CheckDepth());
    if (!Is(TokenType::kIdentifier)) return Error("expected a filter name after '|'");
    NodePtr filter = MakeNode(NodeKind::kIdentifier, Line());
    filter->str = tokens_[pos_++].value;
    if (Is(TokenType::kOpenParen)) {
      BRISK_ASSIGN_OR_RETURN(filter, ParseCall(std::move(filter)));
    }
    operand = MakeBinary(NodeKind::kFilter, "", std::move(operand), std::move(filter), line);
  }
  return operand;
}

absl::StatusOr<NodePtr> Parser::ParseUnarySign() {
  if ((Is(TokenType::kUnaryOperator) || Is(TokenType::kAdditiveOperator)) &&
      (tokens_[pos_].value == "-" || tokens_[pos_].value == "+")) {
    DepthGuard guard(*this);
    BRISK_RETURN_IF_ERROR(CheckDepth());
    NodePtr node = MakeNode(NodeKind::kUnary, Line());
    node->str = tokens_[pos_++].value;
    BRISK_ASSIGN_OR_RETURN(node->a, ParseUnarySign());
    return node;
  }
  return ParseCallMember();
}

absl::StatusOr<NodePtr> Parser::ParseCallMember() {
  BRISK_ASSIGN_OR_RETURN(NodePtr primary, ParsePrimary());
  BRISK_ASSIGN_OR_RETURN(NodePtr member, ParseMember(std::move(primary)));
  if (Is(TokenType::kOpenParen)) return ParseCall(std::move(member));
  return member;
}

absl::StatusOr<NodePtr> Parser::ParseCall(NodePtr callee) {
  DepthGuard guard(*this, 0);
  NodePtr expression = std::move(callee);
  while (Is(TokenType::kOpenParen)) {
    guard.Add();
    BRISK_RETURN_IF_ERROR(CheckDepth());
    NodePtr call = MakeNode(NodeKind::kCall, expression->line);
    call->a = std::move(expression);
    BRISK_ASSIGN_OR_RETURN(call->items, ParseArgs(ArgsMode::kCall));
    BRISK_ASSIGN_OR_RETURN(expression, ParseMember(std::move(call)));
  }
  return expression;
}

absl::StatusOr<NodePtr> Parser::ParseMember(NodePtr object) {
  DepthGuard guard(*this, 0);
  while (Is(TokenType::kDot) || Is(TokenType::kOpenSquareBracket)) {
    const bool computed = Is(TokenType::kOpenSquareBracket);
    const int line = Line();
    ++pos_;
    guard.Add();
    BRISK_RETURN_IF_ERROR(CheckDepth());
    NodePtr property;
    if (computed) {
      BRISK_ASSIGN_OR_RETURN(property, ParseSubscript());
      BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseSquareBracket, "']'"));
    } else {
      BRISK_ASSIGN_OR_RETURN(property, ParsePrimary());
      if (property->kind != NodeKind::kIdentifier && property->kind != NodeKind::kInteger) {
        return Error("expected a name or an integer after '.'");
      }
    }
    NodePtr member = MakeBinary(NodeKind::kMember, "", std::move(object), std::move(property),
                                line);
    member->flag = computed;
    object = std::move(member);
  }
  return object;
}

// The inside of `[...]`: an index expression or a slice `start:stop:step`.
absl::StatusOr<NodePtr> Parser::ParseSubscript() {
  const int line = Line();
  NodeList parts;
  bool is_slice = false;
  while (!Is(TokenType::kCloseSquareBracket)) {
    if (pos_ >= tokens_.size()) return Error("expected ']'");
    if (Is(TokenType::kColon)) {
      parts.push_back(nullptr);
      ++pos_;
      is_slice = true;
    } else {
      BRISK_ASSIGN_OR_RETURN(NodePtr part, ParseExpression());
      parts.push_back(std::move(part));
      if (Is(TokenType::kColon)) {
        ++pos_;
        is_slice = true;
      }
    }
  }
  if (parts.empty()) return Error("expected an index or a slice inside '[]'");
  if (!is_slice) return std::move(parts[0]);
  if (parts.size() > 3) return Error("a slice takes at most 3 parts");
  NodePtr slice = MakeNode(NodeKind::kSlice, line);
  parts.resize(3);
  slice->a = std::move(parts[0]);
  slice->b = std::move(parts[1]);
  slice->c = std::move(parts[2]);
  return slice;
}

absl::StatusOr<NodeList> Parser::ParseArgs(ArgsMode mode) {
  BRISK_RETURN_IF_ERROR(Expect(TokenType::kOpenParen, "'('"));
  NodeList args;
  std::vector<std::string> names;
  bool saw_keyword = false, saw_spread = false;
  const bool parameters = mode == ArgsMode::kParameters;
  while (!Is(TokenType::kCloseParen)) {
    if (pos_ >= tokens_.size()) return Error("expected ')'");
    const int line = Line();
    const bool keyword_spread = Is(TokenType::kExponentiationOperator);
    const bool spread = Is(TokenType::kMultiplicativeOperator) && tokens_[pos_].value == "*";
    if (parameters && (keyword_spread || spread)) {
      return Error("argument unpacking is not allowed in parameter declarations");
    }
    if (keyword_spread) {
      ++pos_;
      NodePtr node = MakeNode(NodeKind::kKeywordSpread, line);
      BRISK_ASSIGN_OR_RETURN(node->a, ParseExpression());
      args.push_back(std::move(node));
      if (Is(TokenType::kComma)) ++pos_;
      if (!Is(TokenType::kCloseParen)) return Error("'**' must be the final argument");
      break;
    }
    NodePtr arg;
    if (spread) {
      if (saw_spread) return Error("only one '*' argument unpacking is allowed");
      saw_spread = true;
      ++pos_;
      arg = MakeNode(NodeKind::kSpread, line);
      BRISK_ASSIGN_OR_RETURN(arg->a, ParseExpression());
    } else {
      BRISK_ASSIGN_OR_RETURN(arg, ParseExpression());
      if (Is(TokenType::kEquals)) {
        ++pos_;
        if (arg->kind != NodeKind::kIdentifier) {
          return Error(parameters ? "expected a parameter name" : "expected a keyword name");
        }
        NodePtr keyword = MakeNode(NodeKind::kKeywordArg, line);
        keyword->str = arg->str;
        BRISK_ASSIGN_OR_RETURN(keyword->a, ParseExpression());
        arg = std::move(keyword);
      }
      if (parameters) {
        if (arg->kind != NodeKind::kIdentifier && arg->kind != NodeKind::kKeywordArg) {
          return Error("expected a parameter name");
        }
        for (const std::string& name : names) {
          if (name == arg->str) return Error(absl::StrCat("duplicate parameter '", name, "'"));
        }
        names.push_back(arg->str);
      }
      if (arg->kind == NodeKind::kKeywordArg) {
        saw_keyword = true;
      } else if (saw_keyword) {
        return Error(parameters ? "a parameter without default follows one with a default"
                                : "positional argument follows keyword argument");
      } else if (saw_spread) {
        return Error("positional argument follows '*' unpacking");
      }
    }
    args.push_back(std::move(arg));
    if (Is(TokenType::kComma)) ++pos_;
  }
  ++pos_;  // )
  return args;
}

absl::StatusOr<NodePtr> Parser::ParsePrimary() {
  if (pos_ >= tokens_.size()) return Error("unexpected end of template");
  const Token& token = tokens_[pos_++];
  switch (token.type) {
    case TokenType::kNumericLiteral: {
      const bool is_float = token.value.find('.') != std::string::npos;
      NodePtr node = MakeNode(is_float ? NodeKind::kFloat : NodeKind::kInteger, token.line);
      node->number = std::strtod(token.value.c_str(), nullptr);
      return node;
    }
    case TokenType::kStringLiteral: {
      NodePtr node = MakeNode(NodeKind::kString, token.line);
      node->str = token.value;
      while (Is(TokenType::kStringLiteral)) node->str += tokens_[pos_++].value;
      return node;
    }
    case TokenType::kIdentifier: {
      NodePtr node = MakeNode(NodeKind::kIdentifier, token.line);
      node->str = token.value;
      return node;
    }
    case TokenType::kOpenParen: {
      BRISK_ASSIGN_OR_RETURN(NodePtr inner, ParseExpressionSequence(false));
      BRISK_RETURN_IF_ERROR(Expect(TokenType::kCloseParen, "')'"));
      return inner;
    }
    case TokenType::kOpenSquareBracket: {
      NodePtr node = MakeNode(NodeKind::kArray, token.line);
      while (!Is(TokenType::kCloseSquareBracket)) {
        if (pos_ >= tokens_.size()) return Error("expected ']'");
        BRISK_ASSIGN_OR_RETURN(NodePtr item, ParseExpression());
        node->items.push_back(std::move(item));
        if (Is(TokenType::kComma)) ++pos_;
      }
      ++pos_;
      return node;
    }
    case TokenType::kOpenCurlyBracket: {
      NodePtr node = MakeNode(NodeKind::kObject, token.line);
      while (!Is(TokenType::kCloseCurlyBracket)) {
        if (pos_ >= tokens_.size()) return Error("expected '}'");
        BRISK_ASSIGN_OR_RETURN(NodePtr key, ParseExpression());
        BRISK_RETURN_IF_ERROR(Expect(TokenType::kColon, "':' between key and value"));
        BRISK_ASSIGN_OR_RETURN(NodePtr value, ParseExpression());
        node->items.push_back(std::move(key));
        node->items.push_back(std::move(value));
        if (Is(TokenType::kComma)) ++pos_;
      }
      ++pos_;
      return node;
    }
    default:
      --pos_;
      return Error(absl::StrCat("unexpected ", TokenTypeName(token.type)));
  }
}

}  // namespace

absl::StatusOr<NodeList> Parse(std::vector<Token> tokens) {
  return Parser(std::move(tokens)).ParseProgram();
}

}  // namespace brisk::tokenizer::jinja
