// Status helpers in the shape of absl/status/status_macros.h, which our Debian
// Abseil (20220623) does not ship yet.
//
//   CL_RETURN_IF_ERROR(expr);            returns expr's status from the caller if not OK
//   CL_ASSIGN_OR_RETURN(auto v, expr);   unwraps a StatusOr or returns its status
//
// Both evaluate `expr` exactly once and never allocate on the OK path.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CL_STATUS_CONCAT_INNER_(a, b) a##b
#define CL_STATUS_CONCAT_(a, b) CL_STATUS_CONCAT_INNER_(a, b)

#define CL_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status cl_status_ = (expr);      \
    if (!cl_status_.ok()) return cl_status_; \
  } while (0)

#define CL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(*tmp)

#define CL_ASSIGN_OR_RETURN(lhs, expr) \
  CL_ASSIGN_OR_RETURN_IMPL_(CL_STATUS_CONCAT_(cl_statusor_, __LINE__), lhs, expr)
