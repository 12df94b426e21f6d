// The epoll runtime: runtime/ and node/base.
#include "runtime/epoll/reactor.h"
#include "runtime/scheduler.h"
#include "node/base/assert.h"
#include <sys/epoll.h>
#include <thread>

#include "node/swim/core.h"  // expect-violation
#include "bpf/loader.h"  // expect-violation
