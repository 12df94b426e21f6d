#include "runtime/epoll/posix.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace sluice::runtime::epoll {

void UniqueFd::reset() {
  if (fd_ < 0) return;
  // close() may report EINTR or EIO, but the descriptor is released either way on Linux, and
  // retrying could close a descriptor another thread just received. Durability is sync()'s job.
  (void)::close(fd_);
  fd_ = -1;
}

Errc errc_from_errno(int error) {
  switch (error) {
    case ECONNREFUSED: return Errc::connection_refused;
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
    case ENOTCONN:
    case ETIMEDOUT: return Errc::connection_reset;  // on an open stream: the path broke
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EHOSTDOWN: return Errc::unreachable;
    case EADDRINUSE: return Errc::address_in_use;
    case ENOENT:
    case ENOTDIR: return Errc::not_found;
    case EEXIST: return Errc::already_exists;
    case ENOSPC:
    case EDQUOT: return Errc::no_space;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM: return Errc::limit_exceeded;
    case EINVAL:
    case EISDIR:
    case ENOTEMPTY:
    case ENAMETOOLONG:
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
    case EBADF: return Errc::invalid_argument;
    case EMSGSIZE: return Errc::message_too_large;
    default: return Errc::io_error;
  }
}

Status errno_status(std::string_view call, std::string_view subject, int error) {
  std::string message(call);
  if (!subject.empty()) {
    message += ' ';
    message += subject;
  }
  message += ": ";
  // strerrordesc_np returns a static string: safe on the file worker threads too.
  const char* description = strerrordesc_np(error);
  if (description != nullptr) {
    message += description;
  } else {
    message += "errno " + std::to_string(error);
  }
  return Status(errc_from_errno(error), std::move(message));
}

}  // namespace sluice::runtime::epoll
