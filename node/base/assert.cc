#include "node/base/assert.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace sluice::detail {

namespace {
thread_local std::string t_assertion_note;
}  // namespace

void set_assertion_note(std::string note) { t_assertion_note = std::move(note); }

void assert_failed(const char* expression, const std::string& operands, const char* file, int line) {
  // What the process printed so far (a sweep's finished seeds) must not die in a buffer.
  std::fflush(nullptr);
  std::fprintf(stderr, "assertion failed: %s%s%s at %s:%d\n", expression, operands.empty() ? "" : " — ",
               operands.c_str(), file, line);
  if (!t_assertion_note.empty()) std::fprintf(stderr, "%s\n", t_assertion_note.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace sluice::detail
