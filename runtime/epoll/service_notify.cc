#include "runtime/epoll/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "runtime/epoll/posix.h"

namespace sluice::runtime::epoll {

Status notify_service_manager(std::string_view state) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  return notify_socket(name == nullptr ? std::string_view() : std::string_view(name), state);
}

Status notify_socket(std::string_view socket_name, std::string_view state) {
  if (socket_name.empty()) return Status();
  if (state.size() > kNotifyStateBytesMax) {
    return Status(Errc::message_too_large, "notify: state of " + std::to_string(state.size()) + " bytes");
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // An abstract socket's name starts with a NUL byte where NOTIFY_SOCKET says '@'; a path needs
  // its terminating NUL inside sun_path.
  const bool abstract = socket_name.front() == '@';
  if (socket_name.size() + (abstract ? 0 : 1) > sizeof address.sun_path) {
    return Status(Errc::invalid_argument, "notify: NOTIFY_SOCKET is longer than a unix socket path");
  }
  std::memcpy(address.sun_path, socket_name.data(), socket_name.size());
  if (abstract) address.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_name.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_status("socket", "AF_UNIX", errno);
  const ssize_t sent = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), length);
  if (sent < 0) return errno_status("sendto", socket_name, errno);
  return Status();
}

}  // namespace sluice::runtime::epoll
