#include "base/logging.h"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace brisk::base {
namespace {

std::atomic<LogLevel> g_threshold{LogLevel::kInfo};
std::mutex g_write_mu;

char LevelLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return 'D';
    case LogLevel::kInfo: return 'I';
    case LogLevel::kWarning: return 'W';
    case LogLevel::kError: return 'E';
  }
  return '?';
}

}  // namespace

void SetLogThreshold(LogLevel level) { g_threshold.store(level); }
LogLevel GetLogThreshold() { return g_threshold.load(); }

LogMessage::~LogMessage() {
  std::time_t now = std::time(nullptr);
  std::tm tm_utc{};
  gmtime_r(&now, &tm_utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm_utc);
  std::string line = stream_.str();
  std::lock_guard<std::mutex> lock(g_write_mu);
  std::fprintf(stderr, "%c %s brisk] %s\n", LevelLetter(level_), stamp, line.c_str());
}

}  // namespace brisk::base
