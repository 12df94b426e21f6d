#include "node/swim/codec.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "node/wire/swim_generated.h"

namespace sluice::swim {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::bad_header: return "bad_header";
    case Errc::malformed: return "malformed";
    case Errc::foreign_cluster: return "foreign_cluster";
    case Errc::not_for_us: return "not_for_us";
    case Errc::too_large: return "too_large";
    case Errc::invalid_config: return "invalid_config";
    case Errc::unauthenticated: return "unauthenticated";
  }
  return "unknown";
}

std::string_view to_string(MemberState state) {
  switch (state) {
    case MemberState::alive: return "alive";
    case MemberState::suspect: return "suspect";
    case MemberState::dead: return "dead";
    case MemberState::left: return "left";
  }
  return "unknown";
}

std::string_view to_string(MessageKind kind) {
  switch (kind) {
    case MessageKind::ping: return "ping";
    case MessageKind::ack: return "ack";
    case MessageKind::ping_req: return "ping_req";
    case MessageKind::nack: return "nack";
    case MessageKind::gossip: return "gossip";
  }
  return "unknown";
}

std::string_view find_address(const NamedAddresses& named, std::string_view name) {
  for (const NamedAddress& entry : named) {
    if (entry.name == name) return entry.address;
  }
  return {};
}

std::string to_string(const NamedAddresses& named) {
  std::string text;
  for (const NamedAddress& entry : named) text += (text.empty() ? "" : ",") + entry.name + "=" + entry.address;
  return text;
}

Update source_update(const Message& message) {
  return Update{message.source, message.source_incarnation, MemberState::alive, kNoNode, message.source_address,
                message.source_named};
}

bool named_addresses_ok(const NamedAddresses& named) {
  if (named.size() > kNamedAddressesMax) return false;
  for (size_t i = 0; i < named.size(); ++i) {
    const NamedAddress& entry = named[i];
    if (entry.name.empty() || entry.name.size() > kAddressNameBytesMax) return false;
    if (entry.address.empty() || entry.address.size() > kNamedAddressBytesMax) return false;
    if (i > 0 && named[i - 1].name >= entry.name) return false;
  }
  return true;
}

void sort_named_addresses(NamedAddresses& named) {
  std::sort(named.begin(), named.end(), [](const NamedAddress& a, const NamedAddress& b) { return a.name < b.name; });
}

