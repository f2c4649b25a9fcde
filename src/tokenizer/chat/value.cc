// Runtime values of the template interpreter; see value.h.
#include "tokenizer/chat/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/check.h"
#include "tokenizer/chat/js_text.h"

namespace brisk::tokenizer::jinja {
namespace {

// Bounds recursion over values (a namespace may contain itself).
constexpr int kMaxValueDepth = 512;

absl::Status TooDeep() {
  return absl::InvalidArgumentError("value nesting is too deep (more than 512 levels)");
}

std::string FloatToString(double n) {
  if (n == 0 && std::signbit(n)) return "-0.0";
  if (std::isfinite(n) && n == std::floor(n) && std::fabs(n) < 1e21) {
    char buffer[400];
    std::snprintf(buffer, sizeof(buffer), "%.1f", n);
    return buffer;
  }
  return JsNumberToString(n);
}

// ICU-like ordering for sort_keys: case-insensitive first, lower case before upper on ties.
bool LocaleLess(const std::string& a, const std::string& b) {
  const std::string la = JsToLower(a), lb = JsToLower(b);
  if (la != lb) return la < lb;
  return a > b;
}

absl::StatusOr<std::string> ToJsonImpl(const Value& value, const JsonOptions& options, int depth,
                                       bool undefined_as_null) {
  if (depth > kMaxValueDepth) return TooDeep();
  const std::string item_sep =
      options.separators ? options.separators->first : (options.indent > 0 ? "," : ", ");
  const std::string key_sep = options.separators ? options.separators->second : ": ";
  switch (value.kind) {
    case Kind::kNull:
      return std::string("null");
    case Kind::kUndefined:
      return std::string(undefined_as_null ? "null" : "undefined");
    case Kind::kInteger:
    case Kind::kFloat:
      return std::isfinite(value.number) ? JsNumberToString(value.number) : "null";
    case Kind::kBoolean:
      return std::string(value.boolean ? "true" : "false");
    case Kind::kString:
      return JsonQuote(value.string, options.ensure_ascii);
    case Kind::kArray:
    case Kind::kObject:
    case Kind::kNamespace:
      break;
    case Kind::kTuple:
    case Kind::kKeywordArgs:
    case Kind::kFunction:
      return absl::InvalidArgumentError(
          absl::StrCat("Cannot convert to JSON: ", KindName(value.kind)));
  }
  const std::string indent_unit(options.indent, ' ');
  std::string base_padding = "\n";
  for (int i = 0; i < depth; ++i) base_padding += indent_unit;
  const std::string child_padding = base_padding + indent_unit;
  const bool pretty = options.indent > 0;
  std::vector<std::string> parts;
  if (value.kind == Kind::kArray) {
    for (const Value& item : *value.array) {
      BRISK_ASSIGN_OR_RETURN(std::string text,
                             ToJsonImpl(item, options, depth + 1, undefined_as_null));
      parts.push_back(std::move(text));
    }
    std::string out = "[";
    if (pretty && !parts.empty()) out += child_padding;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) out += pretty ? item_sep + child_padding : item_sep;
      out += parts[i];
    }
    if (pretty && !parts.empty()) out += base_padding;
    return out + "]";
  }
  std::vector<const std::pair<std::string, Value>*> entries;
  for (const auto& entry : value.object->entries()) entries.push_back(&entry);
  if (options.sort_keys) {
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto* a, const auto* b) { return LocaleLess(a->first, b->first); });
  }
  for (const auto* entry : entries) {
    BRISK_ASSIGN_OR_RETURN(std::string text,
                           ToJsonImpl(entry->second, options, depth + 1, undefined_as_null));
    std::string part = JsonQuote(entry->first, options.ensure_ascii) + key_sep + text;
    parts.push_back(pretty ? child_padding + part : part);
  }
  std::string out = "{";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += item_sep;
    out += parts[i];
  }
  if (pretty && !parts.empty()) out += base_padding;
  return out + "}";
}

// Array-index keys ("0", "17"; no sign or leading zero, below 2^32 - 1) of a JS object.
std::optional<unsigned long long> ArrayIndexKey(const std::string& key) {
  if (key.empty() || key.size() > 10 || (key.size() > 1 && key[0] == '0')) return std::nullopt;
  for (char c : key) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const unsigned long long n = std::strtoull(key.c_str(), nullptr, 10);
  if (n >= 4294967295ULL) return std::nullopt;
  return n;
}

