// Built-in globals, tests and methods; see builtins.h.
#include "tokenizer/chat/builtins.h"

#include <cmath>
#include <ctime>
#include <string>
#include <utility>

#include "tokenizer/chat/js_text.h"

namespace brisk::tokenizer::jinja {
namespace {

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(std::string(message));
}

Value StringList(const std::vector<std::string>& parts) {
  ValueList items;
  items.reserve(parts.size());
  for (const std::string& part : parts) items.push_back(Value::String(part));
  return Value::Array(std::move(items));
}

// Python str.split(sep, maxsplit) as the reference implements it.
absl::StatusOr<Value> Split(const std::string& text, const ValueList& args) {
  const Value sep = args.size() > 0 ? args[0] : Value::Null();
  if (sep.kind != Kind::kString && sep.kind != Kind::kNull) {
    return Invalid("sep argument must be a string or null");
  }
  const Value maxsplit = args.size() > 1 ? args[1] : Value::Integer(-1);
  if (maxsplit.kind != Kind::kInteger) return Invalid("maxsplit argument must be a number");
  const double max = maxsplit.number;
  std::vector<std::string> result;
  if (sep.kind == Kind::kNull) {
    const std::string_view rest = TrimJsStart(text);
    size_t pos = 0;
    while (pos < rest.size()) {
      size_t start = pos;
      while (start < rest.size() && JsSpaceLengthAt(rest, start) > 0) {
        start += JsSpaceLengthAt(rest, start);
      }
      if (start >= rest.size()) break;
      size_t end = start;
      while (end < rest.size() && JsSpaceLengthAt(rest, end) == 0) ++end;
      if (max != -1 && static_cast<double>(result.size()) >= max) {
        result.emplace_back(rest.substr(start));
        break;
      }
      result.emplace_back(rest.substr(start, end - start));
      pos = end;
    }
    return StringList(result);
  }
  if (sep.string.empty()) return Invalid("empty separator");
  size_t pos = 0;
  while (true) {
    const size_t found = text.find(sep.string, pos);
    if (found == std::string::npos) break;
    result.push_back(text.substr(pos, found - pos));
    pos = found + sep.string.size();
  }
  result.push_back(text.substr(pos));
  if (max != -1 && static_cast<double>(result.size()) > max) {
    const size_t keep = max < 0 ? 0 : static_cast<size_t>(max);
    std::string tail;
    for (size_t i = keep; i < result.size(); ++i) {
      if (i > keep) tail += sep.string;
      tail += result[i];
    }
    result.resize(keep);
    result.push_back(std::move(tail));
  }
  return StringList(result);
}

// Python str.replace(old, new, count) as the reference implements it.
absl::StatusOr<Value> Replace(const std::string& text, const ValueList& args) {
  if (args.size() < 2) return Invalid("replace() requires at least two arguments");
  if (args[0].kind != Kind::kString || args[1].kind != Kind::kString) {
    return Invalid("replace() arguments must be strings");
  }
  Value count = Value::Null();
  if (args.size() > 2) {
    if (args[2].kind == Kind::kKeywordArgs) {
      const Value* c = args[2].object->Find("count");
      count = c ? *c : Value::Null();
    } else {
      count = args[2];
    }
  }
  if (count.kind != Kind::kInteger && count.kind != Kind::kNull) {
    return Invalid("replace() count argument must be a number or null");
  }
  const std::string& from = args[0].string;
  const std::string& to = args[1].string;
  double remaining = count.kind == Kind::kNull || count.number < 0 ? INFINITY : count.number;
  std::string out;
  if (from.empty()) {
    // Inserts at every code point boundary, both ends included.
    const std::vector<char32_t> cps = DecodeUtf8(text);
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (remaining > 0) {
        out += to;
        --remaining;
      }
      if (i < cps.size()) AppendUtf8(cps[i], out);
    }
    return Value::String(std::move(out));
  }
  size_t pos = 0;
  while (remaining > 0) {
    const size_t found = text.find(from, pos);
    if (found == std::string::npos) break;
    out.append(text, pos, found - pos);
    out += to;
    pos = found + from.size();
    --remaining;
  }
  out.append(text, pos, std::string::npos);
  if (out.size() > kMaxStringBytes) return Invalid("string is too long");
  return Value::String(std::move(out));
}

