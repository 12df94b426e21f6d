#pragma once
#include "runtime/time.h"
#include "node/base/assert.h"

#include "node/swim/core.h"  // expect-violation
