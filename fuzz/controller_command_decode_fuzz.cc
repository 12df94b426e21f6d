// Fuzzes the controller's command and submit-reply decoders (node/controller/command.h,
// docs/formats/controller.md). Commands:
// every node decodes what the metadata group committed. Any input is accepted or refused without
// a crash; an accepted command encodes back to exactly its bytes and applies (or is refused) on a
// small cluster's metadata without a crash, leaving the metadata's rules intact.
#include <cstddef>
#include <cstdint>
#include <set>

#include "node/base/assert.h"
#include "node/controller/command.h"
#include "node/controller/metadata.h"

namespace controller = sluice::controller;

// A forwarded command's reply comes from another node: accepted exactly when canonical.
void check_submit_reply(sluice::ByteSpan bytes) {
  const std::optional<controller::Result<controller::Applied>> reply = controller::decode_submit_reply(bytes);
  if (!reply) return;
  SLUICE_ASSERT(controller::encode_submit_reply(*reply) == sluice::Bytes(bytes.begin(), bytes.end()));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sluice::ByteSpan bytes(reinterpret_cast<const std::byte*>(data), size);
  check_submit_reply(bytes);
  const std::optional<controller::Command> command = controller::decode_command(bytes);
  if (!command) return 0;
  const auto encoded = controller::encode_command(*command);
  SLUICE_ASSERT(encoded.ok());
  SLUICE_ASSERT(*encoded == sluice::Bytes(bytes.begin(), bytes.end()));

  controller::Metadata metadata;
  for (sluice::NodeId id = 1; id <= 3; ++id) SLUICE_ASSERT(metadata.apply(controller::RegisterNode{id, {}}).ok());
  SLUICE_ASSERT(metadata.apply(controller::CreateTopic{"t", 4, 2, {}}).ok());
  (void)metadata.apply(*command);
  for (const auto& [name, topic] : metadata.topics()) {
    for (const controller::PartitionRecord& partition : topic.partitions) {
      const std::set<sluice::NodeId> distinct(partition.replicas.begin(), partition.replicas.end());
      SLUICE_ASSERT_EQ(distinct.size(), partition.replicas.size());
      SLUICE_ASSERT_EQ(distinct.count(partition.preferred_leader), 1u);
      for (sluice::NodeId lost : partition.lost_on) SLUICE_ASSERT(metadata.nodes().count(lost) == 1);  // only a holder reports
    }
  }
  return 0;
}
