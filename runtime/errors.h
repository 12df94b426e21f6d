// The runtime module's error codes. Every blocking call of the seam returns one of these as a
// value; none is ever silently dropped.
#pragma once

#include <string_view>

#include "node/base/status.h"

namespace sluice::runtime {

enum class Errc {
  ok = 0,
  cancelled,           // the calling fiber was cancelled (or its node is shutting down)
  timeout,             // a deadline passed
  closed,              // channel or socket closed by this side
  connection_refused,  // nobody listens at that address
  connection_reset,    // the peer crashed, reset, or the path broke
  unreachable,         // no route (partition) within the connect timeout
  address_in_use,
  not_found,
  already_exists,
  no_space,            // ENOSPC
  io_error,            // EIO and friends
  invalid_argument,
  message_too_large,   // datagram above the size limit
  limit_exceeded,      // a named _max was hit
};

constexpr std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::cancelled: return "cancelled";
    case Errc::timeout: return "timeout";
    case Errc::closed: return "closed";
    case Errc::connection_refused: return "connection_refused";
    case Errc::connection_reset: return "connection_reset";
    case Errc::unreachable: return "unreachable";
    case Errc::address_in_use: return "address_in_use";
    case Errc::not_found: return "not_found";
    case Errc::already_exists: return "already_exists";
    case Errc::no_space: return "no_space";
    case Errc::io_error: return "io_error";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::message_too_large: return "message_too_large";
    case Errc::limit_exceeded: return "limit_exceeded";
  }
  return "unknown";
}

using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

inline Status ok_status() { return Status(); }

}  // namespace sluice::runtime
