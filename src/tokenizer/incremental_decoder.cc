// Streaming detokenization (IncrementalDecoder in tokenizer.h).
//
// The stream keeps a small window of ids: context ids whose text was already returned, then
// pending ids. On each id it decodes the window and, if that text extends the context's text
// and does not end in U+FFFD (the mark of an incomplete UTF-8 sequence), returns the extension
// and makes the pending ids the new context. Decoding with the previous ids as context keeps
// decoders that look at neighbouring tokens correct; for byte-level decoders the window always
// starts at a character boundary, so the pieces add up to the full decode.
#include "tokenizer/tokenizer.h"

#include "tokenizer/utf8.h"

namespace brisk::tokenizer {

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tokenizer, SkipSpecial skip)
    : tokenizer_(&tokenizer), skip_(skip) {}

std::string IncrementalDecoder::Append(int32_t id) {
  ids_.push_back(id);
  std::string text = tokenizer_->Decode(ids_, skip_);
  if (text.size() <= context_text_.size() || !text.starts_with(context_text_) ||
      text.ends_with(kReplacementChar)) {
    return "";
  }
  std::string fresh = text.substr(context_text_.size());
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(num_context_));
  num_context_ = ids_.size();
  context_text_ = tokenizer_->Decode(ids_, skip_);
  return fresh;
}

std::string IncrementalDecoder::Flush() {
  std::string text = tokenizer_->Decode(ids_, skip_);
  std::string rest;
  if (text.size() > context_text_.size()) {
    // If the decoder rewrote already returned text (an invalid byte run under ByteFallback),
    // that text cannot be taken back; return what lies beyond it.
    rest = text.substr(context_text_.size());
  }
  ids_.clear();
  num_context_ = 0;
  context_text_.clear();
  return rest;
}

}  // namespace brisk::tokenizer
