/* Compiles node/swim/wire_header.h as C (as the BPF classifier will) and exposes it to the C++
 * tests, so both languages are checked against the same datagrams. */
#include "node/swim/wire_header.h"

int swim_header_check_from_c(const uint8_t *data, size_t size) { return swim_header_check(data, size); }
