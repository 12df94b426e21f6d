// The real-fault harness's offline parts (no root): the history format fed to the simulation's
// partition ledger must report planted violations, and the nemesis schedule is a function of its
// seed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include "tests/e2e/realfault/history.h"
#include "tests/e2e/realfault/nemesis.h"

namespace sluice::realfault {
namespace {

HistoryEvent acked(uint32_t partition, uint64_t offset, uint64_t record) {
  HistoryEvent event;
  event.kind = HistoryEvent::Kind::acked;
  event.partition = partition;
  event.offset = offset;
  event.records = {record};
  return event;
}

HistoryEvent consumed(uint64_t consumer, uint64_t expected, uint64_t offset, uint64_t record, int64_t timestamp_ms = 1000) {
  HistoryEvent event;
  event.kind = HistoryEvent::Kind::consumed;
  event.consumer = consumer;
  event.expected = expected;
  event.offset = offset;
  event.records = {record};
  event.first_timestamp_ms = timestamp_ms;
  event.max_timestamp_ms = timestamp_ms;
  return event;
}

HistoryEvent end(uint64_t consumer, uint64_t high_watermark, std::optional<uint64_t> acked_before) {
  HistoryEvent event;
  event.kind = HistoryEvent::Kind::end;
  event.consumer = consumer;
  event.offset = high_watermark;
  event.acked_before = acked_before;
  return event;
}

// The events as a history file, read back: the offline path (`check --history`).
std::optional<checkers::PartitionLedger> replayed(const std::vector<HistoryEvent>& events, std::string& error) {
  const std::string path = ::testing::TempDir() + "realfault_history_test.jsonl";
  {
    std::FILE* out = std::fopen(path.c_str(), "w");
    HistoryRecorder recorder(out, /*idempotent=*/true);
    for (const HistoryEvent& event : events) recorder.record(event);
    std::fclose(out);
  }
  return replay_history(path, error);
}

TEST(RealfaultHistory, CleanHistoryPasses) {
  std::string error;
  auto ledger = replayed({acked(0, 0, 11), acked(0, 1, 12), consumed(1, 0, 0, 11), consumed(1, 1, 1, 12)}, error);
  ASSERT_TRUE(ledger) << error;
  const LedgerVerdict verdict = judge(*ledger);
  EXPECT_EQ(verdict.violation, "");
  EXPECT_EQ(ledger->acked_records(), 2u);
  EXPECT_EQ(ledger->consumed_records(), 2u);
}

// A confirmed end learned in a poll begun after offset 1 was acknowledged must lie past it; one
// learned before anything was acknowledged may be anything.
TEST(RealfaultHistory, AConfirmedEndBelowAnAcknowledgedOffsetIsAStaleEnd) {
  std::string error;
  auto fine = replayed({end(1, 0, std::nullopt), acked(0, 0, 11), acked(0, 1, 12), end(1, 2, 1), consumed(1, 0, 0, 11),
                        consumed(1, 1, 1, 12)}, error);
  ASSERT_TRUE(fine) << error;
  EXPECT_EQ(judge(*fine).violation, "");
  EXPECT_EQ(fine->high_watermarks_checked(), 2u);
  auto stale = replayed({acked(0, 0, 11), acked(0, 1, 12), end(1, 1, 1), consumed(1, 0, 0, 11), consumed(1, 1, 1, 12)}, error);
  ASSERT_TRUE(stale) << error;
  EXPECT_EQ(judge(*stale).violation.rfind("partition_ledger: stale end", 0), 0u) << judge(*stale).violation;
}

TEST(RealfaultHistory, AckedNeverConsumedIsLost) {
  std::string error;
  auto ledger = replayed({acked(0, 0, 11), acked(0, 1, 12), consumed(1, 0, 0, 11)}, error);
  ASSERT_TRUE(ledger) << error;
  EXPECT_EQ(ledger->lost_acked(), 1u);
  EXPECT_EQ(judge(*ledger).violation.rfind("lost_acked: ", 0), 0u) << judge(*ledger).violation;
}

TEST(RealfaultHistory, OneRecordAtTwoOffsetsIsADuplicate) {
  std::string error;
  auto ledger = replayed({acked(0, 0, 11), consumed(1, 0, 0, 11), consumed(1, 1, 1, 11)}, error);
  ASSERT_TRUE(ledger) << error;
  EXPECT_EQ(ledger->duplicate_records(), 1u);
  EXPECT_EQ(judge(*ledger).violation.rfind("partition_ledger: ", 0), 0u);
}

TEST(RealfaultHistory, ConsumersReadingDifferentRecordsAtOneOffsetDiverge) {
  std::string error;
  auto ledger = replayed({consumed(1, 0, 0, 11), consumed(2, 0, 0, 99)}, error);
  ASSERT_TRUE(ledger) << error;
  EXPECT_GT(ledger->divergences(), 0u);
  EXPECT_NE(judge(*ledger).violation, "");
}

TEST(RealfaultHistory, AGapInAConsumersReadIsReported) {
  std::string error;
  auto ledger = replayed({consumed(1, 0, 0, 11), consumed(1, 1, 3, 14)}, error);
  ASSERT_TRUE(ledger) << error;
  EXPECT_NE(judge(*ledger).violation, "");
}

TEST(RealfaultHistory, LinesRoundTrip) {
  HistoryEvent event = consumed(3, 5, 5, 0xffffffffffffffffULL, 123);
  event.partition = 2;
  std::string error;
  std::optional<HistoryEvent> back = parse_history_line(to_json_line(event), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->partition, 2u);
  EXPECT_EQ(back->consumer, 3u);
  EXPECT_EQ(back->records.at(0), 0xffffffffffffffffULL);
  EXPECT_EQ(back->first_timestamp_ms, 123);
}

TEST(RealfaultHistory, MalformedLinesAreErrorsNamingTheLine) {
  const std::string path = ::testing::TempDir() + "realfault_bad.jsonl";
  std::ofstream(path) << "{\"kind\":\"header\",\"idempotent\":true}\n{\"kind\":\"acked\",\"partition\":0}\n";
  std::string error;
  EXPECT_FALSE(replay_history(path, error));
  EXPECT_NE(error.find("line 2"), std::string::npos) << error;
  std::ofstream(path) << "{\"kind\":\"acked\",\"partition\":0,\"offset\":0,\"records\":[1]}\n";
  EXPECT_FALSE(replay_history(path, error));
  EXPECT_NE(error.find("before the header"), std::string::npos) << error;
}

// A number the recorder never writes is refused, not converted: nlohmann's get<> would turn 1.5
// into 1, -1 into 2^64 - 1 and a partition of 2^32 into 0.
TEST(RealfaultHistory, NumbersTheRecorderNeverWritesAreRefused) {
  for (const std::string line : {R"({"kind":"acked","partition":0,"offset":1.5,"records":[1]})",
                                 R"({"kind":"acked","partition":0,"offset":-1,"records":[1]})",
                                 R"({"kind":"acked","partition":4294967296,"offset":0,"records":[1]})",
                                 R"({"kind":"acked","partition":0,"offset":0,"records":[-3]})",
                                 R"({"kind":"acked","partition":0,"offset":0,"records":7})",
                                 R"({"kind":"end","partition":0,"consumer":1,"offset":5,"acked_before":"4"})",
                                 R"({"kind":"consumed","partition":0,"consumer":1,"expected":0,"offset":0,"records":[1],"first_timestamp_ms":18446744073709551615,"max_timestamp_ms":0})"}) {
    std::string error;
    EXPECT_FALSE(parse_history_line(line, error)) << line;
    EXPECT_FALSE(error.empty()) << line;
  }
  std::string error;
  const std::optional<HistoryEvent> signed_time =
      parse_history_line(R"({"kind":"consumed","partition":0,"consumer":1,"expected":0,"offset":0,"records":[1],"first_timestamp_ms":-5,"max_timestamp_ms":-5})", error);
  ASSERT_TRUE(signed_time) << error;  // timestamps are signed: a clock before 1970 is representable
  EXPECT_EQ(signed_time->first_timestamp_ms, -5);
}

TEST(RealfaultNemesis, TheScheduleIsAFunctionOfTheSeed) {
  ScheduleShape shape;
  shape.faults_stop_ms = 60'000;
  auto text = [&](uint64_t seed) {
    std::string out;
    const std::vector<Fault> faults = make_schedule(seed, shape);
    for (size_t i = 0; i < faults.size(); ++i) out += describe(faults[i], i, shape.nodes) + "\n";
    return out;
  };
  EXPECT_EQ(text(7), text(7));
  EXPECT_NE(text(7), text(8));
}

TEST(RealfaultNemesis, FaultsStayInsideTheirWindowAndWithoutNetemDrawNone) {
  ScheduleShape shape;
  shape.faults_stop_ms = 120'000;
  shape.netem = false;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    int64_t previous_end = 0;
    for (const Fault& fault : make_schedule(seed, shape)) {
      if (fault.overlaps >= 0) continue;  // inside another's window: the next test
      EXPECT_GE(fault.start_ms, std::max(previous_end, shape.first_fault_ms));
      EXPECT_LT(fault.start_ms, fault.end_ms);
      EXPECT_LE(fault.end_ms, shape.faults_stop_ms);
      EXPECT_TRUE(fault.kind != FaultKind::delay && fault.kind != FaultKind::loss && fault.kind != FaultKind::duplicate &&
                  fault.kind != FaultKind::reorder);
      EXPECT_LT(fault.leader_of, shape.partitions);
      EXPECT_GE(fault.node, 1);
      EXPECT_LE(fault.node, shape.nodes);
      previous_end = fault.end_ms;
    }
  }
}

// With overlap, some network faults carry a kill or pause inside their window; the faults they
// sit in are as without overlap (a stream of their own), and without it there are none.
TEST(RealfaultNemesis, OverlapsAreKillsOrPausesInsideANetworkFault) {
  ScheduleShape shape;
  shape.faults_stop_ms = 120'000;
  ScheduleShape plain = shape;
  plain.overlap = false;
  size_t overlaps = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const std::vector<Fault> faults = make_schedule(seed, shape);
    std::vector<Fault> hosts;
    for (size_t i = 0; i < faults.size(); ++i) {
      const Fault& fault = faults[i];
      if (fault.overlaps < 0) {
        hosts.push_back(fault);
        continue;
      }
      ++overlaps;
      ASSERT_LT(static_cast<size_t>(fault.overlaps), i);
      const Fault& host = faults[static_cast<size_t>(fault.overlaps)];
      EXPECT_EQ(host.overlaps, -1);
      EXPECT_TRUE(is_network_fault(host.kind)) << describe(host, 0, shape.nodes);
      EXPECT_TRUE(fault.kind == FaultKind::kill || fault.kind == FaultKind::pause) << describe(fault, i, shape.nodes);
      EXPECT_GT(fault.start_ms, host.start_ms);
      EXPECT_LT(fault.start_ms, fault.end_ms);
      EXPECT_LT(fault.end_ms, host.end_ms);
    }
    const std::vector<Fault> alone = make_schedule(seed, plain);
    ASSERT_EQ(alone.size(), hosts.size());
    for (size_t i = 0; i < alone.size(); ++i) EXPECT_EQ(describe(alone[i], i, shape.nodes), describe(hosts[i], i, shape.nodes));
    for (const Fault& fault : alone) EXPECT_EQ(fault.overlaps, -1);
  }
  EXPECT_GT(overlaps, 20u);
}

