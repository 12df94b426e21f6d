// Status and Result: operating errors as values. Each module declares its own error enum `Errc`
// (with `ok = 0` and a `to_string(Errc)` found by ADL) and aliases
//   using Status = BasicStatus<Errc>;  template <typename T> using Result = BasicResult<T, Errc>;
// Accessing the value of a failed Result is a programmer error and asserts.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "node/base/assert.h"

namespace sluice {

namespace status_detail {
// Outside the class so the member to_string() does not hide the module's to_string(Errc) (ADL).
template <typename Code>
std::string_view code_name(Code code) {
  return to_string(code);
}
}  // namespace status_detail

template <typename Code>
class [[nodiscard]] BasicStatus {
 public:
  BasicStatus() = default;
  BasicStatus(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  explicit BasicStatus(Code code) : code_(code) {}

  static BasicStatus ok_status() { return BasicStatus(); }

  bool ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "code: message", or "code" when there is no message.
  std::string to_string() const {
    std::string text(status_detail::code_name(code_));
    if (!message_.empty()) {
      text += ": ";
      text += message_;
    }
    return text;
  }

  // Adds context in front of the message, keeping the code: "opening seg-0.log: io_error: ...".
  BasicStatus with_context(std::string_view context) const {
    if (ok()) return *this;
    std::string message(context);
    message += ": ";
    message += message_;
    return BasicStatus(code_, std::move(message));
  }

  friend bool operator==(const BasicStatus& a, const BasicStatus& b) { return a.code_ == b.code_; }

 private:
  Code code_ = Code::ok;
  std::string message_;
};

template <typename T, typename Code>
class [[nodiscard]] BasicResult {
 public:
  using Status = BasicStatus<Code>;

  BasicResult(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  BasicResult(Status status) : state_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    SLUICE_ASSERT(!std::get<1>(state_).ok());
  }
  BasicResult(Code code, std::string message) : BasicResult(Status(code, std::move(message))) {}

  bool ok() const { return state_.index() == 0; }
  Status status() const { return ok() ? Status() : std::get<1>(state_); }
  Code code() const { return ok() ? Code::ok : std::get<1>(state_).code(); }

  T& value() & {
    assert_has_value();
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert_has_value();
    return std::get<0>(state_);
  }
  T&& value() && {
    assert_has_value();
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void assert_has_value() const {
    if (!ok()) [[unlikely]] {
      detail::assert_failed("Result holds a value", std::get<1>(state_).to_string(), __FILE__, __LINE__);
    }
  }

  std::variant<T, Status> state_;
};

}  // namespace sluice

// Returns the status of `expression` from the enclosing function when it is not ok.
#define SLUICE_TRY(expression)                     \
  do {                                             \
    auto sluice_status_ = (expression);            \
    if (!sluice_status_.ok()) return sluice_status_; \
  } while (false)

#define SLUICE_CONCAT_INNER_(a, b) a##b
#define SLUICE_CONCAT_(a, b) SLUICE_CONCAT_INNER_(a, b)

// `SLUICE_ASSIGN_OR_RETURN(auto file, fs.open(path));` declares `file` from a Result's value or
// returns its status.
#define SLUICE_ASSIGN_OR_RETURN(declaration, expression)                        \
  auto SLUICE_CONCAT_(sluice_result_, __LINE__) = (expression);                 \
  if (!SLUICE_CONCAT_(sluice_result_, __LINE__).ok())                           \
    return SLUICE_CONCAT_(sluice_result_, __LINE__).status();                   \
  declaration = std::move(SLUICE_CONCAT_(sluice_result_, __LINE__)).value()
