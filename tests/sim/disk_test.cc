// Tests of the simulated disk: the durability model (what a crash keeps), POSIX-like namespace
// and handle semantics, capacity, injected faults, latency and tracing. The environment is a fake
// that never parks: the disk's logic must not depend on fibers.
#include "sim/disk.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace sluice::sim {
namespace {

using runtime::Duration;
using runtime::Errc;
using runtime::File;
using runtime::Filesystem;
using runtime::OpenMode;
using runtime::Status;
template <typename T>
using Result = runtime::Result<T>;

class FakeEnvironment final : public DiskEnvironment {
 public:
  explicit FakeEnvironment(uint64_t seed) : prng_(seed) {}
  Prng& disk_prng() override { return prng_; }
  Status disk_delay(Duration latency) override {
    delays.push_back(latency);
    return delay_status;
  }
  void disk_trace(std::string_view operation, uint64_t detail) override {
    traces.emplace_back(std::string(operation), detail);
  }

  Status delay_status;  // what disk_delay answers; cancelled simulates a crash during the I/O
  std::vector<Duration> delays;
  std::vector<std::pair<std::string, uint64_t>> traces;

 private:
  Prng prng_;
};

// A disk, its environment and the current Filesystem view; crash() restarts the view like a node
// restart would. Handles a test opens must be gone before crash() and before the rig.
struct Rig {
  explicit Rig(DiskConfig config = {}, uint64_t environment_seed = 7)
      : disk(config), environment(environment_seed), fs(make_sim_filesystem(disk, environment)) {}

  void crash(uint64_t seed) {
    fs.reset();
    Prng prng(seed);
    disk.crash(prng);
    fs = make_sim_filesystem(disk, environment);
  }

  SimDisk disk;
  FakeEnvironment environment;
  std::unique_ptr<Filesystem> fs;
};

DiskConfig small_sectors() {
  DiskConfig config;
  config.sector_bytes = 16;
  return config;
}

MutableByteSpan writable_bytes(std::string& text) {
  return {reinterpret_cast<std::byte*>(text.data()), text.size()};
}

Result<std::string> read_all(File& file) {
  Result<uint64_t> size_bytes = file.size();
  if (!size_bytes.ok()) return size_bytes.status();
  std::string content(*size_bytes, '\0');
  Result<size_t> got = file.read_at(0, writable_bytes(content));
  if (!got.ok()) return got.status();
  if (*got != content.size()) return Status(Errc::io_error, "short read inside the file");
  return content;
}

Result<std::string> read_path(Filesystem& fs, std::string_view path) {
  Result<std::unique_ptr<File>> file = fs.open(path, OpenMode::read_only);
  if (!file.ok()) return file.status();
  return read_all(**file);
}

std::string read_or_fail(Filesystem& fs, std::string_view path) {
  Result<std::string> content = read_path(fs, path);
  if (!content.ok()) {
    ADD_FAILURE() << "reading " << path << ": " << content.status().to_string();
    return "<" + content.status().to_string() + ">";
  }
  return *content;
}

std::unique_ptr<File> open_or_die(Filesystem& fs, std::string_view path, OpenMode mode = OpenMode::create) {
  Result<std::unique_ptr<File>> file = fs.open(path, mode);
  SLUICE_ASSERT(file.ok());
  return std::move(file).value();
}

// Creates (or overwrites) `path` with `content`; syncs the data and/or the parent as asked.
void put(Filesystem& fs, std::string_view path, std::string_view content, bool sync_data, bool sync_parent) {
  std::unique_ptr<File> file = open_or_die(fs, path);
  ASSERT_TRUE(file->truncate(0).ok());
  ASSERT_TRUE(file->write_at(0, as_bytes(content)).ok());
  if (sync_data) {
    ASSERT_TRUE(file->sync().ok());
  }
  if (sync_parent) {
    ASSERT_TRUE(fs.sync_dir(runtime::parent_dir(path)).ok());
  }
}

bool exists(Filesystem& fs, std::string_view path) {
  Result<bool> found = fs.exists(path);
  SLUICE_ASSERT(found.ok());
  return *found;
}

// --- An independent model of what a crash may leave of one file ---------------------------------

struct Change {
  bool is_truncate = false;
  uint64_t offset = 0;  // truncate: the new size
  std::string bytes;
};

std::string with_write(std::string content, uint64_t offset, std::string_view bytes) {
  if (bytes.empty()) return content;
  if (content.size() < offset + bytes.size()) content.resize(offset + bytes.size(), '\0');
  content.replace(offset, bytes.size(), bytes);
  return content;
}

std::string with_change(std::string content, const Change& change) {
  if (change.is_truncate) {
    content.resize(change.offset, '\0');
    return content;
  }
  return with_write(std::move(content), change.offset, change.bytes);
}

// Every content a crash may leave: the synced content with any in-order prefix of the changes,
// and each such prefix plus a proper, non-empty sector-prefix of the next change if a write.
std::set<std::string> crash_outcomes(const std::string& synced, const std::vector<Change>& changes,
                                     uint64_t sector_bytes, bool with_torn = true) {
  std::set<std::string> outcomes{synced};
  std::string state = synced;
  for (const Change& change : changes) {
    if (with_torn && !change.is_truncate && !change.bytes.empty()) {
      const uint64_t first = change.offset / sector_bytes;
      const uint64_t last = (change.offset + change.bytes.size() - 1) / sector_bytes;
      for (uint64_t sector = first + 1; sector <= last; ++sector) {
        const uint64_t landed = sector * sector_bytes - change.offset;
        outcomes.insert(with_write(state, change.offset, std::string_view(change.bytes).substr(0, landed)));
      }
    }
    state = with_change(state, change);
    outcomes.insert(state);
  }
  return outcomes;
}

// --- Durability of file data -------------------------------------------------------------------

TEST(SimDisk, WriteAndSyncSurviveCrash) {
  Rig rig;
  put(*rig.fs, "data", "hello", true, true);
  rig.crash(1);
  EXPECT_EQ(read_or_fail(*rig.fs, "data"), "hello");
  EXPECT_EQ(rig.disk.used_bytes(), 5u);
}

// The changes applied after a synced base, and the base itself.
struct PendingScenario {
  std::string synced = std::string(32, 'o');
  std::vector<Change> changes = {
      {false, 0, std::string(40, 'a')},   // three sectors of 16: may tear twice
      {false, 20, std::string(30, 'b')},  // sectors 1..3
      {true, 45, ""},                     // shrink
      {false, 60, std::string(10, 'c')},  // leaves a hole; sectors 3..4
      {false, 70, std::string(20, 'd')},  // appended; sectors 4..5
      {false, 5, std::string(3, 'e')},    // inside one sector: never torn
  };
};

// Builds the scenario on a fresh rig and crashes it with `seed`; returns what survived.
std::string crash_pending_scenario(const PendingScenario& scenario, double torn_probability, uint64_t seed) {
  Rig rig(small_sectors());
  rig.disk.faults().torn_write_probability = torn_probability;
  put(*rig.fs, "log", scenario.synced, true, true);
  {
    std::unique_ptr<File> file = open_or_die(*rig.fs, "log", OpenMode::read_write);
    for (const Change& change : scenario.changes) {
      if (change.is_truncate) {
        SLUICE_ASSERT(file->truncate(change.offset).ok());
      } else if (change.offset == 70) {
        SLUICE_ASSERT(*file->append(as_bytes(change.bytes)) == 70u);
      } else {
        SLUICE_ASSERT(file->write_at(change.offset, as_bytes(change.bytes)).ok());
      }
    }
    std::string expected = scenario.synced;
    for (const Change& change : scenario.changes) expected = with_change(expected, change);
    SLUICE_ASSERT(*read_all(*file) == expected);
  }
  rig.crash(seed);
  return read_or_fail(*rig.fs, "log");
}

TEST(SimDisk, UnsyncedWritesLeaveAnInOrderPrefixPossiblyTorn) {
  const PendingScenario scenario;
  const std::set<std::string> allowed = crash_outcomes(scenario.synced, scenario.changes, 16);
  ASSERT_EQ(allowed.size(), 13u);  // 7 prefixes + 6 torn variants, all distinct
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const std::string survived = crash_pending_scenario(scenario, 0.5, seed);
    ASSERT_TRUE(allowed.contains(survived)) << "seed " << seed << " left an impossible file of "
                                            << survived.size() << " bytes";
    seen.insert(survived);
  }
  EXPECT_EQ(seen, allowed) << "some allowed outcome never happened in 2000 crashes";
}

