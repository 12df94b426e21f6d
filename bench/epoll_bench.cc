// TCP echo round trips per second on loopback through the epoll runtime: one client fiber and one
// server fiber in the same reactor, small messages. Each round trip costs two sends, two receives,
// at least one epoll_wait and a few fiber switches, so this is the floor under every RPC sluice
// makes on the real runtime.
#include <benchmark/benchmark.h>

#include "bench/bench_dir.h"
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "runtime/epoll/epoll_runtime.h"

namespace sluice::runtime::epoll {
namespace {

using ::sluice::bench::BenchDir;

// Echoes fixed-size messages until the client closes.
void echo_messages(Stream& stream, size_t message_bytes) {
  Bytes buffer(message_bytes);
  while (stream.read_exact(buffer).ok() && stream.write(buffer).ok()) {
  }
}

// The client side: runs the benchmark loop inside a fiber. Returns the first error, if any.
Status run_round_trips(benchmark::State& state, Runtime& rt, size_t message_bytes) {
  SLUICE_ASSIGN_OR_RETURN(auto listener, rt.listen(0));
  Task server = rt.spawn("echo-server", [&] {
    auto accepted = listener->accept();
    if (accepted.ok()) echo_messages(**accepted, message_bytes);
  });
  SLUICE_ASSIGN_OR_RETURN(auto client, rt.connect(listener->local_address(), std::chrono::seconds(5)));
  const Bytes message(message_bytes, std::byte{'m'});
  Bytes reply(message_bytes);
  Status status;
  for (auto _ : state) {
    status = client->write(message);
    if (status.ok()) status = client->read_exact(reply);
    if (!status.ok()) break;
  }
  client->close();
  SLUICE_TRY(server.join());
  return status;
}

void BM_EpollTcpEchoRoundTrip(benchmark::State& state) {
  const auto message_bytes = static_cast<size_t>(state.range(0));
  BenchDir dir;
  auto runtime = EpollRuntime::create({.data_dir = dir.path()});
  if (!runtime.ok()) {
    state.SkipWithError(runtime.status().to_string().c_str());
    return;
  }
  Status result;
  Status ran = (*runtime)->run([&] { result = run_round_trips(state, **runtime, message_bytes); });
  if (!ran.ok()) result = ran;
  if (!result.ok()) {
    state.SkipWithError(result.to_string().c_str());
    return;
  }
  state.SetItemsProcessed(state.iterations());  // items = round trips
}
BENCHMARK(BM_EpollTcpEchoRoundTrip)->Arg(64)->UseRealTime();

}  // namespace
}  // namespace sluice::runtime::epoll
