// Monotonic time for measuring spans. Tests that need time inject a Clock instead of sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace brisk::base {

inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Measures elapsed wall time from construction (or the last Reset()).
class Stopwatch {
 public:
  Stopwatch() : start_us_(NowMicros()) {}
  void Reset() { start_us_ = NowMicros(); }
  int64_t ElapsedMicros() const { return NowMicros() - start_us_; }
  double ElapsedMillis() const { return static_cast<double>(ElapsedMicros()) / 1000.0; }

 private:
  int64_t start_us_;
};

}  // namespace brisk::base
