// Tree-walking evaluation of a parsed template, with the scoping of @huggingface/jinja: a `for`
// loop gets its own scope (assignments inside it do not leak out), `if` does not, and a macro
// body runs in a child of its caller's scope. Every error carries the line of the innermost
// node that failed ("line N: ..."). Work is bounded: recursion depth, evaluation steps, string
// sizes and list lengths all have limits, so no template can hang or exhaust the stack.
//
// An Interpreter is single-use and single-threaded; the syntax tree it reads is shared and
// never modified, so many renders of one template may run at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tokenizer/chat/ast.h"
#include "tokenizer/chat/value.h"

namespace brisk::tokenizer::jinja {

// A variable scope.
struct Env {
  explicit Env(std::shared_ptr<Env> parent_env = nullptr) : parent(std::move(parent_env)) {}

  // The value of `name` here or in an enclosing scope; undefined when unknown.
  Value Lookup(const std::string& name) const;
  void Set(const std::string& name, Value value) { vars[name] = std::move(value); }

  std::shared_ptr<Env> parent;
  std::unordered_map<std::string, Value> vars;
};
using EnvPtr = std::shared_ptr<Env>;

// Limits that keep a hostile or buggy template from hanging or crashing the process.
inline constexpr int kMaxEvalDepth = 400;               // nested evaluations (stack safety)
inline constexpr size_t kStepsPerIteration = 8;         // a loop iteration builds `loop`
inline constexpr size_t kMaxStringBytes = 32u << 20;    // any string, the output included
inline constexpr size_t kMaxListLength = 1'000'000;     // any list (range, concatenation)
inline constexpr size_t kBytesPerStep = 256;            // string bytes that cost one step

// Prefixes "line N: " to an error that has no line yet (and marks it as having one).
absl::Status AtLine(absl::Status status, int line);

class Interpreter {
 public:
  // `now_seconds`: the clock strftime_now reads (seconds since the epoch, UTC); the system
  // clock in local time when empty.
  // `max_steps`: the work budget (see Charge).
  Interpreter(std::optional<double> now_seconds, long long max_steps)
      : now_seconds_(now_seconds), max_steps_(max_steps) {}
  // Empties every container the template mutated, which breaks any reference cycle it built
  // (`{% set ns.self = ns %}`), so nothing leaks. Only immutable results escape a render.
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `program` with `globals` as the outermost scope.
  absl::StatusOr<std::string> Run(const NodeList& program, const EnvPtr& globals);

  std::optional<double> now_seconds() const { return now_seconds_; }

 private:
  enum class Jump { kNone, kBreak, kContinue };
  struct Arguments {
    ValueList positional;
    ObjectMap keywords;
  };

  // Statements append their output to `out`.
  absl::Status ExecBlock(const NodeList& block, const EnvPtr& env, std::string& out);
  absl::Status Exec(const Node& node, const EnvPtr& env, std::string& out);
  absl::Status ExecFor(const Node& node, const EnvPtr& env, std::string& out);
  absl::Status ExecSet(const Node& node, const EnvPtr& env);
  absl::Status ExecMacro(const Node& node, const EnvPtr& env);
  absl::StatusOr<Value> ExecCallBlock(const Node& node, const EnvPtr& env);
  absl::Status BindMacroArguments(const Node& macro, const std::string& display_name,
                                  ValueList args, const EnvPtr& scope);
  absl::Status AppendOutput(const Value& value, std::string& out);

  absl::StatusOr<Value> Eval(const Node& node, const EnvPtr& env);
  absl::StatusOr<Value> EvalNode(const Node& node, const EnvPtr& env);
  absl::StatusOr<Value> EvalBinary(const Node& node, const EnvPtr& env);
  absl::StatusOr<Value> EvalUnary(const Node& node, const EnvPtr& env);
  absl::StatusOr<Value> EvalMember(const Node& node, const EnvPtr& env);
  absl::StatusOr<Value> EvalSlice(const Value& object, const Node& slice, const EnvPtr& env);
  absl::StatusOr<Value> EvalCall(const Node& node, const EnvPtr& env);
  absl::StatusOr<Arguments> EvalArguments(const NodeList& args, const EnvPtr& env);

  // Filters (filters.cc).
  absl::StatusOr<Value> ApplyFilter(const Value& operand, const Node& filter, const EnvPtr& env);
  absl::StatusOr<Value> ApplyNamedFilter(const Value& operand, const std::string& name);
  absl::StatusOr<Value> ApplyCallFilter(const Value& operand, const Node& call,
                                        const EnvPtr& env);
  absl::StatusOr<Value> ApplyArrayCallFilter(const Value& operand, const std::string& name,
                                             const Node& call, const Arguments& arguments);

  // Counts one unit of work and one level of nesting; fails past the limits.
  absl::Status Enter();
  // Counts `units` of work (a step is one node, one loop iteration, one list element or
  // kBytesPerStep bytes of a string); fails past max_steps_.
  absl::Status Charge(size_t units);
  absl::Status ChargeFor(const Value& value);
  void Leave() { --depth_; }

  const std::optional<double> now_seconds_;
  const long long max_steps_;
  int depth_ = 0;
  long long steps_ = 0;
  // Containers changed after creation (the only way to form a cycle).
  std::vector<std::weak_ptr<ObjectMap>> mutated_objects_;
  std::vector<std::weak_ptr<ValueList>> mutated_lists_;
  Jump jump_ = Jump::kNone;
  int jump_line_ = 0;  // line of the pending break/continue
};

}  // namespace brisk::tokenizer::jinja
