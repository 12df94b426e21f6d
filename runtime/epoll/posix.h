// Small POSIX helpers of the epoll runtime: an owning file descriptor and the errno → Errc mapping
// every system call error goes through, so messages always name the call and what it acted on.
#pragma once

#include <string_view>
#include <utility>

#include "runtime/errors.h"

namespace sluice::runtime::epoll {

// Owns one file descriptor; closes it on destruction. -1 means none.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset();

 private:
  int fd_ = -1;
};

// The runtime error code for an errno value.
Errc errc_from_errno(int error);

// "<call> <subject>: <strerror>" under the mapped code, e.g. "connect 127.0.0.1:9: Connection
// refused" as connection_refused.
Status errno_status(std::string_view call, std::string_view subject, int error);

}  // namespace sluice::runtime::epoll
