// A move-only type-erased callable, for bodies that own move-only things (a stream, a
// listener, a reply sender). std::function demands copyable targets and std::move_only_function
// is C++23.
#pragma once

#include <concepts>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "node/base/assert.h"

namespace sluice {

template <typename Signature>
class UniqueFunction;

template <typename R, typename... Args>
class UniqueFunction<R(Args...)> {
 public:
  UniqueFunction() = default;
  template <typename F>
    requires(!std::same_as<std::decay_t<F>, UniqueFunction> && std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
  UniqueFunction(F&& f)  // NOLINT(google-explicit-constructor): stands in for a lambda like std::function
      : target_(std::make_unique<Target<std::decay_t<F>>>(std::forward<F>(f))) {}

  UniqueFunction(UniqueFunction&&) noexcept = default;
  UniqueFunction& operator=(UniqueFunction&&) noexcept = default;

  explicit operator bool() const { return target_ != nullptr; }
  R operator()(Args... args) {
    SLUICE_ASSERT(target_ != nullptr);
    return target_->call(std::forward<Args>(args)...);
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual R call(Args... args) = 0;
  };
  template <typename F>
  struct Target final : Base {
    explicit Target(F&& f) : callable(std::move(f)) {}
    explicit Target(const F& f) : callable(f) {}
    R call(Args... args) override { return std::invoke(callable, std::forward<Args>(args)...); }
    F callable;
  };

  std::unique_ptr<Base> target_;
};

}  // namespace sluice