TEST(SimDisk, TornWriteProbabilityIsHonoured) {
  const PendingScenario scenario;
  const std::set<std::string> untorn = crash_outcomes(scenario.synced, scenario.changes, 16, false);
  const std::set<std::string> all = crash_outcomes(scenario.synced, scenario.changes, 16);
  size_t torn_seen = 0;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    EXPECT_TRUE(untorn.contains(crash_pending_scenario(scenario, 0, seed))) << "seed " << seed;
    const std::string survived = crash_pending_scenario(scenario, 1, seed);
    ASSERT_TRUE(all.contains(survived)) << "seed " << seed;
    if (!untorn.contains(survived)) ++torn_seen;
  }
  // With probability 1 every crash that loses one of the four multi-sector writes tears it:
  // 4 of the 7 equally likely cut points.
  EXPECT_GT(torn_seen, 100u);
}

TEST(SimDisk, SyncFailureLeavesDataUnsynced) {
  bool lost = false;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Rig rig;
    rig.disk.faults().torn_write_probability = 0;
    put(*rig.fs, "f", "old", true, true);
    {
      std::unique_ptr<File> file = open_or_die(*rig.fs, "f", OpenMode::read_write);
      ASSERT_TRUE(file->write_at(0, as_bytes("new")).ok());
      rig.disk.faults().sync_error_probability = 1;
      EXPECT_EQ(file->sync().code(), Errc::io_error);
    }
    rig.crash(seed);
    const std::string survived = read_or_fail(*rig.fs, "f");
    ASSERT_TRUE(survived == "old" || survived == "new") << survived;
    lost = lost || survived == "old";
  }
  EXPECT_TRUE(lost) << "a failed sync must not make the write durable";
}

TEST(SimDisk, SyncAfterFailedSyncMakesDataDurable) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rig rig;
    put(*rig.fs, "f", "old", true, true);
    {
      std::unique_ptr<File> file = open_or_die(*rig.fs, "f", OpenMode::read_write);
      ASSERT_TRUE(file->write_at(0, as_bytes("new")).ok());
      rig.disk.faults().sync_error_probability = 1;
      EXPECT_FALSE(file->sync().ok());
      rig.disk.faults().sync_error_probability = 0;
      EXPECT_TRUE(file->sync().ok());
    }
    rig.crash(seed);
    EXPECT_EQ(read_or_fail(*rig.fs, "f"), "new");
  }
}