namespace {

namespace fb = ::sluice::wire;

// FlatBuffers' per-string cost: length prefix, NUL, padding to 4.
constexpr size_t kStringOverheadBytes = 8;
// One SwimUpdate: table (soffset, three u64, two offsets, state, up to 7 bytes of alignment) 44
// + its vtable 16 (counted even though the builder shares equal vtables) + its vector slot 4.
constexpr size_t kUpdateOverheadBytes = 64;
// A vector of named addresses: length prefix and alignment.
constexpr size_t kNamedVectorOverheadBytes = 8;
// One SwimAddress: table (soffset, two offsets, alignment) 16 + vtable 8 + vector slot 4 + its
// two strings' overhead.
constexpr size_t kNamedAddressOverheadBytes = 28 + 2 * kStringOverheadBytes;
// Header, root offset, SwimMessage table (64) + vtable (24), updates vector header, alignment.
constexpr size_t kMessageOverheadBytes = SWIM_HEADER_BYTES + 120;

bool address_ok(std::string_view address, bool may_be_empty) {
  if (address.empty()) return may_be_empty;
  return address.size() <= kAddressBytesMax;
}

size_t named_bytes_bound(const NamedAddresses& named) {
  if (named.empty()) return 0;
  size_t bytes = kNamedVectorOverheadBytes;
  for (const NamedAddress& entry : named) bytes += kNamedAddressOverheadBytes + entry.name.size() + entry.address.size();
  return bytes;
}

// Only an alive claim says where the member is; the others name it by id alone.
bool update_ok(const Update& update) {
  if (update.member == kNoNode || update.state > MemberState::left) return false;
  if (update.state != MemberState::alive) return update.address.empty() && update.named.empty();
  return address_ok(update.address, false) && named_addresses_ok(update.named);
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::SwimAddress>>> build_named(
    flatbuffers::FlatBufferBuilder& builder, const NamedAddresses& named) {
  if (named.empty()) return 0;
  std::vector<flatbuffers::Offset<fb::SwimAddress>> offsets;
  offsets.reserve(named.size());
  for (const NamedAddress& entry : named) {
    const auto name = builder.CreateString(entry.name);
    const auto address = builder.CreateString(entry.address);
    offsets.push_back(fb::CreateSwimAddress(builder, name, address));
  }
  return builder.CreateVector(offsets);
}

flatbuffers::Offset<fb::SwimUpdate> build_update(flatbuffers::FlatBufferBuilder& builder, const Update& update) {
  const auto address = update.address.empty() ? 0 : builder.CreateString(update.address);
  const auto named = build_named(builder, update.named);
  return fb::CreateSwimUpdate(builder, update.member, update.incarnation,
                              static_cast<fb::SwimMemberState>(update.state), update.origin, address, named);
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::SwimUpdate>>> build_updates(
    flatbuffers::FlatBufferBuilder& builder, const std::vector<Update>& updates) {
  std::vector<flatbuffers::Offset<fb::SwimUpdate>> offsets;
  offsets.reserve(updates.size());
  for (const Update& update : updates) offsets.push_back(build_update(builder, update));
  return builder.CreateVector(offsets);
}

// FlatBuffers reads scalars in place, so the Verifier insists on aligned input; a datagram
// buffer from a socket (and the payload after our 8-byte header) promises nothing.
std::vector<uint64_t> aligned_copy(ByteSpan bytes) {
  std::vector<uint64_t> words((bytes.size() + 7) / 8);
  if (!bytes.empty()) std::memcpy(words.data(), bytes.data(), bytes.size());
  return words;
}

std::string_view header_problem(int check) {
  switch (check) {
    case SWIM_HEADER_SHORT: return "shorter than the header";
    case SWIM_HEADER_BAD_MAGIC: return "magic is not SWIM";
    case SWIM_HEADER_BAD_VERSION: return "unknown version";
    case SWIM_HEADER_BAD_FLAGS: return "unknown flags";
    case SWIM_HEADER_BAD_LENGTH: return "length field disagrees with the datagram size";
    default: return "invalid header";
  }
}

// The Verifier has checked that every string lies inside the buffer; lengths and order are ours.
Result<NamedAddresses> convert_named(const flatbuffers::Vector<flatbuffers::Offset<fb::SwimAddress>>* in) {
  NamedAddresses named;
  if (in == nullptr) return named;
  if (in->size() > kNamedAddressesMax) return Status(Errc::malformed, "too many named addresses");
  named.reserve(in->size());
  for (const fb::SwimAddress* item : *in) {
    if (item == nullptr) return Status(Errc::malformed, "null named address");
    named.push_back(NamedAddress{item->name()->str(), item->address()->str()});
  }
  if (!named_addresses_ok(named)) return Status(Errc::malformed, "named address empty, too long or out of order");
  return named;
}

Result<Update> convert_update(const fb::SwimUpdate* in) {
  if (in == nullptr) return Status(Errc::malformed, "null update");
  if (static_cast<uint8_t>(in->state()) > static_cast<uint8_t>(fb::SwimMemberState::MAX)) {
    return Status(Errc::malformed, "unknown member state");
  }
  Update update;
  update.member = in->member();
  update.incarnation = in->incarnation();
  update.state = static_cast<MemberState>(in->state());
  update.origin = in->origin();
  if (in->address() != nullptr) update.address = in->address()->str();
  SLUICE_ASSIGN_OR_RETURN(update.named, convert_named(in->addresses()));
  if (!update_ok(update)) return Status(Errc::malformed, "update: no member id, or addresses wrong for its state");
  return update;
}

Result<std::vector<Update>> convert_updates(
    const flatbuffers::Vector<flatbuffers::Offset<fb::SwimUpdate>>* in, size_t count_max) {
  std::vector<Update> updates;
  if (in == nullptr) return updates;
  if (in->size() > count_max) return Status(Errc::malformed, "too many updates");
  updates.reserve(in->size());
  for (const fb::SwimUpdate* item : *in) {
    SLUICE_ASSIGN_OR_RETURN(Update update, convert_update(item));
    updates.push_back(std::move(update));
  }
  return updates;
}

bool message_ok(const Message& message) {
  return message.source != kNoNode && address_ok(message.source_address, false) &&
         named_addresses_ok(message.source_named) && address_ok(message.target_address, true);
}

Result<Message> convert_message(const fb::SwimMessage* in) {
  if (static_cast<uint8_t>(in->kind()) > static_cast<uint8_t>(fb::SwimKind::MAX)) {
    return Status(Errc::malformed, "unknown message kind");
  }
  Message message;
  message.kind = static_cast<MessageKind>(in->kind());
  message.cluster_id = in->cluster_id();
  message.source = in->source();
  message.source_incarnation = in->source_incarnation();
  message.source_address = in->source_address()->str();
  SLUICE_ASSIGN_OR_RETURN(message.source_named, convert_named(in->source_addresses()));
  message.seq = in->seq();
  message.target = in->target();
  if (in->target_address() != nullptr) message.target_address = in->target_address()->str();
  if (!message_ok(message)) return Status(Errc::malformed, "source id or an address missing or too long");
  SLUICE_ASSIGN_OR_RETURN(message.updates, convert_updates(in->updates(), kUpdatesPerDatagramMax));
  return message;
}

// Tables a Verifier may meet: per update itself and its named addresses, plus the root's own.
constexpr size_t tables_max(size_t updates_max) {
  return updates_max * (1 + kNamedAddressesMax) + kNamedAddressesMax + 8;
}

}  // namespace

size_t datagram_base_bytes_bound(const Message& message) {
  const size_t target_bytes = message.target_address.empty() ? 0 : message.target_address.size() + kStringOverheadBytes;
  return kMessageOverheadBytes + message.source_address.size() + kStringOverheadBytes + target_bytes +
         named_bytes_bound(message.source_named);
}

size_t update_bytes_bound(const Update& update) {
  const size_t address_bytes = update.address.empty() ? 0 : update.address.size() + kStringOverheadBytes;
  return kUpdateOverheadBytes + address_bytes + named_bytes_bound(update.named);
}

Result<Bytes> encode_datagram(const Message& message, size_t datagram_bytes_max) {
  SLUICE_ASSERT_LE(datagram_bytes_max, kDatagramBytesMax);
  if (!message_ok(message)) return Status(Errc::malformed, "source id or an address missing or too long");
  if (message.updates.size() > kUpdatesPerDatagramMax) return Status(Errc::too_large, "too many updates");
  for (const Update& update : message.updates) {
    if (!update_ok(update)) return Status(Errc::malformed, "update: no member id, or addresses wrong for its state");
  }
  flatbuffers::FlatBufferBuilder builder(512);
  const auto source_address = builder.CreateString(message.source_address);
  const auto source_named = build_named(builder, message.source_named);
  const auto target_address = message.target_address.empty() ? 0 : builder.CreateString(message.target_address);
  const auto updates = build_updates(builder, message.updates);
  builder.Finish(fb::CreateSwimMessage(builder, message.cluster_id, static_cast<fb::SwimKind>(message.kind),
                                       message.source, message.source_incarnation, source_address, source_named,
                                       message.seq, message.target, target_address, updates));
  const size_t payload_bytes = builder.GetSize();
  if (SWIM_HEADER_BYTES + payload_bytes > datagram_bytes_max) {
    return Status(Errc::too_large, std::to_string(SWIM_HEADER_BYTES + payload_bytes) + " bytes");
  }
  Bytes out(SWIM_HEADER_BYTES + payload_bytes);
  swim_header_write(reinterpret_cast<uint8_t*>(out.data()), static_cast<uint16_t>(payload_bytes));
  std::memcpy(out.data() + SWIM_HEADER_BYTES, builder.GetBufferPointer(), payload_bytes);
  return out;
}

Result<Message> decode_datagram(ByteSpan datagram, uint64_t cluster_id) {
  const int check = swim_header_check(reinterpret_cast<const uint8_t*>(datagram.data()), datagram.size());
  if (check != SWIM_HEADER_OK) return Status(Errc::bad_header, std::string(header_problem(check)));
  const ByteSpan payload = datagram.subspan(SWIM_HEADER_BYTES);
  const std::vector<uint64_t> words = aligned_copy(payload);
  const auto* data = reinterpret_cast<const uint8_t*>(words.data());
  flatbuffers::Verifier verifier(data, payload.size(), /*max_depth=*/8,
                                 /*max_tables=*/tables_max(kUpdatesPerDatagramMax));
  if (!verifier.VerifyBuffer<fb::SwimMessage>(nullptr)) return Status(Errc::malformed, "verifier rejected");
  const auto* root = flatbuffers::GetRoot<fb::SwimMessage>(data);
  if (root->cluster_id() != cluster_id) return Status(Errc::foreign_cluster, std::to_string(root->cluster_id()));
  return convert_message(root);
}

void seal_datagram(Bytes& datagram, const ClusterKey& key) {
  SLUICE_ASSERT_GE(datagram.size(), size_t{SWIM_HEADER_BYTES});
  SLUICE_ASSERT_LE(datagram.size() + ClusterKey::kTagBytes, kDatagramBytesMax);
  const size_t payload_bytes = datagram.size() - SWIM_HEADER_BYTES + ClusterKey::kTagBytes;
  swim_header_write(reinterpret_cast<uint8_t*>(datagram.data()), static_cast<uint16_t>(payload_bytes));
  key.seal(datagram);  // the MAC covers the header with its final length
}

Status open_datagram(Bytes& datagram, const ClusterKey& key) {
  const int check = swim_header_check(reinterpret_cast<const uint8_t*>(datagram.data()), datagram.size());
  if (check != SWIM_HEADER_OK) return Status(Errc::bad_header, std::string(header_problem(check)));
  if (!key.opens(datagram) || datagram.size() < SWIM_HEADER_BYTES + ClusterKey::kTagBytes) {
    return Status(Errc::unauthenticated, "no valid cluster-secret MAC");
  }
  datagram.resize(datagram.size() - ClusterKey::kTagBytes);
  swim_header_write(reinterpret_cast<uint8_t*>(datagram.data()), static_cast<uint16_t>(datagram.size() - SWIM_HEADER_BYTES));
  return Status();
}

Result<Bytes> encode_push_pull(const PushPullState& state) {
  if (state.source == kNoNode) return Status(Errc::malformed, "no source id");
  if (state.members.size() > kPushPullMembersMax) return Status(Errc::too_large, "too many members");
  for (const Update& update : state.members) {
    if (!update_ok(update)) return Status(Errc::malformed, "member: no id, or addresses wrong for its state");
  }
  flatbuffers::FlatBufferBuilder builder(1024 + 128 * state.members.size());
  const auto members = build_updates(builder, state.members);
  builder.Finish(fb::CreateSwimPushPull(builder, state.cluster_id, state.source, state.join, members),
                 kPushPullIdentifier);
  if (builder.GetSize() > kPushPullBytesMax) return Status(Errc::too_large, std::to_string(builder.GetSize()));
  const auto* begin = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return Bytes(begin, begin + builder.GetSize());
}

Result<PushPullState> decode_push_pull(ByteSpan bytes, uint64_t cluster_id) {
  if (bytes.size() > kPushPullBytesMax) return Status(Errc::too_large, std::to_string(bytes.size()));
  const std::vector<uint64_t> words = aligned_copy(bytes);
  const auto* data = reinterpret_cast<const uint8_t*>(words.data());
  flatbuffers::Verifier verifier(data, bytes.size(), /*max_depth=*/8, /*max_tables=*/tables_max(kPushPullMembersMax));
  if (!verifier.VerifyBuffer<fb::SwimPushPull>(kPushPullIdentifier)) {
    return Status(Errc::malformed, "verifier rejected (or not version-2 state)");
  }
  const auto* root = flatbuffers::GetRoot<fb::SwimPushPull>(data);
  if (root->cluster_id() != cluster_id) return Status(Errc::foreign_cluster, std::to_string(root->cluster_id()));
  PushPullState state;
  state.cluster_id = root->cluster_id();
  state.source = root->source();
  state.join = root->join();
  if (state.source == kNoNode) return Status(Errc::malformed, "no source id");
  SLUICE_ASSIGN_OR_RETURN(state.members, convert_updates(root->members(), kPushPullMembersMax));
  return state;
}

}  // namespace sluice::swim
