#include "client/errors.h"

#include <array>
#include <utility>

namespace sluice::client {

namespace {

constexpr std::array kNames = {
    std::pair{Errc::ok, "ok"},
    std::pair{Errc::bad_request, "bad_request"},
    std::pair{Errc::unauthorized, "unauthorized"},
    std::pair{Errc::forbidden, "forbidden"},
    std::pair{Errc::not_found, "not_found"},
    std::pair{Errc::invalid_request, "invalid_request"},
    std::pair{Errc::record_too_large, "record_too_large"},
    std::pair{Errc::too_large, "too_large"},
    std::pair{Errc::unknown_topic, "unknown_topic"},
    std::pair{Errc::unknown_node, "unknown_node"},
    std::pair{Errc::unknown_partition, "unknown_partition"},
    std::pair{Errc::offset_out_of_range, "offset_out_of_range"},
    std::pair{Errc::out_of_order_sequence, "out_of_order_sequence"},
    std::pair{Errc::producer_fenced, "producer_fenced"},
    std::pair{Errc::topic_exists, "topic_exists"},
    std::pair{Errc::conflict, "conflict"},
    std::pair{Errc::not_enough_nodes, "not_enough_nodes"},
    std::pair{Errc::limit_reached, "limit_reached"},
    std::pair{Errc::overloaded, "overloaded"},
    std::pair{Errc::not_leader, "not_leader"},
    std::pair{Errc::unavailable, "unavailable"},
    std::pair{Errc::storage_error, "storage_error"},
    std::pair{Errc::storage_full, "storage_full"},
    std::pair{Errc::timeout, "timeout"},
    std::pair{Errc::internal, "internal"},
    std::pair{Errc::connection_failed, "connection_failed"},
    std::pair{Errc::protocol_error, "protocol_error"},
    std::pair{Errc::buffer_full, "buffer_full"},
    std::pair{Errc::delivery_timeout, "delivery_timeout"},
    std::pair{Errc::closed, "closed"},
    std::pair{Errc::cancelled, "cancelled"},
    std::pair{Errc::server_error, "server_error"},
};

}  // namespace

std::string_view to_string(Errc code) {
  for (const auto& [value, name] : kNames) {
    if (value == code) return name;
  }
  return "unknown";
}

Errc errc_from_server(std::string_view code) {
  for (const auto& [value, name] : kNames) {
    if (value != Errc::ok && value < Errc::connection_failed && name == code) return value;
  }
  return Errc::server_error;
}

bool retriable(Errc code) {
  switch (code) {
    case Errc::not_leader:
    case Errc::unavailable:
    case Errc::overloaded:
    case Errc::storage_error:
    case Errc::storage_full:
    case Errc::timeout:
    case Errc::connection_failed:
    case Errc::unknown_partition:  // a partition just created may not be known everywhere yet
      return true;
    default: return false;
  }
}

// A timeout counts: a node that accepts the request but never answers in time (too slow, or a
// replica there that cannot open while the metadata still names it leader: cluster-swarm-leaders
// seed 1692) says nothing about leadership, and resending to it forever stalled the partition for
// good while another node led it. So does storage_error: the replica that answered cannot serve
// (its storage failed, so its group stops and leadership moves; or it could not open at all).
// Resolving again costs one metadata request per topic.
bool stale_route(Errc code) {
  return code == Errc::not_leader || code == Errc::unavailable || code == Errc::connection_failed || code == Errc::unknown_partition ||
         code == Errc::timeout || code == Errc::storage_error;
}

}  // namespace sluice::client
