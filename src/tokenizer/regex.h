// A compiled PCRE2 pattern (UTF + UCP, JIT when available) that finds successive matches in
// UTF-8 text. Compiled patterns are immutable and shared by all threads; each thread keeps its
// own match scratch, so FindAll is thread-safe. PCRE2 backtracks like Oniguruma (the engine
// Hugging Face `tokenizers` uses), so lookarounds such as `\s+(?!\S)` behave the same; \s and
// \w are rewritten to Oniguruma's Unicode definitions (White_Space; letters, marks, numbers
// and connector punctuation), which differ from PCRE2's own in a few characters, and general
// categories \p{..} / \P{..} follow Unicode 15 (utf8proc) where PCRE2's tables are older.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace brisk::tokenizer {

// A byte range [first, second) of a text.
using ByteSpan = std::pair<size_t, size_t>;

class Regex {
 public:
  enum class Syntax { kPattern, kLiteral };

  // Compiles `pattern` (a regular expression, or a literal string for kLiteral).
  // Returns InvalidArgument with PCRE2's message and the offset of the error.
  static absl::StatusOr<Regex> Compile(std::string_view pattern, Syntax syntax);

  // Appends the spans of the successive non-overlapping matches in `text`, leftmost first.
  // After an empty match the search resumes one character later. If the engine gives up on
  // pathological input (a resource limit), the error is logged and the spans found so far
  // are kept. REQUIRES: `text` is valid UTF-8. Thread-safe.
  void FindAll(std::string_view text, std::vector<ByteSpan>& matches) const;

  // True when the whole of `text` matches. REQUIRES: `text` is valid UTF-8. Thread-safe.
  bool FullMatch(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  Regex(std::string pattern, std::shared_ptr<const Code> code)
      : pattern_(std::move(pattern)), code_(std::move(code)) {}

  std::string pattern_;
  std::shared_ptr<const Code> code_;
};

}  // namespace brisk::tokenizer
