// Behaviour specific to the epoll runtime (the shared behaviour is in conformance_test.cc):
// file calls run off the reactor thread, limits, option checks, timer-heap compaction.
#include "runtime/epoll/epoll_runtime.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <linux/fiemap.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>

#include "runtime/epoll/reactor.h"

namespace sluice::runtime::epoll {
namespace {

// A temporary data directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    path_ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sluice-epoll-test-XXXXXX";
    if (::mkdtemp(path_.data()) == nullptr) path_.clear();
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Creates a runtime on a fresh directory and runs `body` in it.
void run_epoll(EpollOptions options, const std::function<void(EpollRuntime&)>& body) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  options.data_dir = dir.path();
  auto runtime = EpollRuntime::create(std::move(options));
  ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
  EpollRuntime& rt = **runtime;
  Status status = rt.run([&] { body(rt); });
  EXPECT_TRUE(status.ok()) << status.to_string();
}

TEST(EpollRuntime, OtherFibersRunWhileAnFsyncIsInFlight) {
  run_epoll({}, [](EpollRuntime& rt) {
    auto file = rt.fs().open("big", OpenMode::create);
    ASSERT_TRUE(file.ok()) << file.status().to_string();
    const Bytes chunk(1 << 20, std::byte{0x5a});
    for (uint64_t i = 0; i < 32; ++i) ASSERT_TRUE((*file)->write_at(i * chunk.size(), chunk).ok());
    bool stop = false;
    uint64_t ticks = 0;
    size_t jobs_seen_in_flight = 0;
    Task ticker = rt.spawn("ticker", [&] {
      while (!stop) {
        ++ticks;
        jobs_seen_in_flight = std::max(jobs_seen_in_flight, rt.file_jobs_in_flight());
        rt.scheduler().yield();
      }
    });
    const uint64_t ticks_before = ticks;
    Status synced = (*file)->sync();  // 32 MiB of dirty pages
    const uint64_t ticks_during = ticks - ticks_before;
    stop = true;
    ASSERT_TRUE(ticker.join().ok());
    EXPECT_TRUE(synced.ok()) << synced.to_string();
    // Had the fsync run on the reactor thread, the ticker could not have run before it returned.
    EXPECT_GT(ticks_during, 0u);
    EXPECT_EQ(jobs_seen_in_flight, 1u);
    EXPECT_EQ(rt.file_jobs_in_flight(), 0u);
  });
}

TEST(EpollRuntime, FiberCancelledDuringAFileCallReturnsCancelledAndTheFileStaysUsable) {
  // One worker runs jobs in submission order, so later calls returning proves the abandoned one
  // completed too.
  run_epoll({.file_workers = 1}, [](EpollRuntime& rt) {
    auto file = rt.fs().open("f", OpenMode::create);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->write_at(0, as_bytes("payload")).ok());
    Errc synced = Errc::ok;
    Task syncer = rt.spawn("syncer", [&] { synced = (*file)->sync().code(); });
    rt.scheduler().yield();  // the syncer submits its job and parks
    ASSERT_EQ(rt.file_jobs_in_flight(), 1u);
    // Completions are only delivered between fiber batches, so the cancel lands first.
    syncer.cancel();
    ASSERT_TRUE(syncer.join().ok());
    EXPECT_EQ(synced, Errc::cancelled);
    EXPECT_TRUE((*file)->sync().ok());  // runs after the abandoned job: nothing is stuck
    Bytes buffer(7);
    auto got = (*file)->read_at(0, buffer);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(as_string_view(buffer), "payload");
    EXPECT_EQ(rt.file_jobs_in_flight(), 0u);
  });
}

// File::preallocate leaves the range allocated, written and synced: no extent is unwritten (a
// first write into one is a journalled conversion) or delayed, so a later write inside the range
// changes no metadata and its fdatasync flushes data alone. FIEMAP says what the filesystem did.
TEST(EpollRuntime, PreallocateLeavesWrittenSyncedExtents) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  auto runtime = EpollRuntime::create({.data_dir = dir.path()});
  ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
  const std::string path = dir.path() + "/preallocated";
  Status status = (*runtime)->run([&] {
    auto file = (*runtime)->fs().open("preallocated", OpenMode::create);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->write_at(0, as_bytes("head")).ok());
    ASSERT_TRUE((*file)->preallocate(4, (1 << 20) - 4).ok());
    EXPECT_EQ(*(*file)->size(), 1u << 20);
  });
  ASSERT_TRUE(status.ok()) << status.to_string();
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  constexpr uint32_t kExtentsMax = 64;
  std::vector<uint8_t> buffer(sizeof(struct fiemap) + kExtentsMax * sizeof(struct fiemap_extent));
  auto* map = reinterpret_cast<struct fiemap*>(buffer.data());
  map->fm_length = FIEMAP_MAX_OFFSET;
  map->fm_extent_count = kExtentsMax;
  const int mapped = ::ioctl(fd, FS_IOC_FIEMAP, map);
  ::close(fd);
  if (mapped != 0) GTEST_SKIP() << "this filesystem has no FIEMAP";
  ASSERT_GT(map->fm_mapped_extents, 0u);
  uint64_t covered = 0;
  for (uint32_t i = 0; i < map->fm_mapped_extents; ++i) {
    const struct fiemap_extent& extent = map->fm_extents[i];
    EXPECT_EQ(extent.fe_flags & (FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN), 0u) << "extent " << i;
    covered += extent.fe_length;
  }
  EXPECT_GE(covered, 1u << 20);
}

