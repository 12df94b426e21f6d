// The classifier is shared with the simulated network: node/base and the SWIM wire header only.
#pragma once
#include <linux/types.h>

#include "node/swim/wire_header.h"

#include "node/swim/core.h"  // expect-violation
