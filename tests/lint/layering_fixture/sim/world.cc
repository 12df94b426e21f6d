// The simulated world: the runtime seam, node/base, the classifier and other world files.
#include "sim/world.h"
#include "sim/network.h"
#include "sim/sim_runtime.h"
#include "sim/trace.h"
#include "sim/clock.h"
#include "sim/errors.h"
#include "bpf/classify.h"
#include "runtime/runtime.h"
#include "node/base/random.h"

#include "sim/workloads/raft.h"  // expect-violation
#include "sim/scenario.h"  // expect-violation
#include "sim/checkers/raft_safety.h"  // expect-violation
#include "node/raft/raw_node.h"  // expect-violation
#include "bpf/loader.h"  // expect-violation
#include "runtime/epoll/epoll_runtime.h"  // expect-violation