TEST(EpollRuntime, OpenFilesAreLimited) {
  run_epoll({.open_files_max = 2}, [](EpollRuntime& rt) {
    auto first = rt.fs().open("1", OpenMode::create);
    auto second = rt.fs().open("2", OpenMode::create);
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_EQ(rt.fs().open("3", OpenMode::create).code(), Errc::limit_exceeded);
    EXPECT_FALSE(*rt.fs().exists("3"));  // refused before touching the disk
    ASSERT_TRUE((*first)->close().ok());
    EXPECT_TRUE(rt.fs().open("3", OpenMode::create).ok());  // closing freed a slot
    EXPECT_EQ(rt.fs().open("missing", OpenMode::read_only).code(), Errc::not_found);
    second->reset();  // destroying a File closes it too
    EXPECT_TRUE(rt.fs().open("4", OpenMode::create).ok());
  });
}

TEST(EpollRuntime, TimersOfParksThatEndedEarlyAreCompacted) {
  run_epoll({}, [](EpollRuntime& rt) {
    constexpr int kRounds = 20'000;
    Channel<int> channel(rt.scheduler(), 1);
    Task producer = rt.spawn("producer", [&] {
      for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(channel.send(i).ok());
    });
    size_t timers_max = 0;
    for (int i = 0; i < kRounds; ++i) {
      // Each receive parks with a far deadline and is woken early by the send.
      ASSERT_TRUE(channel.receive(rt.now() + std::chrono::hours(1)).ok());
      timers_max = std::max(timers_max, rt.timers_pending());
    }
    ASSERT_TRUE(producer.join().ok());
    EXPECT_LE(timers_max, 2 * Reactor::kTimersCompactionFloor);
  });
}

TEST(EpollRuntime, IdentityClocksAndRandomness) {
  run_epoll({.host = "127.0.0.1"}, [](EpollRuntime& rt) {
    EXPECT_EQ(rt.host(), "127.0.0.1");
    EXPECT_FALSE(SLUICE_BUGGIFY(rt));
    const auto system_now = std::chrono::system_clock::now().time_since_epoch();
    const auto skew = rt.wall_now().time_since_epoch() - std::chrono::duration_cast<Duration>(system_now);
    EXPECT_LT(std::chrono::abs(skew), std::chrono::seconds(5));
    // 64 draws from a Prng seeded by getrandom(): all distinct unless the generator is broken.
    std::set<uint64_t> draws;
    for (int i = 0; i < 64; ++i) draws.insert(rt.random());
    EXPECT_EQ(draws.size(), 64u);
    EXPECT_LT(rt.random_below(10), 10u);
  });
}

TEST(EpollRuntime, NetworkErrorsAreValuesNamingTheAddress) {
  run_epoll({}, [](EpollRuntime& rt) {
    auto bad_host = rt.connect(Address{"not-an-ip", 80}, std::chrono::seconds(1));
    EXPECT_EQ(bad_host.code(), Errc::invalid_argument);
    auto listener = rt.listen(0);
    ASSERT_TRUE(listener.ok());
    const uint16_t port = (*listener)->local_address().port;
    auto again = rt.listen(port);
    EXPECT_EQ(again.code(), Errc::address_in_use);
    EXPECT_NE(again.status().message().find(std::to_string(port)), std::string::npos) << again.status().message();
    (*listener)->close();
    auto refused = rt.connect(Address{"127.0.0.1", port}, std::chrono::seconds(5));
    EXPECT_EQ(refused.code(), Errc::connection_refused);
    EXPECT_NE(refused.status().message().find("connect 127.0.0.1:" + std::to_string(port)), std::string::npos)
        << refused.status().message();
  });
}

TEST(EpollRuntime, CreateRejectsBadOptions) {
  EXPECT_EQ(EpollRuntime::create({.data_dir = ""}).code(), Errc::invalid_argument);
  EXPECT_EQ(EpollRuntime::create({.data_dir = "/nonexistent/sluice/dir"}).code(), Errc::not_found);
  TempDir dir;
  EXPECT_EQ(EpollRuntime::create({.data_dir = dir.path(), .file_workers = 0}).code(), Errc::invalid_argument);
  auto runtime = EpollRuntime::create({.data_dir = dir.path(), .host = "localhost"});
  ASSERT_TRUE(runtime.ok());
  Errc listened = Errc::ok;
  ASSERT_TRUE((*runtime)->run([&] { listened = (*runtime)->listen(0).code(); }).ok());
  EXPECT_EQ(listened, Errc::invalid_argument);  // hosts are numeric: resolving would block
}

}  // namespace
}  // namespace sluice::runtime::epoll