TEST(SimDisk, TruncateShrinksAndGrowsWithZeros) {
  Rig rig;
  std::unique_ptr<File> file = open_or_die(*rig.fs, "f");
  ASSERT_TRUE(file->write_at(0, as_bytes("abcdef")).ok());
  ASSERT_TRUE(file->truncate(3).ok());
  EXPECT_EQ(*read_all(*file), "abc");
  ASSERT_TRUE(file->truncate(6).ok());
  EXPECT_EQ(*read_all(*file), std::string("abc\0\0\0", 6));
  EXPECT_EQ(*rig.fs->file_size("f"), 6u);
  EXPECT_EQ(rig.disk.used_bytes(), 6u);
}

TEST(SimDisk, TruncateIsDurableOnlyAfterSync) {
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Rig rig;
    put(*rig.fs, "f", "abcdef", true, true);
    {
      std::unique_ptr<File> file = open_or_die(*rig.fs, "f", OpenMode::read_write);
      ASSERT_TRUE(file->truncate(2).ok());
    }
    rig.crash(seed);
    const std::string survived = read_or_fail(*rig.fs, "f");
    ASSERT_TRUE(survived == "abcdef" || survived == "ab") << survived;
    seen.insert(survived);
  }
  EXPECT_EQ(seen.size(), 2u);

  Rig rig;
  put(*rig.fs, "f", "abcdef", true, true);
  {
    std::unique_ptr<File> file = open_or_die(*rig.fs, "f", OpenMode::read_write);
    ASSERT_TRUE(file->truncate(2).ok());
    ASSERT_TRUE(file->truncate(4).ok());
    ASSERT_TRUE(file->sync().ok());
  }
  rig.crash(3);
  EXPECT_EQ(read_or_fail(*rig.fs, "f"), std::string("ab\0\0", 4));
}

TEST(SimDisk, ShortReadAtEndOfFile) {
  Rig rig;
  std::unique_ptr<File> file = open_or_die(*rig.fs, "f");
  ASSERT_TRUE(file->write_at(0, as_bytes("0123456789")).ok());
  std::string buffer(8, '.');
  EXPECT_EQ(*file->read_at(6, writable_bytes(buffer)), 4u);
  EXPECT_EQ(buffer, "6789....");
  EXPECT_EQ(*file->read_at(10, writable_bytes(buffer)), 0u);
  EXPECT_EQ(*file->read_at(1000, writable_bytes(buffer)), 0u);
}

TEST(SimDisk, WritePastEndLeavesZeroHoleAndAppendReturnsOffset) {
  Rig rig;
  std::unique_ptr<File> file = open_or_die(*rig.fs, "f");
  ASSERT_TRUE(file->write_at(4, as_bytes("xy")).ok());
  EXPECT_EQ(*read_all(*file), std::string("\0\0\0\0xy", 6));
  EXPECT_EQ(*file->append(as_bytes("z")), 6u);
  EXPECT_EQ(*file->append(as_bytes("")), 7u);
  EXPECT_TRUE(file->write_at(100, as_bytes("")).ok());
  EXPECT_EQ(*file->size(), 7u);  // an empty write does not extend the file
}

// --- Durability of directory entries -------------------------------------------------------------

TEST(SimDisk, CreatedFileNeedsSyncDirToSurvive) {
  Rig rig;
  put(*rig.fs, "f", "data", true, false);
  rig.crash(1);
  EXPECT_FALSE(exists(*rig.fs, "f"));
  EXPECT_EQ(rig.disk.used_bytes(), 0u);

  put(*rig.fs, "f", "data", true, false);
  ASSERT_TRUE(rig.fs->sync_dir("").ok());
  rig.crash(2);
  EXPECT_EQ(read_or_fail(*rig.fs, "f"), "data");
}

TEST(SimDisk, NestedDirectoriesNeedEveryParentSynced) {
  Rig rig;
  ASSERT_TRUE(rig.fs->create_dirs("a/b").ok());
  put(*rig.fs, "a/b/f", "data", true, true);  // syncs a/b only
  rig.crash(1);
  EXPECT_FALSE(exists(*rig.fs, "a"));

  ASSERT_TRUE(rig.fs->create_dirs("a/b").ok());
  put(*rig.fs, "a/b/f", "data", true, true);
  ASSERT_TRUE(rig.fs->sync_dir("a").ok());
  ASSERT_TRUE(rig.fs->sync_dir("").ok());
  rig.crash(2);
  EXPECT_EQ(read_or_fail(*rig.fs, "a/b/f"), "data");
}

TEST(SimDisk, RenameIsDurableOnlyAfterSyncDir) {
  Rig rig;
  put(*rig.fs, "tmp", "new", true, true);
  put(*rig.fs, "final", "old", true, true);
  ASSERT_TRUE(rig.fs->rename("tmp", "final").ok());
  EXPECT_FALSE(exists(*rig.fs, "tmp"));
  EXPECT_EQ(read_or_fail(*rig.fs, "final"), "new");
  rig.crash(1);
  EXPECT_EQ(read_or_fail(*rig.fs, "tmp"), "new");
  EXPECT_EQ(read_or_fail(*rig.fs, "final"), "old");

  ASSERT_TRUE(rig.fs->rename("tmp", "final").ok());
  ASSERT_TRUE(rig.fs->sync_dir("").ok());
  rig.crash(2);
  EXPECT_FALSE(exists(*rig.fs, "tmp"));
  EXPECT_EQ(read_or_fail(*rig.fs, "final"), "new");
  EXPECT_EQ(rig.disk.used_bytes(), 3u);  // the replaced file is gone for good
}

