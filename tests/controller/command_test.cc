// The controller's command encoding (node/controller/command.h, docs/formats/controller.md).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/controller/command.h"

namespace sluice::controller {
namespace {

std::vector<Command> one_of_each() {
  return {RegisterNode{7, {"10.0.0.7:7946", "10.0.0.7:7947", "10.0.0.7:8080"}},
          SetNodeState{7, NodeState::dead},
          CreateTopic{"orders", 12, 3, TopicConfig{86'400'000, -1, 1 << 20}},
          DeleteTopic{"orders"},
          AlterTopicConfig{"orders", TopicConfig{-1, 1 << 30, 1 << 26}},
          AllocateProducerIds{1000},
          DecommissionNode{3},
          BeginMove{5, 2, Move{4, 1}},
          FinishMove{5, 2, Move{4, 1}},
          AbortMove{5, 2, Move{4, 1}},
          SetPreferredLeader{5, 2, 4}};
}

TEST(ControllerCommand, EveryKindRoundTripsAndRefusesEveryCut) {
  for (const Command& command : one_of_each()) {
    const Bytes bytes = encode_command(command).value();
    const std::optional<Command> decoded = decode_command(bytes);
    ASSERT_TRUE(decoded.has_value()) << command.index();
    EXPECT_TRUE(*decoded == command) << command.index();
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      EXPECT_FALSE(decode_command(ByteSpan(bytes).first(cut))) << command.index() << " cut at " << cut;
    }
    Bytes longer = bytes;
    longer.push_back(std::byte{0});
    EXPECT_FALSE(decode_command(longer)) << command.index();
  }
}

TEST(ControllerCommand, UnknownVersionKindAndStateAreRefused) {
  Bytes bytes = encode_command(SetNodeState{7, NodeState::alive}).value();
  Bytes version = bytes;
  version[0] = std::byte{2};
  EXPECT_FALSE(decode_command(version));
  Bytes kind = bytes;
  kind[1] = std::byte{11};
  EXPECT_FALSE(decode_command(kind));
  Bytes state = bytes;
  state.back() = std::byte{4};
  EXPECT_FALSE(decode_command(state));
}

TEST(ControllerCommand, OverlongTextsAreRefusedNotAsserted) {
  EXPECT_EQ(encode_command(CreateTopic{std::string(kCommandTextBytesMax + 1, 'x'), 1, 1, {}}).code(), Errc::invalid_request);
  EXPECT_EQ(encode_command(RegisterNode{1, {std::string(70'000, 'a'), "", ""}}).code(), Errc::invalid_request);
  EXPECT_TRUE(encode_command(CreateTopic{std::string(kCommandTextBytesMax, 'x'), 1, 1, {}}).ok());
}

}  // namespace
}  // namespace sluice::controller
