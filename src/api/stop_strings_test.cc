// Tests for StopStringMatcher: hand-written streams (stop at the start, across three pieces,
// overlapping prefixes, UTF-8) and a randomized comparison against the obvious oracle, which
// runs std::string::find over the whole text, with random splits into pieces.
#include "api/stop_strings.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace brisk::api {
namespace {

// Feeds `pieces` until a stop and returns everything emitted (plus Flush when no stop).
std::string RunStream(StopStringMatcher& matcher, const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& piece : pieces) {
    StopStringMatcher::Result r = matcher.Append(piece);
    out += r.emit;
    if (r.stopped) return out;
  }
  return out + matcher.Flush();
}

TEST(StopStringMatcherTest, NoStopStringsEmitsEverythingAtOnce) {
  StopStringMatcher matcher({});
  EXPECT_EQ(matcher.Append("hello").emit, "hello");
  EXPECT_EQ(matcher.Append(" world").emit, " world");
  EXPECT_EQ(matcher.Append("").emit, "");
  EXPECT_EQ(matcher.Flush(), "");
  EXPECT_FALSE(matcher.stopped());
}

TEST(StopStringMatcherTest, EmptyStopStringsAreIgnored) {
  StopStringMatcher matcher({"", ""});
  StopStringMatcher::Result r = matcher.Append("abc");
  EXPECT_EQ(r.emit, "abc");
  EXPECT_FALSE(r.stopped);
}

TEST(StopStringMatcherTest, StopAtVeryStart) {
  StopStringMatcher matcher({"STOP"});
  StopStringMatcher::Result r = matcher.Append("STOP and more");
  EXPECT_EQ(r.emit, "");
  EXPECT_TRUE(r.stopped);
  EXPECT_TRUE(matcher.stopped());
  EXPECT_EQ(matcher.stopped_by(), "STOP");
}

TEST(StopStringMatcherTest, StopInsideOnePieceDropsTheRest) {
  StopStringMatcher matcher({"\n\n"});
  StopStringMatcher::Result r = matcher.Append("line one\n\nline two");
  EXPECT_EQ(r.emit, "line one");
  EXPECT_TRUE(r.stopped);
}

TEST(StopStringMatcherTest, StopSpanningThreePieces) {
  StopStringMatcher matcher({"<|end|>"});
  StopStringMatcher::Result r1 = matcher.Append("hello <|");
  EXPECT_EQ(r1.emit, "hello ");
  EXPECT_FALSE(r1.stopped);
  StopStringMatcher::Result r2 = matcher.Append("en");
  EXPECT_EQ(r2.emit, "");
  EXPECT_FALSE(r2.stopped);
  StopStringMatcher::Result r3 = matcher.Append("d|> never sent");
  EXPECT_EQ(r3.emit, "");
  EXPECT_TRUE(r3.stopped);
}

TEST(StopStringMatcherTest, HeldPrefixThatDoesNotCompleteIsReleased) {
  StopStringMatcher matcher({"<|end|>"});
  EXPECT_EQ(matcher.Append("a <|e").emit, "a ");
  // "<|ex" cannot grow into "<|end|>" any more, so all of it leaves now.
  StopStringMatcher::Result r = matcher.Append("x");
  EXPECT_EQ(r.emit, "<|ex");
  EXPECT_FALSE(r.stopped);
}

TEST(StopStringMatcherTest, OverlappingPrefixAabInAaab) {
  StopStringMatcher matcher({"aab"});
  EXPECT_EQ(matcher.Append("a").emit, "");   // "a" may start "aab"
  EXPECT_EQ(matcher.Append("a").emit, "");   // "aa" may start "aab"
  EXPECT_EQ(matcher.Append("a").emit, "a");  // "aaa": only the last "aa" may
  StopStringMatcher::Result r = matcher.Append("b");
  EXPECT_EQ(r.emit, "");
  EXPECT_TRUE(r.stopped);
}

TEST(StopStringMatcherTest, EarliestOccurrenceWinsOverListOrder) {
  StopStringMatcher matcher({"world", "lo w"});
  StopStringMatcher::Result r = matcher.Append("hello world");
  EXPECT_EQ(r.emit, "hel");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(matcher.stopped_by(), "lo w");
}

TEST(StopStringMatcherTest, TieAtSameStartReportsLongest) {
  StopStringMatcher matcher({"ab", "abc"});
  StopStringMatcher::Result r = matcher.Append("xabcd");
  EXPECT_EQ(r.emit, "x");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(matcher.stopped_by(), "abc");
}

