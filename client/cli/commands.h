// Runs a parsed `sluice` command (client/cli/args.h) against a cluster through the client library,
// on the runtime's fibers, writing to the streams it is given (so tests capture them). The main
// (sluice_main.cc) supplies stdin as a LineSource and says whether stderr is a terminal; nothing
// here touches the process's own streams or the OS.
//
// Output: results on `out` (text for people, or JSON with --json); failures on `err` as
// `sluice: <what>: <code>: <message>` and exit code 1. A progress line goes to `err` during a
// long produce or bench only when err_is_terminal.
#pragma once

#include <ostream>
#include <string>

#include "client/cli/args.h"
#include "client/client.h"
#include "runtime/runtime.h"

namespace sluice::client::cli {

// Where `produce` reads its records from: lines, without their '\n'. next() may suspend the calling
// fiber while it waits for input (the main's stdin reader does), so the producer's fibers keep
// running meanwhile.
class LineSource {
 public:
  virtual ~LineSource() = default;
  // True with the next line; false at the end of the input, or on a read error (then `error` says
  // what went wrong).
  virtual bool next(std::string& line, std::string& error) = 0;
};

struct CommandIo {
  LineSource* input = nullptr;  // produce only
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  bool err_is_terminal = false;
};

// Builds a Client from command.global and runs the command; returns the process's exit code.
// Call from a fiber of `runtime`.
int run_command(rt::Runtime& runtime, const Command& command, const CommandIo& io);

// The same with a Client made elsewhere (tests); `command.global` only supplies --json and
// --timeout.
int run_command_with(Client& client, const Command& command, const CommandIo& io);

// "sluice: <what>: <code>: <message>\n" for a failed operation.
std::string error_line(std::string_view what, const Status& status);

}  // namespace sluice::client::cli