// startswith / endswith with a string or a tuple of strings.
absl::StatusOr<Value> AffixTest(const std::string& text, const ValueList& args, bool prefix) {
  const char* name = prefix ? "startswith" : "endswith";
  const auto matches = [&](const std::string& affix) {
    if (affix.size() > text.size()) return false;
    return prefix ? text.compare(0, affix.size(), affix) == 0
                  : text.compare(text.size() - affix.size(), affix.size(), affix) == 0;
  };
  if (args.empty()) return Invalid(absl::StrCat(name, "() requires at least one argument"));
  if (args[0].kind == Kind::kString) return Value::Boolean(matches(args[0].string));
  if (args[0].is_array()) {
    for (const Value& item : *args[0].array) {
      if (item.kind != Kind::kString) {
        return Invalid(absl::StrCat(name, "() tuple elements must be strings"));
      }
      if (matches(item.string)) return Value::Boolean(true);
    }
    return Value::Boolean(false);
  }
  return Invalid(absl::StrCat(name, "() argument must be a string or tuple of strings"));
}

Value StringMethod(const std::string& text, std::string_view name) {
  using Fn = absl::StatusOr<Value> (*)(const std::string&, const ValueList&);
  static constexpr std::pair<std::string_view, Fn> kMethods[] = {
      {"upper", [](const std::string& s, const ValueList&) -> absl::StatusOr<Value> {
         return Value::String(JsToUpper(s));
       }},
      {"lower", [](const std::string& s, const ValueList&) -> absl::StatusOr<Value> {
         return Value::String(JsToLower(s));
       }},
      // The reference ignores the characters argument of strip/lstrip/rstrip and always
      // removes whitespace; kept for identical output.
      {"strip", [](const std::string& s, const ValueList&) -> absl::StatusOr<Value> {
         return Value::String(std::string(TrimJs(s)));
       }},
      {"lstrip", [](const std::string& s, const ValueList&) -> absl::StatusOr<Value> {
         return Value::String(std::string(TrimJsStart(s)));
       }},
      {"rstrip", [](const std::string& s, const ValueList&) -> absl::StatusOr<Value> {
         return Value::String(std::string(TrimJsEnd(s)));
       }},
      {"title", [](const std::string& s, const ValueList&) -> absl::StatusOr<Value> {
         return Value::String(JsTitle(s));
       }},
      {"capitalize", [](const std::string& s, const ValueList&) -> absl::StatusOr<Value> {
         return Value::String(JsCapitalize(s));
       }},
      {"startswith", [](const std::string& s, const ValueList& a) { return AffixTest(s, a, true); }},
      {"endswith", [](const std::string& s, const ValueList& a) { return AffixTest(s, a, false); }},
      {"split", &Split},
      {"replace", &Replace},
  };
  if (name == "length") return Value::Integer(static_cast<double>(Utf16Length(text)));
  for (const auto& [method, fn] : kMethods) {
    if (method != name) continue;
    return Value::Function([text, fn = fn](ValueList& args, const EnvPtr&) {
      return fn(text, args);
    });
  }
  return Value::Undefined();
}

