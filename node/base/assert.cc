#include "node/base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace sluice::detail {

void assert_failed(const char* expression, const std::string& operands, const char* file, int line) {
  std::fprintf(stderr, "assertion failed: %s%s%s at %s:%d\n", expression, operands.empty() ? "" : " — ",
               operands.c_str(), file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace sluice::detail
