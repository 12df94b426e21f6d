// The SWIM core is pure; its driver, in the same folder, is not.
#include "node/swim/core.h"
#include "node/swim/wire_header.h"
#include "node/wire/swim_generated.h"
#include "node/base/random.h"

#include "node/swim/driver.h"  // expect-violation
#include "runtime/net.h"  // expect-violation
#include "node/wire/raft_generated.h"  // expect-violation
#include <time.h>  // expect-violation
