// What the command runners of the CLI share (internal to client/cli): the client, the command,
// the streams, and how a failure is reported. One runner a file: commands.cc (dispatch, topic,
// cluster), stream_commands.cc (produce, consume), bench_commands.cc (bench).
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "client/cli/args.h"
#include "client/cli/commands.h"
#include "client/client.h"
#include "client/consumer.h"

namespace sluice::client::cli {

struct Context {
  Client& client;
  const Command& command;
  const CommandIo& io;

  rt::Runtime& runtime() { return client.runtime(); }
  std::ostream& out() { return *io.out; }
  std::ostream& err() { return *io.err; }
  bool json() const { return command.global.json; }
  rt::Duration timeout() const { return command.global.timeout; }
  rt::Instant deadline() { return runtime().now() + timeout(); }

  // Reports `status` for `what` on err; returns the exit code for it.
  int fail(std::string_view what, const Status& status) {
    err() << error_line(what, status);
    return kExitFailed;
  }
};

// A line on err rewritten every second while a long command runs: only when err is a terminal
// (a log file must not fill with carriage returns). stop() clears it.
class ProgressLine {
 public:
  ProgressLine(Context& context, std::function<std::string()> render);
  ~ProgressLine() { stop(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  void stop();

 private:
  Context& context_;
  std::function<std::string()> render_;
  rt::Task task_;
  bool shown_ = false;
};

// Every one of `partitions` has been read up to its high watermark as the last fetch reported it.
bool caught_up(const Consumer& consumer, const std::string& topic, const std::vector<uint32_t>& partitions);
// Reading to the end made no progress for --timeout (a partition without a reachable leader).
inline Status not_caught_up(const Context& context) {
  return Status(Errc::timeout, "no record and not at the end of every partition for " +
                                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(context.timeout()).count()) + " ms");
}

int run_produce(Context& context);
int run_consume(Context& context);
int run_bench_produce(Context& context);
int run_bench_consume(Context& context);

}  // namespace sluice::client::cli
