// The `|` filters, with the behaviour (and the type-specific error messages) of
// @huggingface/jinja. A few filters the reference lacks are added where it would only fail
// (`d`, `count`, `round`, `wordcount`, `select`/`reject`, `map` by filter name, and argument-free
// calls such as `|trim()`), so a template it accepts renders identically here.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_set>
#include <string>
#include <utility>

#include "tokenizer/chat/builtins.h"
#include "tokenizer/chat/interpreter.h"
#include "tokenizer/chat/js_text.h"

namespace brisk::tokenizer::jinja {
namespace {

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(std::string(message));
}

absl::Status Unknown(const char* type_name, const std::string& filter) {
  return Invalid(absl::StrCat("Unknown ", type_name, " filter: ", filter));
}

// The text of one element in `join` (JS Array.prototype.join of the raw values).
absl::StatusOr<std::string> JoinPiece(const Value& v) {
  if (v.is_nullish()) return std::string();
  return ConcatString(v);
}

absl::StatusOr<Value> JoinValues(const ValueList& items, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    BRISK_ASSIGN_OR_RETURN(std::string piece, JoinPiece(items[i]));
    out += piece;
    if (out.size() > kMaxStringBytes) return Invalid("string is too long");
  }
  return Value::String(std::move(out));
}

ValueList CodePointStrings(const std::string& text) {
  ValueList out;
  for (char32_t cp : DecodeUtf8(text)) {
    std::string s;
    AppendUtf8(cp, s);
    out.push_back(Value::String(std::move(s)));
  }
  return out;
}

absl::StatusOr<Value> Indent(const std::string& text, const Value& width, bool first,
                             bool blank) {
  if (width.kind != Kind::kInteger) return Invalid("width must be a number");
  if (width.number < 0 || width.number > 1024) return Invalid("invalid indent width");
  const std::string pad(static_cast<size_t>(width.number), ' ');
  std::string out;
  size_t start = 0;
  for (size_t line = 0;; ++line) {
    const size_t end = text.find('\n', start);
    const std::string_view part =
        std::string_view(text).substr(start, end == std::string::npos ? text.npos : end - start);
    if (line > 0) out.push_back('\n');
    if (!((!first && line == 0) || (!blank && part.empty()))) out += pad;
    out += part;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (out.size() > kMaxStringBytes) return Invalid("string is too long");
  return Value::String(std::move(out));
}

// Sorts with CompareValues; the first comparison error is returned.
absl::StatusOr<Value> SortValues(const ValueList& items, bool reverse, bool case_sensitive,
                                 const Value& attribute) {
  std::vector<std::pair<Value, Value>> keyed;  // (sort key, item)
  for (const Value& item : items) {
    Value key = item;
    if (attribute.kind == Kind::kString) key = GetAttributePath(item, attribute.string);
    if (attribute.kind == Kind::kInteger) {
      key = GetAttributePath(item, JsNumberToString(attribute.number));
    }
    keyed.emplace_back(std::move(key), item);
  }
  absl::Status error;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    if (!error.ok()) return false;
    absl::StatusOr<int> c = CompareValues(a.first, b.first, case_sensitive);
    if (!c.ok()) {
      error = c.status();
      return false;
    }
    return reverse ? *c > 0 : *c < 0;
  });
  BRISK_RETURN_IF_ERROR(error);
  ValueList out;
  for (auto& [key, item] : keyed) out.push_back(std::move(item));
  return Value::Array(std::move(out));
}

// Python round(): halves to even, `precision` decimal places.
double PythonRound(double value, int precision, const std::string& method) {
  const double scale = std::pow(10.0, precision);
  const double scaled = value * scale;
  double r = std::nearbyint(scaled);
  if (method == "ceil") r = std::ceil(scaled);
  if (method == "floor") r = std::floor(scaled);
  return r / scale;
}

size_t WordCount(const std::string& text) {
  size_t count = 0;
  bool in_word = false;
  for (unsigned char c : text) {
    const bool word = c >= 0x80 || std::isalnum(c) || c == '_';
    if (word && !in_word) ++count;
    in_word = word;
  }
  return count;
}