// Clock faults (ScheduleShape::clock): the same seed gives the same skews and jumps; off, there are
// none; on, the other faults are as without them (their own streams), every jump stays in its
// bounds, one at a time, and three in four aim at a partition's leader.
TEST(RealfaultNemesis, ClockFaultsAreAFunctionOfTheSeedAndOffMeansNone) {
  ScheduleShape shape;
  shape.faults_stop_ms = 60'000;
  shape.clock = true;
  auto text = [](uint64_t seed, const ScheduleShape& with) {
    std::string out;
    const std::vector<ClockSkew> skews = make_skews(seed, with);
    for (size_t i = 0; i < skews.size(); ++i) out += describe_skew(static_cast<int>(i + 1), skews[i]) + "\n";
    const std::vector<Fault> faults = make_schedule(seed, with);
    for (size_t i = 0; i < faults.size(); ++i) out += describe(faults[i], i, with.nodes) + "\n";
    return out;
  };
  EXPECT_EQ(text(7, shape), text(7, shape));
  EXPECT_NE(text(7, shape), text(8, shape));
  EXPECT_NE(text(7, shape).find("kind=clock_jump"), std::string::npos);
  ScheduleShape off = shape;
  off.clock = false;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    EXPECT_TRUE(make_skews(seed, off).empty());
    for (const Fault& fault : make_schedule(seed, off)) EXPECT_NE(fault.kind, FaultKind::clock_jump);
  }
}

