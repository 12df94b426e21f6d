// The runtime conformance suite: one set of behaviours every Runtime must show, run against each
// implementation (the epoll runtime and the simulator). Node logic may rely on exactly what these
// tests pin down. Tests assert orderings and results, never durations (beyond "now() advanced by
// at least the time slept"); where they need other fibers to get somewhere first, they yield or
// wait on a primitive, not on the clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/random.h"
#include "runtime/runtime.h"
#include "tests/runtime/harness.h"

namespace sluice::runtime {

void PrintTo(Errc code, std::ostream* out) { *out << to_string(code); }

namespace testing {
namespace {

struct HarnessFactory {
  const char* name;
  std::unique_ptr<RuntimeHarness> (*make)();
};

void PrintTo(const HarnessFactory& factory, std::ostream* out) { *out << factory.name; }

// Every runtime the suite runs against. The one place to add an implementation.
const HarnessFactory kHarnessFactories[] = {
    {"epoll", &make_epoll_harness},
    {"sim", &make_sim_harness},
};

class Conformance : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  void run(std::function<void(Runtime&)> body) { GetParam().make()->run(std::move(body)); }
};

INSTANTIATE_TEST_SUITE_P(Runtimes, Conformance, ::testing::ValuesIn(kHarnessFactories),
                         [](const ::testing::TestParamInfo<HarnessFactory>& info) { return std::string(info.param.name); });

Status status_of(const Status& status) { return status; }
template <typename T>
Status status_of(const Result<T>& result) {
  return result.status();
}

#define ASSERT_OK(expression)                                                    \
  do {                                                                           \
    const Status sluice_status_ = status_of(expression);                         \
    ASSERT_TRUE(sluice_status_.ok()) << #expression << ": " << sluice_status_.to_string(); \
  } while (false)
#define EXPECT_OK(expression)                                                    \
  do {                                                                           \
    const Status sluice_status_ = status_of(expression);                         \
    EXPECT_TRUE(sluice_status_.ok()) << #expression << ": " << sluice_status_.to_string(); \
  } while (false)
#define EXPECT_CODE(expression, errc) EXPECT_EQ(status_of(expression).code(), errc)

// Generous deadline for things that should happen promptly: a broken runtime fails, not hangs.
Instant soon(Runtime& rt) { return rt.now() + std::chrono::seconds(10); }

Bytes pattern_bytes(size_t size, uint64_t seed) {
  Prng prng(seed);
  Bytes bytes(size);
  for (std::byte& b : bytes) b = static_cast<std::byte>(prng.next());
  return bytes;
}

// Echoes everything it reads until the peer closes.
void echo_until_eof(Runtime& rt, Stream& stream) {
  Bytes buffer(64 * 1024);
  while (true) {
    Result<size_t> got = stream.read(buffer, soon(rt));
    ASSERT_OK(got);
    if (*got == 0) return;
    ASSERT_OK(stream.write(ByteSpan(buffer).first(*got), soon(rt)));
  }
}

// A connected pair: `client` from connect(), `server` from the listener's accept().
struct StreamPair {
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Stream> client;
  std::unique_ptr<Stream> server;
};

std::optional<StreamPair> connect_pair(Runtime& rt) {
  StreamPair pair;
  auto listener = rt.listen(0);
  EXPECT_OK(listener);
  if (!listener.ok()) return std::nullopt;
  pair.listener = std::move(*listener);
  auto client = rt.connect(pair.listener->local_address(), std::chrono::seconds(10));
  EXPECT_OK(client);
  if (!client.ok()) return std::nullopt;
  pair.client = std::move(*client);
  auto server = pair.listener->accept(soon(rt));
  EXPECT_OK(server);
  if (!server.ok()) return std::nullopt;
  pair.server = std::move(*server);
  return pair;
}

Status write_file(Filesystem& fs, std::string_view path, std::string_view contents) {
  SLUICE_ASSIGN_OR_RETURN(auto file, fs.open(path, OpenMode::create));
  SLUICE_TRY(file->truncate(0));
  SLUICE_TRY(file->write_at(0, as_bytes(contents)));
  return file->close();
}

Result<std::string> read_file(Filesystem& fs, std::string_view path) {
  SLUICE_ASSIGN_OR_RETURN(auto file, fs.open(path, OpenMode::read_only));
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, file->size());
  Bytes bytes(size);
  SLUICE_ASSIGN_OR_RETURN(size_t got, file->read_at(0, bytes));
  return std::string(as_string_view(ByteSpan(bytes).first(got)));
}

// --- time and timers ---

TEST_P(Conformance, TimersFireInDeadlineOrder) {
  run([](Runtime& rt) {
    const Instant start = rt.now();
    std::vector<int> woke_ms;
    std::vector<Task> sleepers;
    for (int ms : {50, 10, 40, 20, 30}) {
      sleepers.push_back(rt.spawn("sleeper", [&rt, &woke_ms, start, ms] {
        EXPECT_OK(rt.sleep_until(start + std::chrono::milliseconds(ms)));
        woke_ms.push_back(ms);
      }));
    }
    for (Task& sleeper : sleepers) ASSERT_OK(sleeper.join());
    EXPECT_EQ(woke_ms, (std::vector<int>{10, 20, 30, 40, 50}));
    EXPECT_GE(rt.now() - start, std::chrono::milliseconds(50));
  });
}

TEST_P(Conformance, SleepAdvancesNowByAtLeastTheDuration) {
  run([](Runtime& rt) {
    const Instant before = rt.now();
    ASSERT_OK(rt.sleep_for(std::chrono::milliseconds(3)));
    const Instant after_sleep = rt.now();
    EXPECT_GE(after_sleep - before, std::chrono::milliseconds(3));
    ASSERT_OK(rt.sleep_until(after_sleep + std::chrono::microseconds(500)));
    EXPECT_GE(rt.now(), after_sleep + std::chrono::microseconds(500));
    ASSERT_OK(rt.sleep_until(before));  // in the past: returns at once, still ok
    ASSERT_OK(rt.sleep_for(Duration::zero()));
  });
}

TEST_P(Conformance, NowNeverGoesBackwards) {
  run([](Runtime& rt) {
    Instant last = rt.now();
    for (int i = 0; i < 300; ++i) {
      if (i % 3 == 0) ASSERT_OK(rt.sleep_for(std::chrono::microseconds(50)));
      if (i % 3 == 1) rt.scheduler().yield();
      const Instant current = rt.now();
      ASSERT_GE(current, last) << "at step " << i;
      last = current;
    }
  });
}

// --- tasks ---

TEST_P(Conformance, JoinWaitsForTheTaskToReturn) {
  run([](Runtime& rt) {
    bool child_done = false;
    Task child = rt.spawn("child", [&] {
      EXPECT_OK(rt.sleep_for(std::chrono::milliseconds(2)));
      child_done = true;
    });
    EXPECT_FALSE(child.finished());
    ASSERT_OK(child.join());
    EXPECT_TRUE(child_done);
    EXPECT_TRUE(child.finished());
    ASSERT_OK(child.join());  // joining a finished task returns at once
  });
}

TEST_P(Conformance, JoinWithDeadlineTimesOutThenCancelStopsTheTask) {
  run([](Runtime& rt) {
    Task forever = rt.spawn("forever", [&] { (void)rt.sleep_until(kInstantMax); });
    EXPECT_CODE(forever.join(rt.now() + std::chrono::milliseconds(2)), Errc::timeout);
    EXPECT_FALSE(forever.finished());
    forever.cancel();
    ASSERT_OK(forever.join(soon(rt)));
    EXPECT_TRUE(forever.finished());
  });
}

TEST_P(Conformance, CancelledSleeperReturnsCancelled) {
  run([](Runtime& rt) {
    Errc slept = Errc::ok;
    Errc slept_again = Errc::ok;
    bool saw_cancelled = false;
    Task sleeper = rt.spawn("sleeper", [&] {
      slept = rt.sleep_for(std::chrono::hours(1)).code();
      saw_cancelled = rt.cancelled();
      slept_again = rt.sleep_for(std::chrono::milliseconds(1)).code();  // stays cancelled
    });
    rt.scheduler().yield();  // the sleeper parks
    EXPECT_FALSE(sleeper.finished());
    sleeper.cancel();
    ASSERT_OK(sleeper.join(soon(rt)));
    EXPECT_EQ(slept, Errc::cancelled);
    EXPECT_TRUE(saw_cancelled);
    EXPECT_EQ(slept_again, Errc::cancelled);
    EXPECT_FALSE(rt.cancelled());  // only the cancelled fiber is
  });
}

struct DestructorProbe {
  bool* destroyed;
  ~DestructorProbe() { *destroyed = true; }
};

TEST_P(Conformance, FibersLeftRunningAreUnwoundWhenTheBodyReturns) {
  bool destroyed = false;
  run([&](Runtime& rt) {
    rt.spawn("leftover", [&] {
      DestructorProbe probe{&destroyed};
      (void)rt.sleep_until(kInstantMax);
    });
    rt.scheduler().yield();
    EXPECT_FALSE(destroyed);
  });
  EXPECT_TRUE(destroyed);
}

// --- channels and sync primitives ---

TEST_P(Conformance, ChannelIsFifo) {
  run([](Runtime& rt) {
    Channel<int> channel(rt.scheduler(), 64);
    Task producer = rt.spawn("producer", [&] {
      for (int i = 0; i < 200; ++i) ASSERT_OK(channel.send(i, soon(rt)));
    });
    for (int i = 0; i < 200; ++i) {
      Result<int> got = channel.receive(soon(rt));
      ASSERT_OK(got);
      ASSERT_EQ(*got, i);
    }
    ASSERT_OK(producer.join());
  });
}

TEST_P(Conformance, BoundedSendBlocksUntilAReceive) {
  run([](Runtime& rt) {
    Channel<int> channel(rt.scheduler(), 1);
    std::vector<std::string> log;
    Task sender = rt.spawn("sender", [&] {
      ASSERT_OK(channel.send(1));
      log.push_back("sent 1");
      ASSERT_OK(channel.send(2));  // full: waits for the receive below
      log.push_back("sent 2");
    });
    rt.scheduler().yield();
    EXPECT_EQ(log, (std::vector<std::string>{"sent 1"}));
    EXPECT_EQ(channel.size(), 1u);
    EXPECT_CODE(channel.send(3, rt.now() + std::chrono::milliseconds(1)), Errc::timeout);
    Result<int> first = channel.receive();
    ASSERT_OK(first);
    log.push_back("received " + std::to_string(*first));
    ASSERT_OK(sender.join(soon(rt)));
    EXPECT_EQ(log, (std::vector<std::string>{"sent 1", "received 1", "sent 2"}));
    Result<int> second = channel.receive();
    ASSERT_OK(second);
    EXPECT_EQ(*second, 2);
  });
}

TEST_P(Conformance, ClosedChannelDrainsThenReportsClosed) {
  run([](Runtime& rt) {
    Channel<int> channel(rt.scheduler(), 4);
    ASSERT_OK(channel.send(1));
    ASSERT_OK(channel.send(2));
    channel.close();
    EXPECT_CODE(channel.send(3), Errc::closed);
    EXPECT_CODE(channel.receive(), Errc::ok);
    Result<int> second = channel.receive();
    ASSERT_OK(second);
    EXPECT_EQ(*second, 2);
    EXPECT_CODE(channel.receive(), Errc::closed);
    EXPECT_CODE(channel.receive(), Errc::closed);
  });
}

TEST_P(Conformance, CloseWakesBlockedReceiverWithClosed) {
  run([](Runtime& rt) {
    Channel<int> channel(rt.scheduler(), 1);
    Errc received = Errc::ok;
    Task receiver = rt.spawn("receiver", [&] { received = channel.receive(soon(rt)).code(); });
    rt.scheduler().yield();
    channel.close();
    ASSERT_OK(receiver.join(soon(rt)));
    EXPECT_EQ(received, Errc::closed);
  });
}

TEST_P(Conformance, ReceiveTimesOutOnAnEmptyChannel) {
  run([](Runtime& rt) {
    Channel<int> channel(rt.scheduler(), 1);
    const Instant before = rt.now();
    EXPECT_CODE(channel.receive(before + std::chrono::milliseconds(2)), Errc::timeout);
    EXPECT_GE(rt.now() - before, std::chrono::milliseconds(2));
  });
}

TEST_P(Conformance, SelectReturnsTheReadyChannelOrTimesOut) {
  run([](Runtime& rt) {
    Scheduler& scheduler = rt.scheduler();
    Channel<int> a(scheduler, 4);
    Channel<int> b(scheduler, 4);
    EXPECT_CODE(select(scheduler, {&a, &b}, rt.now() + std::chrono::milliseconds(2)), Errc::timeout);
    ASSERT_OK(b.send(7));
    Result<size_t> ready = select(scheduler, {&a, &b}, soon(rt));
    ASSERT_OK(ready);
    EXPECT_EQ(*ready, 1u);
    EXPECT_EQ(b.try_receive(), std::optional<int>(7));
    Task sender = rt.spawn("sender", [&] {
      EXPECT_OK(rt.sleep_for(std::chrono::milliseconds(2)));
      EXPECT_OK(a.send(5));
    });
    ready = select(scheduler, {&a, &b}, soon(rt));
    ASSERT_OK(ready);
    EXPECT_EQ(*ready, 0u);
    EXPECT_EQ(a.try_receive(), std::optional<int>(5));
    ASSERT_OK(sender.join());
    b.close();  // closed counts as ready: a receive would not block
    ready = select(scheduler, {&a, &b}, soon(rt));
    ASSERT_OK(ready);
    EXPECT_EQ(*ready, 1u);
  });
}

TEST_P(Conformance, EventReleasesEveryWaiterOnceSet) {
  run([](Runtime& rt) {
    Event event(rt.scheduler());
    int released = 0;
    std::vector<Task> waiters;
    for (int i = 0; i < 3; ++i) {
      waiters.push_back(rt.spawn("waiter", [&] {
        EXPECT_OK(event.wait(soon(rt)));
        ++released;
      }));
    }
    rt.scheduler().yield();
    EXPECT_EQ(released, 0);
    EXPECT_CODE(event.wait(rt.now() + std::chrono::milliseconds(1)), Errc::timeout);
    event.set();
    for (Task& waiter : waiters) ASSERT_OK(waiter.join(soon(rt)));
    EXPECT_EQ(released, 3);
    EXPECT_OK(event.wait(rt.now()));  // stays set
  });
}

TEST_P(Conformance, OneshotDeliversTheValueOrClosedWhenTheSenderIsDropped) {
  run([](Runtime& rt) {
    auto reply = Oneshot<std::string>::make(rt.scheduler());
    Task responder = rt.spawn("responder", [&] {
      EXPECT_OK(rt.sleep_for(std::chrono::milliseconds(1)));
      reply.first.send("done");
    });
    Result<std::string> got = reply.second.receive(soon(rt));
    ASSERT_OK(got);
    EXPECT_EQ(*got, "done");
    ASSERT_OK(responder.join());

    auto abandoned = Oneshot<int>::make(rt.scheduler());
    Task dropper = rt.spawn("dropper", [&] {
      EXPECT_OK(rt.sleep_for(std::chrono::milliseconds(1)));
      auto taken = std::move(abandoned.first);  // destroyed unsent at scope end
    });
    EXPECT_CODE(abandoned.second.receive(soon(rt)), Errc::closed);
    ASSERT_OK(dropper.join());
  });
}

TEST_P(Conformance, MutexHandsOffToWaitersInArrivalOrder) {
  run([](Runtime& rt) {
    Mutex mutex(rt.scheduler());
    std::vector<int> order;
    ASSERT_OK(mutex.lock());
    std::vector<Task> contenders;
    for (int i = 1; i <= 3; ++i) {
      contenders.push_back(rt.spawn("contender", [&, i] {
        ASSERT_OK(mutex.lock(soon(rt)));
        order.push_back(i);
        rt.scheduler().yield();  // holding the lock across a switch
        mutex.unlock();
      }));
    }
    rt.scheduler().yield();  // all three queue, in spawn order
    EXPECT_TRUE(order.empty());
    mutex.unlock();
    EXPECT_TRUE(mutex.locked());      // handed to the first waiter, not released
    EXPECT_FALSE(mutex.try_lock());   // so nobody can barge in
    for (Task& contender : contenders) ASSERT_OK(contender.join(soon(rt)));
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    EXPECT_FALSE(mutex.locked());
  });
}

TEST_P(Conformance, WaitGroupWaitsForEveryDone) {
  run([](Runtime& rt) {
    WaitGroup group(rt.scheduler());
    ASSERT_OK(group.wait(rt.now()));  // nothing outstanding: returns at once
    int finished = 0;
    group.add(3);
    for (int i = 1; i <= 3; ++i) {
      rt.spawn("worker", [&, i] {
        EXPECT_OK(rt.sleep_for(std::chrono::milliseconds(i)));
        ++finished;
        group.done();
      });
    }
    EXPECT_CODE(group.wait(rt.now()), Errc::timeout);
    ASSERT_OK(group.wait(soon(rt)));
    EXPECT_EQ(finished, 3);
    EXPECT_EQ(group.outstanding(), 0u);
  });
}

// --- streams ---

TEST_P(Conformance, StreamEchoesThroughOwnListener) {
  run([](Runtime& rt) {
    auto listener = rt.listen(0);
    ASSERT_OK(listener);
    const Address address = (*listener)->local_address();
    EXPECT_NE(address.port, 0);
    Address server_saw_peer;
    Task server = rt.spawn("server", [&] {
      auto accepted = (*listener)->accept(soon(rt));
      ASSERT_OK(accepted);
      server_saw_peer = (*accepted)->peer_address();
      echo_until_eof(rt, **accepted);
    });
    auto client = rt.connect(address, std::chrono::seconds(10));
    ASSERT_OK(client);
    Stream& stream = **client;
    EXPECT_EQ(stream.peer_address(), address);
    for (std::string_view message : {"hello, sluice", "x", "a longer second message"}) {
      ASSERT_OK(stream.write(as_bytes(message), soon(rt)));
      Bytes reply(message.size());
      ASSERT_OK(stream.read_exact(reply, soon(rt)));
      EXPECT_EQ(as_string_view(reply), message);
    }
    stream.close();  // the server reads end of stream and returns
    ASSERT_OK(server.join(soon(rt)));
    EXPECT_EQ(server_saw_peer, stream.local_address());
  });
}

TEST_P(Conformance, MultiMegabyteTransferWithConcurrentReaderAndWriter) {
  run([](Runtime& rt) {
    constexpr size_t kTransferBytes = 4 << 20;
    const Bytes sent = pattern_bytes(kTransferBytes, 42);
    auto pair = connect_pair(rt);
    ASSERT_TRUE(pair.has_value());
    Task echo = rt.spawn("echo", [&] { echo_until_eof(rt, *pair->server); });
    // Writer and reader share the client stream; neither could finish alone once buffers fill.
    Task writer = rt.spawn("writer", [&] {
      Prng prng(7);
      size_t offset = 0;
      while (offset < sent.size()) {
        const size_t chunk = std::min<size_t>(1 + random_below([&] { return prng.next(); }, 100'000), sent.size() - offset);
        ASSERT_OK(pair->client->write(ByteSpan(sent).subspan(offset, chunk), soon(rt)));
        offset += chunk;
      }
    });
    Bytes received(kTransferBytes);
    Task reader = rt.spawn("reader", [&] {
      Prng prng(9);
      size_t offset = 0;
      while (offset < received.size()) {
        const size_t want = std::min<size_t>(1 + random_below([&] { return prng.next(); }, 70'000), received.size() - offset);
        Result<size_t> got = pair->client->read(MutableByteSpan(received).subspan(offset, want), soon(rt));
        ASSERT_OK(got);
        ASSERT_GT(*got, 0u) << "stream ended at " << offset;
        offset += *got;
      }
    });
    ASSERT_OK(writer.join());
    ASSERT_OK(reader.join());
    EXPECT_TRUE(received == sent) << "echoed bytes differ from the bytes sent";
    pair->client->close();
    ASSERT_OK(echo.join(soon(rt)));
  });
}

TEST_P(Conformance, ConnectToAClosedPortIsRefused) {
  run([](Runtime& rt) {
    auto listener = rt.listen(0);
    ASSERT_OK(listener);
    const Address address = (*listener)->local_address();
    (*listener)->close();
    EXPECT_CODE(rt.connect(address, std::chrono::seconds(10)), Errc::connection_refused);
  });
}

TEST_P(Conformance, PeerCloseReadsEndOfStreamAndLaterWritesFailWithReset) {
  run([](Runtime& rt) {
    auto pair = connect_pair(rt);
    ASSERT_TRUE(pair.has_value());
    pair->server->close();
    Bytes buffer(16);
    Result<size_t> got = pair->client->read(buffer, soon(rt));
    ASSERT_OK(got);
    EXPECT_EQ(*got, 0u);
    // The first writes may still be accepted locally; the reset arrives with the peer's answer.
    Status written;
    const Bytes chunk(4096, std::byte{1});
    for (int attempt = 0; attempt < 200 && written.ok(); ++attempt) {
      written = pair->client->write(chunk, soon(rt));
      if (written.ok()) ASSERT_OK(rt.sleep_for(std::chrono::milliseconds(1)));
    }
    EXPECT_EQ(written.code(), Errc::connection_reset) << written.to_string();
  });
}

TEST_P(Conformance, CloseWakesBlockedReaderWithClosedAndReadTimesOut) {
  run([](Runtime& rt) {
    auto pair = connect_pair(rt);
    ASSERT_TRUE(pair.has_value());
    Bytes buffer(16);
    EXPECT_CODE(pair->client->read(buffer, rt.now() + std::chrono::milliseconds(2)), Errc::timeout);
    Errc read_code = Errc::ok;
    Task reader = rt.spawn("reader", [&] { read_code = pair->client->read(buffer, soon(rt)).code(); });
    rt.scheduler().yield();
    EXPECT_FALSE(reader.finished());
    pair->client->close();
    ASSERT_OK(reader.join(soon(rt)));
    EXPECT_EQ(read_code, Errc::closed);
    EXPECT_CODE(pair->client->write(as_bytes("late"), soon(rt)), Errc::closed);
  });
}

TEST_P(Conformance, CancelWakesFibersBlockedInAcceptReadAndReceive) {
  run([](Runtime& rt) {
    auto pair = connect_pair(rt);
    ASSERT_TRUE(pair.has_value());
    auto socket = rt.bind_datagram(0);
    ASSERT_OK(socket);
    Errc accept_code = Errc::ok;
    Errc read_code = Errc::ok;
    Errc receive_code = Errc::ok;
    Bytes buffer(16);
    std::vector<Task> blocked;
    blocked.push_back(rt.spawn("acceptor", [&] { accept_code = pair->listener->accept().code(); }));
    blocked.push_back(rt.spawn("reader", [&] { read_code = pair->server->read(buffer).code(); }));
    blocked.push_back(rt.spawn("receiver", [&] { receive_code = (*socket)->receive().code(); }));
    rt.scheduler().yield();
    for (Task& task : blocked) EXPECT_FALSE(task.finished());
    for (Task& task : blocked) task.cancel();
    for (Task& task : blocked) ASSERT_OK(task.join(soon(rt)));
    EXPECT_EQ(accept_code, Errc::cancelled);
    EXPECT_EQ(read_code, Errc::cancelled);
    EXPECT_EQ(receive_code, Errc::cancelled);
    // The sockets themselves are unharmed: the next caller is served.
    ASSERT_OK(pair->client->write(as_bytes("still here"), soon(rt)));
    Bytes reply(10);
    ASSERT_OK(pair->server->read_exact(reply, soon(rt)));
    EXPECT_EQ(as_string_view(reply), "still here");
  });
}

// --- datagrams ---

TEST_P(Conformance, DatagramsToSelfCarryPayloadAndSender) {
  run([](Runtime& rt) {
    auto a = rt.bind_datagram(0);
    auto b = rt.bind_datagram(0);
    ASSERT_OK(a);
    ASSERT_OK(b);
    EXPECT_NE((*a)->local_address().port, 0);
    EXPECT_NE((*a)->local_address(), (*b)->local_address());
    ASSERT_OK((*a)->send_to((*b)->local_address(), as_bytes("ping")));
    Result<Datagram> ping = (*b)->receive(soon(rt));
    ASSERT_OK(ping);
    EXPECT_EQ(as_string_view(ping->payload), "ping");
    EXPECT_EQ(ping->from, (*a)->local_address());
    ASSERT_OK((*b)->send_to(ping->from, as_bytes("pong")));
    Result<Datagram> pong = (*a)->receive(soon(rt));
    ASSERT_OK(pong);
    EXPECT_EQ(as_string_view(pong->payload), "pong");
    EXPECT_EQ(pong->from, (*b)->local_address());
    EXPECT_CODE((*b)->receive(rt.now() + std::chrono::milliseconds(2)), Errc::timeout);
    const Bytes too_large(kDatagramBytesMax + 1);
    EXPECT_CODE((*a)->send_to((*b)->local_address(), too_large), Errc::message_too_large);
  });
}

TEST_P(Conformance, DatagramCloseWakesBlockedReceiver) {
  run([](Runtime& rt) {
    auto socket = rt.bind_datagram(0);
    ASSERT_OK(socket);
    Errc received = Errc::ok;
    Task receiver = rt.spawn("receiver", [&] { received = (*socket)->receive(soon(rt)).code(); });
    rt.scheduler().yield();
    (*socket)->close();
    ASSERT_OK(receiver.join(soon(rt)));
    EXPECT_EQ(received, Errc::closed);
  });
}

// --- files ---

TEST_P(Conformance, FileWriteAppendSyncAndReadAt) {
  run([](Runtime& rt) {
    auto opened = rt.fs().open("data.log", OpenMode::create_new);
    ASSERT_OK(opened);
    File& file = **opened;
    ASSERT_OK(file.write_at(0, as_bytes("hello")));
    Result<uint64_t> at = file.append(as_bytes(", world"));
    ASSERT_OK(at);
    EXPECT_EQ(*at, 5u);
    at = file.append(as_bytes("!"));
    ASSERT_OK(at);
    EXPECT_EQ(*at, 12u);
    ASSERT_OK(file.sync());
    Result<uint64_t> size = file.size();
    ASSERT_OK(size);
    EXPECT_EQ(*size, 13u);
    Bytes buffer(100);
    Result<size_t> got = file.read_at(0, MutableByteSpan(buffer).first(13));
    ASSERT_OK(got);
    EXPECT_EQ(as_string_view(ByteSpan(buffer).first(*got)), "hello, world!");
    got = file.read_at(7, buffer);  // short read: only at end of file
    ASSERT_OK(got);
    EXPECT_EQ(as_string_view(ByteSpan(buffer).first(*got)), "world!");
    for (uint64_t offset : {13u, 1000u}) {
      got = file.read_at(offset, buffer);
      ASSERT_OK(got);
      EXPECT_EQ(*got, 0u) << "reading at " << offset;
    }
    ASSERT_OK(file.write_at(20, as_bytes("x")));  // past the end: the gap reads as zeros
    got = file.read_at(13, buffer);
    ASSERT_OK(got);
    Bytes expected_tail(7, std::byte{0});
    expected_tail.push_back(std::byte{'x'});
    EXPECT_EQ(Bytes(buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(*got)), expected_tail);
    ASSERT_OK(file.close());
    ASSERT_OK(file.close());  // idempotent
    EXPECT_CODE(file.read_at(0, buffer), Errc::closed);
    Result<uint64_t> on_disk = rt.fs().file_size("data.log");
    ASSERT_OK(on_disk);
    EXPECT_EQ(*on_disk, 21u);
  });
}

// Log::sync writes its mark and fsyncs in one call: the bytes land where write_at would put them
// (over existing bytes or past the end), the file stays usable, a read-only file refuses it.
TEST_P(Conformance, WriteAtAndSyncWritesLikeWriteAt) {
  run([](Runtime& rt) {
    auto opened = rt.fs().open("marked.log", OpenMode::create_new);
    ASSERT_OK(opened);
    File& file = **opened;
    ASSERT_OK(file.write_at(0, as_bytes("aaaaaaaa")));
    ASSERT_OK(file.write_at_and_sync(2, as_bytes("XY")));
    ASSERT_OK(file.write_at_and_sync(10, as_bytes("Z")));
    Bytes buffer(32);
    Result<size_t> got = file.read_at(0, buffer);
    ASSERT_OK(got);
    Bytes expected;
    for (char c : std::string_view("aaXYaaaa")) expected.push_back(std::byte(c));
    expected.push_back(std::byte{0});
    expected.push_back(std::byte{0});
    expected.push_back(std::byte{'Z'});
    EXPECT_EQ(Bytes(buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(*got)), expected);
    ASSERT_OK(file.close());
    auto read_only = rt.fs().open("marked.log", OpenMode::read_only);
    ASSERT_OK(read_only);
    EXPECT_CODE((*read_only)->write_at_and_sync(0, as_bytes("no")), Errc::invalid_argument);
    EXPECT_CODE(file.write_at_and_sync(0, as_bytes("no")), Errc::closed);
  });
}

// preallocate writes zeros over the range (more than one of its 1 MiB steps here), growing the
// file; a write inside the range then changes its bytes and not its size.
TEST_P(Conformance, PreallocateWritesZerosAndWritesInsideKeepTheSize) {
  run([](Runtime& rt) {
    auto opened = rt.fs().open("preallocated.log", OpenMode::create_new);
    ASSERT_OK(opened);
    File& file = **opened;
    ASSERT_OK(file.write_at(0, as_bytes("abc")));
    constexpr uint64_t kLength = (1 << 20) + 4096;
    ASSERT_OK(file.preallocate(3, kLength));
    EXPECT_EQ(*file.size(), 3 + kLength);
    ASSERT_OK(file.write_at(3, as_bytes("def")));
    EXPECT_EQ(*file.size(), 3 + kLength);
    ASSERT_OK(file.preallocate(0, 0));
    Result<std::string> contents = read_file(rt.fs(), "preallocated.log");
    ASSERT_OK(contents);
    EXPECT_EQ(contents->substr(0, 6), "abcdef");
    EXPECT_EQ(contents->size(), 3 + kLength);
    EXPECT_EQ(contents->find_first_not_of('\0', 6), std::string::npos);
    ASSERT_OK(file.close());
    auto read_only = rt.fs().open("preallocated.log", OpenMode::read_only);
    ASSERT_OK(read_only);
    EXPECT_CODE((*read_only)->preallocate(0, 4096), Errc::invalid_argument);
    EXPECT_CODE(file.preallocate(0, 4096), Errc::closed);
  });
}

TEST_P(Conformance, ConcurrentAppendsGetDistinctOffsets) {
  run([](Runtime& rt) {
    auto opened = rt.fs().open("appends.log", OpenMode::create);
    ASSERT_OK(opened);
    constexpr int kAppendsPerFiber = 100;
    constexpr uint64_t kRecordBytes = 8;
    std::set<uint64_t> offsets;
    std::vector<Task> appenders;
    for (char tag : {'a', 'b', 'c', 'd'}) {
      appenders.push_back(rt.spawn("appender", [&, tag] {
        const std::string record(kRecordBytes, tag);
        for (int i = 0; i < kAppendsPerFiber; ++i) {
          Result<uint64_t> at = (*opened)->append(as_bytes(record));
          ASSERT_OK(at);
          EXPECT_TRUE(offsets.insert(*at).second) << "offset " << *at << " handed out twice";
          EXPECT_EQ(*at % kRecordBytes, 0u);
        }
      }));
    }
    for (Task& appender : appenders) ASSERT_OK(appender.join());
    EXPECT_EQ(offsets.size(), 4u * kAppendsPerFiber);
    Result<std::string> contents = read_file(rt.fs(), "appends.log");
    ASSERT_OK(contents);
    ASSERT_EQ(contents->size(), 4u * kAppendsPerFiber * kRecordBytes);
    for (size_t record = 0; record < contents->size() / kRecordBytes; ++record) {
      const std::string_view bytes = std::string_view(*contents).substr(record * kRecordBytes, kRecordBytes);
      EXPECT_EQ(bytes, std::string(kRecordBytes, bytes[0])) << "record " << record << " is interleaved";
    }
  });
}

TEST_P(Conformance, DirectoriesListRenameTruncateRemove) {
  run([](Runtime& rt) {
    Filesystem& fs = rt.fs();
    ASSERT_OK(fs.create_dirs("topics/orders/0"));
    ASSERT_OK(fs.create_dirs("topics/orders/0"));  // like mkdir -p: existing is fine
    ASSERT_OK(fs.create_dirs("topics"));
    for (const char* name : {"c.log", "a.log", "b.log"}) {
      ASSERT_OK(write_file(fs, std::string("topics/orders/0/") + name, name));
    }
    using Names = std::vector<std::string>;
    EXPECT_EQ(*fs.list("topics/orders/0"), (Names{"a.log", "b.log", "c.log"}));
    EXPECT_EQ(*fs.list("topics"), (Names{"orders"}));
    EXPECT_EQ(*fs.list(""), (Names{"topics"}));  // "" is the data directory
    EXPECT_CODE(fs.list("missing"), Errc::not_found);
    EXPECT_EQ(*fs.exists("topics/orders/0/a.log"), true);
    EXPECT_EQ(*fs.exists("topics/orders"), true);
    EXPECT_EQ(*fs.exists("topics/nope"), false);

    ASSERT_OK(fs.rename("topics/orders/0/a.log", "topics/orders/0/c.log"));  // replaces c.log
    EXPECT_EQ(*fs.list("topics/orders/0"), (Names{"b.log", "c.log"}));
    EXPECT_EQ(*read_file(fs, "topics/orders/0/c.log"), "a.log");
    EXPECT_CODE(fs.rename("topics/orders/0/a.log", "topics/orders/0/d.log"), Errc::not_found);

    auto file = fs.open("topics/orders/0/c.log", OpenMode::read_write);
    ASSERT_OK(file);
    ASSERT_OK((*file)->truncate(1));
    EXPECT_EQ(*(*file)->size(), 1u);
    ASSERT_OK((*file)->truncate(10));
    EXPECT_EQ(*(*file)->size(), 10u);
    ASSERT_OK((*file)->close());
    EXPECT_EQ(*fs.file_size("topics/orders/0/c.log"), 10u);
    EXPECT_CODE(fs.file_size("topics/orders/0/zzz"), Errc::not_found);

    ASSERT_OK(fs.remove("topics/orders/0/b.log"));
    EXPECT_EQ(*fs.exists("topics/orders/0/b.log"), false);
    EXPECT_CODE(fs.remove("topics/orders/0/b.log"), Errc::not_found);
    ASSERT_OK(fs.create_dirs("empty"));
    ASSERT_OK(fs.remove("empty"));  // an empty directory
    EXPECT_EQ(*fs.exists("empty"), false);
    ASSERT_OK(fs.sync_dir("topics/orders/0"));
    ASSERT_OK(fs.sync_dir(""));
  });
}

TEST_P(Conformance, OpenModesCheckExistence) {
  run([](Runtime& rt) {
    Filesystem& fs = rt.fs();
    EXPECT_CODE(fs.open("missing", OpenMode::read_only), Errc::not_found);
    EXPECT_CODE(fs.open("missing", OpenMode::read_write), Errc::not_found);
    EXPECT_CODE(fs.open("no/such/dir/file", OpenMode::create), Errc::not_found);
    auto created = fs.open("fresh", OpenMode::create);
    ASSERT_OK(created);
    EXPECT_EQ(*(*created)->size(), 0u);
    ASSERT_OK((*created)->write_at(0, as_bytes("kept")));
    ASSERT_OK((*created)->close());
    EXPECT_CODE(fs.open("fresh", OpenMode::create_new), Errc::already_exists);
    auto reopened = fs.open("fresh", OpenMode::create);  // existing: opened as is
    ASSERT_OK(reopened);
    EXPECT_EQ(*(*reopened)->size(), 4u);
    auto read_only = fs.open("fresh", OpenMode::read_only);
    ASSERT_OK(read_only);
    EXPECT_FALSE((*read_only)->write_at(0, as_bytes("no")).ok());
    EXPECT_EQ(*read_file(fs, "fresh"), "kept");
  });
}

TEST_P(Conformance, BadPathsAreInvalidArguments) {
  run([](Runtime& rt) {
    Filesystem& fs = rt.fs();
    ASSERT_OK(write_file(fs, "ok", "ok"));
    for (std::string_view bad : {"", "/etc/passwd", "../escape", "a/../b", "./a", "a//b", "a/", "a/."}) {
      SCOPED_TRACE(std::string("path \"") + std::string(bad) + "\"");
      EXPECT_CODE(fs.open(bad, OpenMode::create), Errc::invalid_argument);
      EXPECT_CODE(fs.create_dirs(bad), Errc::invalid_argument);
      EXPECT_CODE(fs.remove(bad), Errc::invalid_argument);
      EXPECT_CODE(fs.exists(bad), Errc::invalid_argument);
      EXPECT_CODE(fs.file_size(bad), Errc::invalid_argument);
      EXPECT_CODE(fs.rename("ok", bad), Errc::invalid_argument);
      EXPECT_CODE(fs.rename(bad, "ok2"), Errc::invalid_argument);
      if (!bad.empty()) {  // "" names the data directory for list and sync_dir
        EXPECT_CODE(fs.list(bad), Errc::invalid_argument);
        EXPECT_CODE(fs.sync_dir(bad), Errc::invalid_argument);
      }
    }
    EXPECT_EQ(*fs.list(""), (std::vector<std::string>{"ok"}));  // nothing was created or moved
  });
}

}  // namespace
}  // namespace testing
}  // namespace sluice::runtime