TEST(SimDisk, RenameAcrossDirectoriesNeedsBothParentsSynced) {
  Rig rig;
  ASSERT_TRUE(rig.fs->create_dirs("a").ok());
  ASSERT_TRUE(rig.fs->create_dirs("b").ok());
  ASSERT_TRUE(rig.fs->sync_dir("").ok());
  put(*rig.fs, "a/f", "data", true, true);
  ASSERT_TRUE(rig.fs->rename("a/f", "b/f").ok());
  ASSERT_TRUE(rig.fs->sync_dir("a").ok());
  rig.crash(1);
  EXPECT_FALSE(exists(*rig.fs, "a/f"));  // only the removal was made durable
  EXPECT_FALSE(exists(*rig.fs, "b/f"));

  put(*rig.fs, "a/f", "data", true, true);
  ASSERT_TRUE(rig.fs->rename("a/f", "b/f").ok());
  ASSERT_TRUE(rig.fs->sync_dir("b").ok());
  rig.crash(2);
  EXPECT_EQ(read_or_fail(*rig.fs, "a/f"), "data");  // only the new name was made durable
  EXPECT_EQ(read_or_fail(*rig.fs, "b/f"), "data");
  {
    std::unique_ptr<File> file = open_or_die(*rig.fs, "b/f", OpenMode::read_write);
    ASSERT_TRUE(file->write_at(0, as_bytes("DATA")).ok());
  }
  EXPECT_EQ(read_or_fail(*rig.fs, "a/f"), "DATA");  // one inode under two names
  EXPECT_EQ(rig.disk.used_bytes(), 4u);
  ASSERT_TRUE(rig.fs->remove("a/f").ok());
  EXPECT_EQ(read_or_fail(*rig.fs, "b/f"), "DATA");
}

TEST(SimDisk, RemoveIsDurableOnlyAfterSyncDir) {
  Rig rig;
  put(*rig.fs, "f", "data", true, true);
  ASSERT_TRUE(rig.fs->remove("f").ok());
  EXPECT_FALSE(exists(*rig.fs, "f"));
  EXPECT_EQ(rig.disk.used_bytes(), 0u);
  rig.crash(1);
  EXPECT_EQ(read_or_fail(*rig.fs, "f"), "data");

  ASSERT_TRUE(rig.fs->remove("f").ok());
  ASSERT_TRUE(rig.fs->sync_dir("").ok());
  rig.crash(2);
  EXPECT_FALSE(exists(*rig.fs, "f"));
}

TEST(SimDisk, OpenHandleSurvivesRenameAndRemove) {
  Rig rig;
  std::unique_ptr<File> file = open_or_die(*rig.fs, "f");
  ASSERT_TRUE(file->write_at(0, as_bytes("one")).ok());
  ASSERT_TRUE(rig.fs->rename("f", "g").ok());
  ASSERT_TRUE(file->append(as_bytes("two")).ok());
  EXPECT_EQ(read_or_fail(*rig.fs, "g"), "onetwo");

  ASSERT_TRUE(rig.fs->remove("g").ok());
  EXPECT_FALSE(exists(*rig.fs, "g"));
  ASSERT_TRUE(file->append(as_bytes("three")).ok());
  EXPECT_EQ(*read_all(*file), "onetwothree");
  ASSERT_TRUE(file->sync().ok());
  EXPECT_EQ(rig.disk.used_bytes(), 11u);  // an open unlinked file still holds its space
  ASSERT_TRUE(file->close().ok());
  EXPECT_EQ(rig.disk.used_bytes(), 0u);
  EXPECT_EQ(file->append(as_bytes("x")).code(), Errc::closed);
  EXPECT_TRUE(file->close().ok());
}

TEST(SimDisk, DirectoriesCreateListAndRemove) {
  Rig rig;
  ASSERT_TRUE(rig.fs->create_dirs("d/e").ok());
  ASSERT_TRUE(rig.fs->create_dirs("d/e").ok());  // exists: fine
  put(*rig.fs, "d/f", "", false, false);
  EXPECT_EQ(rig.fs->create_dirs("d/f/g").code(), Errc::already_exists);
  EXPECT_EQ(*rig.fs->list("d"), (std::vector<std::string>{"e", "f"}));
  EXPECT_EQ(rig.fs->remove("d").code(), Errc::invalid_argument);  // not empty
  EXPECT_EQ(rig.fs->file_size("d").code(), Errc::invalid_argument);
  ASSERT_TRUE(rig.fs->remove("d/e").ok());
  ASSERT_TRUE(rig.fs->remove("d/f").ok());
  ASSERT_TRUE(rig.fs->remove("d").ok());
  EXPECT_TRUE(rig.fs->list("")->empty());
  EXPECT_EQ(rig.fs->remove("d").code(), Errc::not_found);
}

