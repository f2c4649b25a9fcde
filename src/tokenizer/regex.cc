// PCRE2 wrapper (see regex.h). Per-thread scratch: one match-data block (only the overall
// match is recorded, which fits every pattern) and one JIT stack, grown beyond PCRE2's 32 KiB
// default so that long runs of letters or spaces never exhaust it.
#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/logging.h"

namespace brisk::tokenizer {

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

// JIT stack bounds: start small, allow up to 8 MiB per thread. PCRE2's JIT stores a frame
// per nested backtracking point, not per repeated character, so the tokenizer patterns stay far
// below this; the bound only protects against user-supplied pathological patterns.
constexpr size_t kJitStackStartBytes = 32 * 1024;
constexpr size_t kJitStackMaxBytes = 8 * 1024 * 1024;

class MatchScratch {
 public:
  MatchScratch()
      : data_(pcre2_match_data_create(1, nullptr)),
        context_(pcre2_match_context_create(nullptr)),
        jit_stack_(pcre2_jit_stack_create(kJitStackStartBytes, kJitStackMaxBytes, nullptr)) {
    if (jit_stack_ != nullptr) pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(jit_stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(data_);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;

  pcre2_match_data* data() { return data_; }
  pcre2_match_context* context() { return context_; }

 private:
  pcre2_match_data* data_;
  pcre2_match_context* context_;
  pcre2_jit_stack* jit_stack_;
};

MatchScratch& ThreadScratch() {
  thread_local MatchScratch scratch;
  return scratch;
}

std::string ErrorMessage(int code) {
  PCRE2_UCHAR buffer[256];
  const int len = pcre2_get_error_message(code, buffer, sizeof(buffer));
  if (len < 0) return absl::StrCat("PCRE2 error ", code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(len));
}

size_t CharLengthAt(std::string_view text, size_t pos) {
  size_t len = 1;
  while (pos + len < text.size() && (static_cast<uint8_t>(text[pos + len]) & 0xC0) == 0x80) ++len;
  return len;
}

// Oniguruma's Unicode classes, which `tokenizers` patterns are written for, as PCRE2 class
// bodies. \s is White_Space (PCRE2's own \s also takes U+180E, which stopped being a space in
// Unicode 6.3); \w is letters, marks, numbers and connector punctuation (PCRE2's lacks marks).
constexpr std::string_view kSpaceBody = R"(\t\n\x0B\f\r\x{85}\p{Z})";
constexpr std::string_view kWordBody = R"(\p{L}\p{M}\p{N}\p{Pc})";

// Rewrites \s, \S, \w and \W into explicit classes. Inside a character class only the
// positive forms are rewritten (a negated class cannot be nested there); \Q...\E is kept.
std::string OnigurumaClasses(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  bool in_class = false;
  bool quoted = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (quoted) {
      if (c == '\\' && i + 1 < pattern.size() && pattern[i + 1] == 'E') quoted = false;
      out.push_back(c);
      continue;
    }
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      const bool space = next == 's' || next == 'S';
      const bool word = next == 'w' || next == 'W';
      const std::string_view body = space ? kSpaceBody : kWordBody;
      if ((space || word) && !in_class) {
        out.append(next == 's' || next == 'w' ? "[" : "[^");
        out.append(body);
        out.push_back(']');
      } else if ((next == 's' || next == 'w') && in_class) {
        out.append(body);
      } else {
        quoted = next == 'Q';
        out.push_back(c);
        out.push_back(next);
      }
      continue;
    }
    out.push_back(c);
    if (!in_class && c == '[') {
      in_class = true;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out.push_back(pattern[++i]);
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out.push_back(pattern[++i]);
    } else if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      const size_t close = pattern.find(":]", i + 2);  // a POSIX class such as [:alpha:]
      if (close != std::string_view::npos) {
        out.append(pattern.substr(i + 1, close + 2 - (i + 1)));
        i = close + 1;
      }
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<Regex> Regex::Compile(std::string_view pattern, Syntax syntax) {
  // PCRE2 refuses UCP together with LITERAL; a literal has no classes for UCP to affect.
  const uint32_t options =
      syntax == Syntax::kLiteral ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP;
  const std::string source =
      syntax == Syntax::kLiteral ? std::string(pattern) : OnigurumaClasses(pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(), options,
                    &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot compile regex '", std::string(pattern),
                                                   "' at offset ", error_offset, ": ",
                                                   ErrorMessage(error_code)));
  }
  auto owned = std::make_shared<Code>();
  owned->code = code;
  // JIT is an optimisation: without it pcre2_match falls back to the interpreter.
  const int jit_rc = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  if (jit_rc != 0) {
    BRISK_LOG(kWarning) << "regex JIT unavailable (" << ErrorMessage(jit_rc) << "), interpreting '"
                        << pattern << "'";
  }
  return Regex(std::string(pattern), std::move(owned));
}

void Regex::FindAll(std::string_view text, std::vector<ByteSpan>& matches) const {
  MatchScratch& scratch = ThreadScratch();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(code_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                               scratch.data(), scratch.context());
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      BRISK_LOG(kError) << "regex '" << pattern_ << "' failed on a " << text.size()
                        << "-byte text: " << ErrorMessage(rc);
      return;
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.data());
    const size_t match_start = ovector[0];
    const size_t match_end = ovector[1];
    matches.emplace_back(match_start, match_end);
    if (match_end > match_start) {
      start = match_end;
    } else if (match_end < text.size()) {
      start = match_end + CharLengthAt(text, match_end);
    } else {
      return;
    }
  }
}

bool Regex::FullMatch(std::string_view text) const {
  MatchScratch& scratch = ThreadScratch();
  const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                             0, PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED | PCRE2_ENDANCHORED,
                             scratch.data(), scratch.context());
  return rc >= 0;
}

}  // namespace brisk::tokenizer
