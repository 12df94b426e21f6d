#pragma once
#include <cstdint>

#include "node/base/bytes.h"