absl::StatusOr<Value> DictSort(const Value& object, ValueList args) {
  ObjectMap kwargs;
  if (!args.empty() && args.back().kind == Kind::kKeywordArgs) {
    kwargs = *args.back().object;
    args.pop_back();
  }
  const auto option = [&](size_t index, const char* key, Value fallback) {
    if (index < args.size()) return args[index];
    const Value* v = kwargs.Find(key);
    return v ? *v : fallback;
  };
  const Value case_sensitive = option(0, "case_sensitive", Value::Boolean(false));
  if (case_sensitive.kind != Kind::kBoolean) return Invalid("case_sensitive must be a boolean");
  const Value by = option(1, "by", Value::String("key"));
  if (by.kind != Kind::kString) return Invalid("by must be a string");
  if (by.string != "key" && by.string != "value") {
    return Invalid("by must be either 'key' or 'value'");
  }
  const Value reverse = option(2, "reverse", Value::Boolean(false));
  if (reverse.kind != Kind::kBoolean) return Invalid("reverse must be a boolean");
  ValueList items;
  for (const auto& [key, value] : object.object->entries()) {
    items.push_back(Value::Array({Value::String(key), value}));
  }
  const size_t index = by.string == "key" ? 0 : 1;
  absl::Status error;
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    if (!error.ok()) return false;
    absl::StatusOr<int> c =
        CompareValues((*a.array)[index], (*b.array)[index], case_sensitive.boolean);
    if (!c.ok()) {
      error = c.status();
      return false;
    }
    return reverse.boolean ? *c > 0 : *c < 0;
  });
  BRISK_RETURN_IF_ERROR(error);
  return Value::Array(std::move(items));
}

}  // namespace

Value GetObjectMethod(const Value& object, std::string_view name) {
  if (name == "get") {
    return Value::Function([object](ValueList& args, const EnvPtr&) -> absl::StatusOr<Value> {
      const Value key = args.empty() ? Value::Undefined() : args[0];
      if (key.kind != Kind::kString) {
        return Invalid(absl::StrCat("Object key must be a string: got ", KindName(key.kind)));
      }
      if (const Value* found = object.object->Find(key.string)) return *found;
      return args.size() > 1 ? args[1] : Value::Null();
    });
  }
  if (name == "items" || name == "keys" || name == "values") {
    const int which = name == "items" ? 0 : name == "keys" ? 1 : 2;
    return Value::Function([object, which](ValueList&, const EnvPtr&) -> absl::StatusOr<Value> {
      ValueList out;
      for (const auto& [key, value] : object.object->entries()) {
        if (which == 0) out.push_back(Value::Array({Value::String(key), value}));
        if (which == 1) out.push_back(Value::String(key));
        if (which == 2) out.push_back(value);
      }
      return Value::Array(std::move(out));
    });
  }
  if (name == "dictsort") {
    return Value::Function([object](ValueList& args, const EnvPtr&) {
      return DictSort(object, args);
    });
  }
  return Value::Undefined();
}

