// The rest of node/: anything in node/ but the composition root, and the runtime seam.
#include "node/http/server.h"
#include "node/partition/partition.h"
#include "runtime/net.h"
#include <llhttp.h>

#include "node/server/node.h"  // expect-violation
#include "sim/world.h"  // expect-violation
#include "client/client.h"  // expect-violation
#include "tests/testing/sim_rig.h"  // expect-violation
#include "runtime/epoll/sockets.h"  // expect-violation
// A quoted include is a project include: third-party headers take <...>.
#include "llhttp.h"  // expect-violation
