// The SWIM module's error codes and its decoded messages: what the codec (codec.h) produces from
// a datagram or a push-pull stream and what the core (core.h) consumes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/status.h"

namespace sluice::swim {

enum class Errc {
  ok = 0,
  bad_header,       // too short, not "SWIM", unknown version or flags, length mismatch
  malformed,        // FlatBuffers Verifier failed, or a field out of range / over its limit
  foreign_cluster,  // a well-formed message of another cluster
  not_for_us,       // a ping addressed to someone else (an old owner of this address)
  too_large,        // encoding: the message does not fit its size limit
  invalid_config,
};

std::string_view to_string(Errc code);

using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

// Declared before MessageKind so the wire order of both matches node/wire/swim.fbs.
enum class MemberState : uint8_t { alive = 0, suspect = 1, dead = 2, left = 3 };

std::string_view to_string(MemberState state);

enum class MessageKind : uint8_t {
  ping = 0,      // "are you alive?" (seq, target)
  ack = 1,       // answer to a ping, or forwarded by a ping-req helper (seq of the requester)
  ping_req = 2,  // "probe target for me" (seq of the requester, target)
  nack = 3,      // Lifeguard: a helper got no ack from the target in time (seq of the requester)
  gossip = 4,    // nothing but piggybacked updates (graceful leave)
};

std::string_view to_string(MessageKind kind);

// One membership fact. Addresses are "host:port" (runtime Address::to_string()).
struct Update {
  std::string member;
  uint64_t incarnation = 0;
  MemberState state = MemberState::alive;
  std::string origin;  // suspect/dead: the member that claims it; empty otherwise

  friend bool operator==(const Update&, const Update&) = default;
};

struct Message {
  MessageKind kind = MessageKind::ping;
  uint64_t cluster_id = 0;
  std::string source;  // the sender's advertised address
  uint64_t source_incarnation = 0;
  uint32_t seq = 0;
  std::string target;  // ping: addressee, empty = anyone (join); ping-req: whom to probe
  std::vector<Update> updates;

  friend bool operator==(const Message&, const Message&) = default;
};

// A member's whole table for push-pull (the sender's own entry included).
struct PushPullState {
  uint64_t cluster_id = 0;
  std::string source;
  bool join = false;
  std::vector<Update> members;

  friend bool operator==(const PushPullState&, const PushPullState&) = default;
};

}  // namespace sluice::swim
