// Layout (docs/formats/controller.md): u8 version, u8 kind (the Command variant's index), then the
// kind's fields, little-endian, texts as a u16 length and their bytes. No trailing bytes.
#include "node/controller/command.h"

#include <string>
#include <type_traits>
#include <utility>

#include "node/base/byte_io.h"

namespace sluice::controller {
namespace {

void put_config(ByteWriter& out, const TopicConfig& config) {
  out.put<int64_t>(config.retention_ms);
  out.put<int64_t>(config.retention_bytes);
  out.put<int64_t>(config.segment_bytes);
}

bool get_config(ByteReader& in, TopicConfig& config) {
  if (!in.has(24)) return false;
  config.retention_ms = in.get<int64_t>();
  config.retention_bytes = in.get<int64_t>();
  config.segment_bytes = in.get<int64_t>();
  return true;
}

// begin, finish, abort, finish_rollback: the generation follows in version 2 only. A command of
// version 1 (written before generations existed) decodes as generation 0, which matches whatever
// attempt is in flight, and encodes back to the same bytes.
void put_move(ByteWriter& out, TopicId topic, uint32_t partition, const Move& move) {
  out.put<uint64_t>(topic);
  out.put<uint32_t>(partition);
  out.put<uint64_t>(move.adding);
  out.put<uint64_t>(move.removing);
  if (move.generation != 0) out.put<uint64_t>(move.generation);
}

bool get_move_fields(ByteReader& in, uint8_t version, TopicId& topic, uint32_t& partition, Move& move) {
  if (!in.has(version == kCommandVersionGenerations ? 36 : 28)) return false;
  topic = in.get<uint64_t>();
  partition = in.get<uint32_t>();
  move.adding = in.get<uint64_t>();
  move.removing = in.get<uint64_t>();
  if (version != kCommandVersionGenerations) return true;
  move.generation = in.get<uint64_t>();
  return move.generation != 0;  // version 2 is written for a generation only
}

template <typename T>
std::optional<Command> get_move(ByteReader& in, uint8_t version) {
  T command;
  if (!get_move_fields(in, version, command.topic, command.partition, command.move)) return std::nullopt;
  return Command(std::move(command));
}

std::optional<Command> get_redirect(ByteReader& in, uint8_t version) {
  RedirectMove c;
  if (!get_move_fields(in, version, c.topic, c.partition, c.move) || !in.has(8)) return std::nullopt;
  c.to = in.get<uint64_t>();
  return c;
}

// Version 2 where the command carries a move generation, version 1 otherwise: what version 1 can
// say it says as it always did, so one command has one encoding.
uint8_t version_of(const Command& command) {
  return std::visit(
      [](const auto& c) -> uint8_t {
        if constexpr (requires { c.move; }) return c.move.generation != 0 ? kCommandVersionGenerations : kCommandVersion;
        return kCommandVersion;
      },
      command);
}

// A partition and a node: u64 topic, u32 partition, u64 node.
void put_partition_node(ByteWriter& out, TopicId topic, uint32_t partition, NodeId node) {
  out.put<uint64_t>(topic);
  out.put<uint32_t>(partition);
  out.put<uint64_t>(node);
}

template <typename T, NodeId T::*kNode>
std::optional<Command> get_partition_node(ByteReader& in) {
  if (!in.has(20)) return std::nullopt;
  T command;
  command.topic = in.get<uint64_t>();
  command.partition = in.get<uint32_t>();
  command.*kNode = in.get<uint64_t>();
  return Command(std::move(command));
}

struct Encoder {
  ByteWriter& out;
  void operator()(const RegisterNode& c) {
    out.put<uint64_t>(c.id);
    out.put_text(c.addresses.membership);
    out.put_text(c.addresses.raft);
    out.put_text(c.addresses.api);
  }
  void operator()(const SetNodeState& c) {
    out.put<uint64_t>(c.id);
    out.put<uint8_t>(static_cast<uint8_t>(c.state));
  }
  void operator()(const CreateTopic& c) {
    out.put_text(c.name);
    out.put<uint32_t>(c.partitions);
    out.put<uint32_t>(c.replication);
    put_config(out, c.config);
  }
  void operator()(const DeleteTopic& c) { out.put_text(c.name); }
  void operator()(const AlterTopicConfig& c) {
    out.put_text(c.name);
    put_config(out, c.config);
  }
  void operator()(const AllocateProducerIds& c) { out.put<uint64_t>(c.count); }
  void operator()(const DecommissionNode& c) { out.put<uint64_t>(c.id); }
  void operator()(const BeginMove& c) { put_move(out, c.topic, c.partition, c.move); }
  void operator()(const FinishMove& c) { put_move(out, c.topic, c.partition, c.move); }
  void operator()(const AbortMove& c) { put_move(out, c.topic, c.partition, c.move); }
  void operator()(const FinishRollback& c) { put_move(out, c.topic, c.partition, c.move); }
  void operator()(const SetPreferredLeader& c) { put_partition_node(out, c.topic, c.partition, c.leader); }
  void operator()(const ReportReplicaLost& c) { put_partition_node(out, c.topic, c.partition, c.node); }
  void operator()(const ResumeMove& c) { put_move(out, c.topic, c.partition, c.move); }
  void operator()(const RedirectMove& c) {
    put_move(out, c.topic, c.partition, c.move);
    out.put<uint64_t>(c.to);
  }
};

std::optional<Command> decode_fields(size_t kind, uint8_t version, ByteReader& in) {
  const bool moves_only = version == kCommandVersionGenerations;  // the kinds that carry a generation
  if (moves_only && kind != 7 && kind != 8 && kind != 9 && kind != 11 && kind != 13 && kind != 14) return std::nullopt;
  switch (kind) {
    case 0: {
      RegisterNode c;
      if (!in.has(8)) return std::nullopt;
      c.id = in.get<uint64_t>();
      if (!in.get_text(c.addresses.membership) || !in.get_text(c.addresses.raft) || !in.get_text(c.addresses.api)) return std::nullopt;
      return c;
    }
    case 1: {
      if (!in.has(9)) return std::nullopt;
      SetNodeState c;
      c.id = in.get<uint64_t>();
      const auto state = in.get<uint8_t>();
      if (state > static_cast<uint8_t>(NodeState::removed)) return std::nullopt;
      c.state = static_cast<NodeState>(state);
      return c;
    }
    case 2: {
      CreateTopic c;
      if (!in.get_text(c.name) || !in.has(8)) return std::nullopt;
      c.partitions = in.get<uint32_t>();
      c.replication = in.get<uint32_t>();
      if (!get_config(in, c.config)) return std::nullopt;
      return c;
    }
    case 3: {
      DeleteTopic c;
      if (!in.get_text(c.name)) return std::nullopt;
      return c;
    }
    case 4: {
      AlterTopicConfig c;
      if (!in.get_text(c.name) || !get_config(in, c.config)) return std::nullopt;
      return c;
    }
    case 5:
    case 6: {
      if (!in.has(8)) return std::nullopt;
      const auto value = in.get<uint64_t>();
      if (kind == 5) return AllocateProducerIds{value};
      return DecommissionNode{value};
    }
    case 7: return get_move<BeginMove>(in, version);
    case 8: return get_move<FinishMove>(in, version);
    case 9: return get_move<AbortMove>(in, version);
    case 10: return get_partition_node<SetPreferredLeader, &SetPreferredLeader::leader>(in);
    case 11: return get_move<FinishRollback>(in, version);
    case 12: return get_partition_node<ReportReplicaLost, &ReportReplicaLost::node>(in);
    // Resume and redirect came with generations: only in version 2.
    case 13: return moves_only ? get_move<ResumeMove>(in, version) : std::nullopt;
    case 14: return moves_only ? get_redirect(in, version) : std::nullopt;
    default: return std::nullopt;
  }
}

static_assert(std::variant_size_v<Command> == 15, "a new command needs its kind in decode_fields and the format doc");

}  // namespace

Result<Bytes> encode_command(const Command& command) {
  const auto text_fits = [](const std::string& text) { return text.size() <= kCommandTextBytesMax; };
  const bool fits = std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, RegisterNode>) {
          return text_fits(c.addresses.membership) && text_fits(c.addresses.raft) && text_fits(c.addresses.api);
        } else if constexpr (requires { c.name; }) {
          return text_fits(c.name);
        } else {
          return true;
        }
      },
      command);
  if (!fits) return Result<Bytes>(Errc::invalid_request, "a name or address above " + std::to_string(kCommandTextBytesMax) + " bytes");
  // Resume and redirect exist in version 2 only, which writes a generation: they need one.
  const bool unnamed_attempt = (std::holds_alternative<ResumeMove>(command) && std::get<ResumeMove>(command).move.generation == 0) ||
                               (std::holds_alternative<RedirectMove>(command) && std::get<RedirectMove>(command).move.generation == 0);
  if (unnamed_attempt) return Result<Bytes>(Errc::invalid_request, "resume_move and redirect_move name the move's generation");
  ByteWriter out;
  out.put<uint8_t>(version_of(command));
  out.put<uint8_t>(static_cast<uint8_t>(command.index()));
  std::visit(Encoder{out}, command);
  SLUICE_ASSERT_LE(out.bytes().size(), kCommandBytesMax);
  return out.take();
}

