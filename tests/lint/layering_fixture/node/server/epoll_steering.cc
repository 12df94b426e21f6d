// node/server/*epoll* may build on the real runtime (the XDP-steered decorator).
#include "node/server/node.h"
#include "runtime/epoll/epoll_runtime.h"
#include "bpf/loader.h"

#include "sim/network.h"  // expect-violation
