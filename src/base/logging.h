// Minimal leveled logging to stderr: BRISK_LOG(kInfo) << "loaded " << n << " tensors";
// Lines carry a level letter and wall-clock time. The threshold is set once at start-up
// (cli/ owns the flag); logging never throws and is safe to call from any thread.
#pragma once

#include <sstream>

namespace brisk::base {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogThreshold(LogLevel level);
LogLevel GetLogThreshold();

class LogMessage {
 public:
  explicit LogMessage(LogLevel level) : level_(level) {}
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;

  template <typename T>
  LogMessage& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace brisk::base

#define BRISK_LOG(level)                                                  \
  if (::brisk::base::LogLevel::level < ::brisk::base::GetLogThreshold()) { \
  } else                                                                   \
    ::brisk::base::LogMessage(::brisk::base::LogLevel::level)
