// A pure core: node/base, its own folder and its wire header; no runtime, OS, thread or boost.
#include "node/raft/raft.h"

#include <flatbuffers/flatbuffers.h>
#include <vector>

// Found next to this file, so it is node/raft/types.h:
#include "types.h"
#include "node/base/status.h"
#include "node/wire/raft_generated.h"
#include HEADER_FROM_A_MACRO

#include "runtime/runtime.h"  // expect-violation
#include "node/wire/swim_generated.h"  // expect-violation
#include "node/log/codec.h"  // expect-violation
#include "../../runtime/fs.h"  // expect-violation
#  include "sim/world.h"  // expect-violation
#include"tests/testing/sim_rig.h"  // expect-violation
#include <boost/context/fiber.hpp>  // expect-violation
#include <unistd.h>  // expect-violation
#include <thread>  // expect-violation
// expect-violation below
#include <netinet/in.h>
