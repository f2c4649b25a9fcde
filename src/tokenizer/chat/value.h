// The runtime values of the template interpreter and their conversions, mirroring the value
// model of @huggingface/jinja: numbers are doubles tagged integer or float, arrays, objects and
// namespaces are shared by reference (so `==` on them is identity and `set ns.x` is seen by
// every holder), objects keep insertion order, and the three string conversions (rendering,
// concatenation, JSON) each follow that library's output byte for byte.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace brisk::tokenizer::jinja {

struct Env;
struct Value;
using ValueList = std::vector<Value>;

enum class Kind {
  kUndefined,
  kNull,
  kBoolean,
  kInteger,
  kFloat,
  kString,
  kArray,
  kTuple,
  kObject,
  kKeywordArgs,  // the trailing keyword arguments of a call, an object for every other purpose
  kNamespace,
  kFunction,
};

// The type name used in error messages ("StringValue", "ArrayValue", ...).
const char* KindName(Kind kind);

// An insertion-ordered string-keyed map. Small maps (most messages) are searched linearly;
// a hash index is built once a map grows past kIndexThreshold entries.
class ObjectMap {
 public:
  const Value* Find(std::string_view key) const;
  // Inserts or replaces; a replaced key keeps its position.
  void Set(const std::string& key, Value value);
  // Builds a small map from entries. REQUIRES: distinct keys, at most kIndexThreshold of them.
  static ObjectMap FromDistinct(std::vector<std::pair<std::string, Value>> entries);
  size_t size() const { return entries_.size(); }
  void Clear() {
    entries_.clear();
    index_.clear();
  }
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }

 private:
  static constexpr size_t kIndexThreshold = 16;
  std::optional<size_t> IndexOf(std::string_view key) const;

  std::vector<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;  // empty until the threshold is passed
};

// A callable: receives the positional arguments (with a trailing kKeywordArgs value when the
// call had keyword arguments) and the caller's scope.
using NativeFunction =
    std::function<absl::StatusOr<Value>(ValueList& args, const std::shared_ptr<Env>& scope)>;

struct Value {
  Kind kind = Kind::kUndefined;
  bool boolean = false;                      // kBoolean
  double number = 0;                         // kInteger, kFloat
  std::string string;                        // kString
  std::shared_ptr<ValueList> array;          // kArray, kTuple
  std::shared_ptr<ObjectMap> object;         // kObject, kKeywordArgs, kNamespace
  std::shared_ptr<NativeFunction> function;  // kFunction

  static Value Undefined() { return Value(); }
  static Value Null();
  static Value Boolean(bool b);
  static Value Integer(double n);
  static Value Float(double n);
  // Integer when `n` is integral (JS Number.isInteger), float otherwise.
  static Value Number(double n);
  static Value String(std::string s);
  static Value Array(ValueList items = {});
  static Value Tuple(ValueList items);
  static Value Object(ObjectMap map = {}, Kind kind = Kind::kObject);
  static Value Function(NativeFunction fn);

  bool is_number() const { return kind == Kind::kInteger || kind == Kind::kFloat; }
  bool is_array() const { return kind == Kind::kArray || kind == Kind::kTuple; }
  bool is_object() const { return kind == Kind::kObject || kind == Kind::kKeywordArgs; }
  bool is_container() const { return is_object() || kind == Kind::kNamespace; }
  bool is_nullish() const { return kind == Kind::kUndefined || kind == Kind::kNull; }
};

// Python truthiness as the reference implements it (empty containers are false, a namespace
// is always true).
bool Truthy(const Value& value);

// How `{{ value }}` renders (the reference's toString()).
absl::StatusOr<std::string> RenderString(const Value& value);
// The text of a value in `+`/`~` concatenation and `join` (JS `value.toString()`).
// REQUIRES: value is neither null nor undefined.
absl::StatusOr<std::string> ConcatString(const Value& value);

struct JsonOptions {
  int indent = 0;  // 0: single line
  bool ensure_ascii = false;
  std::optional<std::pair<std::string, std::string>> separators;  // item, key
  bool sort_keys = false;
};
// The `tojson` text. Undefined becomes null with `undefined_as_null`, else "undefined".
absl::StatusOr<std::string> ToJson(const Value& value, const JsonOptions& options,
                                   bool undefined_as_null);

// JS `a.value === b.value`: primitives by value, containers and functions by identity.
bool StrictEqual(const Value& a, const Value& b);
// JS `a.value == b.value` (loose equality with its string/number/boolean coercions).
bool LooseEqual(const Value& a, const Value& b);

// Converts JSON data, ordering object keys as a parsed JS object would (array-index keys first,
// ascending, then the others in document order). InvalidArgument past 512 levels of nesting.
absl::StatusOr<Value> FromJson(const nlohmann::json& json);
absl::StatusOr<Value> FromJson(const nlohmann::ordered_json& json);

}  // namespace brisk::tokenizer::jinja