template <typename Json>
absl::StatusOr<Value> FromJsonImpl(const Json& json, int depth) {
  if (depth > kMaxValueDepth) return TooDeep();
  switch (json.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return Value::Null();
    case nlohmann::json::value_t::boolean:
      return Value::Boolean(json.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::Number(static_cast<double>(json.template get<int64_t>()));
    case nlohmann::json::value_t::number_unsigned:
      return Value::Number(static_cast<double>(json.template get<uint64_t>()));
    case nlohmann::json::value_t::number_float:
      return Value::Number(json.template get<double>());
    case nlohmann::json::value_t::string:
      return Value::String(json.template get<std::string>());
    case nlohmann::json::value_t::binary:
      return absl::InvalidArgumentError("binary JSON values are not supported");
    case nlohmann::json::value_t::array: {
      ValueList items;
      items.reserve(json.size());
      for (const auto& item : json) {
        BRISK_ASSIGN_OR_RETURN(Value v, FromJsonImpl(item, depth + 1));
        items.push_back(std::move(v));
      }
      return Value::Array(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      std::vector<std::pair<unsigned long long, const std::string*>> index_keys;
      for (auto it = json.begin(); it != json.end(); ++it) {
        if (auto n = ArrayIndexKey(it.key())) index_keys.emplace_back(*n, &it.key());
      }
      std::sort(index_keys.begin(), index_keys.end());
      ObjectMap map;
      for (const auto& [n, key] : index_keys) {
        BRISK_ASSIGN_OR_RETURN(Value v, FromJsonImpl(json.at(*key), depth + 1));
        map.Set(*key, std::move(v));
      }
      for (auto it = json.begin(); it != json.end(); ++it) {
        if (ArrayIndexKey(it.key())) continue;
        BRISK_ASSIGN_OR_RETURN(Value v, FromJsonImpl(it.value(), depth + 1));
        map.Set(it.key(), std::move(v));
      }
      return Value::Object(std::move(map));
    }
  }
  return Value::Null();
}

// The JS primitive a value coerces to in loose equality.
Value ToPrimitive(const Value& v) {
  if (v.is_array()) {
    absl::StatusOr<std::string> s = ConcatString(v);
    return Value::String(s.ok() ? *s : std::string());
  }
  return Value::String("[object Map]");
}

}  // namespace

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kUndefined: return "UndefinedValue";
    case Kind::kNull: return "NullValue";
    case Kind::kBoolean: return "BooleanValue";
    case Kind::kInteger: return "IntegerValue";
    case Kind::kFloat: return "FloatValue";
    case Kind::kString: return "StringValue";
    case Kind::kArray: return "ArrayValue";
    case Kind::kTuple: return "TupleValue";
    case Kind::kObject: return "ObjectValue";
    case Kind::kKeywordArgs: return "KeywordArgumentsValue";
    case Kind::kNamespace: return "NamespaceValue";
    case Kind::kFunction: return "FunctionValue";
  }
  return "Value";
}

std::optional<size_t> ObjectMap::IndexOf(std::string_view key) const {
  if (entries_.size() <= kIndexThreshold) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].first == key) return i;
    }
    return std::nullopt;
  }
  auto it = index_.find(std::string(key));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

ObjectMap ObjectMap::FromDistinct(std::vector<std::pair<std::string, Value>> entries) {
  BRISK_CHECK_LE(entries.size(), kIndexThreshold);
  ObjectMap map;
  map.entries_ = std::move(entries);
  return map;
}

const Value* ObjectMap::Find(std::string_view key) const {
  const std::optional<size_t> i = IndexOf(key);
  return i ? &entries_[*i].second : nullptr;
}

void ObjectMap::Set(const std::string& key, Value value) {
  if (const std::optional<size_t> i = IndexOf(key)) {
    entries_[*i].second = std::move(value);
    return;
  }
  entries_.emplace_back(key, std::move(value));
  if (entries_.size() == kIndexThreshold + 1) {
    for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
  } else if (entries_.size() > kIndexThreshold + 1) {
    index_.emplace(key, entries_.size() - 1);
  }
}

Value Value::Null() {
  Value v;
  v.kind = Kind::kNull;
  return v;
}
Value Value::Boolean(bool b) {
  Value v;
  v.kind = Kind::kBoolean;
  v.boolean = b;
  return v;
}
Value Value::Integer(double n) {
  Value v;
  v.kind = Kind::kInteger;
  v.number = n;
  return v;
}
Value Value::Float(double n) {
  Value v;
  v.kind = Kind::kFloat;
  v.number = n;
  return v;
}
Value Value::Number(double n) {
  return std::isfinite(n) && n == std::floor(n) ? Integer(n) : Float(n);
}
Value Value::String(std::string s) {
  Value v;
  v.kind = Kind::kString;
  v.string = std::move(s);
  return v;
}
Value Value::Array(ValueList items) {
  Value v;
  v.kind = Kind::kArray;
  v.array = std::make_shared<ValueList>(std::move(items));
  return v;
}
Value Value::Tuple(ValueList items) {
  Value v = Array(std::move(items));
  v.kind = Kind::kTuple;
  return v;
}
Value Value::Object(ObjectMap map, Kind kind) {
  Value v;
  v.kind = kind;
  v.object = std::make_shared<ObjectMap>(std::move(map));
  return v;
}
Value Value::Function(NativeFunction fn) {
  Value v;
  v.kind = Kind::kFunction;
  v.function = std::make_shared<NativeFunction>(std::move(fn));
  return v;
}

