// Statement execution and expression evaluation; see interpreter.h. Filters live in
// filters.cc and the built-in globals, tests and methods in builtins.cc.
#include "tokenizer/chat/interpreter.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "tokenizer/chat/builtins.h"
#include "tokenizer/chat/js_text.h"

namespace brisk::tokenizer::jinja {
namespace {

// Marks an error whose message already starts with its line.
constexpr char kLinePayload[] = "brisk.chat_template.line";

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(std::string(message));
}

// Scope guard pairing Interpreter::Enter with Leave.
template <typename Leave>
class OnExit {
 public:
  explicit OnExit(Leave leave) : leave_(std::move(leave)) {}
  ~OnExit() { leave_(); }

 private:
  Leave leave_;
};

// Does the macro body read `kwargs` or `varargs` (which then collect extra arguments)?
void FindSpecialArguments(const Node& node, bool& kwargs, bool& varargs) {
  if (node.kind == NodeKind::kIdentifier) {
    kwargs = kwargs || node.str == "kwargs";
    varargs = varargs || node.str == "varargs";
    return;
  }
  const bool skip_b = (node.kind == NodeKind::kMember && !node.flag) ||
                      (node.kind == NodeKind::kFilter && node.b &&
                       node.b->kind == NodeKind::kIdentifier);
  if (node.a) FindSpecialArguments(*node.a, kwargs, varargs);
  if (node.b && !skip_b) FindSpecialArguments(*node.b, kwargs, varargs);
  if (node.c) FindSpecialArguments(*node.c, kwargs, varargs);
  for (const NodeList* list : {&node.items, &node.body, &node.alternate}) {
    for (const NodePtr& child : *list) {
      if (child) FindSpecialArguments(*child, kwargs, varargs);
    }
  }
}

// JS Math.floor(a / b) and a % b.
double FloorDiv(double a, double b) { return std::floor(a / b); }

absl::StatusOr<Value> CheckString(std::string s) {
  if (s.size() > kMaxStringBytes) return Invalid("string is too long");
  return Value::String(std::move(s));
}

// Python-style slicing as the reference implements it.
std::vector<size_t> SliceIndices(size_t length, std::optional<long long> start_arg,
                                 std::optional<long long> stop_arg, long long step) {
  const long long n = static_cast<long long>(length);
  long long start, stop;
  if (step >= 0) {
    start = start_arg.value_or(0);
    start = start < 0 ? std::max(n + start, 0LL) : std::min(start, n);
    stop = stop_arg.value_or(n);
    stop = stop < 0 ? std::max(n + stop, 0LL) : std::min(stop, n);
  } else {
    start = start_arg.value_or(n - 1);
    start = start < 0 ? std::max(n + start, -1LL) : std::min(start, n - 1);
    stop = stop_arg.value_or(-1);
    stop = stop < -1 ? std::max(n + stop, -1LL) : std::min(stop, n - 1);
  }
  std::vector<size_t> out;
  const long long direction = step > 0 ? 1 : step < 0 ? -1 : 0;
  if (direction == 0) return out;  // the reference loops forever; nothing is produced here
  for (long long i = start; direction * i < direction * stop; i += step) {
    out.push_back(static_cast<size_t>(i));
  }
  return out;
}

}  // namespace

Value Env::Lookup(const std::string& name) const {
  for (const Env* env = this; env != nullptr; env = env->parent.get()) {
    auto it = env->vars.find(name);
    if (it != env->vars.end()) return it->second;
  }
  return Value::Undefined();
}

absl::Status AtLine(absl::Status status, int line) {
  if (status.ok() || status.GetPayload(kLinePayload).has_value()) return status;
  absl::Status with_line(status.code(), absl::StrCat("line ", line, ": ", status.message()));
  with_line.SetPayload(kLinePayload, absl::Cord("1"));
  return with_line;
}

Interpreter::~Interpreter() {
  for (const std::weak_ptr<ObjectMap>& weak : mutated_objects_) {
    if (std::shared_ptr<ObjectMap> object = weak.lock()) object->Clear();
  }
  for (const std::weak_ptr<ValueList>& weak : mutated_lists_) {
    if (std::shared_ptr<ValueList> list = weak.lock()) list->clear();
  }
}