// A key equal for values that JS SameValueZero (a Set) treats as the same: primitives by
// value (integer and float alike), containers and functions by identity.
std::string IdentityKey(const Value& v) {
  char buffer[32];
  switch (v.kind) {
    case Kind::kUndefined: return "u";
    case Kind::kNull: return "n";
    case Kind::kBoolean: return v.boolean ? "t" : "f";
    case Kind::kInteger:
    case Kind::kFloat: return absl::StrCat("#", v.number == 0 ? "0" : JsNumberToString(v.number));
    case Kind::kString: return absl::StrCat("s", v.string);
    case Kind::kArray:
    case Kind::kTuple:
      std::snprintf(buffer, sizeof(buffer), "a%p", static_cast<const void*>(v.array.get()));
      return buffer;
    case Kind::kObject:
    case Kind::kKeywordArgs:
    case Kind::kNamespace:
      std::snprintf(buffer, sizeof(buffer), "o%p", static_cast<const void*>(v.object.get()));
      return buffer;
    case Kind::kFunction:
      std::snprintf(buffer, sizeof(buffer), "f%p", static_cast<const void*>(v.function.get()));
      return buffer;
  }
  return "?";
}

// A named option: positional `index` if given, else keyword `key`, else `fallback`.
Value Option(const ValueList& args, size_t index, const ObjectMap& kwargs, const char* key,
             Value fallback) {
  if (index < args.size()) return args[index];
  const Value* v = kwargs.Find(key);
  return v ? *v : std::move(fallback);
}

}  // namespace

absl::StatusOr<Value> Interpreter::ApplyFilter(const Value& operand, const Node& filter,
                                               const EnvPtr& env) {
  if (filter.kind == NodeKind::kIdentifier) return ApplyNamedFilter(operand, filter.str);
  if (filter.kind == NodeKind::kCall && filter.a->kind == NodeKind::kIdentifier) {
    return ApplyCallFilter(operand, filter, env);
  }
  return Invalid("a filter must be a name or a call");
}