// u8 version, u8 error code (0: applied), then for 0: u64 topic, u64 first producer id; else
// the message as a text.
Bytes encode_submit_reply(const Result<Applied>& reply) {
  ByteWriter out;
  out.put<uint8_t>(kCommandVersion);
  out.put<uint8_t>(static_cast<uint8_t>(reply.code()));
  if (reply.ok()) {
    out.put<uint64_t>(reply->topic);
    out.put<uint64_t>(reply->first_producer_id);
  } else {
    const std::string message = reply.status().message();
    out.put_text(std::string_view(message).substr(0, kCommandTextBytesMax));
  }
  return out.take();
}

std::optional<Result<Applied>> decode_submit_reply(ByteSpan bytes) {
  if (bytes.size() < 2 || bytes.size() > kCommandBytesMax) return std::nullopt;
  ByteReader in(bytes);
  if (in.get<uint8_t>() != kCommandVersion) return std::nullopt;
  const uint8_t code = in.get<uint8_t>();
  if (code > static_cast<uint8_t>(Errc::unavailable)) return std::nullopt;
  std::optional<Result<Applied>> reply;
  if (code == 0) {
    if (!in.has(16)) return std::nullopt;
    Applied applied;
    applied.topic = in.get<uint64_t>();
    applied.first_producer_id = in.get<uint64_t>();
    reply.emplace(applied);
  } else {
    std::string message;
    if (!in.get_text(message) || message.size() > kCommandTextBytesMax) return std::nullopt;
    reply.emplace(static_cast<Errc>(code), std::move(message));
  }
  if (in.left() != 0) return std::nullopt;
  return reply;
}

std::optional<Command> decode_command(ByteSpan bytes) {
  if (bytes.size() < 2 || bytes.size() > kCommandBytesMax) return std::nullopt;
  ByteReader in(bytes);
  const uint8_t version = in.get<uint8_t>();
  if (version != kCommandVersion && version != kCommandVersionGenerations) return std::nullopt;
  const size_t kind = in.get<uint8_t>();
  std::optional<Command> command = decode_fields(kind, version, in);
  if (!command || in.left() != 0) return std::nullopt;
  return command;
}

}  // namespace sluice::controller