TEST(RealfaultNemesis, ClockFaultsStayInTheirBoundsAndLeaveTheOtherFaultsAlone) {
  ScheduleShape shape;
  shape.faults_stop_ms = 120'000;
  shape.clock = true;
  ScheduleShape off = shape;
  off.clock = false;
  size_t jumps = 0;
  size_t at_leaders = 0;
  std::set<int64_t> drifts;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const std::vector<ClockSkew> skews = make_skews(seed, shape);
    ASSERT_EQ(skews.size(), static_cast<size_t>(shape.nodes));
    for (const ClockSkew& skew : skews) {
      EXPECT_GE(skew.offset_ms, -kSkewMsMax);
      EXPECT_LE(skew.offset_ms, kSkewMsMax);
      EXPECT_GE(skew.drift_ppm, -kDriftPpmMax);
      EXPECT_LE(skew.drift_ppm, kDriftPpmMax);
      drifts.insert(skew.drift_ppm);
    }
    const std::vector<Fault> faults = make_schedule(seed, shape);
    std::vector<Fault> others;
    int64_t previous_end = 0;
    for (size_t i = 0; i < faults.size(); ++i) {
      const Fault& fault = faults[i];
      if (i > 0) {
        EXPECT_LE(faults[i - 1].start_ms, fault.start_ms);  // printed in start order
      }
      if (fault.kind != FaultKind::clock_jump) {
        if (fault.overlaps >= 0) {  // its host moved with it
          EXPECT_TRUE(is_network_fault(faults[static_cast<size_t>(fault.overlaps)].kind)) << describe(fault, i, shape.nodes);
          EXPECT_GT(fault.start_ms, faults[static_cast<size_t>(fault.overlaps)].start_ms);
        }
        others.push_back(fault);
        continue;
      }
      ++jumps;
      if (fault.leader_of >= 0) ++at_leaders;
      EXPECT_FALSE(is_network_fault(fault.kind));
      EXPECT_GE(std::abs(fault.jump_ms), kJumpMsMin);
      EXPECT_LE(std::abs(fault.jump_ms), kJumpMsMax);
      EXPECT_GE(fault.start_ms, std::max(previous_end, shape.first_fault_ms));  // one at a time
      EXPECT_LT(fault.start_ms, fault.end_ms);
      EXPECT_LE(fault.end_ms - fault.start_ms, kJumpLastsMsMax);
      EXPECT_LE(fault.end_ms, shape.faults_stop_ms);
      EXPECT_GE(fault.node, 1);
      EXPECT_LE(fault.node, shape.nodes);
      EXPECT_LT(fault.leader_of, shape.partitions);
      previous_end = fault.end_ms;
    }
    // Without the jumps the schedule is the one a run without clock faults follows (overlapped
    // hosts renumbered: compared by what they are).
    const std::vector<Fault> plain = make_schedule(seed, off);
    ASSERT_EQ(plain.size(), others.size());
    for (size_t i = 0; i < plain.size(); ++i) {
      EXPECT_EQ(plain[i].kind, others[i].kind);
      EXPECT_EQ(plain[i].start_ms, others[i].start_ms);
      EXPECT_EQ(plain[i].end_ms, others[i].end_ms);
      EXPECT_EQ(plain[i].node, others[i].node);
    }
  }
  EXPECT_GT(jumps, 100u);
  EXPECT_GT(at_leaders * 2, jumps);
  EXPECT_LT(at_leaders, jumps);
  EXPECT_GT(drifts.size(), 50u);  // drifts vary, fast and slow
  EXPECT_LT(*drifts.begin(), 0);
  EXPECT_GT(*drifts.rbegin(), 0);
  EXPECT_EQ(describe_skew(2, ClockSkew{-312, 412}), "skew node=2 by=-0.312s drift_ppm=+412");
  EXPECT_EQ(describe_skew(3, ClockSkew{5, -7}), "skew node=3 by=+0.005s drift_ppm=-7");
  Fault jump;
  jump.kind = FaultKind::clock_jump;
  jump.node = 2;
  jump.jump_ms = -1'200;
  jump.start_ms = 3'000;
  jump.end_ms = 4'500;
  EXPECT_EQ(describe(jump, 5, 3), "fault 5 t=3.000s..4.500s kind=clock_jump node=2 by=-1.200s");
}