absl::StatusOr<Value> Interpreter::ApplyNamedFilter(const Value& operand, const std::string& name) {
  if (name == "safe") return operand;
  if (name == "tojson") {
    BRISK_ASSIGN_OR_RETURN(std::string json, ToJson(operand, JsonOptions(), true));
    return Value::String(std::move(json));
  }
  if (name == "default" || name == "d") {
    return operand.kind == Kind::kUndefined ? Value::String("") : operand;
  }
  const std::string f = name == "count" ? "length" : name;
  if (operand.is_array()) {
    const ValueList& items = *operand.array;
    if (f == "list") return operand;
    if (f == "first") return items.empty() ? Value::Undefined() : items.front();
    if (f == "last") return items.empty() ? Value::Undefined() : items.back();
    if (f == "length") return Value::Integer(static_cast<double>(items.size()));
    if (f == "reverse") return Value::Array(ValueList(items.rbegin(), items.rend()));
    if (f == "sort") return SortValues(items, false, false, Value::Null());
    if (f == "join") return JoinValues(items, "");
    if (f == "string") {
      BRISK_ASSIGN_OR_RETURN(std::string json, ToJson(operand, JsonOptions(), false));
      return Value::String(std::move(json));
    }
    if (f == "unique") {
      ValueList out;
      std::unordered_set<std::string> seen;
      for (const Value& item : items) {
        if (seen.insert(IdentityKey(item)).second) out.push_back(item);
      }
      return Value::Array(std::move(out));
    }
    if (f == "select" || f == "reject") {
      ValueList out;
      for (const Value& item : items) {
        if (Truthy(item) == (f == "select")) out.push_back(item);
      }
      return Value::Array(std::move(out));
    }
    return Unknown("ArrayValue", name);
  }
  if (operand.kind == Kind::kString) {
    const std::string& s = operand.string;
    if (f == "length") return Value::Integer(static_cast<double>(Utf16Length(s)));
    if (f == "upper") return Value::String(JsToUpper(s));
    if (f == "lower") return Value::String(JsToLower(s));
    if (f == "title") return Value::String(JsTitle(s));
    if (f == "capitalize") return Value::String(JsCapitalize(s));
    if (f == "trim") return Value::String(std::string(TrimJs(s)));
    if (f == "indent") return Indent(s, Value::Integer(4), false, false);
    if (f == "join" || f == "string") return operand;
    if (f == "int") return Value::Integer(JsParseInt(s).value_or(0));
    if (f == "float") return Value::Float(JsParseFloat(s).value_or(0.0));
    if (f == "wordcount") return Value::Integer(static_cast<double>(WordCount(s)));
    if (f == "list") return Value::Array(CodePointStrings(s));
    if (f == "reverse") {
      std::vector<char32_t> cps = DecodeUtf8(s);
      std::string out;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it) AppendUtf8(*it, out);
      return Value::String(std::move(out));
    }
    return Unknown("StringValue", name);
  }
  if (operand.is_number()) {
    const double n = operand.number;
    if (f == "abs") {
      return operand.kind == Kind::kInteger ? Value::Integer(std::fabs(n)) : Value::Float(std::fabs(n));
    }
    if (f == "int") return Value::Integer(std::floor(n));
    if (f == "float") return Value::Float(n);
    if (f == "string") {
      BRISK_ASSIGN_OR_RETURN(std::string text, RenderString(operand));
      return Value::String(std::move(text));
    }
    if (f == "round") return Value::Float(PythonRound(n, 0, "common"));
    return Unknown("NumericValue", name);
  }
  if (operand.is_object()) {
    if (f == "items") {
      ValueList out;
      for (const auto& [key, value] : operand.object->entries()) {
        out.push_back(Value::Array({Value::String(key), value}));
      }
      return Value::Array(std::move(out));
    }
    if (f == "length") return Value::Integer(static_cast<double>(operand.object->size()));
    const Value method = GetObjectMethod(operand, f);
    if (method.kind == Kind::kFunction) {
      ValueList no_args;
      return (*method.function)(no_args, nullptr);
    }
    return Unknown("ObjectValue", name);
  }
  if (operand.kind == Kind::kBoolean) {
    if (f == "bool") return operand;
    if (f == "int") return Value::Integer(operand.boolean ? 1 : 0);
    if (f == "float") return Value::Float(operand.boolean ? 1 : 0);
    if (f == "string") return Value::String(operand.boolean ? "true" : "false");
    return Unknown("BooleanValue", name);
  }
  return Invalid(absl::StrCat("Cannot apply filter \"", name, "\" to type: ", KindName(operand.kind)));
}