namespace {

absl::StatusOr<Value> MakeNamespace(ValueList& args, bool as_dict) {
  ValueList positional = args;
  ObjectMap kwargs;
  if (!positional.empty() && positional.back().kind == Kind::kKeywordArgs) {
    kwargs = *positional.back().object;
    positional.pop_back();
  }
  const char* name = as_dict ? "dict" : "namespace";
  if (positional.size() > 1) {
    return Invalid(absl::StrCat(name, " expected at most 1 argument, got ", positional.size()));
  }
  ObjectMap entries;
  if (positional.size() == 1) {
    const Value& source = positional[0];
    if (source.is_object()) {
      for (const auto& [key, value] : source.object->entries()) entries.Set(key, value);
    } else if (source.is_array()) {
      for (const Value& pair : *source.array) {
        ValueList parts;
        if (pair.is_array()) parts = *pair.array;
        if (pair.kind == Kind::kString) {
          for (char32_t cp : DecodeUtf8(pair.string)) {
            std::string ch;
            AppendUtf8(cp, ch);
            parts.push_back(Value::String(ch));
          }
        }
        if (parts.size() != 2) {
          return Invalid(absl::StrCat(name, " expected an object or an iterable of [key, value] pairs"));
        }
        if (parts[0].kind != Kind::kString) return Invalid(absl::StrCat(name, " keys must be strings"));
        entries.Set(parts[0].string, parts[1]);
      }
    } else {
      return Invalid(absl::StrCat("'", KindName(source.kind), "' object is not iterable"));
    }
  }
  for (const auto& [key, value] : kwargs.entries()) entries.Set(key, value);
  return Value::Object(std::move(entries), as_dict ? Kind::kObject : Kind::kNamespace);
}

absl::StatusOr<Value> Range(ValueList& args) {
  double numbers[3] = {0, 0, 1};
  if (args.empty() || args.size() > 3) return Invalid("range expected 1 to 3 arguments");
  for (size_t i = 0; i < args.size(); ++i) {
    const Value& a = args[i];
    if (!a.is_number() && a.kind != Kind::kBoolean) {
      return Invalid(absl::StrCat("range arguments must be numbers, got ", KindName(a.kind)));
    }
    numbers[i] = a.kind == Kind::kBoolean ? (a.boolean ? 1 : 0) : a.number;
  }
  double start = numbers[0], stop = numbers[1], step = numbers[2];
  if (args.size() == 1) {
    stop = start;
    start = 0;
  }
  if (step == 0) return Invalid("range() step must not be zero");
  const double count = std::ceil((stop - start) / step);
  if (!(count <= static_cast<double>(kMaxListLength))) {
    return Invalid("range() is too long");
  }
  ValueList items;
  if (step > 0) {
    for (double i = start; i < stop; i += step) items.push_back(Value::Number(i));
  } else {
    for (double i = start; i > stop; i += step) items.push_back(Value::Number(i));
  }
  return Value::Array(std::move(items));
}

absl::StatusOr<Value> RaiseException(ValueList& args) {
  std::string message;
  if (!args.empty() && !args[0].is_nullish()) {
    BRISK_ASSIGN_OR_RETURN(message, ConcatString(args[0]));
  } else if (!args.empty() && args[0].kind == Kind::kNull) {
    message = "null";
  }
  return absl::InvalidArgumentError(message);
}

bool IsNumericLike(const Value& v) { return v.is_number() || v.kind == Kind::kBoolean; }
double NumericValue(const Value& v) {
  return v.kind == Kind::kBoolean ? (v.boolean ? 1 : 0) : v.number;
}

}  // namespace

void InstallGlobals(Env& env, std::optional<double> now_seconds) {
  env.Set("true", Value::Boolean(true));
  env.Set("false", Value::Boolean(false));
  env.Set("none", Value::Null());
  env.Set("True", Value::Boolean(true));
  env.Set("False", Value::Boolean(false));
  env.Set("None", Value::Null());
  env.Set("namespace", Value::Function([](ValueList& args, const EnvPtr&) {
            return MakeNamespace(args, /*as_dict=*/false);
          }));
  env.Set("dict", Value::Function([](ValueList& args, const EnvPtr&) {
            return MakeNamespace(args, /*as_dict=*/true);
          }));
  env.Set("range", Value::Function([](ValueList& args, const EnvPtr&) { return Range(args); }));
  env.Set("raise_exception", Value::Function([](ValueList& args, const EnvPtr&) {
            return RaiseException(args);
          }));
  env.Set("strftime_now",
          Value::Function([now_seconds](ValueList& args, const EnvPtr&) -> absl::StatusOr<Value> {
            std::string format;
            if (!args.empty() && !args[0].is_nullish()) {
              BRISK_ASSIGN_OR_RETURN(format, ConcatString(args[0]));
            }
            return Value::String(Strftime(format, now_seconds));
          }));
}

