// The built-in globals, tests and methods of the template language, with the behaviour of
// @huggingface/jinja: `namespace`, `range`, `raise_exception`, `strftime_now` (plus `dict` as
// an extension), the `is` tests, and the methods reached through attributes (`s.strip()`,
// `d.items()`, `xs.length`). Errors come back without a line; the interpreter adds it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tokenizer/chat/interpreter.h"
#include "tokenizer/chat/value.h"

namespace brisk::tokenizer::jinja {

// Declares the globals in `env`. `now_seconds` is the strftime_now clock (UTC seconds); the
// system clock in local time when empty.
void InstallGlobals(Env& env, std::optional<double> now_seconds);

// `object.property` / `object[property]` (not slices): keys of objects and namespaces, then the
// methods of objects, strings and arrays; integer indices (negative from the end) of arrays
// and strings. Undefined when absent; InvalidArgument for a property of the wrong type.
absl::StatusOr<Value> GetMember(const Value& object, const Value& property);

// The method `name` (get, items, keys, values, dictsort) bound to `object` (an object value), or
// undefined when there is no such method. Keys of the object are not consulted.
Value GetObjectMethod(const Value& object, std::string_view name);

// Runs the test `name` (`x is name`, `x is name(args)`). InvalidArgument for an unknown test
// or an operand the test rejects.
absl::StatusOr<bool> ApplyTest(std::string_view name, const Value& operand,
                               const ValueList& args);

// Orders two values for sorting: numbers (booleans as 0/1) with numbers, strings with strings
// (case-folded unless `case_sensitive`), null with null, undefined with undefined. Returns
// -1, 0 or 1; InvalidArgument for other pairs.
absl::StatusOr<int> CompareValues(const Value& a, const Value& b, bool case_sensitive);

// Follows a dotted path ("a.b.0") through objects, namespaces and arrays; undefined when a step
// is missing.
Value GetAttributePath(const Value& item, std::string_view path);

// Python-style strftime over the subset %Y %m %d %b %B %H %M %% (others are left as written).
std::string Strftime(std::string_view format, std::optional<double> now_seconds);

}  // namespace brisk::tokenizer::jinja
