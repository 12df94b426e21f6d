// The thin driver runs the core on the runtime seam, never on the real runtime.
#include "node/swim/driver.h"
#include "node/swim/core.h"
#include "node/wire/swim_generated.h"
#include "runtime/runtime.h"
#include <unistd.h>

#include "runtime/epoll/epoll_runtime.h"  // expect-violation
#include "node/raft/types.h"  // expect-violation