absl::StatusOr<Value> GetMember(const Value& object, const Value& property) {
  if (object.is_container()) {
    if (property.kind != Kind::kString) {
      return Invalid(absl::StrCat("Cannot access property with non-string: got ",
                                  KindName(property.kind)));
    }
    if (const Value* found = object.object->Find(property.string)) return *found;
    return object.is_object() ? GetObjectMethod(object, property.string) : Value::Undefined();
  }
  if (object.is_array() || object.kind == Kind::kString) {
    if (property.kind == Kind::kInteger) {
      const long long index = static_cast<long long>(property.number);
      if (object.kind == Kind::kString) {
        std::optional<std::string> unit = Utf16At(object.string, index);
        return unit ? Value::String(*unit) : Value::Undefined();
      }
      const long long size = static_cast<long long>(object.array->size());
      const long long i = index < 0 ? index + size : index;
      return i >= 0 && i < size ? (*object.array)[i] : Value::Undefined();
    }
    if (property.kind != Kind::kString) {
      return Invalid(absl::StrCat("Cannot access property with non-string/non-number: got ",
                                  KindName(property.kind)));
    }
    if (object.kind == Kind::kString) return StringMethod(object.string, property.string);
    if (property.string == "length") {
      return Value::Integer(static_cast<double>(object.array->size()));
    }
    if (property.string == "append") {  // extension: the reference has no list methods
      return Value::Function([list = object.array](ValueList& args, const EnvPtr&)
                                 -> absl::StatusOr<Value> {
        if (list->size() >= kMaxListLength) return Invalid("list is too long");
        list->push_back(args.empty() ? Value::Undefined() : args[0]);
        return Value::Null();
      });
    }
    return Value::Undefined();
  }
  if (property.kind != Kind::kString) {
    return Invalid(absl::StrCat("Cannot access property with non-string: got ",
                                KindName(property.kind)));
  }
  return Value::Undefined();
}

absl::StatusOr<bool> ApplyTest(std::string_view name, const Value& operand,
                               const ValueList& args) {
  const Kind k = operand.kind;
  const Value arg = args.empty() ? Value::Undefined() : args[0];
  if (name == "boolean") return k == Kind::kBoolean;
  if (name == "callable") return k == Kind::kFunction;
  if (name == "odd" || name == "even") {
    if (k != Kind::kInteger) return Invalid(absl::StrCat("cannot ", std::string(name), " on ", KindName(k)));
    const bool odd = std::fmod(operand.number, 2) != 0;
    return name == "odd" ? odd : !odd;
  }
  if (name == "false") return k == Kind::kBoolean && !operand.boolean;
  if (name == "true") return k == Kind::kBoolean && operand.boolean;
  if (name == "none") return k == Kind::kNull;
  if (name == "string") return k == Kind::kString;
  if (name == "number") return operand.is_number();
  if (name == "integer") return k == Kind::kInteger;
  if (name == "iterable") return k == Kind::kArray || k == Kind::kString;
  if (name == "mapping") return operand.is_object();
  if (name == "sequence") return operand.is_array() || operand.is_object() || k == Kind::kString;
  if (name == "lower" || name == "upper") {
    if (k != Kind::kString) return Invalid(absl::StrCat("cannot test ", std::string(name), " on ", KindName(k)));
    return operand.string == (name == "lower" ? JsToLower(operand.string)
                                              : JsToUpper(operand.string));
  }
  if (name == "defined") return k != Kind::kUndefined;
  if (name == "undefined") return k == Kind::kUndefined;
  if (name == "equalto" || name == "eq" || name == "sameas") return StrictEqual(operand, arg);
  // Extensions beyond the reference (it cannot pass arguments to tests).
  if (name == "ne") return !StrictEqual(operand, arg);
  if (name == "divisibleby") {
    if (!operand.is_number() || !arg.is_number() || arg.number == 0) {
      return Invalid("divisibleby needs two numbers and a nonzero divisor");
    }
    return std::fmod(operand.number, arg.number) == 0;
  }
  if (name == "in") {
    if (arg.is_array()) {
      for (const Value& item : *arg.array) {
        if (StrictEqual(item, operand)) return true;
      }
      return false;
    }
    if (arg.kind == Kind::kString && k == Kind::kString) {
      return arg.string.find(operand.string) != std::string::npos;
    }
    if (arg.is_container() && k == Kind::kString) return arg.object->Find(operand.string) != nullptr;
    return Invalid(absl::StrCat("cannot test 'in' on ", KindName(arg.kind)));
  }
  return Invalid(absl::StrCat("Unknown test: ", std::string(name)));
}

