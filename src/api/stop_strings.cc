// StopStringMatcher: search the held-back text plus the new piece for every stop string, and
// emit all but the longest suffix that a stop string could extend (the candidate). A stop found
// at or before the candidate's start ends the stream there; one found after it waits, because
// the candidate could still complete as an earlier-starting stop.
// Why nothing is emitted too early: an occurrence starting in the emitted part would either lie
// inside the pending text (and be found) or run past its end, making a longer suffix a candidate.
#include "api/stop_strings.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace brisk::api {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stop_strings) {
  for (std::string& stop : stop_strings) {
    if (!stop.empty()) stops_.push_back(std::move(stop));
  }
}

StopStringMatcher::Result StopStringMatcher::Append(std::string_view new_text) {
  BRISK_CHECK(!stopped_) << "Append after the stream already stopped";
  BRISK_CHECK(!flushed_) << "Append after Flush";
  pending_.append(new_text);

  Result result;
  const StopHit hit = FindEarliestStop();
  // Start of the longest suffix that may still grow into a stop string; a stop found at or
  // before it cannot be preceded by an occurrence completed later.
  const size_t candidate_idx = pending_.size() - HeldBackLength();
  if (hit.stop != nullptr && hit.idx <= candidate_idx) {
    result.emit = pending_.substr(0, hit.idx);
    result.stopped = true;
    stopped_ = true;
    stopped_by_ = *hit.stop;
    pending_.clear();
    return result;
  }
  result.emit = pending_.substr(0, candidate_idx);
  pending_.erase(0, candidate_idx);
  return result;
}

std::string StopStringMatcher::Flush() {
  BRISK_CHECK(!stopped_) << "Flush after the stream already stopped";
  BRISK_CHECK(!flushed_) << "Flush called twice";
  flushed_ = true;
  const StopHit hit = FindEarliestStop();
  if (hit.stop != nullptr) {
    stopped_ = true;
    stopped_by_ = *hit.stop;
    pending_.resize(hit.idx);
  }
  return std::exchange(pending_, std::string());
}

StopStringMatcher::StopHit StopStringMatcher::FindEarliestStop() const {
  size_t best_idx = std::string::npos;
  const std::string* best_stop = nullptr;
  for (const std::string& stop : stops_) {
    const size_t idx = pending_.find(stop);
    if (idx == std::string::npos) continue;
    if (idx < best_idx || (idx == best_idx && stop.size() > best_stop->size())) {
      best_idx = idx;
      best_stop = &stop;
    }
  }
  return {.idx = best_idx, .stop = best_stop};
}

size_t StopStringMatcher::HeldBackLength() const {
  const std::string_view pending(pending_);
  size_t longest = 0;
  for (const std::string& stop : stops_) {
    // Only lengths longer than the best so far can improve it; try the longest first.
    const size_t max_len = std::min(stop.size() - 1, pending.size());
    for (size_t len = max_len; len > longest; --len) {
      if (pending.substr(pending.size() - len) == std::string_view(stop).substr(0, len)) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

}  // namespace brisk::api
