// Always-on invariant checks. A failed BRISK_CHECK is our bug, not the user's: it prints the
// condition, file:line and any streamed message to stderr and aborts. Expected failures use
// absl::Status (status.h) instead.
#pragma once

#include <sstream>
#include <string>

namespace brisk::base {

// Collects a message with operator<< and aborts when destroyed. Used only through the macros.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure();

  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets `BRISK_CHECK(c) << msg` compile as a void expression in both branches.
struct CheckVoidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace brisk::base

#define BRISK_CHECK(condition)                 \
  (condition) ? (void)0                        \
              : ::brisk::base::CheckVoidify() & \
                    ::brisk::base::CheckFailure(__FILE__, __LINE__, #condition)

#define BRISK_CHECK_OP_(a, op, b) BRISK_CHECK((a)op(b)) << "(" << (a) << " vs " << (b) << ") "
#define BRISK_CHECK_EQ(a, b) BRISK_CHECK_OP_(a, ==, b)
#define BRISK_CHECK_NE(a, b) BRISK_CHECK_OP_(a, !=, b)
#define BRISK_CHECK_LT(a, b) BRISK_CHECK_OP_(a, <, b)
#define BRISK_CHECK_LE(a, b) BRISK_CHECK_OP_(a, <=, b)
#define BRISK_CHECK_GT(a, b) BRISK_CHECK_OP_(a, >, b)
#define BRISK_CHECK_GE(a, b) BRISK_CHECK_OP_(a, >=, b)