// Delays and reorders by sluice-netdelay (ScheduleShape::nfqueue, no netem): a function of the
// seed, one at a time within their bounds, on top of a schedule that is otherwise the one without
// them; none with netem (netem draws its own) or without nfqueue.
TEST(RealfaultNemesis, NetDelaysComeOnTopOneAtATimeAndLeaveTheOtherFaultsAlone) {
  ScheduleShape shape;
  shape.faults_stop_ms = 120'000;
  shape.netem = false;
  shape.nfqueue = true;
  ScheduleShape off = shape;
  off.nfqueue = false;
  size_t delays = 0, reorders = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const std::vector<Fault> faults = make_schedule(seed, shape);
    const std::vector<Fault> again = make_schedule(seed, shape);
    ASSERT_EQ(faults.size(), again.size());
    std::vector<Fault> others;
    int64_t previous_end = 0;
    for (size_t i = 0; i < faults.size(); ++i) {
      const Fault& fault = faults[i];
      EXPECT_EQ(describe(fault, i, shape.nodes), describe(again[i], i, shape.nodes));
      if (fault.kind != FaultKind::delay && fault.kind != FaultKind::reorder) {
        others.push_back(fault);
        continue;
      }
      ++(fault.kind == FaultKind::delay ? delays : reorders);
      EXPECT_GE(fault.start_ms, std::max(previous_end, shape.first_fault_ms));  // one at a time
      EXPECT_LE(fault.end_ms - fault.start_ms, kNetDelayLastsMsMax);
      EXPECT_LE(fault.end_ms, shape.faults_stop_ms);
      EXPECT_GE(fault.delay_ms, 5u);
      EXPECT_LE(fault.delay_ms, 200u);
      if (fault.kind == FaultKind::delay) {
        EXPECT_LE(fault.jitter_ms * 2, fault.delay_ms);
      } else {
        EXPECT_TRUE(fault.percent >= 10 && fault.percent <= 50);
      }
      previous_end = fault.end_ms;
    }
    const std::vector<Fault> plain = make_schedule(seed, off);
    ASSERT_EQ(plain.size(), others.size());
    // Compared by what they are: overlapped hosts are renumbered.
    auto what = [&shape](Fault fault) { return fault.overlaps = -1, describe(fault, 0, shape.nodes); };
    for (size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(what(plain[i]), what(others[i]));
    ScheduleShape netem = shape;
    netem.netem = true;
    ScheduleShape netem_only = netem;
    netem_only.nfqueue = false;
    EXPECT_EQ(make_schedule(seed, netem).size(), make_schedule(seed, netem_only).size());
  }
  EXPECT_GT(delays, 50u);
  EXPECT_GT(reorders, 50u);
}

// Each batch whose first timestamp lies below what its consumer read before counts as one
// timestamp regression (and the first is the violation), through the history's feed.
TEST(RealfaultHistory, TimeGoingBackIsCountedAndReported) {
  checkers::PartitionLedger ledger(/*idempotent=*/true);
  HistoryEvent read;
  read.kind = HistoryEvent::Kind::consumed;
  read.consumer = 1;
  read.records = {11};
  read.first_timestamp_ms = read.max_timestamp_ms = 5'000;
  feed(read, ledger);
  read.expected = read.offset = 1;
  read.records = {12};
  read.first_timestamp_ms = read.max_timestamp_ms = 3'800;  // a leader whose clock is 1.2 s behind
  feed(read, ledger);
  EXPECT_EQ(ledger.time_regressions(), 1u);
  const LedgerVerdict verdict = judge(ledger);
  EXPECT_NE(verdict.violation.find("time went back"), std::string::npos) << verdict.violation;
  bool figure = false;
  for (const auto& [key, value] : verdict.figures) figure = figure || (key == "timestamp_regressions" && value == "1");
  EXPECT_TRUE(figure);
}

}  // namespace
}  // namespace sluice::realfault
