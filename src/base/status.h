// Error propagation for expected failures (bad input, environment): absl::Status and
// absl::StatusOr<T>, plus the two macros every layer uses to pass them up.
// Broken invariants use BRISK_CHECK (check.h) instead.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define BRISK_STATUS_CONCAT_INNER_(a, b) a##b
#define BRISK_STATUS_CONCAT_(a, b) BRISK_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define BRISK_RETURN_IF_ERROR(expr)                   \
  do {                                                \
    ::absl::Status brisk_status_ = (expr);            \
    if (!brisk_status_.ok()) return brisk_status_;    \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns the status, otherwise moves the
// value into `lhs` (a declaration such as `auto x` or an existing lvalue).
#define BRISK_ASSIGN_OR_RETURN(lhs, rexpr) \
  BRISK_ASSIGN_OR_RETURN_IMPL_(BRISK_STATUS_CONCAT_(brisk_statusor_, __LINE__), lhs, rexpr)

#define BRISK_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