absl::StatusOr<Value> Interpreter::ApplyCallFilter(const Value& operand, const Node& call,
                                                   const EnvPtr& env) {
  const std::string& name = call.a->str;
  BRISK_ASSIGN_OR_RETURN(Arguments arguments, EvalArguments(call.items, env));
  const ValueList& args = arguments.positional;
  const ObjectMap& kwargs = arguments.keywords;
  if (name == "tojson") {
    JsonOptions options;
    const Value indent = Option({}, 0, kwargs, "indent", Value::Null());
    if (indent.kind != Kind::kInteger && indent.kind != Kind::kNull) {
      return Invalid("If set, indent must be a number");
    }
    if (indent.kind == Kind::kInteger) {
      if (indent.number < 0 || indent.number > 1024) return Invalid("invalid indent");
      options.indent = static_cast<int>(indent.number);
    }
    const Value ensure_ascii = Option({}, 0, kwargs, "ensure_ascii", Value::Boolean(false));
    if (ensure_ascii.kind != Kind::kBoolean) return Invalid("If set, ensure_ascii must be a boolean");
    options.ensure_ascii = ensure_ascii.boolean;
    const Value sort_keys = Option({}, 0, kwargs, "sort_keys", Value::Boolean(false));
    if (sort_keys.kind != Kind::kBoolean) return Invalid("If set, sort_keys must be a boolean");
    options.sort_keys = sort_keys.boolean;
    const Value separators = Option({}, 0, kwargs, "separators", Value::Null());
    if (separators.is_array()) {
      const ValueList& parts = *separators.array;
      if (parts.size() != 2 || parts[0].kind != Kind::kString || parts[1].kind != Kind::kString) {
        return Invalid("separators must be a tuple of two strings");
      }
      options.separators = std::make_pair(parts[0].string, parts[1].string);
    } else if (separators.kind != Kind::kNull) {
      return Invalid("If set, separators must be a tuple of two strings");
    }
    BRISK_ASSIGN_OR_RETURN(std::string json, ToJson(operand, options, true));
    return Value::String(std::move(json));
  }
  if (name == "join") {
    ValueList items;
    if (operand.kind == Kind::kString) {
      items = CodePointStrings(operand.string);
    } else if (operand.is_array()) {
      items = *operand.array;
    } else {
      return Invalid(absl::StrCat("Cannot apply filter \"join\" to type: ", KindName(operand.kind)));
    }
    const Value separator = Option(args, 0, kwargs, "separator", Value::String(""));
    if (separator.kind != Kind::kString) return Invalid("separator must be a string");
    return JoinValues(items, separator.string);
  }
  if (name == "int" || name == "float") {
    const bool is_int = name == "int";
    const Value fallback =
        Option(args, 0, kwargs, "default", is_int ? Value::Integer(0) : Value::Float(0));
    if (operand.kind == Kind::kString) {
      const std::optional<double> parsed =
          is_int ? JsParseInt(operand.string) : JsParseFloat(operand.string);
      if (!parsed) return fallback;
      return is_int ? Value::Integer(*parsed) : Value::Float(*parsed);
    }
    if (operand.is_number()) return operand;
    if (operand.kind == Kind::kBoolean) {
      return is_int ? Value::Integer(operand.boolean) : Value::Float(operand.boolean);
    }
    return Invalid(absl::StrCat("Cannot apply filter \"", name, "\" to type: ", KindName(operand.kind)));
  }
  if (name == "default" || name == "d") {
    const Value fallback = args.size() > 0 ? args[0] : Value::String("");
    const Value boolean = Option(args, 1, kwargs, "boolean", Value::Boolean(false));
    if (boolean.kind != Kind::kBoolean) return Invalid("`default` filter flag must be a boolean");
    if (operand.kind == Kind::kUndefined || (boolean.boolean && !Truthy(operand))) return fallback;
    return operand;
  }
  const bool no_args = call.items.empty();
  if (operand.is_array()) {
    absl::StatusOr<Value> result = ApplyArrayCallFilter(operand, name, call, arguments);
    if (result.ok() || !absl::IsNotFound(result.status())) return result;
    if (no_args) return ApplyNamedFilter(operand, name);
    return Unknown("ArrayValue", name);
  }
  if (operand.kind == Kind::kString) {
    if (name == "indent") {
      const Value first = Option(args, 1, kwargs, "first", Value::Boolean(false));
      const Value blank = Option(args, 2, kwargs, "blank", Value::Boolean(false));
      return Indent(operand.string, Option(args, 0, kwargs, "width", Value::Integer(4)),
                    Truthy(first), Truthy(blank));
    }
    if (name == "replace") {
      BRISK_ASSIGN_OR_RETURN(Value method, GetMember(operand, Value::String("replace")));
      ValueList with_kwargs = args;
      with_kwargs.push_back(Value::Object(kwargs, Kind::kKeywordArgs));
      return (*method.function)(with_kwargs, env);
    }
    if (no_args) return ApplyNamedFilter(operand, name);
    return Unknown("StringValue", name);
  }
  if (operand.is_object()) {
    const Value method = GetObjectMethod(operand, name);
    if (method.kind == Kind::kFunction) {
      ValueList call_args = args;
      if (kwargs.size() > 0) call_args.push_back(Value::Object(kwargs, Kind::kKeywordArgs));
      return (*method.function)(call_args, env);
    }
    if (no_args) return ApplyNamedFilter(operand, name);
    return Unknown("ObjectValue", name);
  }
  if (operand.is_number() && name == "round") {
    const Value precision = Option(args, 0, kwargs, "precision", Value::Integer(0));
    const Value method = Option(args, 1, kwargs, "method", Value::String("common"));
    if (precision.kind != Kind::kInteger || method.kind != Kind::kString) {
      return Invalid("round expects an integer precision and a method name");
    }
    return Value::Float(PythonRound(operand.number, static_cast<int>(precision.number), method.string));
  }
  if (no_args) return ApplyNamedFilter(operand, name);
  return Invalid(absl::StrCat("Cannot apply filter \"", name, "\" to type: ", KindName(operand.kind)));
}

