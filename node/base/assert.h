// Always-on assertions for programmer errors. Operating errors (bad input, I/O failures, lost
// peers) are Status values, never assertions. Each failing assertion prints the expression, both
// operands where there are two, and the source location, then aborts.
#pragma once

#include <sstream>
#include <string>

namespace sluice::detail {

[[noreturn]] void assert_failed(const char* expression, const std::string& operands, const char* file,
                                int line);

// A line printed under any assertion that fails on this thread from now on (the simulator names
// the seed and the command that replays it: a crash of the run is a failing run too). Empty: none.
void set_assertion_note(std::string note);

template <typename A, typename B>
std::string describe_operands(const A& a, const B& b) {
  std::ostringstream out;
  out << "left=" << a << " right=" << b;
  return out.str();
}

}  // namespace sluice::detail

#define SLUICE_ASSERT(condition)                                                  \
  do {                                                                            \
    if (!(condition)) [[unlikely]] {                                              \
      ::sluice::detail::assert_failed(#condition, std::string(), __FILE__, __LINE__); \
    }                                                                             \
  } while (false)

#define SLUICE_ASSERT_OP_(a, op, b)                                                        \
  do {                                                                                     \
    const auto& sluice_left_ = (a);                                                        \
    const auto& sluice_right_ = (b);                                                       \
    if (!(sluice_left_ op sluice_right_)) [[unlikely]] {                                   \
      ::sluice::detail::assert_failed(#a " " #op " " #b,                                   \
                                      ::sluice::detail::describe_operands(sluice_left_, sluice_right_), \
                                      __FILE__, __LINE__);                                 \
    }                                                                                      \
  } while (false)

#define SLUICE_ASSERT_EQ(a, b) SLUICE_ASSERT_OP_(a, ==, b)
#define SLUICE_ASSERT_NE(a, b) SLUICE_ASSERT_OP_(a, !=, b)
#define SLUICE_ASSERT_LT(a, b) SLUICE_ASSERT_OP_(a, <, b)
#define SLUICE_ASSERT_LE(a, b) SLUICE_ASSERT_OP_(a, <=, b)
#define SLUICE_ASSERT_GT(a, b) SLUICE_ASSERT_OP_(a, >, b)
#define SLUICE_ASSERT_GE(a, b) SLUICE_ASSERT_OP_(a, >=, b)

// Marks code that must never run (exhaustive switches and the like).
#define SLUICE_UNREACHABLE() ::sluice::detail::assert_failed("unreachable", std::string(), __FILE__, __LINE__)
