// The composition root owns what a node runs, on the runtime seam.
#include "node/server/node.h"
#include "node/partition/partition.h"
#include "node/swim/driver.h"
#include "node/multiraft/host.h"
#include "runtime/runtime.h"
#include "bpf/loader.h"

#include "runtime/epoll/epoll_runtime.h"  // expect-violation
#include "sim/world.h"  // expect-violation
