// A tool's main builds the epoll runtime.
#include <CLI/CLI.hpp>

#include "node/log/log.h"
#include "runtime/epoll/epoll_runtime.h"

#include "sim/disk.h"  // expect-violation
