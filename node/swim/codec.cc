#include "node/swim/codec.h"

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

namespace {

namespace fb = ::sluice::wire;

// FlatBuffers' per-string cost: length prefix, NUL, padding to 4.
constexpr size_t kStringOverheadBytes = 8;
// One SwimUpdate: table (soffset, incarnation, two string offsets, state, up to 7 bytes of
// alignment) 28 + its vtable 12 (counted even though the builder shares equal vtables) + its
// slot in the updates vector 4.
constexpr size_t kUpdateOverheadBytes = 44;
// Header, root offset, SwimMessage table + vtable, updates vector header, alignment.
constexpr size_t kMessageOverheadBytes = SWIM_HEADER_BYTES + 104;

bool address_ok(std::string_view address, bool may_be_empty) {
  if (address.empty()) return may_be_empty;
  return address.size() <= kAddressBytesMax;
}

bool update_ok(const Update& update) {
  return address_ok(update.member, false) && address_ok(update.origin, true) &&
         update.state <= MemberState::left;
}

flatbuffers::Offset<fb::SwimUpdate> build_update(flatbuffers::FlatBufferBuilder& builder, const Update& update) {
  const auto member = builder.CreateString(update.member);
  const auto origin = update.origin.empty() ? 0 : builder.CreateString(update.origin);
  return fb::CreateSwimUpdate(builder, member, update.incarnation,
                              static_cast<fb::SwimMemberState>(update.state), origin);
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

Result<Update> convert_update(const fb::SwimUpdate* in) {
  if (in == nullptr) return Status(Errc::malformed, "null update");
  if (static_cast<uint8_t>(in->state()) > static_cast<uint8_t>(fb::SwimMemberState::MAX)) {
    return Status(Errc::malformed, "unknown member state");
  }
  Update update;
  update.member = in->member()->str();
  update.incarnation = in->incarnation();
  update.state = static_cast<MemberState>(in->state());
  if (in->origin() != nullptr) update.origin = in->origin()->str();
  if (!update_ok(update)) return Status(Errc::malformed, "update address empty or too long");
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

Result<Message> convert_message(const fb::SwimMessage* in) {
  if (static_cast<uint8_t>(in->kind()) > static_cast<uint8_t>(fb::SwimKind::MAX)) {
    return Status(Errc::malformed, "unknown message kind");
  }
  Message message;
  message.kind = static_cast<MessageKind>(in->kind());
  message.cluster_id = in->cluster_id();
  message.source = in->source()->str();
  message.source_incarnation = in->source_incarnation();
  message.seq = in->seq();
  if (in->target() != nullptr) message.target = in->target()->str();
  if (!address_ok(message.source, false) || !address_ok(message.target, true)) {
    return Status(Errc::malformed, "source or target empty or too long");
  }
  SLUICE_ASSIGN_OR_RETURN(message.updates, convert_updates(in->updates(), kUpdatesPerDatagramMax));
  return message;
}

}  // namespace

size_t datagram_base_bytes_bound(const Message& message) {
  return kMessageOverheadBytes + message.source.size() + message.target.size() + 2 * kStringOverheadBytes;
}

size_t update_bytes_bound(const Update& update) {
  const size_t origin_bytes = update.origin.empty() ? 0 : update.origin.size() + kStringOverheadBytes;
  return kUpdateOverheadBytes + update.member.size() + kStringOverheadBytes + origin_bytes;
}

Result<Bytes> encode_datagram(const Message& message, size_t datagram_bytes_max) {
  SLUICE_ASSERT_LE(datagram_bytes_max, kDatagramBytesMax);
  if (!address_ok(message.source, false) || !address_ok(message.target, true)) {
    return Status(Errc::malformed, "source or target empty or too long");
  }
  if (message.updates.size() > kUpdatesPerDatagramMax) return Status(Errc::too_large, "too many updates");
  for (const Update& update : message.updates) {
    if (!update_ok(update)) return Status(Errc::malformed, "update address empty or too long");
  }
  flatbuffers::FlatBufferBuilder builder(512);
  const auto source = builder.CreateString(message.source);
  const auto target = message.target.empty() ? 0 : builder.CreateString(message.target);
  const auto updates = build_updates(builder, message.updates);
  builder.Finish(fb::CreateSwimMessage(builder, message.cluster_id, static_cast<fb::SwimKind>(message.kind),
                                       source, message.source_incarnation, message.seq, target, updates));
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
                                 /*max_tables=*/kUpdatesPerDatagramMax + 8);
  if (!verifier.VerifyBuffer<fb::SwimMessage>(nullptr)) return Status(Errc::malformed, "verifier rejected");
  const auto* root = flatbuffers::GetRoot<fb::SwimMessage>(data);
  if (root->cluster_id() != cluster_id) return Status(Errc::foreign_cluster, std::to_string(root->cluster_id()));
  return convert_message(root);
}

Result<Bytes> encode_push_pull(const PushPullState& state) {
  if (!address_ok(state.source, false)) return Status(Errc::malformed, "source empty or too long");
  if (state.members.size() > kPushPullMembersMax) return Status(Errc::too_large, "too many members");
  for (const Update& update : state.members) {
    if (!update_ok(update)) return Status(Errc::malformed, "member address empty or too long");
  }
  flatbuffers::FlatBufferBuilder builder(1024 + 64 * state.members.size());
  const auto source = builder.CreateString(state.source);
  const auto members = build_updates(builder, state.members);
  builder.Finish(fb::CreateSwimPushPull(builder, state.cluster_id, source, state.join, members));
  if (builder.GetSize() > kPushPullBytesMax) return Status(Errc::too_large, std::to_string(builder.GetSize()));
  const auto* begin = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return Bytes(begin, begin + builder.GetSize());
}

Result<PushPullState> decode_push_pull(ByteSpan bytes, uint64_t cluster_id) {
  if (bytes.size() > kPushPullBytesMax) return Status(Errc::too_large, std::to_string(bytes.size()));
  const std::vector<uint64_t> words = aligned_copy(bytes);
  const auto* data = reinterpret_cast<const uint8_t*>(words.data());
  flatbuffers::Verifier verifier(data, bytes.size(), /*max_depth=*/8, /*max_tables=*/kPushPullMembersMax + 8);
  if (!verifier.VerifyBuffer<fb::SwimPushPull>(nullptr)) return Status(Errc::malformed, "verifier rejected");
  const auto* root = flatbuffers::GetRoot<fb::SwimPushPull>(data);
  if (root->cluster_id() != cluster_id) return Status(Errc::foreign_cluster, std::to_string(root->cluster_id()));
  PushPullState state;
  state.cluster_id = root->cluster_id();
  state.source = root->source()->str();
  state.join = root->join();
  if (!address_ok(state.source, false)) return Status(Errc::malformed, "source empty or too long");
  SLUICE_ASSIGN_OR_RETURN(state.members, convert_updates(root->members(), kPushPullMembersMax));
  return state;
}

}  // namespace sluice::swim
