// LogRaftStorage under the simulator: a fiber plays a Raft driver (appends with conflicts, hard
// state, log-start jumps, syncs) while the world crashes the node at random times and the disk
// tears writes and fails syncs. An oracle outside the node remembers what was written and what a
// sync() made durable. After every boot the recovered storage must hold every entry and the hard
// state of the last sync that returned, its entries must be a prefix of what was written (after
// legal suffix replacements), and its hard state one that was written whole.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "node/partition/raft_storage.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/testing/sim_rig.h"

namespace sluice::partition {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::Index;
using raft::Term;

constexpr int64_t kMsNs = 1'000'000;

// The storage as a driver sees it: base, entries, hard state.
struct Image {
  Index base_index = 0;
  Term base_term = 0;
  std::vector<Entry> entries;  // entries[i].index == base_index + 1 + i
  HardState hard_state;

  Index last_index() const { return base_index + entries.size(); }
  const Entry* find(Index index) const {
    return index > base_index && index <= last_index() ? &entries[index - base_index - 1] : nullptr;
  }
};

// The last index up to which both images hold the same entries (above the base of `a`).
Index common_last_index(const Image& a, const Image& b) {
  Index index = a.base_index;
  while (a.find(index + 1) != nullptr && b.find(index + 1) != nullptr && *a.find(index + 1) == *b.find(index + 1)) ++index;
  return index;
}

struct Oracle {
  Image durable;                // as of the last sync() that returned ok
  Image current;                // what the driver has written (an append in flight included)
  std::optional<Image> before_jump;  // the log a not yet synced jump discarded
  std::optional<Image> syncing;      // a sync() in flight: it may or may not have landed
  std::optional<Image> before_append;  // an append in flight: its suffix cut may not have landed
  Index append_first = 0;              // the first index that append writes (and cuts from)
  std::string failure;
  int boots = 0, syncs_ok = 0, jumps = 0, conflicts = 0, reopens = 0;

  void fail(const std::string& what) {
    if (failure.empty()) failure = what;
  }
};

RaftStorageOptions sim_options() {
  RaftStorageOptions options;
  options.log.segment_bytes_max = 8 * 1024;
  options.log.batch_bytes_max = 4 * 1024;
  options.log.index_interval_bytes = 512;
  options.log.open_files_max = 4;
  options.bootstrap.voters = {1, 2, 3};
  return options;
}

Entry make_entry(Index index, Term term, EntryType type, uint64_t salt, size_t bytes) {
  Entry entry{term, index, type, {}};
  if (type == EntryType::empty) return entry;
  std::string data = std::to_string(index) + "/" + std::to_string(term) + "/" + std::to_string(salt) + "/";
  data.resize(std::max(data.size(), bytes), '#');
  entry.data = SharedBytes(as_bytes(data));
  return entry;
}

std::string describe(const Image& image) {
  std::string tail;
  for (size_t i = image.entries.size() > 6 ? image.entries.size() - 6 : 0; i < image.entries.size(); ++i) {
    tail += " " + std::to_string(image.entries[i].index) + "/" + std::to_string(image.entries[i].term) + "/" +
            std::to_string(image.entries[i].data.size());
  }
  return tail + " {base " + std::to_string(image.base_index) + "/" + std::to_string(image.base_term) + " last " +
         std::to_string(image.last_index()) + " hard " + std::to_string(image.hard_state.term) + "," +
         std::to_string(image.hard_state.vote) + "," + std::to_string(image.hard_state.commit) + "}";
}

// `got` has the same base and holds only entries `written` holds.
bool is_prefix(const Image& got, const Image& written) {
  if (got.base_index != written.base_index || got.base_term != written.base_term) return false;
  for (const Entry& entry : got.entries) {
    if (written.find(entry.index) == nullptr || *written.find(entry.index) != entry) return false;
  }
  return true;
}

class DriverApp final : public sim::NodeApp {
 public:
  DriverApp(sim::SimRuntime& rt, Oracle& oracle) : rt_(rt), oracle_(oracle) {
    ++oracle_.boots;
    rt.spawn("raft-storage-driver", [this] { run(); });
  }

 private:
  uint64_t below(uint64_t bound) { return rt_.random_below(bound); }

  void run() {
    std::unique_ptr<LogRaftStorage> storage = open_and_check();
    while (storage && !rt_.cancelled()) {
      const uint64_t choice = below(100);
      raft::Status status;
      if (choice < 50) {
        status = append(*storage);
      } else if (choice < 65) {
        save(*storage);
      } else if (choice < 90) {
        status = sync(*storage);
      } else if (choice < 93) {
        status = jump(*storage);
      } else {
        status = check_read(*storage);
      }
      if (!status.ok()) {
        if (status.code() == raft::Errc::invalid_state) oracle_.fail("damage reported without bit flips: " + status.to_string());
        ++oracle_.reopens;
        storage.reset();
        storage = open_and_check();
      }
      if (!rt_.sleep_for(std::chrono::microseconds(below(1500))).ok()) return;
    }
  }

