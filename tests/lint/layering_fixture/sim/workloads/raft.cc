// A workload builds the same Node on each simulated runtime.
#include "sim/workloads/raft.h"
#include "sim/sim_runtime.h"
#include "node/server/node.h"

#include "runtime/epoll/reactor.h"  // expect-violation
