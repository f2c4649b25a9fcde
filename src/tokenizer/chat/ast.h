// The syntax tree of a parsed template. One node type with a kind tag keeps the tree small;
// the table below says which fields each kind uses (unused fields stay empty).
//
//   kind            fields
//   kText           str: the literal text
//   kComment        (none)
//   kIf             a: test, body, alternate (an elif is a single kIf in alternate)
//   kFor            a: loop target (kIdentifier or kTupleLiteral), b: iterable (may be a
//                   kSelect for `for x in xs if cond`), body, alternate: the else block
//   kSet            a: target, b: value or null for a block set, body: block set content
//   kMacro          str: name, items: parameters (kIdentifier or kKeywordArg), body
//   kCallBlock      a: the kCall, items: caller parameters, body
//   kFilterBlock    a: filter (kIdentifier or kCall), body
//   kBreak, kContinue
//   kInteger, kFloat  number
//   kString         str
//   kIdentifier     str
//   kArray, kTuple  items
//   kObject         items: key, value, key, value, ...
//   kMember         a: object, b: property, flag: computed (`[...]`)
//   kSlice          a: start, b: stop, c: step (each may be null)
//   kCall           a: callee, items: arguments
//   kKeywordArg     str: name, a: value
//   kSpread, kKeywordSpread   a: the unpacked expression (`*x`, `**x`)
//   kUnary          str: operator ("not", "-", "+"), a: operand
//   kBinary         str: operator, a: left, b: right
//   kFilter         a: operand, b: filter (kIdentifier or kCall)
//   kTest           a: operand, str: test name, flag: negated, items: arguments
//   kSelect         a: value, b: condition (`x if cond` without else)
//   kTernary        a: condition, b: if true, c: if false
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace brisk::tokenizer::jinja {

enum class NodeKind {
  kText, kComment, kIf, kFor, kSet, kMacro, kCallBlock, kFilterBlock, kBreak, kContinue,
  kInteger, kFloat, kString, kIdentifier, kArray, kTuple, kObject, kMember, kSlice, kCall,
  kKeywordArg, kSpread, kKeywordSpread, kUnary, kBinary, kFilter, kTest, kSelect, kTernary,
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

struct Node {
  NodeKind kind;
  int line = 0;  // 1-based source line of the node's first token
  std::string str;
  double number = 0;
  bool flag = false;
  NodePtr a, b, c;
  NodeList items;
  NodeList body;
  NodeList alternate;
};

}  // namespace brisk::tokenizer::jinja
