// The controller's command encoding (node/controller/command.h, docs/formats/controller.md).
#include <gtest/gtest.h>

#include <algorithm>
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
          SetPreferredLeader{5, 2, 4},
          FinishRollback{5, 2, Move{4, 1}},
          ReportReplicaLost{5, 2, 4},
          BeginMove{5, 2, Move{4, 1, 3}},
          FinishMove{5, 2, Move{4, 1, 3}},
          AbortMove{5, 2, Move{4, 1, 3}},
          FinishRollback{5, 2, Move{4, 1, 3}},
          ResumeMove{5, 2, Move{4, 1, 3}},
          RedirectMove{5, 2, Move{4, 1, 3}, 6}};
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
  version[0] = std::byte{3};
  EXPECT_FALSE(decode_command(version));
  Bytes kind = bytes;
  kind[1] = std::byte{std::variant_size_v<Command>};  // the first kind not defined
  EXPECT_FALSE(decode_command(kind));
  Bytes state = bytes;
  state.back() = std::byte{4};
  EXPECT_FALSE(decode_command(state));
}

// Move commands written before generations (version 1, no generation) still decode, as generation
// 0; a generation is written as version 2, which no other kind uses, and is never 0 there.
TEST(ControllerCommand, MoveGenerationsAreVersionTwoAndVersionOneMovesStillDecode) {
  const Bytes legacy = encode_command(FinishMove{5, 2, Move{4, 1}}).value();
  EXPECT_EQ(legacy.size(), 30u);
  EXPECT_EQ(legacy[0], std::byte{1});
  const Bytes current = encode_command(FinishMove{5, 2, Move{4, 1, 3}}).value();
  EXPECT_EQ(current.size(), 38u);
  EXPECT_EQ(current[0], std::byte{2});
  EXPECT_TRUE(std::equal(legacy.begin() + 1, legacy.end(), current.begin() + 1));  // the generation follows the old fields
  Bytes zero = current;
  std::fill(zero.end() - 8, zero.end(), std::byte{0});
  EXPECT_FALSE(decode_command(zero));
  Bytes other_kind = encode_command(SetNodeState{7, NodeState::alive}).value();
  other_kind[0] = std::byte{2};
  EXPECT_FALSE(decode_command(other_kind));
  Bytes resume_v1 = encode_command(ResumeMove{5, 2, Move{4, 1, 3}}).value();
  resume_v1[0] = std::byte{1};
  EXPECT_FALSE(decode_command(resume_v1));
  EXPECT_EQ(encode_command(ResumeMove{5, 2, Move{4, 1}}).code(), Errc::invalid_request);
  EXPECT_EQ(encode_command(RedirectMove{5, 2, Move{4, 1}, 6}).code(), Errc::invalid_request);
}

TEST(ControllerCommand, OverlongTextsAreRefusedNotAsserted) {
  EXPECT_EQ(encode_command(CreateTopic{std::string(kCommandTextBytesMax + 1, 'x'), 1, 1, {}}).code(), Errc::invalid_request);
  EXPECT_EQ(encode_command(RegisterNode{1, {std::string(70'000, 'a'), "", ""}}).code(), Errc::invalid_request);
  EXPECT_TRUE(encode_command(CreateTopic{std::string(kCommandTextBytesMax, 'x'), 1, 1, {}}).ok());
}

// A forwarded command's answer: applied values and errors (code and message) round trip; every cut,
// another version, an unknown code and a trailing byte are refused; an overlong message is cut.
TEST(ControllerSubmitReply, RoundTripsAndRefusesWhatIsNotCanonical) {
  Applied applied;
  applied.topic = 12;
  applied.first_producer_id = 1 << 20;
  const std::vector<Result<Applied>> replies{Result<Applied>(applied), Result<Applied>(Errc::not_leader, "leader is node 3"),
                                             Result<Applied>(Errc::topic_exists, "")};
  for (const Result<Applied>& reply : replies) {
    const Bytes bytes = encode_submit_reply(reply);
    const std::optional<Result<Applied>> decoded = decode_submit_reply(bytes);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->code(), reply.code());
    if (reply.ok()) {
      EXPECT_EQ(decoded->value().topic, 12u);
      EXPECT_EQ(decoded->value().first_producer_id, uint64_t{1} << 20);
    } else {
      EXPECT_EQ(decoded->status().message(), reply.status().message());
    }
    for (size_t cut = 0; cut < bytes.size(); ++cut) EXPECT_FALSE(decode_submit_reply(ByteSpan(bytes).first(cut))) << cut;
    Bytes longer = bytes;
    longer.push_back(std::byte{0});
    EXPECT_FALSE(decode_submit_reply(longer));
    Bytes version = bytes;
    version[0] = std::byte{3};
    EXPECT_FALSE(decode_submit_reply(version));
  }
  Bytes unknown = encode_submit_reply(Result<Applied>(Errc::unavailable, "x"));
  unknown[1] = std::byte{static_cast<uint8_t>(Errc::unavailable) + 1};
  EXPECT_FALSE(decode_submit_reply(unknown));
  const std::optional<Result<Applied>> cut =
      decode_submit_reply(encode_submit_reply(Result<Applied>(Errc::invalid_request, std::string(5000, 'm'))));
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->status().message().size(), kCommandTextBytesMax);
}

}  // namespace
}  // namespace sluice::controller
