// The pure log codec: node/base and the other codec files only.
#pragma once
#include "node/base/bytes.h"
#include "node/log/errors.h"
#include "endian.h"
#include "crc32c.h"

#include "node/log/segment_io.h"  // expect-violation
#include "node/log/log.h"  // expect-violation
#include "runtime/errors.h"  // expect-violation
#include <fcntl.h>  // expect-violation
