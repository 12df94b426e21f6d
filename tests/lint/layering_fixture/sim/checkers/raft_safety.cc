// The checkers are pure: the cores' types, no world, no runtime.
#include "sim/checkers/raft_safety.h"
#include "node/raft/types.h"
#include "node/swim/message.h"
#include "node/base/status.h"
#include <map>

#include "runtime/runtime.h"  // expect-violation
#include "sim/world.h"  // expect-violation
#include "node/swim/driver.h"  // expect-violation
#include "node/partition/partition.h"  // expect-violation
#include <mutex>  // expect-violation
