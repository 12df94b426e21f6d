#pragma once
#include "classify.h"
