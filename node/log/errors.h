// The log module's error codes. Every operation of the codec and the log returns one of these as a
// value. Runtime (file system) errors are mapped onto them by from_runtime() (io_errors.h), so
// this header, like the rest of the pure codec, does not depend on the runtime.
#pragma once

#include <string_view>

#include "node/base/status.h"

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

}  // namespace sluice::log