  // New entries at the end, or (a follower's conflict) replacing a suffix above the commit index
  // with entries of a newer term.
  raft::Status append(LogRaftStorage& storage) {
    Image& image = oracle_.current;
    oracle_.before_append = image;
    Index first = image.last_index() + 1;
    const Index floor = std::max(image.base_index, image.hard_state.commit) + 1;
    if (below(6) == 0 && floor < first) {
      first = floor + below(first - floor);
      ++image.hard_state.term;
      ++oracle_.conflicts;
    }
    oracle_.append_first = first;
    const Term term = std::max(image.hard_state.term, image.entries.empty() ? image.base_term : image.entries.back().term);
    std::vector<Entry> entries;
    for (uint64_t i = 0, n = 1 + below(4); i < n; ++i) {
      entries.push_back(make_entry(first + i, term, static_cast<EntryType>(below(3)), rt_.random(), below(600)));
    }
    image.entries.resize(first - image.base_index - 1);
    image.entries.insert(image.entries.end(), entries.begin(), entries.end());
    if (image.hard_state.term < term) image.hard_state.term = term;
    storage.save_state(image.hard_state, std::nullopt);  // a newer term reaches the Ready's hard state too
    SLUICE_TRY(storage.append(entries));
    oracle_.before_append.reset();
    return raft::Status();
  }

  void save(LogRaftStorage& storage) {
    HardState& hard = oracle_.current.hard_state;
    if (below(4) == 0) ++hard.term;
    hard.vote = below(4);
    const Index last = oracle_.current.last_index();
    if (hard.commit < last) hard.commit += below(last - hard.commit + 1);
    storage.save_state(hard, std::nullopt);
  }

  raft::Status sync(LogRaftStorage& storage) {
    oracle_.syncing = oracle_.current;
    SLUICE_TRY(storage.sync());
    oracle_.durable = oracle_.current;
    oracle_.syncing.reset();
    oracle_.before_jump.reset();
    ++oracle_.syncs_ok;
    return raft::Status();
  }

  // The leader's log start is past our end: everything is replaced after index J.
  raft::Status jump(LogRaftStorage& storage) {
    Image& image = oracle_.current;
    if (!oracle_.before_jump) oracle_.before_jump = image;
    const Index index = image.last_index() + 1 + below(20);
    const Term term = image.hard_state.term + below(2);
    image.base_index = index;
    image.base_term = term;
    image.entries.clear();
    image.hard_state.term = std::max(image.hard_state.term, term);
    image.hard_state.commit = index;
    ++oracle_.jumps;
    SLUICE_TRY(storage.apply_log_start_jump({index, term}));
    storage.save_state(image.hard_state, std::nullopt);
    return raft::Status();
  }

  raft::Status check_read(LogRaftStorage& storage) {
    const Image& image = oracle_.current;
    if (image.entries.empty()) return raft::Status();
    const Index lo = image.base_index + 1 + below(image.entries.size());
    SLUICE_ASSIGN_OR_RETURN(std::vector<Entry> got, storage.entries(lo, image.last_index() + 1, below(2000)));
    for (const Entry& entry : got) {
      if (image.find(entry.index) == nullptr || *image.find(entry.index) != entry) oracle_.fail("read another entry than was written");
    }
    return raft::Status();
  }

  std::unique_ptr<LogRaftStorage> open_and_check() {
    for (int attempt = 0; attempt < 50 && !rt_.cancelled(); ++attempt) {
      raft::Result<std::unique_ptr<LogRaftStorage>> storage = LogRaftStorage::open(rt_.fs(), "p0", sim_options());
      if (storage.ok()) {
        check_recovered(**storage);
        return std::move(*storage);
      }
      if (storage.code() == raft::Errc::invalid_state) {
        oracle_.fail("open reported damage without bit flips: " + storage.status().to_string());
        return nullptr;
      }
      if (!rt_.sleep_for(std::chrono::milliseconds(5)).ok()) return nullptr;
    }
    return nullptr;
  }

  Image read_image(LogRaftStorage& storage) {
    Image image;
    image.base_index = storage.first_index() - 1;
    image.base_term = *storage.term(image.base_index);
    image.hard_state = storage.initial_state().hard_state;
    raft::Result<std::vector<Entry>> entries = storage.entries(storage.first_index(), storage.last_index() + 1, UINT64_MAX);
    if (!entries.ok()) oracle_.fail("reading the recovered log: " + entries.status().to_string());
    if (entries.ok()) image.entries = *entries;
    return image;
  }

