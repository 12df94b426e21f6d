// The runtime-level workload: every node exchanges datagrams with random peers, keeps a stream to
// the next node in a ring (frames echoed back), and appends records to a file it syncs
// periodically and recovers after each boot. The Oracle outside the nodes knows what was sent
// and what was synced, and checks what arrives and what survives crashes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "sim/scenario.h"
#include "sim/workloads/workload.h"
#include "sim/world.h"

namespace sluice::sim {

// The "runtime" workload's settings: [workload] kind = "runtime" (the default when a scenario
// names no workload), docs/formats/scenario.md.
struct RuntimeWorkloadConfig {
  int64_t datagram_interval_ns = 50'000'000;
  int64_t stream_interval_ns = 20'000'000;
  int64_t file_append_interval_ns = 30'000'000;
  uint32_t file_sync_every = 4;
  uint32_t payload_bytes_max = 512;
  uint64_t file_bytes_max = 8 << 20;
};

struct WorkloadStats {
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t datagrams_duplicate = 0;
  uint64_t datagrams_reordered = 0;
  uint64_t stream_connects = 0;
  uint64_t stream_connect_failures = 0;
  uint64_t stream_breaks = 0;           // resets, closes and timeouts of established streams
  uint64_t stream_frames_sent = 0;
  uint64_t stream_frames_echoed = 0;
  uint64_t file_records_appended = 0;
  uint64_t file_syncs = 0;
  uint64_t file_recoveries = 0;
  uint64_t file_records_recovered = 0;
  uint64_t file_unsynced_lost = 0;      // records appended but not synced that a crash took
  uint64_t file_corruption_detected = 0;
  uint64_t file_records_lost_to_corruption = 0;  // synced records after a detected bit flip
  uint64_t disk_no_space = 0;
  uint64_t disk_io_errors = 0;
  uint64_t sync_failures = 0;
};

// What the world knows that the nodes do not; every check lives here.
class Oracle {
 public:
  explicit Oracle(World& world) : world_(world) {}

  // First failure wins; the run stops at the next check point.
  void fail(std::string message);
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }

  void datagram_sent(uint32_t sender, uint64_t incarnation, uint32_t receiver, uint64_t sequence, uint64_t payload_hash);
  void datagram_received(uint32_t receiver, uint32_t sender, uint64_t incarnation, uint64_t sequence,
                         uint64_t payload_hash);

  void file_appended(uint32_t node, uint64_t sequence);
  void file_synced(uint32_t node, uint64_t sequence_end);  // records [0, sequence_end) durable
  // After a boot: the node recovered records [0, sequence_end); `damaged` if it found a CRC
  // failure before the end of the file.
  void file_recovered(uint32_t node, uint64_t sequence_end, bool damaged);
  void bit_flipped(uint32_t node) { flips_[node] += 1; }

  enum class Progress { datagram, stream, file };
  void progress(uint32_t node, Progress what);
  // Liveness: "" when every node made every kind of progress after `since_ns`, else the first
  // that did not ("n2 made no stream progress").
  std::string progress_since(int64_t since_ns, size_t node_count) const;

  WorkloadStats& stats() { return stats_; }
  const WorkloadStats& stats() const { return stats_; }

 private:
  struct FileState {
    uint64_t appended_end = 0;
    uint64_t synced_end = 0;
  };
  World& world_;
  std::string failure_;
  WorkloadStats stats_;
  // (sender, incarnation, receiver, sequence) -> payload hash
  std::map<std::tuple<uint32_t, uint64_t, uint32_t, uint64_t>, uint64_t> datagrams_sent_;
  std::map<std::tuple<uint32_t, uint64_t, uint32_t>, std::set<uint64_t>> datagrams_seen_;
  std::map<uint32_t, FileState> files_;
  std::map<uint32_t, uint64_t> flips_;
  std::map<std::pair<uint32_t, Progress>, int64_t> last_progress_ns_;
};

// Ports the workload uses on every node.
inline constexpr uint16_t kWorkloadDatagramPort = 7000;
inline constexpr uint16_t kWorkloadStreamPort = 7001;

// The "runtime" workload kind: the test traffic of every node (an agent per node incarnation) and
// its Oracle. The nodes run nothing else.
class RuntimeWorkload final : public Workload {
 public:
  RuntimeWorkload(WorkloadContext context, const RuntimeWorkloadConfig& config)
      : oracle_(context.world), config_(config), node_count_(context.scenario.nodes) {}
  std::unique_ptr<NodeAgent> node_started(SimRuntime& runtime, server::Node& node) override;
  std::string failure() const override { return oracle_.failure(); }
  void on_bit_flip(NodeIndex node) override { oracle_.bit_flipped(static_cast<uint32_t>(node)); }
  bool converged(int64_t faults_stop_ns) const override { return oracle_.progress_since(faults_stop_ns, node_count_).empty(); }
  void check_liveness(int64_t faults_stop_ns) override {
    if (std::string missing = oracle_.progress_since(faults_stop_ns, node_count_); !missing.empty()) {
      oracle_.fail("liveness: " + missing + " after faults stopped");
    }
  }
  void report(Figures& figures) const override;
  const WorkloadStats& stats() const { return oracle_.stats(); }

 private:
  Oracle oracle_;
  RuntimeWorkloadConfig config_;
  size_t node_count_;
};

std::shared_ptr<const WorkloadSpec> parse_runtime_workload(TableReader& reader, const Scenario& scenario);

}  // namespace sluice::sim
