#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// Found next to this file: bpf/classify_maps.h.
#include "classify_maps.h"