  void check_recovered(LogRaftStorage& storage) {
    const Image got = read_image(storage);
    const std::string boot = "boot " + std::to_string(oracle_.boots) + ": ";
    const Image& durable = oracle_.durable;
    // The commit index may lag: the storage writes it only along with a change that must be
    // durable (term, vote, membership, log base), never ahead of what was synced.
    auto same_state = [](const raft::HardState& got, const raft::HardState& synced) {
      return got.term == synced.term && got.vote == synced.vote && got.commit <= synced.commit;
    };
    const bool is_durable = got.base_index == durable.base_index && same_state(got.hard_state, durable.hard_state);
    const bool is_syncing = oracle_.syncing && got.base_index == oracle_.syncing->base_index &&
                            same_state(got.hard_state, oracle_.syncing->hard_state);
    if (!is_durable && !is_syncing) {
      return oracle_.fail(boot + "hard state or log base is neither the synced one nor one being synced: got " + describe(got) +
                          ", synced " + describe(durable) + (oracle_.syncing ? ", syncing " + describe(*oracle_.syncing) : ""));
    }
    // The log the recovered one must be a prefix of: the current one, the one before an append
    // in flight, or the one a jump that never reached its sync would have discarded.
    std::vector<const Image*> candidates = {&oracle_.current};
    if (oracle_.before_append) candidates.push_back(&*oracle_.before_append);
    if (oracle_.before_jump) candidates.push_back(&*oracle_.before_jump);
    if (std::none_of(candidates.begin(), candidates.end(), [&](const Image* c) { return is_prefix(got, *c); })) {
      return oracle_.fail(boot + "recovered log is not a prefix of anything written: " + describe(got));
    }
    // Every synced entry the writes since kept must be there. A suffix cut in flight may have
    // landed in part (segments go newest first), so only what the cut keeps is required.
    const Image& synced = is_syncing && !is_durable ? *oracle_.syncing : durable;
    std::optional<Index> required;
    for (const Image* candidate : candidates) {
      const Index kept = synced.base_index == got.base_index ? common_last_index(synced, *candidate) : got.base_index;
      required = std::min(required.value_or(kept), kept);
    }
    // The cut removes entries from append_first on even where it writes identical ones back.
    if (oracle_.before_append && oracle_.append_first > 0) required = std::min(*required, oracle_.append_first - 1);
    if (got.last_index() < *required) {
      return oracle_.fail(boot + "synced entries lost (last " + std::to_string(got.last_index()) + " < " + std::to_string(*required) + ") got " + describe(got) +
                          " synced " + describe(synced) + " current " + describe(oracle_.current) +
                          (oracle_.before_append ? " append in flight" : "") + (oracle_.before_jump ? " jump unsynced" : "") +
                          (oracle_.syncing ? " sync in flight" : ""));
    }
    if (got.hard_state.commit > got.last_index() || got.hard_state.commit < got.base_index) {
      return oracle_.fail(boot + "commit index outside the recovered log");
    }
    // open() leaves everything it recovered durable.
    oracle_.durable = oracle_.current = got;
    oracle_.syncing.reset();
    oracle_.before_jump.reset();
    oracle_.before_append.reset();
  }

  sim::SimRuntime& rt_;
  Oracle& oracle_;
};

// One node running a DriverApp.
struct SimRig : sluice::testing::OneNodeWorld<Oracle> {
  explicit SimRig(uint64_t seed)
      : OneNodeWorld(seed, [](sim::SimRuntime& rt, Oracle& oracle) { return std::make_unique<DriverApp>(rt, oracle); }) {}
};

using sluice::testing::replay_hint;
using sluice::testing::sim_seeds;

TEST(RaftStorageSim, CrashesKeepEverySyncedEntryTermAndVote) {
  int boots = 0, syncs = 0, jumps = 0, conflicts = 0;
  for (uint64_t seed : sim_seeds(40)) {
    SimRig rig(seed);
    Prng prng(seed);
    rig.world.disk(rig.node).faults().torn_write_probability = 1;
    rig.world.start(rig.node);
    for (int crash = 0; crash < 10; ++crash) {
      rig.run_ms(random_range([&] { return prng.next(); }, 1, 200));
      rig.world.crash(rig.node);
      rig.world.start(rig.node);
    }
    rig.run_ms(50);
    ASSERT_EQ(rig.oracle.failure, "") << replay_hint(seed);
    boots += rig.oracle.boots;
    syncs += rig.oracle.syncs_ok;
    jumps += rig.oracle.jumps;
    conflicts += rig.oracle.conflicts;
  }
  EXPECT_GT(boots, 40 * 10);
  EXPECT_GT(syncs, 1000);
  EXPECT_GT(jumps, 20);
  EXPECT_GT(conflicts, 20);
}

TEST(RaftStorageSim, CrashesUnderWriteAndSyncErrors) {
  int reopens = 0;
  for (uint64_t seed : sim_seeds(30)) {
    SimRig rig(seed);
    Prng prng(seed);
    sim::DiskFaults& faults = rig.world.disk(rig.node).faults();
    faults.torn_write_probability = 1;
    rig.world.start(rig.node);
    for (int crash = 0; crash < 8; ++crash) {
      faults.write_error_probability = crash % 2 == 0 ? 0.03 : 0;
      faults.sync_error_probability = crash % 3 == 0 ? 0.03 : 0;
      rig.run_ms(random_range([&] { return prng.next(); }, 1, 200));
      rig.world.crash(rig.node);
      rig.world.start(rig.node);
    }
    faults.write_error_probability = faults.sync_error_probability = 0;
    rig.run_ms(50);
    ASSERT_EQ(rig.oracle.failure, "") << replay_hint(seed);
    reopens += rig.oracle.reopens;
  }
  EXPECT_GT(reopens, 0) << "no write or sync failure was hit: the test lost its point";
}

}  // namespace
}  // namespace sluice::partition