TEST(SimDisk, ListIsSortedAndChecksItsArgument) {
  Rig rig;
  for (const char* name : {"b", "a", "A", "a0", "B"}) put(*rig.fs, name, "", false, false);
  ASSERT_TRUE(rig.fs->create_dirs("c").ok());
  EXPECT_EQ(*rig.fs->list(""), (std::vector<std::string>{"A", "B", "a", "a0", "b", "c"}));
  EXPECT_EQ(rig.fs->list("a").code(), Errc::not_found);  // a file, not a directory (ENOTDIR)
  EXPECT_EQ(rig.fs->sync_dir("a").code(), Errc::not_found);
  EXPECT_EQ(rig.fs->list("missing").code(), Errc::not_found);
  EXPECT_TRUE(rig.fs->list("c")->empty());
}

TEST(SimDisk, RenameRules) {
  Rig rig;
  ASSERT_TRUE(rig.fs->create_dirs("d/sub").ok());
  put(*rig.fs, "f", "x", false, false);
  EXPECT_EQ(rig.fs->rename("missing", "g").code(), Errc::not_found);
  EXPECT_EQ(rig.fs->rename("f", "nowhere/g").code(), Errc::not_found);
  EXPECT_EQ(rig.fs->rename("f", "d").code(), Errc::invalid_argument);   // file over directory
  EXPECT_EQ(rig.fs->rename("d", "f").code(), Errc::not_found);          // directory over file (ENOTDIR)
  EXPECT_EQ(rig.fs->rename("d", "d/sub/d").code(), Errc::invalid_argument);  // into itself
  EXPECT_TRUE(rig.fs->rename("f", "f").ok());
  ASSERT_TRUE(rig.fs->rename("d", "e").ok());
  ASSERT_TRUE(rig.fs->rename("f", "e/sub/f").ok());
  EXPECT_EQ(read_or_fail(*rig.fs, "e/sub/f"), "x");
  EXPECT_EQ(*rig.fs->list(""), (std::vector<std::string>{"e"}));
}

TEST(SimDisk, OpenModes) {
  Rig rig;
  EXPECT_EQ(rig.fs->open("f", OpenMode::read_only).code(), Errc::not_found);
  EXPECT_EQ(rig.fs->open("f", OpenMode::read_write).code(), Errc::not_found);
  EXPECT_TRUE(rig.fs->open("f", OpenMode::create_new).ok());
  EXPECT_EQ(rig.fs->open("f", OpenMode::create_new).code(), Errc::already_exists);
  EXPECT_TRUE(rig.fs->open("f", OpenMode::create).ok());
  EXPECT_EQ(rig.fs->open("missing/f", OpenMode::create).code(), Errc::not_found);
  EXPECT_EQ(rig.fs->open("f/g", OpenMode::create).code(), Errc::not_found);  // f is a file
  ASSERT_TRUE(rig.fs->create_dirs("d").ok());
  EXPECT_EQ(rig.fs->open("d", OpenMode::read_only).code(), Errc::invalid_argument);
  EXPECT_EQ(rig.fs->open("d", OpenMode::create).code(), Errc::invalid_argument);

  std::unique_ptr<File> reader = open_or_die(*rig.fs, "f", OpenMode::read_only);
  EXPECT_EQ(reader->write_at(0, as_bytes("x")).code(), Errc::invalid_argument);
  EXPECT_EQ(reader->truncate(0).code(), Errc::invalid_argument);
  EXPECT_TRUE(reader->sync().ok());
  EXPECT_EQ(rig.disk.open_files(), 1u);
}

