// Runtime (file system) errors as log errors: for the files of the log that issue file operations,
// not for the pure codec.
#pragma once

#include <string>
#include <string_view>

#include "node/log/errors.h"
#include "runtime/errors.h"

namespace sluice::log {

// A runtime error as a log error, with `context` (usually the file) in front of the message.
inline Status from_runtime(const runtime::Status& status, std::string_view context) {
  if (status.ok()) return Status();
  Errc code = Errc::io_error;
  switch (status.code()) {
    case runtime::Errc::no_space: code = Errc::no_space; break;
    case runtime::Errc::cancelled: code = Errc::cancelled; break;
    case runtime::Errc::limit_exceeded: code = Errc::limit_exceeded; break;
    case runtime::Errc::invalid_argument: code = Errc::invalid_argument; break;
    default: break;
  }
  std::string message(context);
  message += ": ";
  message += status.to_string();
  return Status(code, std::move(message));
}

inline const runtime::Status& runtime_status(const runtime::Status& status) { return status; }
template <typename T>
runtime::Status runtime_status(const runtime::Result<T>& result) {
  return result.status();
}

}  // namespace sluice::log

// SLUICE_TRY for a runtime::Status inside log code: returns it as a log Status with context.
#define SLUICE_LOG_TRY_IO(expression, context)                                                   \
  do {                                                                                           \
    const auto& sluice_io_status_ = (expression);                                                    \
    if (!sluice_io_status_.ok()) {                                                               \
      return ::sluice::log::from_runtime(::sluice::log::runtime_status(sluice_io_status_), (context)); \
    }                                                                                            \
  } while (false)
