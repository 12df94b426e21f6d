// TCP and UDP over non-blocking sockets for the epoll runtime. Each socket is registered with the
// reactor once, edge-triggered for both directions; a call that gets EAGAIN parks its fiber on the
// socket's reader or writer wait list until the next readiness edge, its deadline, a close or a
// cancel, then simply tries again.
//
// Hosts are numeric IPv4 or IPv6 literals (no name resolution: it would block the reactor).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/epoll/reactor.h"
#include "runtime/net.h"

namespace sluice::runtime::epoll {

inline constexpr int kListenBacklogMax = 1024;

// Listens on host:port with SO_REUSEADDR; port 0 picks a free one.
Result<std::unique_ptr<Listener>> listen_tcp(Reactor& reactor, const std::string& host, uint16_t port);

// Connects with TCP_NODELAY. A connection not established within `timeout` is `unreachable` (as
// the seam defines it: no route within the connect timeout); a refusal is connection_refused.
Result<std::unique_ptr<Stream>> connect_tcp(Reactor& reactor, const Address& to, Duration timeout);

Result<std::unique_ptr<DatagramSocket>> bind_udp(Reactor& reactor, const std::string& host, uint16_t port);

// Takes over `fd`, a bound UDP socket made elsewhere: the BPF loader's membership socket, which
// an sk_lookup program steers datagrams to (bpf/loader.h). Made non-blocking, then as bind_udp.
Result<std::unique_ptr<DatagramSocket>> adopt_udp(Reactor& reactor, UniqueFd fd);

}  // namespace sluice::runtime::epoll