TEST(SimDisk, BadPathsAreInvalidArguments) {
  Rig rig;
  for (const char* path : {"", "/abs", "a//b", "a/", "./a", "a/..", "a/./b"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(rig.fs->open(path, OpenMode::create).code(), Errc::invalid_argument);
    EXPECT_EQ(rig.fs->rename(path, "ok").code(), Errc::invalid_argument);
    EXPECT_EQ(rig.fs->rename("ok", path).code(), Errc::invalid_argument);
    EXPECT_EQ(rig.fs->remove(path).code(), Errc::invalid_argument);
    EXPECT_EQ(rig.fs->exists(path).code(), Errc::invalid_argument);
    EXPECT_EQ(rig.fs->file_size(path).code(), Errc::invalid_argument);
    if (*path != '\0') {
      EXPECT_EQ(rig.fs->list(path).code(), Errc::invalid_argument);
      EXPECT_EQ(rig.fs->sync_dir(path).code(), Errc::invalid_argument);
      EXPECT_EQ(rig.fs->create_dirs(path).code(), Errc::invalid_argument);
    }
  }
  EXPECT_TRUE(rig.fs->list("").ok());
  EXPECT_TRUE(rig.fs->sync_dir("").ok());
  EXPECT_EQ(rig.fs->create_dirs("").code(), Errc::invalid_argument);  // the root is not created
  EXPECT_EQ(rig.environment.traces.size(), 2u) << "invalid paths cost no I/O";
}

// --- Capacity and faults ---------------------------------------------------------------------------

TEST(SimDisk, NoSpaceAtCapacityWritesNothing) {
  DiskConfig config;
  config.capacity_bytes = 100;
  Rig rig(config);
  std::unique_ptr<File> first = open_or_die(*rig.fs, "first");
  ASSERT_TRUE(first->write_at(0, as_bytes(std::string(60, 'a'))).ok());
  EXPECT_EQ(first->append(as_bytes(std::string(41, 'b'))).code(), Errc::no_space);
  EXPECT_EQ(*read_all(*first), std::string(60, 'a'));
  ASSERT_TRUE(first->write_at(10, as_bytes("in place")).ok());  // no growth: fine

  std::unique_ptr<File> second = open_or_die(*rig.fs, "second");
  ASSERT_TRUE(second->append(as_bytes(std::string(40, 'c'))).ok());
  EXPECT_EQ(rig.disk.used_bytes(), 100u);
  EXPECT_EQ(second->append(as_bytes("d")).code(), Errc::no_space);
  EXPECT_EQ(second->truncate(41).code(), Errc::no_space);
  EXPECT_EQ(*second->size(), 40u);

  ASSERT_TRUE(first->truncate(50).ok());
  EXPECT_TRUE(second->append(as_bytes(std::string(10, 'd'))).ok());
  EXPECT_EQ(second->append(as_bytes("e")).code(), Errc::no_space);
  first.reset();
  ASSERT_TRUE(rig.fs->remove("first").ok());
  EXPECT_EQ(rig.disk.used_bytes(), 50u);
  EXPECT_TRUE(second->append(as_bytes(std::string(50, 'e'))).ok());
}

TEST(SimDisk, FullFaultFailsEveryGrowth) {
  Rig rig;
  std::unique_ptr<File> file = open_or_die(*rig.fs, "f");
  ASSERT_TRUE(file->append(as_bytes("abcd")).ok());
  rig.disk.faults().full = true;
  EXPECT_EQ(file->append(as_bytes("e")).code(), Errc::no_space);
  EXPECT_EQ(file->write_at(3, as_bytes("xy")).code(), Errc::no_space);
  EXPECT_EQ(file->truncate(5).code(), Errc::no_space);
  EXPECT_EQ(*read_all(*file), "abcd");
  EXPECT_TRUE(file->write_at(0, as_bytes("AB")).ok());
  EXPECT_TRUE(file->truncate(3).ok());
  rig.disk.faults().full = false;
  EXPECT_TRUE(file->append(as_bytes("e")).ok());
  EXPECT_EQ(*read_all(*file), "ABce");
}

TEST(SimDisk, ReadAndWriteErrors) {
  Rig rig;
  std::unique_ptr<File> file = open_or_die(*rig.fs, "f");
  ASSERT_TRUE(file->append(as_bytes("abcd")).ok());
  rig.disk.faults().write_error_probability = 1;
  EXPECT_EQ(file->write_at(0, as_bytes("XYZW")).code(), Errc::io_error);
  EXPECT_EQ(file->append(as_bytes("e")).code(), Errc::io_error);
  rig.disk.faults().read_error_probability = 1;
  std::string buffer(4, '.');
  EXPECT_EQ(file->read_at(0, writable_bytes(buffer)).code(), Errc::io_error);
  rig.disk.faults() = DiskFaults{};
  EXPECT_EQ(*read_all(*file), "abcd");
  EXPECT_EQ(rig.disk.used_bytes(), 4u);
}

TEST(SimDisk, FailedWriteIsNotReplayedAtCrash) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rig rig;
    put(*rig.fs, "f", "abcd", true, true);
    {
      std::unique_ptr<File> file = open_or_die(*rig.fs, "f", OpenMode::read_write);
      rig.disk.faults().write_error_probability = 1;
      ASSERT_FALSE(file->write_at(0, as_bytes("XYZW")).ok());
    }
    rig.crash(seed);
    EXPECT_EQ(read_or_fail(*rig.fs, "f"), "abcd");
  }
}

TEST(SimDisk, BitFlipIsVisibleAndDurable) {
  Rig rig;
  put(*rig.fs, "f", "abcd", true, true);
  EXPECT_TRUE(rig.disk.flip_bit("f", 1, 0));  // 'b' ^ 1 == 'c'
  EXPECT_EQ(read_or_fail(*rig.fs, "f"), "accd");
  EXPECT_FALSE(rig.disk.flip_bit("f", 4, 0));
  EXPECT_FALSE(rig.disk.flip_bit("missing", 0, 0));
  EXPECT_FALSE(rig.disk.flip_bit("/f", 0, 0));
  rig.crash(1);
  EXPECT_EQ(read_or_fail(*rig.fs, "f"), "accd");
}

TEST(SimDisk, BitFlipOfUnsyncedDataSurvivesALaterSync) {
  Rig rig;
  put(*rig.fs, "f", "abcd", true, true);
  {
    std::unique_ptr<File> file = open_or_die(*rig.fs, "f", OpenMode::read_write);
    ASSERT_TRUE(file->append(as_bytes("efgh")).ok());
    ASSERT_TRUE(rig.disk.flip_bit("f", 5, 1));  // 'f' ^ 2 == 'd'
    ASSERT_TRUE(rig.disk.flip_bit("f", 0, 1));  // 'a' ^ 2 == 'c'
    ASSERT_TRUE(file->sync().ok());
  }
  rig.crash(1);
  EXPECT_EQ(read_or_fail(*rig.fs, "f"), "cbcdedgh");
}

// Flips one random bit of a disk holding one 64-byte zero file (plus an empty one, never chosen).
std::pair<std::string, std::string> flip_one_random_bit(uint64_t seed) {
  Rig rig;
  SLUICE_ASSERT(rig.fs->create_dirs("d").ok());
  put(*rig.fs, "d/a", std::string(64, '\0'), false, false);
  put(*rig.fs, "empty", "", false, false);
  Prng prng(seed);
  std::string where = rig.disk.flip_random_bit(prng);
  return {where, read_or_fail(*rig.fs, "d/a")};
}

