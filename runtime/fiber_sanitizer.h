// AddressSanitizer needs to be told when execution moves to another stack, or it reports false
// stack errors after a fiber switch. These wrappers compile to nothing without ASan.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLUICE_ASAN 1
#endif
#endif

#ifdef SLUICE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace sluice::runtime {

// Before switching to the stack [bottom, bottom + size); `fake_stack_save` null when the current
// stack is about to end for good.
inline void sanitizer_start_switch(void** fake_stack_save, const void* bottom, size_t size) {
#ifdef SLUICE_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

// First thing on the new stack; reports where we came from.
inline void sanitizer_finish_switch(void* fake_stack_save, const void** bottom_old, size_t* size_old) {
#ifdef SLUICE_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#else
  (void)fake_stack_save, (void)bottom_old, (void)size_old;
#endif
}

}  // namespace sluice::runtime
