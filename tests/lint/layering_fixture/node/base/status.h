// node/base includes only node/base and no OS header; it may lock (the epoll runtime links it).
#pragma once
#include <mutex>
#include <string>

#include "node/base/assert.h"
#include "node/raft/types.h"  // expect-violation
#include "runtime/errors.h"  // expect-violation
#include <sys/mman.h>  // expect-violation

// Commented out, so not judged:
// #include "runtime/runtime.h"
/* #include "sim/world.h"
   #include "sim/world.h" */
inline const char* text = R"(
#include "sim/world.h"
)";
