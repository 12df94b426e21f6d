// The runtime seam: runtime/ (not the epoll runtime) and node/base.
#include "runtime/runtime.h"
#include "runtime/fs.h"
#include "node/base/random.h"
#include <boost/context/fiber.hpp>

#include "node/raft/types.h"  // expect-violation
#include "node/log/errors.h"  // expect-violation
#include "runtime/epoll/posix.h"  // expect-violation
#include "sim/clock.h"  // expect-violation
