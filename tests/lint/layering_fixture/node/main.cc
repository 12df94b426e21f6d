// The node's main: flags, the epoll runtime, the Node.
#include "node/server/node.h"
#include "runtime/epoll/epoll_runtime.h"
#include "runtime/epoll/posix.h"
#include "bpf/loader.h"

#include "sim/sim_runtime.h"  // expect-violation
#include "tests/testing/sim_rig.h"  // expect-violation
#include "client/producer.h"  // expect-violation
#include "bpf/detail/maps.h"  // expect-violation