TEST(SimDisk, RandomBitFlipIsDeterministicAndFlipsOneBit) {
  Rig empty;
  Prng prng(1);
  EXPECT_EQ(empty.disk.flip_random_bit(prng), "");
  std::set<std::string> places;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const auto [where, content] = flip_one_random_bit(seed);
    ASSERT_EQ(where.rfind("d/a@", 0), 0u) << where;
    int bits = 0;
    for (char c : content) bits += __builtin_popcount(static_cast<unsigned char>(c));
    EXPECT_EQ(bits, 1);
    EXPECT_NE(content[std::stoul(where.substr(4))], '\0');
    EXPECT_EQ(flip_one_random_bit(seed), std::make_pair(where, content));
    places.insert(where);
  }
  EXPECT_GT(places.size(), 1u);
}

TEST(SimDisk, OpenFilesMax) {
  DiskConfig config;
  config.open_files_max = 2;
  Rig rig(config);
  std::unique_ptr<File> a = open_or_die(*rig.fs, "a");
  std::unique_ptr<File> b = open_or_die(*rig.fs, "b");
  EXPECT_EQ(rig.fs->open("c", OpenMode::create).code(), Errc::limit_exceeded);
  EXPECT_FALSE(exists(*rig.fs, "c"));
  EXPECT_EQ(rig.disk.open_files(), 2u);
  ASSERT_TRUE(a->close().ok());
  EXPECT_EQ(rig.disk.open_files(), 1u);
  EXPECT_TRUE(rig.fs->open("c", OpenMode::create).ok());  // the handle is dropped at once
  b.reset();
  EXPECT_EQ(rig.disk.open_files(), 0u);
}

TEST(SimDiskDeathTest, CrashWithAnOpenFileAsserts) {
  EXPECT_DEATH(
      {
        Rig rig;
        std::unique_ptr<File> file = open_or_die(*rig.fs, "f");
        Prng prng(1);
        rig.disk.crash(prng);
      },
      "open_files");
}

// --- Latency, cancellation, tracing, determinism -----------------------------------------------------

TEST(SimDisk, EveryOperationWaitsLatencyOfItsKind) {
  DiskConfig config;
  config.read_latency_min = Duration(1000);
  config.read_latency_max = Duration(2000);
  config.write_latency_min = Duration(10000);
  config.write_latency_max = Duration(20000);
  config.sync_latency_min = Duration(100000);
  config.sync_latency_max = Duration(200000);
  Rig rig(config);
  const auto last_delay_is = [&rig](Duration low, Duration high) {
    return !rig.environment.delays.empty() && rig.environment.delays.back() >= low &&
           rig.environment.delays.back() <= high;
  };
  const auto read = [&] { return last_delay_is(config.read_latency_min, config.read_latency_max); };
  const auto write = [&] { return last_delay_is(config.write_latency_min, config.write_latency_max); };
  const auto sync = [&] { return last_delay_is(config.sync_latency_min, config.sync_latency_max); };
  std::unique_ptr<File> file = open_or_die(*rig.fs, "f", OpenMode::create);
  EXPECT_TRUE(write());
  ASSERT_TRUE(file->append(as_bytes("abc")).ok());
  EXPECT_TRUE(write());
  ASSERT_TRUE(file->sync().ok());
  EXPECT_TRUE(sync());
  std::string buffer(3, '.');
  ASSERT_TRUE(file->read_at(0, writable_bytes(buffer)).ok());
  EXPECT_TRUE(read());
  ASSERT_TRUE(rig.fs->sync_dir("").ok());
  EXPECT_TRUE(sync());
  ASSERT_TRUE(rig.fs->exists("f").ok());
  EXPECT_TRUE(read());
  ASSERT_TRUE(rig.fs->rename("f", "g").ok());
  EXPECT_TRUE(write());
  EXPECT_EQ(rig.environment.delays.size(), 7u);
  EXPECT_EQ(rig.environment.traces.size(), 7u);
  std::set<Duration> distinct(rig.environment.delays.begin(), rig.environment.delays.end());
  EXPECT_GT(distinct.size(), 1u) << "latencies are drawn, not fixed";
}

TEST(SimDisk, CancelledDelayMeansNoEffect) {
  Rig rig;
  put(*rig.fs, "f", "abc", true, true);
  std::unique_ptr<File> file = open_or_die(*rig.fs, "f", OpenMode::read_write);
  const size_t traces_before = rig.environment.traces.size();
  rig.environment.delay_status = Status(Errc::cancelled);
  EXPECT_EQ(rig.fs->open("new", OpenMode::create).code(), Errc::cancelled);
  EXPECT_EQ(file->append(as_bytes("d")).code(), Errc::cancelled);
  EXPECT_EQ(file->truncate(0).code(), Errc::cancelled);
  EXPECT_EQ(rig.fs->rename("f", "g").code(), Errc::cancelled);
  EXPECT_EQ(rig.fs->remove("f").code(), Errc::cancelled);
  EXPECT_EQ(rig.fs->create_dirs("d").code(), Errc::cancelled);
  EXPECT_EQ(rig.environment.traces.size(), traces_before) << "nothing happened, nothing traced";
  rig.environment.delay_status = Status();
  EXPECT_EQ(*rig.fs->list(""), (std::vector<std::string>{"f"}));
  EXPECT_EQ(*read_all(*file), "abc");
}