absl::Status Interpreter::Enter() {
  ++depth_;
  if (depth_ > kMaxEvalDepth) return Invalid("template recursion is too deep");
  return Charge(1);
}

absl::Status Interpreter::Charge(size_t units) {
  steps_ += static_cast<long long>(units);
  if (steps_ > max_steps_) return Invalid("template takes too many steps to render");
  return absl::OkStatus();
}

absl::Status Interpreter::ChargeFor(const Value& value) {
  if (value.kind == Kind::kString) return Charge(value.string.size() / kBytesPerStep);
  if (value.is_array()) return Charge(value.array->size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> Interpreter::Run(const NodeList& program, const EnvPtr& globals) {
  std::string out;
  BRISK_RETURN_IF_ERROR(ExecBlock(program, globals, out));
  if (jump_ != Jump::kNone) {
    return AtLine(Invalid("'break' or 'continue' outside a loop"), jump_line_);
  }
  return out;
}

absl::Status Interpreter::ExecBlock(const NodeList& block, const EnvPtr& env, std::string& out) {
  for (const NodePtr& node : block) {
    BRISK_RETURN_IF_ERROR(Exec(*node, env, out));
    if (jump_ != Jump::kNone) return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status Interpreter::AppendOutput(const Value& value, std::string& out) {
  if (value.is_nullish()) return absl::OkStatus();
  BRISK_ASSIGN_OR_RETURN(std::string text, RenderString(value));
  if (out.size() + text.size() > kMaxStringBytes) return Invalid("rendered text is too long");
  BRISK_RETURN_IF_ERROR(Charge(text.size() / kBytesPerStep));
  out += text;
  return absl::OkStatus();
}

absl::Status Interpreter::Exec(const Node& node, const EnvPtr& env, std::string& out) {
  absl::Status entered = Enter();
  OnExit leave([this] { Leave(); });
  if (!entered.ok()) return AtLine(entered, node.line);
  absl::Status status;
  switch (node.kind) {
    case NodeKind::kText:
      if (out.size() + node.str.size() > kMaxStringBytes) {
        status = Invalid("rendered text is too long");
      } else {
        out += node.str;
      }
      break;
    case NodeKind::kComment:
      break;
    case NodeKind::kIf: {
      absl::StatusOr<Value> test = Eval(*node.a, env);
      if (!test.ok()) return test.status();
      status = ExecBlock(Truthy(*test) ? node.body : node.alternate, env, out);
      break;
    }
    case NodeKind::kFor:
      status = ExecFor(node, env, out);
      break;
    case NodeKind::kSet:
      status = ExecSet(node, env);
      break;
    case NodeKind::kMacro:
      status = ExecMacro(node, env);
      break;
    case NodeKind::kCallBlock: {
      absl::StatusOr<Value> result = ExecCallBlock(node, env);
      status = result.ok() ? AppendOutput(*result, out) : result.status();
      break;
    }
    case NodeKind::kFilterBlock: {
      std::string body;
      status = ExecBlock(node.body, env, body);
      if (!status.ok()) break;
      absl::StatusOr<Value> result = ApplyFilter(Value::String(std::move(body)), *node.a, env);
      status = result.ok() ? AppendOutput(*result, out) : result.status();
      break;
    }
    case NodeKind::kBreak:
    case NodeKind::kContinue:
      jump_ = node.kind == NodeKind::kBreak ? Jump::kBreak : Jump::kContinue;
      jump_line_ = node.line;
      break;
    default: {
      absl::StatusOr<Value> value = Eval(node, env);
      status = value.ok() ? AppendOutput(*value, out) : value.status();
      break;
    }
  }
  return AtLine(status, node.line);
}

absl::Status Interpreter::ExecFor(const Node& node, const EnvPtr& env, std::string& out) {
  auto scope = std::make_shared<Env>(env);
  const Node* iterable_node = node.b.get();
  const Node* filter = nullptr;
  if (iterable_node->kind == NodeKind::kSelect) {
    filter = iterable_node->b.get();
    iterable_node = iterable_node->a.get();
  }
  BRISK_ASSIGN_OR_RETURN(Value iterable, Eval(*iterable_node, scope));
  // The list iterated: the array itself (shared, so `append` in the body cannot extend the
  // loop) or the keys of an object.
  std::shared_ptr<const ValueList> source;
  if (iterable.is_array()) {
    source = std::make_shared<const ValueList>(*iterable.array);
  } else if (iterable.is_object()) {
    ValueList keys;
    for (const auto& entry : iterable.object->entries()) keys.push_back(Value::String(entry.first));
    source = std::make_shared<const ValueList>(std::move(keys));
  } else {
    return Invalid(absl::StrCat("Expected iterable or object type in for loop: got ",
                                KindName(iterable.kind)));
  }
  BRISK_RETURN_IF_ERROR(Charge(source->size()));
  const Node& target = *node.a;
  // Binds the loop variable(s) of one item into `into`.
  const auto bind = [&target](const Value& item, Env& into) -> absl::Status {
    if (target.kind == NodeKind::kIdentifier) {
      into.Set(target.str, item);
      return absl::OkStatus();
    }
    if (item.kind != Kind::kArray) {
      return Invalid(absl::StrCat("Cannot unpack non-iterable type: ", KindName(item.kind)));
    }
    if (item.array->size() != target.items.size()) {
      return Invalid(absl::StrCat("Too ", target.items.size() > item.array->size() ? "few" : "many",
                                  " items to unpack"));
    }
    for (size_t j = 0; j < target.items.size(); ++j) {
      if (target.items[j]->kind != NodeKind::kIdentifier) {
        return Invalid("Cannot unpack into something that is not a name");
      }
      into.Set(target.items[j]->str, (*item.array)[j]);
    }
    return absl::OkStatus();
  };
  std::shared_ptr<const ValueList> selected = source;
  if (filter != nullptr || target.kind != NodeKind::kIdentifier) {
    ValueList kept;
    for (const Value& item : *source) {
      if (filter != nullptr) {
        auto item_scope = std::make_shared<Env>(scope);
        BRISK_RETURN_IF_ERROR(bind(item, *item_scope));
        BRISK_ASSIGN_OR_RETURN(Value keep, Eval(*filter, item_scope));
        if (!Truthy(keep)) continue;
      } else {
        Env probe;
        BRISK_RETURN_IF_ERROR(bind(item, probe));
      }
      kept.push_back(item);
    }
    selected = std::make_shared<const ValueList>(std::move(kept));
  }
  const ValueList& items = *selected;
  bool no_iteration = true;
  const size_t n = items.size();
  for (size_t i = 0; i < n; ++i) {
    BRISK_RETURN_IF_ERROR(Charge(kStepsPerIteration));
    std::vector<std::pair<std::string, Value>> loop;
    loop.reserve(9);
    loop.emplace_back("index", Value::Integer(static_cast<double>(i + 1)));
    loop.emplace_back("index0", Value::Integer(static_cast<double>(i)));
    loop.emplace_back("revindex", Value::Integer(static_cast<double>(n - i)));
    loop.emplace_back("revindex0", Value::Integer(static_cast<double>(n - i - 1)));
    loop.emplace_back("first", Value::Boolean(i == 0));
    loop.emplace_back("last", Value::Boolean(i + 1 == n));
    loop.emplace_back("length", Value::Integer(static_cast<double>(n)));
    loop.emplace_back("previtem", i > 0 ? items[i - 1] : Value::Undefined());
    loop.emplace_back("nextitem", i + 1 < n ? items[i + 1] : Value::Undefined());
    scope->Set("loop", Value::Object(ObjectMap::FromDistinct(std::move(loop))));
    BRISK_RETURN_IF_ERROR(bind(items[i], *scope));
    // An iteration left by break/continue contributes no output (as in the reference).
    std::string body;
    BRISK_RETURN_IF_ERROR(ExecBlock(node.body, scope, body));
    const Jump jump = jump_;
    jump_ = Jump::kNone;
    if (jump == Jump::kContinue) continue;
    if (jump == Jump::kBreak) break;
    if (out.size() + body.size() > kMaxStringBytes) return Invalid("rendered text is too long");
    out += body;
    no_iteration = false;
  }
  if (no_iteration) return ExecBlock(node.alternate, scope, out);
  return absl::OkStatus();
}

absl::Status Interpreter::ExecSet(const Node& node, const EnvPtr& env) {
  Value rhs;
  if (node.b) {
    BRISK_ASSIGN_OR_RETURN(rhs, Eval(*node.b, env));
  } else {
    std::string body;
    BRISK_RETURN_IF_ERROR(ExecBlock(node.body, env, body));
    rhs = Value::String(std::move(body));
  }
  const Node& target = *node.a;
  if (target.kind == NodeKind::kIdentifier) {
    env->Set(target.str, std::move(rhs));
    return absl::OkStatus();
  }
  if (target.kind == NodeKind::kTuple) {
    if (!rhs.is_array()) {
      return Invalid(absl::StrCat("Cannot unpack non-iterable type in set: ", KindName(rhs.kind)));
    }
    if (rhs.array->size() != target.items.size()) {
      return Invalid(absl::StrCat("Too ", target.items.size() > rhs.array->size() ? "few" : "many",
                                  " items to unpack in set"));
    }
    for (size_t i = 0; i < target.items.size(); ++i) {
      if (target.items[i]->kind != NodeKind::kIdentifier) {
        return Invalid("Cannot unpack to something that is not a name in set");
      }
      env->Set(target.items[i]->str, (*rhs.array)[i]);
    }
    return absl::OkStatus();
  }
  if (target.kind == NodeKind::kMember) {
    BRISK_ASSIGN_OR_RETURN(Value object, Eval(*target.a, env));
    if (object.kind != Kind::kNamespace) {
      return Invalid("cannot assign attribute on non-namespace object");
    }
    if (target.b->kind != NodeKind::kIdentifier) {
      return Invalid("Cannot assign to member with non-identifier property");
    }
    mutated_objects_.push_back(object.object);
    object.object->Set(target.b->str, std::move(rhs));
    return absl::OkStatus();
  }
  return Invalid("invalid left-hand side of an assignment");
}

absl::Status Interpreter::BindMacroArguments(const Node& macro, const std::string& display_name,
                                             ValueList args, const EnvPtr& scope) {
  ObjectMap keywords;
  if (!args.empty() && args.back().kind == Kind::kKeywordArgs) {
    keywords = *args.back().object;
    args.pop_back();
  }
  bool wants_kwargs = false, wants_varargs = false;
  for (const NodePtr& statement : macro.body) {
    FindSpecialArguments(*statement, wants_kwargs, wants_varargs);
  }
  const NodeList& params = macro.items;
  std::vector<std::pair<std::string, const Node*>> pending_defaults;
  std::vector<std::string> consumed;
  for (size_t i = 0; i < params.size(); ++i) {
    const Node& param = *params[i];
    std::optional<Value> value;
    if (i < args.size()) value = args[i];
    if (!value) {
      if (const Value* kw = keywords.Find(param.str)) {
        value = *kw;
        consumed.push_back(param.str);
      }
    }
    if (!value && param.kind == NodeKind::kKeywordArg) {
      pending_defaults.emplace_back(param.str, param.a.get());
    }
    scope->Set(param.str, value.value_or(Value::Undefined()));
  }
  ObjectMap unused;
  for (const auto& [key, value] : keywords.entries()) {
    if (std::find(consumed.begin(), consumed.end(), key) == consumed.end()) unused.Set(key, value);
  }
  if (wants_kwargs) {
    scope->Set("kwargs", Value::Object(std::move(unused)));
  } else if (unused.size() > 0) {
    return Invalid(absl::StrCat("macro ", display_name, " takes no keyword argument '",
                                unused.entries()[0].first, "'"));
  }
  if (wants_varargs) {
    ValueList extra;
    for (size_t i = params.size(); i < args.size(); ++i) extra.push_back(args[i]);
    scope->Set("varargs", Value::Array(std::move(extra)));
  } else if (args.size() > params.size()) {
    return Invalid(absl::StrCat("macro ", display_name, " takes not more than ", params.size(),
                                " argument(s)"));
  }
  for (const auto& [name, default_node] : pending_defaults) {
    BRISK_ASSIGN_OR_RETURN(Value value, Eval(*default_node, scope));
    scope->Set(name, std::move(value));
  }
  return absl::OkStatus();
}

absl::Status Interpreter::ExecMacro(const Node& node, const EnvPtr& env) {
  const Node* macro = &node;
  env->Set(node.str, Value::Function([this, macro](ValueList& args, const EnvPtr& caller)
                                         -> absl::StatusOr<Value> {
    auto scope = std::make_shared<Env>(caller);
    BRISK_RETURN_IF_ERROR(
        BindMacroArguments(*macro, absl::StrCat("'", macro->str, "'"), args, scope));
    std::string body;
    BRISK_RETURN_IF_ERROR(ExecBlock(macro->body, scope, body));
    if (jump_ != Jump::kNone) return Invalid("'break' or 'continue' outside a loop");
    return Value::String(std::move(body));
  }));
  return absl::OkStatus();
}

absl::StatusOr<Value> Interpreter::ExecCallBlock(const Node& node, const EnvPtr& env) {
  const Node* block = &node;
  Value caller = Value::Function([this, block, env](ValueList& args, const EnvPtr&)
                                     -> absl::StatusOr<Value> {
    auto scope = std::make_shared<Env>(env);
    BRISK_RETURN_IF_ERROR(BindMacroArguments(*block, "None", args, scope));
    std::string body;
    BRISK_RETURN_IF_ERROR(ExecBlock(block->body, scope, body));
    if (jump_ != Jump::kNone) return Invalid("'break' or 'continue' outside a loop");
    return Value::String(std::move(body));
  });
  const Node& call = *node.a;
  BRISK_ASSIGN_OR_RETURN(Arguments arguments, EvalArguments(call.items, env));
  ValueList args = std::move(arguments.positional);
  args.push_back(Value::Object(std::move(arguments.keywords), Kind::kKeywordArgs));
  BRISK_ASSIGN_OR_RETURN(Value fn, Eval(*call.a, env));
  if (fn.kind != Kind::kFunction) {
    return Invalid(absl::StrCat("Cannot call something that is not a function: got ",
                                KindName(fn.kind)));
  }
  auto call_scope = std::make_shared<Env>(env);
  call_scope->Set("caller", std::move(caller));
  return (*fn.function)(args, call_scope);
}

absl::StatusOr<Value> Interpreter::Eval(const Node& node, const EnvPtr& env) {
  absl::Status entered = Enter();
  OnExit leave([this] { Leave(); });
  if (!entered.ok()) return AtLine(entered, node.line);
  absl::StatusOr<Value> result = EvalNode(node, env);
  if (!result.ok()) return AtLine(result.status(), node.line);
  // Every value costs in proportion to its size, so quadratic growth stops in time.
  if (absl::Status charged = ChargeFor(*result); !charged.ok()) return AtLine(charged, node.line);
  return result;
}

absl::StatusOr<Value> Interpreter::EvalNode(const Node& node, const EnvPtr& env) {
  switch (node.kind) {
    case NodeKind::kInteger:
      return Value::Integer(node.number);
    case NodeKind::kFloat:
      return Value::Float(node.number);
    case NodeKind::kString:
    case NodeKind::kText:
      return Value::String(node.str);
    case NodeKind::kIdentifier:
      return env->Lookup(node.str);
    case NodeKind::kArray:
    case NodeKind::kTuple: {
      ValueList items;
      for (const NodePtr& item : node.items) {
        BRISK_ASSIGN_OR_RETURN(Value v, Eval(*item, env));
        items.push_back(std::move(v));
      }
      return node.kind == NodeKind::kArray ? Value::Array(std::move(items))
                                           : Value::Tuple(std::move(items));
    }
    case NodeKind::kObject: {
      ObjectMap map;
      for (size_t i = 0; i + 1 < node.items.size(); i += 2) {
        BRISK_ASSIGN_OR_RETURN(Value key, Eval(*node.items[i], env));
        if (key.kind != Kind::kString) {
          return Invalid(absl::StrCat("Object keys must be strings: got ", KindName(key.kind)));
        }
        BRISK_ASSIGN_OR_RETURN(Value value, Eval(*node.items[i + 1], env));
        map.Set(key.string, std::move(value));
      }
      return Value::Object(std::move(map));
    }
    case NodeKind::kMember:
      return EvalMember(node, env);
    case NodeKind::kCall:
      return EvalCall(node, env);
    case NodeKind::kUnary:
      return EvalUnary(node, env);
    case NodeKind::kBinary:
      return EvalBinary(node, env);
    case NodeKind::kFilter: {
      BRISK_ASSIGN_OR_RETURN(Value operand, Eval(*node.a, env));
      return ApplyFilter(operand, *node.b, env);
    }
    case NodeKind::kTest: {
      BRISK_ASSIGN_OR_RETURN(Value operand, Eval(*node.a, env));
      BRISK_ASSIGN_OR_RETURN(Arguments args, EvalArguments(node.items, env));
      BRISK_ASSIGN_OR_RETURN(bool result, ApplyTest(node.str, operand, args.positional));
      return Value::Boolean(node.flag ? !result : result);
    }
    case NodeKind::kSelect: {
      BRISK_ASSIGN_OR_RETURN(Value condition, Eval(*node.b, env));
      if (!Truthy(condition)) return Value::Undefined();
      return Eval(*node.a, env);
    }
    case NodeKind::kTernary: {
      BRISK_ASSIGN_OR_RETURN(Value condition, Eval(*node.a, env));
      return Eval(Truthy(condition) ? *node.b : *node.c, env);
    }
    default:
      return Invalid("this construct cannot be used as a value here");
  }
}

absl::StatusOr<Value> Interpreter::EvalUnary(const Node& node, const EnvPtr& env) {
  BRISK_ASSIGN_OR_RETURN(Value operand, Eval(*node.a, env));
  if (node.str == "not") return Value::Boolean(!Truthy(operand));
  const double sign = node.str == "-" ? -1 : 1;
  if (operand.kind == Kind::kFloat) return Value::Float(sign * operand.number);
  if (operand.kind == Kind::kInteger) return Value::Integer(sign * operand.number);
  if (operand.kind == Kind::kBoolean) return Value::Integer(sign * (operand.boolean ? 1 : 0));
  return Invalid(absl::StrCat("Unknown operator \"", node.str, "\" for ", KindName(operand.kind)));
}

absl::StatusOr<Value> Interpreter::EvalBinary(const Node& node, const EnvPtr& env) {
  const std::string& op = node.str;
  BRISK_ASSIGN_OR_RETURN(Value left, Eval(*node.a, env));
  if (op == "and") return Truthy(left) ? Eval(*node.b, env) : left;
  if (op == "or") return Truthy(left) ? left : Eval(*node.b, env);
  BRISK_ASSIGN_OR_RETURN(Value right, Eval(*node.b, env));
  if (op == "==") return Value::Boolean(LooseEqual(left, right));
  if (op == "!=") return Value::Boolean(!LooseEqual(left, right));
  const bool membership = op == "in" || op == "not in";
  if (left.kind == Kind::kUndefined || right.kind == Kind::kUndefined) {
    if (right.kind == Kind::kUndefined && membership) return Value::Boolean(op == "not in");
    return Invalid(absl::StrCat("Cannot perform operation ", op, " on undefined values"));
  }
  if (left.kind == Kind::kNull || right.kind == Kind::kNull) {
    return Invalid("Cannot perform operation on null values");
  }
  if (op == "~") {
    BRISK_ASSIGN_OR_RETURN(std::string a, ConcatString(left));
    BRISK_ASSIGN_OR_RETURN(std::string b, ConcatString(right));
    return CheckString(a + b);
  }
  const auto numeric_like = [](const Value& v) { return v.is_number() || v.kind == Kind::kBoolean; };
  if (op == "**" && numeric_like(left) && numeric_like(right)) {
    const double a = left.kind == Kind::kBoolean ? left.boolean : left.number;
    const double b = right.kind == Kind::kBoolean ? right.boolean : right.number;
    if (a == 0 && b < 0) return Invalid("0.0 cannot be raised to a negative power");
    const double result = std::pow(a, b);
    if (!std::isfinite(result)) return Invalid("Exponentiation result is not a finite real number");
    const bool is_float = left.kind == Kind::kFloat || right.kind == Kind::kFloat || b < 0;
    return is_float ? Value::Float(result) : Value::Integer(result);
  }
  if (left.is_number() && right.is_number()) {
    const double a = left.number, b = right.number;
    const bool is_float = left.kind == Kind::kFloat || right.kind == Kind::kFloat;
    const auto number = [is_float](double v) { return is_float ? Value::Float(v) : Value::Integer(v); };
    if (op == "+") return number(a + b);
    if (op == "-") return number(a - b);
    if (op == "*") return number(a * b);
    if (op == "/") return Value::Float(a / b);
    if (op == "//") return number(FloorDiv(a, b));
    if (op == "%") return number(std::fmod(a, b));
    if (op == "<") return Value::Boolean(a < b);
    if (op == ">") return Value::Boolean(a > b);
    if (op == ">=") return Value::Boolean(a >= b);
    if (op == "<=") return Value::Boolean(a <= b);
  } else if (left.is_array() && right.is_array()) {
    if (op == "+") {
      if (left.array->size() + right.array->size() > kMaxListLength) return Invalid("list is too long");
      ValueList joined = *left.array;
      joined.insert(joined.end(), right.array->begin(), right.array->end());
      return Value::Array(std::move(joined));
    }
  } else if (right.is_array() && membership) {
    BRISK_RETURN_IF_ERROR(Charge(right.array->size()));
    bool found = false;
    for (const Value& item : *right.array) found = found || StrictEqual(item, left);
    return Value::Boolean(op == "in" ? found : !found);
  }
  if ((left.kind == Kind::kString || right.kind == Kind::kString) && op == "+") {
    BRISK_ASSIGN_OR_RETURN(std::string a, ConcatString(left));
    BRISK_ASSIGN_OR_RETURN(std::string b, ConcatString(right));
    return CheckString(a + b);
  }
  if (left.kind == Kind::kString && right.kind == Kind::kString && membership) {
    const bool found = right.string.find(left.string) != std::string::npos;
    return Value::Boolean(op == "in" ? found : !found);
  }
  if (left.kind == Kind::kString && right.is_object() && membership) {
    const bool found = right.object->Find(left.string) != nullptr;
    return Value::Boolean(op == "in" ? found : !found);
  }
  return Invalid(absl::StrCat("Unknown operator \"", op, "\" between ", KindName(left.kind),
                              " and ", KindName(right.kind)));
}

absl::StatusOr<Value> Interpreter::EvalMember(const Node& node, const EnvPtr& env) {
  BRISK_ASSIGN_OR_RETURN(Value object, Eval(*node.a, env));
  Value property;
  if (node.flag) {
    if (node.b->kind == NodeKind::kSlice) return EvalSlice(object, *node.b, env);
    BRISK_ASSIGN_OR_RETURN(property, Eval(*node.b, env));
  } else if (node.b->kind == NodeKind::kInteger) {
    property = Value::Integer(node.b->number);
  } else {
    property = Value::String(node.b->str);
  }
  if (object.is_array() && property.kind == Kind::kString && property.string == "append") {
    mutated_lists_.push_back(object.array);
  }
  return GetMember(object, property);
}

absl::StatusOr<Value> Interpreter::EvalSlice(const Value& object, const Node& slice,
                                             const EnvPtr& env) {
  if (!object.is_array() && object.kind != Kind::kString) {
    return Invalid("Slice object must be an array or string");
  }
  std::optional<long long> parts[3];
  const Node* nodes[3] = {slice.a.get(), slice.b.get(), slice.c.get()};
  const char* names[3] = {"start", "stop", "step"};
  for (int i = 0; i < 3; ++i) {
    if (nodes[i] == nullptr) continue;
    BRISK_ASSIGN_OR_RETURN(Value v, Eval(*nodes[i], env));
    if (v.kind == Kind::kUndefined) continue;
    if (v.kind != Kind::kInteger) {
      return Invalid(absl::StrCat("Slice ", names[i], " must be numeric or undefined"));
    }
    parts[i] = static_cast<long long>(v.number);
  }
  const long long step = parts[2].value_or(1);
  if (object.is_array()) {
    ValueList out;
    for (size_t i : SliceIndices(object.array->size(), parts[0], parts[1], step)) {
      out.push_back((*object.array)[i]);
    }
    return Value::Array(std::move(out));
  }
  const std::vector<char32_t> cps = DecodeUtf8(object.string);
  std::string out;
  for (size_t i : SliceIndices(cps.size(), parts[0], parts[1], step)) AppendUtf8(cps[i], out);
  return Value::String(std::move(out));
}

absl::StatusOr<Interpreter::Arguments> Interpreter::EvalArguments(const NodeList& args,
                                                                  const EnvPtr& env) {
  Arguments out;
  for (const NodePtr& arg : args) {
    if (arg->kind == NodeKind::kSpread) {
      BRISK_ASSIGN_OR_RETURN(Value v, Eval(*arg->a, env));
      if (!v.is_array()) {
        return Invalid(absl::StrCat("Cannot unpack non-iterable type: ", KindName(v.kind)));
      }
      out.positional.insert(out.positional.end(), v.array->begin(), v.array->end());
    } else if (arg->kind != NodeKind::kKeywordArg && arg->kind != NodeKind::kKeywordSpread) {
      BRISK_ASSIGN_OR_RETURN(Value v, Eval(*arg, env));
      out.positional.push_back(std::move(v));
    }
  }
  const auto add = [&out](const std::string& key, Value value) -> absl::Status {
    if (out.keywords.Find(key)) {
      return Invalid(absl::StrCat("Got multiple values for keyword argument '", key, "'"));
    }
    out.keywords.Set(key, std::move(value));
    return absl::OkStatus();
  };
  for (const NodePtr& arg : args) {
    if (arg->kind == NodeKind::kKeywordArg) {
      BRISK_ASSIGN_OR_RETURN(Value v, Eval(*arg->a, env));
      BRISK_RETURN_IF_ERROR(add(arg->str, std::move(v)));
    } else if (arg->kind == NodeKind::kKeywordSpread) {
      BRISK_ASSIGN_OR_RETURN(Value v, Eval(*arg->a, env));
      if (!v.is_object()) {
        return Invalid(absl::StrCat("Argument after ** must be a mapping, not ", KindName(v.kind)));
      }
      for (const auto& [key, value] : v.object->entries()) BRISK_RETURN_IF_ERROR(add(key, value));
    }
  }
  return out;
}

absl::StatusOr<Value> Interpreter::EvalCall(const Node& node, const EnvPtr& env) {
  BRISK_ASSIGN_OR_RETURN(Arguments arguments, EvalArguments(node.items, env));
  ValueList args = std::move(arguments.positional);
  if (arguments.keywords.size() > 0) {
    args.push_back(Value::Object(std::move(arguments.keywords), Kind::kKeywordArgs));
  }
  BRISK_ASSIGN_OR_RETURN(Value fn, Eval(*node.a, env));
  if (fn.kind != Kind::kFunction) {
    return Invalid(absl::StrCat("Cannot call something that is not a function: got ",
                                KindName(fn.kind)));
  }
  return (*fn.function)(args, env);
}

}  // namespace brisk::tokenizer::jinja