// Array filters that take arguments. NotFound when `name` is not one of them.
absl::StatusOr<Value> Interpreter::ApplyArrayCallFilter(const Value& operand,
                                                        const std::string& name,
                                                        const Node& call,
                                                        const Arguments& a) {
  const ValueList& items = *operand.array;
  if (name == "sort") {
    const Value reverse = Option(a.positional, 0, a.keywords, "reverse", Value::Boolean(false));
    if (reverse.kind != Kind::kBoolean) return Invalid("reverse must be a boolean");
    const Value case_sensitive =
        Option(a.positional, 1, a.keywords, "case_sensitive", Value::Boolean(false));
    if (case_sensitive.kind != Kind::kBoolean) return Invalid("case_sensitive must be a boolean");
    const Value attribute = Option(a.positional, 2, a.keywords, "attribute", Value::Null());
    if (attribute.kind != Kind::kString && attribute.kind != Kind::kInteger &&
        attribute.kind != Kind::kNull) {
      return Invalid("attribute must be a string, integer, or null");
    }
    return SortValues(items, reverse.boolean, case_sensitive.boolean, attribute);
  }
  if (name == "selectattr" || name == "rejectattr") {
    const bool select = name == "selectattr";
    for (const Value& item : items) {
      if (!item.is_container()) {
        return Invalid(absl::StrCat("`", name, "` can only be applied to array of objects"));
      }
    }
    for (const NodePtr& arg : call.items) {
      if (arg->kind != NodeKind::kString) {
        return Invalid(absl::StrCat("arguments of `", name, "` must be strings"));
      }
    }
    if (call.items.empty()) return Invalid(absl::StrCat("`", name, "` needs an attribute name"));
    const std::string& attr = call.items[0]->str;
    const std::string test = call.items.size() > 1 ? call.items[1]->str : "";
    ValueList test_args;
    if (call.items.size() > 2) test_args.push_back(Value::String(call.items[2]->str));
    ValueList out;
    for (const Value& item : items) {
      bool result = false;
      if (const Value* a = item.object->Find(attr)) {
        if (test.empty()) {
          result = Truthy(*a);
        } else {
          BRISK_ASSIGN_OR_RETURN(result, ApplyTest(test, *a, test_args));
        }
      }
      if (result == select) out.push_back(item);
    }
    return Value::Array(std::move(out));
  }
  if (name == "map") {
    if (const Value* attr = a.keywords.Find("attribute")) {
      if (attr->kind != Kind::kString) return Invalid("attribute must be a string");
      const Value* fallback = a.keywords.Find("default");
      ValueList out;
      for (const Value& item : items) {
        if (!item.is_container()) return Invalid("items in map must be an object");
        Value v = GetAttributePath(item, attr->string);
        out.push_back(v.kind == Kind::kUndefined && fallback ? *fallback : v);
      }
      return Value::Array(std::move(out));
    }
    if (!a.positional.empty() && a.positional[0].kind == Kind::kString) {
      ValueList out;
      for (const Value& item : items) {
        BRISK_ASSIGN_OR_RETURN(Value v, ApplyNamedFilter(item, a.positional[0].string));
        out.push_back(std::move(v));
      }
      return Value::Array(std::move(out));
    }
    return Invalid("`map` expressions without `attribute` set are not currently supported.");
  }
  if (name == "select" || name == "reject") {
    if (!a.positional.empty() && a.positional[0].kind != Kind::kString) {
      return Invalid(absl::StrCat("`", name, "` expects a test name"));
    }
    ValueList test_args(a.positional.size() > 1 ? a.positional.begin() + 1 : a.positional.end(),
                        a.positional.end());
    ValueList out;
    for (const Value& item : items) {
      bool keep = false;
      if (a.positional.empty()) {
        keep = Truthy(item);
      } else {
        BRISK_ASSIGN_OR_RETURN(keep, ApplyTest(a.positional[0].string, item, test_args));
      }
      if (keep == (name == "select")) out.push_back(item);
    }
    return Value::Array(std::move(out));
  }
  return absl::NotFoundError(name);
}

}  // namespace brisk::tokenizer::jinja