// Runs a fixed workload with random faults; returns the trace and the final listing.
std::vector<std::pair<std::string, uint64_t>> faulty_workload(uint64_t seed) {
  Rig rig(small_sectors(), seed);
  rig.disk.faults().write_error_probability = 0.3;
  rig.disk.faults().sync_error_probability = 0.3;
  for (int round = 0; round < 5; ++round) {
    {
      std::unique_ptr<File> file = open_or_die(*rig.fs, "log");
      for (int i = 0; i < 10; ++i) (void)file->append(as_bytes(std::string(20, static_cast<char>('a' + i))));
      (void)file->sync();
      (void)rig.fs->sync_dir("");
    }
    rig.crash(seed + static_cast<uint64_t>(round));
    rig.environment.disk_trace("content", hash_bytes(read_or_fail(*rig.fs, "log")));
  }
  return rig.environment.traces;
}

TEST(SimDisk, SameSeedSameBehaviour) {
  const auto first = faulty_workload(11);
  EXPECT_EQ(first, faulty_workload(11));
  EXPECT_NE(first, faulty_workload(12));
}

// --- Property: crashes keep a point between the last sync and the crash ---------------------------

struct FileOp {
  enum Kind { write, append, truncate, sync, crash };
  Kind kind = write;
  uint32_t offset = 0;  // write: where; truncate: the new size
  uint32_t length = 0;  // write/append
  uint8_t fill = 0;     // first byte of the written pattern
  uint64_t seed = 0;    // crash
};

std::ostream& operator<<(std::ostream& out, const FileOp& op) {
  static const char* const names[] = {"write", "append", "truncate", "sync", "crash"};
  return out << names[op.kind] << "(offset=" << op.offset << " length=" << op.length
             << " fill=" << static_cast<int>(op.fill) << " seed=" << op.seed << ")";
}

std::string pattern(uint8_t fill, uint32_t length) {
  std::string bytes(length, '\0');
  for (uint32_t i = 0; i < length; ++i) bytes[i] = static_cast<char>(fill + i);
  return bytes;
}

}  // namespace
}  // namespace sluice::sim

namespace rc {
template <>
struct Arbitrary<sluice::sim::FileOp> {
  static Gen<sluice::sim::FileOp> arbitrary() {
    using sluice::sim::FileOp;
    return gen::build<FileOp>(
        gen::set(&FileOp::kind, gen::weightedElement<FileOp::Kind>({{4, FileOp::write},
                                                                    {4, FileOp::append},
                                                                    {2, FileOp::truncate},
                                                                    {2, FileOp::sync},
                                                                    {1, FileOp::crash}})),
        gen::set(&FileOp::offset, gen::inRange<uint32_t>(0, 120)),
        gen::set(&FileOp::length, gen::inRange<uint32_t>(0, 60)), gen::set(&FileOp::fill),
        gen::set(&FileOp::seed));
  }
};
}  // namespace rc

namespace sluice::sim {
namespace {

// The model: `states[0]` is the content as of the last successful sync (or crash), each later
// state follows from the one before by `changes[i]`.
struct FileModel {
  std::vector<std::string> states{""};
  std::vector<Change> changes;

  void apply(Change change) {
    states.push_back(with_change(states.back(), change));
    changes.push_back(std::move(change));
  }
  void settle(std::string content) {
    states = {std::move(content)};
    changes.clear();
  }
};

// Applies `op` to the file and the model; crashes go through the rig.
void step(Rig& rig, std::unique_ptr<File>& file, FileModel& model, const FileOp& op) {
  const std::string bytes = pattern(op.fill, op.length);
  switch (op.kind) {
    case FileOp::write:
      RC_ASSERT(file->write_at(op.offset, as_bytes(bytes)).ok());
      model.apply({false, op.offset, bytes});
      break;
    case FileOp::append: {
      Result<uint64_t> offset = file->append(as_bytes(bytes));
      RC_ASSERT(offset.ok());
      RC_ASSERT(*offset == model.states.back().size());
      model.apply({false, *offset, bytes});
      break;
    }
    case FileOp::truncate:
      RC_ASSERT(file->truncate(op.offset).ok());
      model.apply({true, op.offset, ""});
      break;
    case FileOp::sync:
      if (file->sync().ok()) model.settle(model.states.back());
      break;
    case FileOp::crash: {
      file.reset();
      rig.crash(op.seed);
      file = std::move(rig.fs->open("f", OpenMode::read_write)).value();
      Result<std::string> survived = read_all(*file);
      RC_ASSERT(survived.ok());
      const std::set<std::string> allowed = crash_outcomes(model.states.front(), model.changes, 16);
      RC_ASSERT(allowed.contains(*survived));
      model.settle(*survived);
      break;
    }
  }
}

RC_GTEST_PROP(SimDiskProperty, CrashKeepsContentFromBetweenLastSyncAndCrash,
              (const std::vector<FileOp>& ops, uint64_t environment_seed)) {
  Rig rig(small_sectors(), environment_seed);
  rig.disk.faults().sync_error_probability = 0.25;
  rig.disk.faults().torn_write_probability = 0.5;
  std::unique_ptr<File> file = std::move(rig.fs->open("f", OpenMode::create)).value();
  RC_ASSERT(rig.fs->sync_dir("").ok());
  FileModel model;
  for (const FileOp& op : ops) {
    step(rig, file, model, op);
    Result<std::string> content = read_all(*file);
    RC_ASSERT(content.ok());
    RC_ASSERT(*content == model.states.back());
  }
  file.reset();
}

}  // namespace
}  // namespace sluice::sim
