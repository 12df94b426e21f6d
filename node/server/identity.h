// A node's identity, recorded in its data directory (docs/formats/data-dir.md): the cluster it
// belongs to and its node id. Written once, when the data directory is new; from then on a node
// refuses to start on the directory with another cluster id or node id, so a disk moved to the
// wrong machine (or a config naming the wrong id) cannot join a cluster under a false name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "node/base/bytes.h"
#include "node/base/ids.h"
#include "node/base/status.h"
#include "runtime/fs.h"

namespace sluice::server {

struct Identity {
  uint64_t cluster_id = 0;
  NodeId node_id = kNoNode;

  friend bool operator==(const Identity&, const Identity&) = default;
};

// Two copies, each written whole (temporary file, sync, rename, directory sync): damage to one
// (a bad sector, a flipped bit) is repaired from the other at the next start.
inline constexpr std::string_view kIdentityFiles[2] = {"node.identity", "node.identity.copy"};
inline constexpr size_t kIdentityFileBytesMax = 4096;
// How load_or_create_identity's error begins when neither copy can be read: the node cannot
// start from this data directory (it never guesses who it is).
inline constexpr std::string_view kIdentityLostMessage = "both identity copies are unusable: ";

// The file's bytes, and back. Decoding rejects anything but exactly this format.
Bytes encode_identity(const Identity& identity);
runtime::Result<Identity> decode_identity(ByteSpan bytes);

// Reads the identity of the data directory `fs` is rooted at, or creates it from `wanted` (with
// a node id drawn from `random_node_id` when wanted.node_id is 0). A stored identity that
// differs from a non-zero wanted field is refused with invalid_argument naming both; so are two
// unusable copies and two copies that disagree. A damaged or missing copy beside a good one is
// rewritten. Durable when it returns.
runtime::Result<Identity> load_or_create_identity(runtime::Filesystem& fs, Identity wanted, uint64_t random_node_id);

// While the node runs: each copy that is missing, damaged or not `identity` (the one the node
// started as) is rewritten from it, so that bit rot on both copies during one long run cannot
// leave a directory the node can never start from again. The copies rewritten (0, 1 or 2), or an
// I/O error (tried again at the next scrub).
runtime::Result<size_t> scrub_identity(runtime::Filesystem& fs, const Identity& identity);

}  // namespace sluice::server
