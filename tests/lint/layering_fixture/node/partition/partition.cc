// The partition: the log, Raft, multi-Raft, the runtime seam.
#include "node/partition/partition.h"
#include "node/multiraft/host.h"
#include "node/log/log.h"
#include "node/raft/raw_node.h"
#include "node/wire/raft_generated.h"
#include "runtime/runtime.h"

#include "node/server/node.h"  // expect-violation
#include "node/swim/core.h"  // expect-violation
#include "sim/workloads/raft.h"  // expect-violation
#include "client/producer.h"  // expect-violation
