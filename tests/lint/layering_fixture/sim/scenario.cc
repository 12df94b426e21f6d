// The harness may include anything but the epoll runtime (and tests/).
#include "sim/scenario.h"
#include "sim/world.h"
#include "sim/workloads/raft.h"
#include "sim/checkers/raft_safety.h"
#include "node/partition/partition.h"
#include "node/server/node.h"
#include "client/producer.h"
#include "bpf/classify.h"
#include <toml++/toml.h>

#include "runtime/epoll/epoll_runtime.h"  // expect-violation
#include "tests/testing/sim_rig.h"  // expect-violation
