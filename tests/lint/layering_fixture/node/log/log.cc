// The log: node/base, node/log and the runtime seam; nothing above it.
#include "node/log/log.h"
#include "node/log/segment_io.h"
// Found next to this file: node/log/codec.h.
#include "codec.h"
#include "runtime/fs.h"

#include "node/raft/storage.h"  // expect-violation
#include "node/partition/raft_storage.h"  // expect-violation
#include "runtime/epoll/filesystem.h"  // expect-violation
