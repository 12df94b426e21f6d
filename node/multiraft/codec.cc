#include "node/multiraft/codec.h"

#include <cstring>
#include <set>
#include <string>
#include <type_traits>
#include <utility>

#include "node/base/assert.h"
#include "node/wire/raft_generated.h"

namespace sluice::multiraft {
namespace {

namespace fb = sluice::wire;
using raft::Message;
using raft::MessageType;

constexpr std::byte kMagic[4] = {std::byte{'S'}, std::byte{'L'}, std::byte{'R'}, std::byte{'F'}};
// A message without entries costs about this much in a frame; used only to split frames.
constexpr size_t kMessageBytesEstimate = 96;
constexpr size_t kVerifierDepthMax = 16;

Message expand_heartbeat(raft::NodeId from, raft::NodeId to, const fb::RaftHeartbeat& in) {
  Message m;
  m.type = MessageType::heartbeat;
  m.from = from;
  m.to = to;
  m.term = in.term();
  m.commit = in.commit();
  m.commit_term = in.commit_term();
  m.context = in.context();
  return m;
}

Message expand_response(raft::NodeId from, raft::NodeId to, const fb::RaftHeartbeatResponse& in) {
  Message m;
  m.type = MessageType::heartbeat_response;
  m.from = from;
  m.to = to;
  m.term = in.term();
  m.context = in.context();
  return m;
}

flatbuffers::Offset<fb::RaftConfState> encode_conf(flatbuffers::FlatBufferBuilder& b, const raft::ConfState& c) {
  auto ids = [&b](const std::set<raft::NodeId>& set) { return b.CreateVector(std::vector<uint64_t>(set.begin(), set.end())); };
  return fb::CreateRaftConfState(b, ids(c.voters), ids(c.voters_outgoing), ids(c.learners), ids(c.learners_next),
                                 c.auto_leave, c.index);
}

flatbuffers::Offset<fb::RaftMessage> encode_message(flatbuffers::FlatBufferBuilder& b, const GroupMessage& gm) {
  const Message& m = gm.message;
  std::vector<flatbuffers::Offset<fb::RaftEntry>> entries;
  entries.reserve(m.entries.size());
  for (const raft::Entry& e : m.entries) {
    auto data = b.CreateVector(reinterpret_cast<const uint8_t*>(e.data.data()), e.data.size());
    entries.push_back(fb::CreateRaftEntry(b, e.term, e.index, static_cast<fb::RaftEntryType>(e.type), data));
  }
  auto entries_offset = b.CreateVector(entries);
  const bool has_conf = m.type == MessageType::log_start_jump;
  flatbuffers::Offset<fb::RaftConfState> conf = has_conf ? encode_conf(b, m.conf_state) : 0;
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> app_state =
      m.app_state.empty() ? 0 : b.CreateVector(reinterpret_cast<const uint8_t*>(m.app_state.data()), m.app_state.size());
  return fb::CreateRaftMessage(b, gm.group, static_cast<fb::RaftMessageType>(m.type), m.term, m.index, m.log_term, m.commit,
                               entries_offset, m.reject, m.reject_hint_index, m.reject_hint_term, m.context, m.transfer,
                               conf, m.commit_term, app_state, m.quiesce);
}

struct Batch {
  std::vector<const GroupMessage*> messages;
  std::vector<fb::RaftHeartbeat> heartbeats;
  std::vector<fb::RaftHeartbeatResponse> responses;
};

Bytes finish_frame(raft::NodeId from, raft::NodeId to, const Batch& batch) {
  // The decoder refuses frames beyond these bounds: the encoder must never produce one.
  SLUICE_ASSERT_LE(batch.messages.size(), kFrameMessagesMax);
  SLUICE_ASSERT_LE(batch.heartbeats.size(), kFrameHeartbeatsMax);
  SLUICE_ASSERT_LE(batch.responses.size(), kFrameHeartbeatsMax);
  flatbuffers::FlatBufferBuilder b(1024);
  std::vector<flatbuffers::Offset<fb::RaftMessage>> messages;
  messages.reserve(batch.messages.size());
  for (const GroupMessage* gm : batch.messages) messages.push_back(encode_message(b, *gm));
  auto messages_offset = b.CreateVector(messages);
  auto heartbeats = b.CreateVectorOfStructs(batch.heartbeats);
  auto responses = b.CreateVectorOfStructs(batch.responses);
  b.Finish(fb::CreateRaftFrame(b, from, to, messages_offset, heartbeats, responses), fb::RaftFrameIdentifier());
  const uint32_t length = b.GetSize();
  Bytes frame(kFrameHeaderBytes);
  std::memcpy(frame.data(), kMagic, sizeof kMagic);
  frame[4] = std::byte{kFrameVersion};
  // frame[5] flags, frame[6..7] reserved: zero
  for (size_t i = 0; i < 4; ++i) frame[8 + i] = static_cast<std::byte>(length >> (8 * i));
  append_bytes(frame, ByteSpan(reinterpret_cast<const std::byte*>(b.GetBufferPointer()), length));
  return frame;
}

HostStatus malformed(std::string why) { return HostStatus(HostErrc::malformed, std::move(why)); }

// The verifier checks a vector's length word for 4-byte alignment only. Its 8-byte elements (the
// heartbeat structs, the node ids) are read in place, so a frame that places them at an odd
// address is refused rather than read misaligned. The builder aligns every non-empty one.
template <typename T>
bool elements_aligned(const flatbuffers::Vector<T>* vector) {
  using Element = std::remove_cv_t<std::remove_pointer_t<T>>;
  return vector == nullptr || vector->size() == 0 || reinterpret_cast<uintptr_t>(vector->Data()) % alignof(Element) == 0;
}

HostResult<std::set<raft::NodeId>> decode_ids(const flatbuffers::Vector<uint64_t>* in) {
  std::set<raft::NodeId> ids;
  if (in == nullptr) return ids;
  if (in->size() > raft::kConfNodesMax) return malformed("conf state lists too many nodes");
  if (!elements_aligned(in)) return malformed("conf state node ids misaligned");
  for (uint64_t id : *in) ids.insert(id);
  return ids;
}

HostResult<raft::ConfState> decode_conf(const fb::RaftConfState* in) {
  raft::ConfState conf;
  if (in == nullptr) return conf;
  SLUICE_ASSIGN_OR_RETURN(conf.voters, decode_ids(in->voters()));
  SLUICE_ASSIGN_OR_RETURN(conf.voters_outgoing, decode_ids(in->voters_outgoing()));
  SLUICE_ASSIGN_OR_RETURN(conf.learners, decode_ids(in->learners()));
  SLUICE_ASSIGN_OR_RETURN(conf.learners_next, decode_ids(in->learners_next()));
  conf.auto_leave = in->auto_leave();
  conf.index = in->index();
  return conf;
}

HostResult<GroupMessage> decode_message(raft::NodeId from, raft::NodeId to, const fb::RaftMessage* in) {
  if (in == nullptr) return malformed("null message");
  if (static_cast<uint8_t>(in->type()) > static_cast<uint8_t>(fb::RaftMessageType::MAX)) return malformed("unknown message type");
  GroupMessage gm;
  gm.group = in->group();
  Message& m = gm.message;
  m.type = static_cast<MessageType>(in->type());
  m.from = from;
  m.to = to;
  m.term = in->term();
  m.index = in->index();
  m.log_term = in->log_term();
  m.commit = in->commit();
  m.reject = in->reject();
  m.reject_hint_index = in->reject_hint_index();
  m.reject_hint_term = in->reject_hint_term();
  m.context = in->context();
  m.transfer = in->transfer();
  m.quiesce = in->quiesce();
  if (m.quiesce && m.type != MessageType::heartbeat) return malformed("quiesce on a message that is not a heartbeat");
  m.commit_term = in->commit_term();
  SLUICE_ASSIGN_OR_RETURN(m.conf_state, decode_conf(in->conf_state()));
  if (in->app_state() != nullptr) {
    if (m.type != MessageType::log_start_jump) return malformed("app_state on a message that is not a log-start jump");
    m.app_state = SharedBytes(ByteSpan(reinterpret_cast<const std::byte*>(in->app_state()->data()), in->app_state()->size()));
  }
  if (in->entries() == nullptr) return gm;
  if (in->entries()->size() > kMessageEntriesMax) return malformed("too many entries");
  m.entries.reserve(in->entries()->size());
  for (const fb::RaftEntry* e : *in->entries()) {
    if (e == nullptr) return malformed("null entry");
    if (static_cast<uint8_t>(e->type()) > static_cast<uint8_t>(fb::RaftEntryType::MAX)) return malformed("unknown entry type");
    raft::Entry entry{e->term(), e->index(), static_cast<raft::EntryType>(e->type()), {}};
    if (e->data() != nullptr) {
      const auto* data = reinterpret_cast<const std::byte*>(e->data()->data());
      entry.data = SharedBytes(ByteSpan(data, e->data()->size()));
    }
    m.entries.push_back(std::move(entry));
  }
  return gm;
}

}  // namespace

bool coalescible(const Message& message) {
  if (message.type != MessageType::heartbeat && message.type != MessageType::heartbeat_response) return false;
  Message expected;
  expected.type = message.type;
  expected.from = message.from;
  expected.to = message.to;
  expected.term = message.term;
  expected.commit = message.type == MessageType::heartbeat ? message.commit : 0;
  expected.commit_term = message.type == MessageType::heartbeat ? message.commit_term : 0;
  expected.context = message.context;
  return expected == message;
}

std::vector<Bytes> encode_frames(raft::NodeId from, raft::NodeId to, const std::vector<GroupMessage>& messages,
                                 size_t frame_bytes_target, std::vector<FrameCounts>* counts) {
  std::vector<Bytes> frames;
  Batch batch;
  size_t batch_bytes = 0;
  auto emit = [&] {
    frames.push_back(finish_frame(from, to, batch));
    if (counts != nullptr) counts->push_back(FrameCounts{batch.messages.size(), batch.heartbeats.size(), batch.responses.size()});
    batch = Batch{};
    batch_bytes = 0;
  };
  // The coalesced heartbeats and responses first, so that all of them land in the first frame.
  for (const GroupMessage& gm : messages) {
    const Message& m = gm.message;
    if (!coalescible(m)) continue;
    if (m.type == MessageType::heartbeat) {
      batch.heartbeats.emplace_back(gm.group, m.term, m.commit, m.context, m.commit_term);
    } else {
      batch.responses.emplace_back(gm.group, m.term, m.context);
    }
  }
  for (const GroupMessage& gm : messages) {
    const Message& m = gm.message;
    if (coalescible(m)) continue;
    size_t bytes = kMessageBytesEstimate + m.app_state.size();
    for (const raft::Entry& entry : m.entries) bytes += raft::entry_bytes(entry) + 32;
    // Split above the target, and before the decoder's message bound (small messages under a
    // large target could otherwise exceed it).
    if (!batch.messages.empty() && (batch_bytes + bytes > frame_bytes_target || batch.messages.size() == kFrameMessagesMax)) emit();
    batch.messages.push_back(&gm);
    batch_bytes += bytes;
  }
  if (!batch.messages.empty() || !batch.heartbeats.empty() || !batch.responses.empty()) emit();
  return frames;
}

HostResult<FrameHeader> decode_frame_header(ByteSpan header, size_t frame_bytes_max) {
  if (header.size() != kFrameHeaderBytes) return malformed("short header");
  if (std::memcmp(header.data(), kMagic, sizeof kMagic) != 0) return malformed("magic is not SLRF");
  if (header[4] != std::byte{kFrameVersion}) return malformed("unknown version");
  if (header[5] != std::byte{0} || header[6] != std::byte{0} || header[7] != std::byte{0}) return malformed("unknown flags");
  uint32_t length = 0;
  for (size_t i = 0; i < 4; ++i) length |= static_cast<uint32_t>(header[8 + i]) << (8 * i);
  if (length == 0 || length > frame_bytes_max) return malformed("length " + std::to_string(length) + " out of range");
  return FrameHeader{length};
}

HostResult<DecodedFrame> decode_frame(ByteSpan payload, raft::NodeId self) {
  // The verifier reads scalars in place and insists on alignment; a stream buffer promises none.
  std::vector<uint64_t> words((payload.size() + 7) / 8);
  if (!payload.empty()) std::memcpy(words.data(), payload.data(), payload.size());
  const auto* data = reinterpret_cast<const uint8_t*>(words.data());
  flatbuffers::Verifier verifier(data, payload.size(), kVerifierDepthMax, 4 * kFrameMessagesMax + 64);
  if (!verifier.VerifyBuffer<fb::RaftFrame>(fb::RaftFrameIdentifier())) return malformed("verifier rejected the frame");
  const fb::RaftFrame* frame = flatbuffers::GetRoot<fb::RaftFrame>(data);
  if (frame->to() != self) return malformed("frame for node " + std::to_string(frame->to()));
  if (frame->from() == raft::kNoNode || frame->from() == self) return malformed("bad sender");
  DecodedFrame out;
  out.from = frame->from();
  const size_t messages = frame->messages() ? frame->messages()->size() : 0;
  const size_t heartbeats = frame->heartbeats() ? frame->heartbeats()->size() : 0;
  const size_t responses = frame->heartbeat_responses() ? frame->heartbeat_responses()->size() : 0;
  if (messages > kFrameMessagesMax) return malformed("too many messages");
  if (heartbeats > kFrameHeartbeatsMax || responses > kFrameHeartbeatsMax) return malformed("too many heartbeats");
  if (!elements_aligned(frame->heartbeats()) || !elements_aligned(frame->heartbeat_responses())) return malformed("heartbeats misaligned");
  out.messages.reserve(messages + heartbeats + responses);
  for (size_t i = 0; i < messages; ++i) {
    SLUICE_ASSIGN_OR_RETURN(GroupMessage gm, decode_message(out.from, self, frame->messages()->Get(static_cast<flatbuffers::uoffset_t>(i))));
    out.messages.push_back(std::move(gm));
  }
  for (size_t i = 0; i < heartbeats; ++i) {
    const fb::RaftHeartbeat* h = frame->heartbeats()->Get(static_cast<flatbuffers::uoffset_t>(i));
    out.messages.push_back(GroupMessage{h->group(), expand_heartbeat(out.from, self, *h)});
  }
  for (size_t i = 0; i < responses; ++i) {
    const fb::RaftHeartbeatResponse* r = frame->heartbeat_responses()->Get(static_cast<flatbuffers::uoffset_t>(i));
    out.messages.push_back(GroupMessage{r->group(), expand_response(out.from, self, *r)});
  }
  return out;
}

}  // namespace sluice::multiraft
