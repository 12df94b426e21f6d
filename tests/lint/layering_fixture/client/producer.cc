// The client never includes replication internals (the log's batch codec and the partitioner
// are formats it shares with the server, not internals).
#include "client/producer.h"
#include "node/base/status.h"
#include "node/log/codec.h"
#include "node/partition/partitioner.h"
#include "node/http/request_parser.h"
#include "node/wire/client_generated.h"
#include "runtime/net.h"
#include <sys/socket.h>

#include "node/raft/raw_node.h"  // expect-violation
#include "node/multiraft/host.h"  // expect-violation
#include "node/partition/partition.h"  // expect-violation
#include "node/log/log.h"  // expect-violation
#include "node/swim/core.h"  // expect-violation
#include "node/controller/controller.h"  // expect-violation
#include "runtime/epoll/epoll_runtime.h"  // expect-violation
#include "sim/world.h"  // expect-violation
