// The client library's errors: the server's error codes (docs/formats/http-api.md, "Errors") plus
// the ones only a client meets (a connection that failed, a full send buffer, a delivery that ran
// out of time). Errors are values; nothing in client/ throws across its API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "node/base/status.h"

namespace sluice::client {

enum class Errc : uint8_t {
  ok = 0,
  // The server's codes, one for one.
  bad_request,
  unauthorized,
  forbidden,
  not_found,
  invalid_request,
  record_too_large,
  too_large,
  unknown_topic,
  unknown_node,       // 404: no node of that id in the metadata (decommission)
  unknown_partition,
  offset_out_of_range,
  out_of_order_sequence,
  producer_fenced,
  topic_exists,
  conflict,
  not_enough_nodes,
  limit_reached,
  overloaded,
  not_leader,
  unavailable,
  storage_error,
  storage_full,
  timeout,
  internal,
  // The client's own.
  connection_failed,  // no connection, or it broke before an answer came
  protocol_error,     // an answer the client cannot read
  buffer_full,        // send(): the producer's buffer is full and it is set not to block
  delivery_timeout,   // not acknowledged within delivery_timeout_ms
  closed,             // the producer or consumer was closed
  cancelled,
  server_error,       // a server code this client does not know
};

std::string_view to_string(Errc code);
// The code the server's "code" field names; server_error for one this client does not know.
Errc errc_from_server(std::string_view code);

using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

// Worth sending again (to the same or a newly resolved leader): the request did not take effect,
// or, for timeout and connection_failed, may have; idempotent producers make that safe.
bool retriable(Errc code);
// The partition's leader may not be where the client thought (or not answering there): its route
// must be resolved again.
bool stale_route(Errc code);

}  // namespace sluice::client