TEST(StopStringMatcherTest, EarlierStartingCandidateDelaysALaterCompleteStop) {
  // "b" is complete after "aab", but "ab" may still grow into "abb", which starts earlier.
  {
    StopStringMatcher matcher({"abb", "b"});
    StopStringMatcher::Result r = matcher.Append("aab");
    EXPECT_EQ(r.emit, "a");
    ASSERT_FALSE(r.stopped);
    r = matcher.Append("b");
    EXPECT_EQ(r.emit, "");
    EXPECT_TRUE(r.stopped);
    EXPECT_EQ(matcher.stopped_by(), "abb");
  }
  {
    StopStringMatcher matcher({"abb", "b"});
    EXPECT_EQ(matcher.Append("aab").emit, "a");
    StopStringMatcher::Result r = matcher.Append("x");
    EXPECT_EQ(r.emit, "a");
    EXPECT_TRUE(r.stopped);
    EXPECT_EQ(matcher.stopped_by(), "b");
  }
  {
    // The stream ends while undecided: Flush applies the complete stop.
    StopStringMatcher matcher({"abb", "b"});
    EXPECT_EQ(matcher.Append("aab").emit, "a");
    EXPECT_EQ(matcher.Flush(), "a");
    EXPECT_TRUE(matcher.stopped());
    EXPECT_EQ(matcher.stopped_by(), "b");
  }
}

TEST(StopStringMatcherTest, TextThatCannotStartAStopIsEmittedImmediately) {
  StopStringMatcher matcher({"</answer>", "Observation:"});
  // No suffix of these pieces begins either stop string: nothing may be held back.
  for (const char* piece : {"The", " answer", " is", " 42.", " <", "b>bold</b>"}) {
    const std::string text(piece);
    StopStringMatcher::Result r = matcher.Append(text);
    if (text == " <") {
      EXPECT_EQ(r.emit, " ");  // "<" may start "</answer>"
    } else if (text == "b>bold</b>") {
      EXPECT_EQ(r.emit, "<b>bold</b>");
    } else {
      EXPECT_EQ(r.emit, text);
    }
    EXPECT_FALSE(r.stopped);
  }
  EXPECT_EQ(matcher.Flush(), "");
}

TEST(StopStringMatcherTest, FlushReturnsHeldBackText) {
  StopStringMatcher matcher({"END"});
  EXPECT_EQ(matcher.Append("abcEN").emit, "abc");
  EXPECT_EQ(matcher.Flush(), "EN");
  EXPECT_FALSE(matcher.stopped());
}

TEST(StopStringMatcherTest, Utf8StopAndText) {
  // "。" is E3 80 82; the text is fed one whole character at a time.
  StopStringMatcher matcher({"\xE3\x80\x82"});
  std::vector<std::string> pieces = {"\xE4\xBD\xA0", "\xE5\xA5\xBD", "\xE3\x80\x82",
                                     "\xE5\x86\x8D"};  // 你 好 。 再
  EXPECT_EQ(matcher.Append(pieces[0]).emit, pieces[0]);
  EXPECT_EQ(matcher.Append(pieces[1]).emit, pieces[1]);
  StopStringMatcher::Result r = matcher.Append(pieces[2]);
  EXPECT_EQ(r.emit, "");
  EXPECT_TRUE(r.stopped);
}

TEST(StopStringMatcherTest, Utf8SharedLeadByteIsNotSplit) {
  // "é" is C3 A9 and "è" is C3 A8: they share the lead byte, yet whole-character input
  // leaves as whole characters.
  StopStringMatcher matcher({"\xC3\xA9"});
  EXPECT_EQ(matcher.Append("caf\xC3\xA8").emit, "caf\xC3\xA8");
  // A piece that ends mid-character (bytewise feeding) holds only the lead byte back.
  EXPECT_EQ(matcher.Append("s\xC3").emit, "s");
  EXPECT_EQ(matcher.Append("\xA8!").emit, "\xC3\xA8!");
  StopStringMatcher::Result r = matcher.Append("x\xC3\xA9y");
  EXPECT_EQ(r.emit, "x");
  EXPECT_TRUE(r.stopped);
}

TEST(StopStringMatcherTest, StopAcrossManySingleBytePieces) {
  StopStringMatcher matcher({"</tool_call>"});
  const std::string text = "call</tool_call>after";
  std::vector<std::string> pieces;
  for (char c : text) pieces.emplace_back(1, c);
  EXPECT_EQ(RunStream(matcher, pieces), "call");
  EXPECT_TRUE(matcher.stopped());
}

TEST(StopStringMatcherDeathTest, AppendAfterStopIsABug) {
  StopStringMatcher matcher({"x"});
  ASSERT_TRUE(matcher.Append("x").stopped);
  EXPECT_DEATH(matcher.Append("y"), "stopped");
  EXPECT_DEATH(matcher.Flush(), "stopped");
}

TEST(StopStringMatcherDeathTest, AppendAfterFlushIsABug) {
  StopStringMatcher matcher({"x"});
  EXPECT_EQ(matcher.Flush(), "");
  EXPECT_DEATH(matcher.Append("y"), "Flush");
}

// ---- Randomized comparison against the oracle ----

std::string RandomString(std::mt19937& rng, const std::string& alphabet, int min_len,
                         int max_len) {
  std::uniform_int_distribution<int> len_dist(min_len, max_len);
  std::uniform_int_distribution<size_t> char_dist(0, alphabet.size() - 1);
  std::string s(len_dist(rng), ' ');
  for (char& c : s) c = alphabet[char_dist(rng)];
  return s;
}

