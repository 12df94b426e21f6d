// Generic multi-Raft plumbing: Raft, its wire, the runtime seam; not the partition or the log.
#include "node/multiraft/host.h"
#include "node/multiraft/group_storage.h"
#include "node/raft/raw_node.h"
#include "node/wire/raft_generated.h"
#include "runtime/runtime.h"

#include "node/partition/raft_storage.h"  // expect-violation
#include "node/log/log.h"  // expect-violation
#include "runtime/epoll/reactor.h"  // expect-violation
#include "node/server/node.h"  // expect-violation
