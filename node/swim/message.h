// The SWIM module's error codes and its decoded messages: what the codec (codec.h) produces from
// a datagram or a push-pull stream and what the core (core.h) consumes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/ids.h"
#include "node/base/status.h"

namespace sluice::swim {

enum class Errc {
  ok = 0,
  bad_header,       // too short, not "SWIM", unknown version or flags, length mismatch
  malformed,        // FlatBuffers Verifier failed, or a field out of range / over its limit
  foreign_cluster,  // a well-formed message of another cluster
  not_for_us,       // a ping for another node id (an old owner of this address), or from ourselves
  too_large,        // encoding: the message does not fit its size limit
  invalid_config,
  unauthenticated,  // a cluster key is configured and the MAC trailer is missing or wrong
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

// One of a member's endpoints other than its membership address, by purpose: "raft" (inter-node
// Raft), "api" (HTTP). Later layers find a peer's endpoints through membership.
struct NamedAddress {
  std::string name;     // 1..kAddressNameBytesMax bytes
  std::string address;  // "host:port", 1..kNamedAddressBytesMax bytes

  friend auto operator<=>(const NamedAddress&, const NamedAddress&) = default;
};

// A member's named addresses: at most kNamedAddressesMax, names unique and ascending (so two sets
// compare equal exactly when they name the same endpoints; named_addresses_ok() checks it).
using NamedAddresses = std::vector<NamedAddress>;

// The address called `name`, or empty.
std::string_view find_address(const NamedAddresses& named, std::string_view name);
// "raft=h:1,api=h:2" (empty for none): for logs and tests.
std::string to_string(const NamedAddresses& named);

// One membership fact about the member with node id `member`. Only an alive claim says where the
// member is: its membership address (datagrams, push-pull) and named addresses; suspect, dead and
// left claims name the member by id alone.
struct Update {
  NodeId member = kNoNode;
  uint64_t incarnation = 0;
  MemberState state = MemberState::alive;
  NodeId origin = kNoNode;  // suspect/dead: the member that claims it; kNoNode otherwise
  std::string address;      // alive: "host:port"; empty otherwise
  NamedAddresses named;     // alive: the member's named addresses; empty otherwise

  friend bool operator==(const Update&, const Update&) = default;
};

struct Message {
  MessageKind kind = MessageKind::ping;
  uint64_t cluster_id = 0;
  NodeId source = kNoNode;
  uint64_t source_incarnation = 0;
  std::string source_address;  // the sender's membership address
  NamedAddresses source_named;
  uint32_t seq = 0;
  NodeId target = kNoNode;     // ping: addressee, kNoNode = anyone (join); ping-req: whom to probe
  std::string target_address;  // ping-req: where to probe the target; empty otherwise
  std::vector<Update> updates;

  friend bool operator==(const Message&, const Message&) = default;
};

// What every datagram says about its sender: alive at source_incarnation, reached there.
Update source_update(const Message& message);

// A member's whole table for push-pull (the sender's own entry first).
struct PushPullState {
  uint64_t cluster_id = 0;
  NodeId source = kNoNode;
  bool join = false;
  std::vector<Update> members;

  friend bool operator==(const PushPullState&, const PushPullState&) = default;
};

}  // namespace sluice::swim
