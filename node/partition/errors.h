// The partition's error codes: what a produce, fetch or list-offsets request can fail with, carried
// intact to the caller (docs/partition.md, "Errors", says what each means and what to do).
#pragma once

#include <string_view>

#include "node/base/status.h"

namespace sluice::partition {

enum class Errc {
  ok = 0,
  not_leader,             // this replica does not lead the partition; the message names the leader if known
  unknown_partition,      // no replica of that partition on this node
  offset_out_of_range,    // the offset is below the partition's start or above its end
  record_too_large,       // the batch is above batch_bytes_max
  out_of_order_sequence,  // an idempotent batch does not continue its producer's sequence
  producer_fenced,        // an idempotent batch carries an epoch older than its producer's
  timeout,                // not committed (or no data arrived) within the request's deadline
  overloaded,             // a bounded queue is full: retry later
  storage_error,          // the replica's storage failed (I/O error, damage)
  storage_full,           // the disk is full: retry once space frees
  invalid_request,        // the request itself is malformed
};

constexpr std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::not_leader: return "not_leader";
    case Errc::unknown_partition: return "unknown_partition";
    case Errc::offset_out_of_range: return "offset_out_of_range";
    case Errc::record_too_large: return "record_too_large";
    case Errc::out_of_order_sequence: return "out_of_order_sequence";
    case Errc::producer_fenced: return "producer_fenced";
    case Errc::timeout: return "timeout";
    case Errc::overloaded: return "overloaded";
    case Errc::storage_error: return "storage_error";
    case Errc::storage_full: return "storage_full";
    case Errc::invalid_request: return "invalid_request";
  }
  return "unknown";
}

using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

}  // namespace sluice::partition
