#pragma once
#include "node/base/bytes.h"