bool Truthy(const Value& value) {
  switch (value.kind) {
    case Kind::kUndefined:
    case Kind::kNull:
      return false;
    case Kind::kBoolean:
      return value.boolean;
    case Kind::kInteger:
    case Kind::kFloat:
      return value.number != 0 && !std::isnan(value.number);
    case Kind::kString:
      return !value.string.empty();
    case Kind::kArray:
    case Kind::kTuple:
      return !value.array->empty();
    case Kind::kObject:
    case Kind::kKeywordArgs:
      return value.object->size() > 0;
    case Kind::kNamespace:
    case Kind::kFunction:
      return true;
  }
  return false;
}

absl::StatusOr<std::string> RenderString(const Value& value) {
  switch (value.kind) {
    case Kind::kUndefined: return std::string("undefined");
    case Kind::kNull: return std::string("null");
    case Kind::kBoolean: return std::string(value.boolean ? "true" : "false");
    case Kind::kInteger: return JsNumberToString(value.number);
    case Kind::kFloat: return FloatToString(value.number);
    case Kind::kString: return value.string;
    case Kind::kFunction:
      return absl::InvalidArgumentError("a function cannot be rendered as text");
    case Kind::kArray:
    case Kind::kTuple:
    case Kind::kObject:
    case Kind::kKeywordArgs:
    case Kind::kNamespace:
      return ToJsonImpl(value, JsonOptions(), 0, /*undefined_as_null=*/false);
  }
  return std::string();
}

absl::StatusOr<std::string> ConcatString(const Value& value) {
  switch (value.kind) {
    case Kind::kInteger:
    case Kind::kFloat:
      return JsNumberToString(value.number);
    case Kind::kArray:
    case Kind::kTuple: {
      std::string out;
      for (size_t i = 0; i < value.array->size(); ++i) {
        if (i > 0) out.push_back(',');
        BRISK_ASSIGN_OR_RETURN(std::string part, RenderString((*value.array)[i]));
        out += part;
      }
      return out;
    }
    case Kind::kObject:
    case Kind::kKeywordArgs:
    case Kind::kNamespace:
      return std::string("[object Map]");
    default:
      return RenderString(value);
  }
}

absl::StatusOr<std::string> ToJson(const Value& value, const JsonOptions& options,
                                   bool undefined_as_null) {
  if (options.indent < 0) return absl::InvalidArgumentError("indent must not be negative");
  return ToJsonImpl(value, options, 0, undefined_as_null);
}

bool StrictEqual(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.number == b.number;
  if (a.kind != b.kind) {
    const bool both_containers = a.is_container() && b.is_container();
    const bool both_arrays = a.is_array() && b.is_array();
    if (!both_containers && !both_arrays) return false;
  }
  switch (a.kind) {
    case Kind::kUndefined:
    case Kind::kNull: return true;
    case Kind::kBoolean: return a.boolean == b.boolean;
    case Kind::kString: return a.string == b.string;
    case Kind::kArray:
    case Kind::kTuple: return a.array == b.array;
    case Kind::kObject:
    case Kind::kKeywordArgs:
    case Kind::kNamespace: return a.object == b.object;
    case Kind::kFunction: return a.function == b.function;
    default: return false;
  }
}

bool LooseEqual(const Value& a, const Value& b) {
  if (a.is_nullish() || b.is_nullish()) return a.is_nullish() && b.is_nullish();
  const auto is_primitive = [](const Value& v) {
    return v.is_number() || v.kind == Kind::kString || v.kind == Kind::kBoolean;
  };
  if (!is_primitive(a) && !is_primitive(b)) return StrictEqual(a, b);
  if (a.kind == Kind::kBoolean) return LooseEqual(Value::Integer(a.boolean ? 1 : 0), b);
  if (b.kind == Kind::kBoolean) return LooseEqual(a, Value::Integer(b.boolean ? 1 : 0));
  if (!is_primitive(a)) {
    if (a.kind == Kind::kFunction) return false;
    return LooseEqual(ToPrimitive(a), b);
  }
  if (!is_primitive(b)) {
    if (b.kind == Kind::kFunction) return false;
    return LooseEqual(a, ToPrimitive(b));
  }
  if (a.kind == Kind::kString && b.kind == Kind::kString) return a.string == b.string;
  const double x = a.kind == Kind::kString ? JsStringToNumber(a.string) : a.number;
  const double y = b.kind == Kind::kString ? JsStringToNumber(b.string) : b.number;
  return x == y;
}

absl::StatusOr<Value> FromJson(const nlohmann::json& json) { return FromJsonImpl(json, 0); }
absl::StatusOr<Value> FromJson(const nlohmann::ordered_json& json) {
  return FromJsonImpl(json, 0);
}

}  // namespace brisk::tokenizer::jinja
