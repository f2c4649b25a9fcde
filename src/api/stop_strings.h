// StopStringMatcher: applies OpenAI `stop` strings to a stream of decoded text.
// Invariant across the file: the text emitted so far never contains the start of a stop-string
// occurrence, and only the text that could still be part of one is held back (the longest
// suffix that is a proper prefix of a stop string, nothing more). So the concatenation of every
// emit (plus Flush) equals the full text cut at its first stop occurrence, and text that cannot
// begin a stop string leaves as soon as it arrives.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace brisk::api {

class StopStringMatcher {
 public:
  struct Result {
    std::string emit;      // text safe to send to the client now (may be empty)
    bool stopped = false;  // a stop string was found; `emit` ends right before it
  };

  // `stop_strings` may be empty (the matcher then never stops and never holds text back).
  // Empty strings in the list are ignored: OpenAI clients send them by accident and an empty
  // stop would otherwise end every generation before its first byte. Duplicates are harmless.
  explicit StopStringMatcher(std::vector<std::string> stop_strings);

  // Feeds the next piece of decoded text. Returns everything up to the earliest stop-string
  // occurrence in the whole stream, minus the longest suffix of the not-yet-emitted text that is
  // a proper prefix of some stop string (held back until the next call or Flush).
  // Rule for several stop strings: the occurrence that STARTS first wins, whatever the order in
  // which they complete, so the output does not depend on how the text was cut into pieces.
  // Consequence: with stops {"abb", "b"}, after "aab" the "b" is complete but "ab" may still
  // become "abb", so the matcher reports the stop only once that is decided (one more piece, or
  // Flush). Two occurrences starting at the same byte cut the text at the same place; stopped_by()
  // then reports the longest.
  // Pieces are matched byte-wise, so a stop string may span any number of pieces. With valid
  // UTF-8 stop strings and text fed in whole characters, `emit` never splits a character.
  // REQUIRES: !stopped() and Flush() not called yet.
  // Cost: O(len(pending) * total stop bytes) at worst, where pending is the held-back text plus
  // `new_text`; fine for a dozen stop strings of a few dozen bytes.
  Result Append(std::string_view new_text);

  // Ends a generation that finished without a reported stop (EOS, length limit, cancel): returns
  // the held-back text, cut at a stop string it may already contain (see the rule above); check
  // stopped() afterwards to tell a stop from a normal end. REQUIRES: !stopped() and Flush() not
  // called yet.
  std::string Flush();

  bool stopped() const { return stopped_; }
  // The stop string that ended the stream; empty when !stopped().
  const std::string& stopped_by() const { return stopped_by_; }

 private:
  // Length of the longest suffix of pending_ that is a proper prefix of some stop string.
  size_t HeldBackLength() const;
  struct StopHit {
    size_t idx = 0;                     // start of the occurrence in pending_
    const std::string* stop = nullptr;  // null when pending_ holds no stop string
  };
  // The earliest stop occurrence in pending_; at equal starts, the longest stop.
  StopHit FindEarliestStop() const;

  // Constant after construction: non-empty stop strings.
  std::vector<std::string> stops_;
  // Received text not emitted yet: always a proper prefix of some stop string between calls.
  std::string pending_;
  bool stopped_ = false;
  bool flushed_ = false;
  std::string stopped_by_;
};

}  // namespace brisk::api