absl::StatusOr<int> CompareValues(const Value& a, const Value& b, bool case_sensitive) {
  if (a.kind == Kind::kNull || b.kind == Kind::kNull) {
    if (a.kind == b.kind) return 0;
    return Invalid(absl::StrCat("Cannot compare ", KindName(a.kind), " with ", KindName(b.kind)));
  }
  if (a.kind == Kind::kUndefined || b.kind == Kind::kUndefined) {
    if (a.kind == b.kind) return 0;
    return Invalid(absl::StrCat("Cannot compare ", KindName(a.kind), " with ", KindName(b.kind)));
  }
  if (IsNumericLike(a) && IsNumericLike(b)) {
    const double x = NumericValue(a), y = NumericValue(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.kind != b.kind) {
    return Invalid(absl::StrCat("Cannot compare different types: ", KindName(a.kind), " and ",
                                KindName(b.kind)));
  }
  if (a.kind != Kind::kString) return Invalid(absl::StrCat("Cannot compare type: ", KindName(a.kind)));
  const std::string x = case_sensitive ? a.string : JsToLower(a.string);
  const std::string y = case_sensitive ? b.string : JsToLower(b.string);
  return x < y ? -1 : x > y ? 1 : 0;
}

Value GetAttributePath(const Value& item, std::string_view path) {
  Value value = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part(path.substr(start, dot == std::string_view::npos ? path.npos : dot - start));
    if (value.is_container()) {
      const Value* found = value.object->Find(part);
      value = found ? *found : Value::Undefined();
    } else if (value.is_array()) {
      const std::optional<double> index = JsParseInt(part);
      if (!index || *index < 0 || *index >= static_cast<double>(value.array->size())) {
        return Value::Undefined();
      }
      value = (*value.array)[static_cast<size_t>(*index)];
    } else {
      return Value::Undefined();
    }
    if (dot == std::string_view::npos) return value;
    start = dot + 1;
  }
}

std::string Strftime(std::string_view format, std::optional<double> now_seconds) {
  static constexpr const char* kMonths[] = {"January", "February", "March",     "April",
                                            "May",     "June",     "July",      "August",
                                            "September", "October", "November", "December"};
  std::tm tm{};
  if (now_seconds) {
    const std::time_t t = static_cast<std::time_t>(std::floor(*now_seconds));
    gmtime_r(&t, &tm);
  } else {
    const std::time_t t = std::time(nullptr);
    localtime_r(&t, &tm);
  }
  const auto pad2 = [](int n) { return n < 10 ? "0" + std::to_string(n) : std::to_string(n); };
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 >= format.size()) {
      out.push_back(format[i]);
      continue;
    }
    const char spec = format[i + 1];
    switch (spec) {
      case 'Y': out += std::to_string(tm.tm_year + 1900); break;
      case 'm': out += pad2(tm.tm_mon + 1); break;
      case 'd': out += pad2(tm.tm_mday); break;
      case 'b': out += std::string(kMonths[tm.tm_mon]).substr(0, 3); break;
      case 'B': out += kMonths[tm.tm_mon]; break;
      case 'H': out += pad2(tm.tm_hour); break;
      case 'M': out += pad2(tm.tm_min); break;
      case '%': out.push_back('%'); break;
      default:
        out.push_back('%');
        continue;  // not a token: the next character is copied on its own
    }
    ++i;
  }
  return out;
}

}  // namespace brisk::tokenizer::jinja
