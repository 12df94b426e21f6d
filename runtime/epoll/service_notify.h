// Readiness for a service manager (systemd's sd_notify protocol, without libsystemd): one
// datagram such as "READY=1" or "STOPPING=1" on the AF_UNIX socket named by $NOTIFY_SOCKET. Real
// runtime only: the simulator never calls it (a node there has no service manager).
#pragma once

#include <string>
#include <string_view>

#include "runtime/errors.h"

namespace sluice::runtime::epoll {

// The longest state message sent: a few KEY=value lines.
inline constexpr size_t kNotifyStateBytesMax = 4096;

// Sends `state` to the socket $NOTIFY_SOCKET names: a path, or an abstract socket when it starts
// with '@'. Ok, sending nothing, when NOTIFY_SOCKET is unset or empty. An error names the socket.
Status notify_service_manager(std::string_view state);

// The same, to the socket named `socket_name` (empty: nothing sent). For tests.
Status notify_socket(std::string_view socket_name, std::string_view state);

}  // namespace sluice::runtime::epoll
