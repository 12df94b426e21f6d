// The log module's error codes. Every operation of the codec and the log returns one of these as a
// value. Runtime (file system) errors are mapped onto them by from_runtime().
#pragma once

#include <string_view>

#include "node/base/status.h"
#include "runtime/errors.h"

namespace sluice::log {

enum class Errc {
  ok = 0,
  invalid_argument,     // bad options or path, or an offset that is not a batch/segment boundary
  empty_batch,          // a batch needs at least one record
  batch_too_large,      // above batch_bytes_max (or what the format can express)
  offset_out_of_range,  // outside [start_offset, end_offset]
  offset_mismatch,      // an appended batch's base offset is not the log's end offset
  term_regression,      // an appended batch's term is below the log's last term
  truncated_batch,      // codec: the bytes end inside a batch
  invalid_batch,        // codec: bad magic, version, field or record structure
  crc_mismatch,         // codec: a CRC32C does not match
  corruption,           // stored data that was durable is damaged: the replica needs repair
  no_space,             // ENOSPC; the log stays usable and works again once space frees
  io_error,             // EIO and other file system failures
  limit_exceeded,       // a named _max was hit
  cancelled,            // the calling fiber was cancelled
  failed,               // an earlier failure left the files in an unknown state: close and reopen
  closed,               // the log was closed
};

constexpr std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::empty_batch: return "empty_batch";
    case Errc::batch_too_large: return "batch_too_large";
    case Errc::offset_out_of_range: return "offset_out_of_range";
    case Errc::offset_mismatch: return "offset_mismatch";
    case Errc::term_regression: return "term_regression";
    case Errc::truncated_batch: return "truncated_batch";
    case Errc::invalid_batch: return "invalid_batch";
    case Errc::crc_mismatch: return "crc_mismatch";
    case Errc::corruption: return "corruption";
    case Errc::no_space: return "no_space";
    case Errc::io_error: return "io_error";
    case Errc::limit_exceeded: return "limit_exceeded";
    case Errc::cancelled: return "cancelled";
    case Errc::failed: return "failed";
    case Errc::closed: return "closed";
  }
  return "unknown";
}

using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

inline Status ok_status() { return Status(); }

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
