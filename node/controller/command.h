// The controller's commands as bytes: the data of a normal entry of the metadata Raft group
// (docs/formats/controller.md). Every node decodes what the group committed, so the decoder takes
// any bytes: it accepts exactly the canonical encoding of one command and refuses anything else
// (a damaged entry is skipped alike on every node, since every node holds the same bytes).
#pragma once

#include <optional>

#include "node/base/bytes.h"
#include "node/controller/metadata.h"

namespace sluice::controller {

inline constexpr uint8_t kCommandVersion = 1;
// A command that carries a move generation (docs/formats/controller.md); every other command is
// written as version 1.
inline constexpr uint8_t kCommandVersionGenerations = 2;
inline constexpr size_t kCommandBytesMax = 4096;  // names and addresses are short; nothing else varies
inline constexpr size_t kCommandTextBytesMax = 1024;  // a name or an address

// invalid_request if a text (name, address) is longer than kCommandTextBytesMax.
Result<Bytes> encode_command(const Command& command);
// nullopt unless `bytes` is exactly encode_command of some command.
std::optional<Command> decode_command(ByteSpan bytes);

// What a controller leader answers a command forwarded to it (node/server/node.h): what it
// applied, or why not (docs/formats/controller.md, "Submit replies"). Messages longer than
// kCommandTextBytesMax are cut.
Bytes encode_submit_reply(const Result<Applied>& reply);
// nullopt unless `bytes` is exactly encode_submit_reply of some reply.
std::optional<Result<Applied>> decode_submit_reply(ByteSpan bytes);

}  // namespace sluice::controller
