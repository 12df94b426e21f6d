// Encoding and decoding of SWIM datagrams (8-byte header + FlatBuffers SwimMessage) and of the
// push-pull state exchanged over a stream (FlatBuffers SwimPushPull). Decoding trusts nothing:
// header, Verifier, enum ranges, string and count limits and the cluster id are all checked, and
// every failure is a Status whose code says which class of problem it was (the core counts them).
// The formats are documented in docs/formats/swim.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "node/base/bytes.h"
#include "node/base/cluster_key.h"
#include "node/swim/message.h"
#include "node/swim/wire_header.h"

namespace sluice::swim {

inline constexpr size_t kDatagramBytesMax = SWIM_DATAGRAM_BYTES_MAX;
inline constexpr size_t kAddressBytesMax = 255;  // a membership address, "host:port"
// A member's named addresses (message.h): how many, and the length of each name and address.
inline constexpr size_t kNamedAddressesMax = 4;
inline constexpr size_t kAddressNameBytesMax = 16;
inline constexpr size_t kNamedAddressBytesMax = 64;
// Far more than fit in kDatagramBytesMax; bounds the work a hostile datagram can cause.
inline constexpr size_t kUpdatesPerDatagramMax = 64;
inline constexpr size_t kPushPullMembersMax = 16384;
inline constexpr size_t kPushPullBytesMax = 4 * 1024 * 1024;
// The FlatBuffers file identifier of push-pull state (bytes 4..7): the stream has no header, and
// a peer speaking another version must not have its state read as ours.
inline constexpr char kPushPullIdentifier[] = "SWP2";

// At most kNamedAddressesMax, each name 1..kAddressNameBytesMax and address
// 1..kNamedAddressBytesMax bytes, names strictly ascending.
bool named_addresses_ok(const NamedAddresses& named);
// Sorts by name (what Config::self_named and tests may give in any order).
void sort_named_addresses(NamedAddresses& named);

// Upper bounds on what a message costs on the wire, used to fill a datagram with piggybacked
// updates without encoding it twice: the whole datagram without updates, and each update.
size_t datagram_base_bytes_bound(const Message& message);
size_t update_bytes_bound(const Update& update);

// Header + FlatBuffers payload; too_large when the result would exceed `datagram_bytes_max`
// (at most kDatagramBytesMax), malformed when a field breaks a limit above.
Result<Bytes> encode_datagram(const Message& message, size_t datagram_bytes_max = kDatagramBytesMax);
// Accepts only well-formed datagrams of `cluster_id`.
Result<Message> decode_datagram(ByteSpan datagram, uint64_t cluster_id);

// With a cluster key (docs/formats/swim.md, "Cluster secret"), a datagram ends in a MAC trailer
// of ClusterKey::kTagBytes that the header's payload length counts, so the header stays exactly
// what swim_header_check (and the XDP classifier) accept. seal_datagram adds it to an encoded
// datagram (which must leave room: at most kDatagramBytesMax - kTagBytes). open_datagram checks
// the header (bad_header) and the MAC (unauthenticated), then strips the trailer and restores
// the length: the result is what encode_datagram made.
void seal_datagram(Bytes& datagram, const ClusterKey& key);
Status open_datagram(Bytes& datagram, const ClusterKey& key);

// The FlatBuffers SwimPushPull alone; the driver frames it on the stream.
Result<Bytes> encode_push_pull(const PushPullState& state);
Result<PushPullState> decode_push_pull(ByteSpan bytes, uint64_t cluster_id);

}  // namespace sluice::swim