// Position of the first occurrence of any non-empty stop string in `text`, or npos.
size_t OracleFirstStop(const std::string& text, const std::vector<std::string>& stops) {
  size_t first = std::string::npos;
  for (const std::string& stop : stops) {
    if (!stop.empty()) first = std::min(first, text.find(stop));
  }
  return first;
}

// Longest suffix of `text` that is a proper prefix of some stop string, by brute force.
size_t OracleHeldBack(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const std::string& stop : stops) {
    for (size_t len = 1; len < stop.size() && len <= text.size(); ++len) {
      if (text.compare(text.size() - len, len, stop, 0, len) == 0) best = std::max(best, len);
    }
  }
  return best;
}

// True when `received` holds a stop occurrence that no continuation can beat: no suffix starting
// before it is a proper prefix of a stop string (which could still complete earlier-starting).
bool OracleStopIsDecided(const std::string& received, const std::vector<std::string>& stops) {
  const size_t first = OracleFirstStop(received, stops);
  if (first == std::string::npos) return false;
  for (size_t start = 0; start < first; ++start) {
    const std::string suffix = received.substr(start);
    for (const std::string& stop : stops) {
      if (suffix.size() < stop.size() && stop.compare(0, suffix.size(), suffix) == 0) {
        return false;
      }
    }
  }
  return true;
}

struct RandomCaseOptions {
  std::string alphabet;
  int max_stops = 3;
  int max_stop_len = 4;
  int max_text_len = 40;
};

// Runs one random case and checks the final output (independent of the cut points), the moment
// of stopping and that the held-back text is exactly the minimal one after every piece.
void RunRandomCase(std::mt19937& rng, const RandomCaseOptions& opt, int case_idx) {
  std::uniform_int_distribution<int> num_stops_dist(0, opt.max_stops);
  std::vector<std::string> stops(num_stops_dist(rng));
  for (std::string& stop : stops) stop = RandomString(rng, opt.alphabet, 0, opt.max_stop_len);
  const std::string text = RandomString(rng, opt.alphabet, 0, opt.max_text_len);

  // Random cut points, including empty pieces.
  std::vector<std::string> pieces;
  std::uniform_int_distribution<int> piece_len_dist(0, 5);
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = std::min<size_t>(piece_len_dist(rng), text.size() - pos);
    pieces.push_back(text.substr(pos, len));
    pos += len;
  }
  pieces.push_back("");

  std::string trace = "case " + std::to_string(case_idx) + " text='" + text + "' stops=";
  for (const std::string& s : stops) trace += "'" + s + "' ";
  SCOPED_TRACE(trace);

  const size_t first_stop = OracleFirstStop(text, stops);
  const std::string expected =
      first_stop == std::string::npos ? text : text.substr(0, first_stop);

  StopStringMatcher matcher(stops);
  std::string received;
  std::string emitted;
  bool stopped = false;
  for (const std::string& piece : pieces) {
    received += piece;
    StopStringMatcher::Result r = matcher.Append(piece);
    emitted += r.emit;
    ASSERT_EQ(received.compare(0, emitted.size(), emitted), 0) << "emitted is not a prefix";
    ASSERT_EQ(r.stopped, OracleStopIsDecided(received, stops))
        << "after receiving '" << received << "'";
    if (r.stopped) {
      stopped = true;
      break;
    }
    // Held back text is exactly the minimal candidate suffix.
    ASSERT_EQ(received.size() - emitted.size(), OracleHeldBack(received, stops))
        << "after receiving '" << received << "', emitted '" << emitted << "'";
  }
  if (!stopped) {
    emitted += matcher.Flush();
    stopped = matcher.stopped();
  }
  EXPECT_EQ(stopped, first_stop != std::string::npos);
  EXPECT_EQ(emitted, expected);
}

TEST(StopStringMatcherRandomTest, BinaryAlphabetShortStops) {
  std::mt19937 rng(12345);
  const RandomCaseOptions opt{.alphabet = "ab", .max_stops = 3, .max_stop_len = 4};
  for (int i = 0; i < 4000; ++i) {
    RunRandomCase(rng, opt, i);
    if (HasFatalFailure() || HasNonfatalFailure()) return;
  }
}

TEST(StopStringMatcherRandomTest, ThreeLetterAlphabetLongerStops) {
  std::mt19937 rng(777);
  const RandomCaseOptions opt{
      .alphabet = "abc", .max_stops = 5, .max_stop_len = 7, .max_text_len = 80};
  for (int i = 0; i < 4000; ++i) {
    RunRandomCase(rng, opt, i);
    if (HasFatalFailure() || HasNonfatalFailure()) return;
  }
}

TEST(StopStringMatcherRandomTest, MultiByteAlphabet) {
  // Bytes of two UTF-8 characters sharing a lead byte (é, è) plus ASCII, cut anywhere.
  std::mt19937 rng(4242);
  const RandomCaseOptions opt{
      .alphabet = "\xC3\xA9\xA8x", .max_stops = 3, .max_stop_len = 5, .max_text_len = 50};
  for (int i = 0; i < 3000; ++i) {
    RunRandomCase(rng, opt, i);
    if (HasFatalFailure() || HasNonfatalFailure()) return;
  }
}

}  // namespace
}  // namespace brisk::api
