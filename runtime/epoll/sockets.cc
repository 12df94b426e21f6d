#include "runtime/epoll/sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "node/base/assert.h"

namespace sluice::runtime::epoll {

namespace {

using Direction = IoHandle::Direction;

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Result<SocketAddress> to_socket_address(const Address& address) {
  SocketAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  if (::inet_pton(AF_INET, address.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(address.port);
    out.length = sizeof(sockaddr_in);
    return out;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (::inet_pton(AF_INET6, address.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(address.port);
    out.length = sizeof(sockaddr_in6);
    return out;
  }
  return Status(Errc::invalid_argument, "not a numeric IPv4 or IPv6 address: " + address.host);
}

Address to_address(const sockaddr_storage& storage) {
  char text[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(storage);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    return Address{text, ntohs(v6.sin6_port)};
  }
  SLUICE_ASSERT_EQ(storage.ss_family, AF_INET);
  const auto& v4 = reinterpret_cast<const sockaddr_in&>(storage);
  ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
  return Address{text, ntohs(v4.sin_port)};
}

Result<Address> local_address_of(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return errno_status("getsockname", "", errno);
  return to_address(storage);
}

Result<UniqueFd> new_socket(int family, int type, std::string_view purpose) {
  UniqueFd fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_status("socket", purpose, errno);
  return fd;
}

Status set_option(int fd, int level, int option, std::string_view name) {
  const int on = 1;
  if (::setsockopt(fd, level, option, &on, sizeof on) != 0) return errno_status("setsockopt", name, errno);
  return Status();
}

Instant deadline_after(Instant now, Duration timeout) {
  if (timeout <= Duration::zero()) return now;
  return timeout >= kInstantMax - now ? kInstantMax : now + timeout;
}

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

class EpollStream final : public Stream {
 public:
  EpollStream(Reactor& reactor, UniqueFd fd, Address peer) : handle_(reactor, std::move(fd)), peer_(std::move(peer)) {}

  // Once connected: small messages go out at once, and the local address is known.
  Status configure() {
    SLUICE_TRY(set_option(handle_.fd(), IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY"));
    SLUICE_ASSIGN_OR_RETURN(local_, local_address_of(handle_.fd()));
    return Status();
  }
  IoHandle& handle() { return handle_; }

  Address local_address() const override { return local_; }
  Address peer_address() const override { return peer_; }

  Result<size_t> read(MutableByteSpan buffer, Instant deadline) override {
    SLUICE_ASSERT_GT(buffer.size(), 0u);  // a 0-byte read would be indistinguishable from EOF
    while (true) {
      if (handle_.closed()) return Status(Errc::closed, "stream closed");
      if (!handle_.maybe_readable()) {
        SLUICE_TRY(handle_.wait(Direction::read, deadline));
        continue;
      }
      const ssize_t n = ::recv(handle_.fd(), buffer.data(), buffer.size(), 0);
      if (n >= 0) {
        // A TCP read returns what is queued up to the buffer's size: short means drained.
        if (n > 0 && static_cast<size_t>(n) < buffer.size()) handle_.note_drained();
        return static_cast<size_t>(n);
      }
      if (errno == EINTR) continue;
      if (!would_block(errno)) return errno_status("recv from", peer_.to_string(), errno);
      handle_.note_drained();
    }
  }

  Status write(ByteSpan bytes, Instant deadline) override {
    size_t written = 0;
    while (written < bytes.size()) {
      if (handle_.closed()) return Status(Errc::closed, "stream closed");
      // MSG_NOSIGNAL: a peer that went away is an EPIPE value, not a process-killing SIGPIPE.
      const ssize_t n = ::send(handle_.fd(), bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL);
      if (n >= 0) {
        written += static_cast<size_t>(n);
        continue;
      }
      if (errno == EINTR) continue;
      if (!would_block(errno)) return errno_status("send to", peer_.to_string(), errno);
      SLUICE_TRY(handle_.wait(Direction::write, deadline));
    }
    return Status();
  }

  void close() override { handle_.close(); }

 private:
  IoHandle handle_;
  Address local_;
  Address peer_;
};

class EpollListener final : public Listener {
 public:
  EpollListener(Reactor& reactor, UniqueFd fd) : reactor_(reactor), handle_(reactor, std::move(fd)) {}

  Status start() {
    SLUICE_ASSIGN_OR_RETURN(local_, local_address_of(handle_.fd()));
    return handle_.register_fd();
  }

  Address local_address() const override { return local_; }

  Result<std::unique_ptr<Stream>> accept(Instant deadline) override {
    while (true) {
      if (handle_.closed()) return Status(Errc::closed, "listener closed");
      sockaddr_storage peer{};
      socklen_t length = sizeof peer;
      UniqueFd fd(::accept4(handle_.fd(), reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (fd.valid()) {
        auto stream = std::make_unique<EpollStream>(reactor_, std::move(fd), to_address(peer));
        SLUICE_TRY(stream->configure());
        SLUICE_TRY(stream->handle().register_fd());
        return std::unique_ptr<Stream>(std::move(stream));
      }
      if (retry_accept(errno)) continue;
      if (!would_block(errno)) return errno_status("accept on", local_.to_string(), errno);
      SLUICE_TRY(handle_.wait(Direction::read, deadline));
    }
  }

  void close() override { handle_.close(); }

 private:
  // The pending connection died before we took it, or a signal interrupted: try the next one.
  static bool retry_accept(int error) {
    return error == EINTR || error == ECONNABORTED || error == EPROTO || error == ENETDOWN || error == ENOPROTOOPT ||
           error == EHOSTDOWN || error == ENONET || error == EHOSTUNREACH || error == ENETUNREACH;
  }

  Reactor& reactor_;
  IoHandle handle_;
  Address local_;
};

class EpollDatagramSocket final : public DatagramSocket {
 public:
  EpollDatagramSocket(Reactor& reactor, UniqueFd fd) : handle_(reactor, std::move(fd)), scratch_(kDatagramBytesMax) {}

  Status start() {
    SLUICE_ASSIGN_OR_RETURN(local_, local_address_of(handle_.fd()));
    return handle_.register_fd();
  }

  Address local_address() const override { return local_; }

  Status send_to(const Address& to, ByteSpan payload) override {
    if (payload.size() > kDatagramBytesMax) {
      return Status(Errc::message_too_large, "datagram of " + std::to_string(payload.size()) + " bytes to " + to.to_string());
    }
    SLUICE_ASSIGN_OR_RETURN(SocketAddress remote, to_socket_address(to));
    while (true) {
      if (handle_.closed()) return Status(Errc::closed, "datagram socket closed");
      if (::sendto(handle_.fd(), payload.data(), payload.size(), 0, remote.get(), remote.length) >= 0) return Status();
      if (errno == EINTR) continue;
      if (!would_block(errno)) return errno_status("sendto", to.to_string(), errno);
      // The send buffer is full: wait for room rather than drop, so ok means "handed over".
      SLUICE_TRY(handle_.wait(Direction::write, kInstantMax));
    }
  }

  Result<Datagram> receive(Instant deadline) override {
    while (true) {
      if (handle_.closed()) return Status(Errc::closed, "datagram socket closed");
      sockaddr_storage from{};
      socklen_t length = sizeof from;
      // MSG_TRUNC returns the datagram's real length, so an oversized one is noticed and dropped.
      const ssize_t n = ::recvfrom(handle_.fd(), scratch_.data(), scratch_.size(), MSG_TRUNC,
                                   reinterpret_cast<sockaddr*>(&from), &length);
      if (n >= 0) {
        if (static_cast<size_t>(n) > scratch_.size()) continue;
        const auto size = static_cast<size_t>(n);
        return Datagram{to_address(from), Bytes(scratch_.begin(), scratch_.begin() + static_cast<ptrdiff_t>(size))};
      }
      if (errno == EINTR) continue;
      if (!would_block(errno)) return errno_status("recvfrom on", local_.to_string(), errno);
      SLUICE_TRY(handle_.wait(Direction::read, deadline));
    }
  }

  void close() override { handle_.close(); }

 private:
  IoHandle handle_;
  Address local_;
  Bytes scratch_;  // shared by receivers: filled and copied out without yielding in between
};

// Waits for a non-blocking connect to finish.
Status wait_connected(IoHandle& handle, const Address& to, Instant deadline) {
  while (true) {
    Status waited = handle.wait(Direction::write, deadline);
    if (waited.code() == Errc::timeout) {
      return Status(Errc::unreachable, "connect " + to.to_string() + ": not connected within the timeout");
    }
    SLUICE_TRY(waited);
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(handle.fd(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      return errno_status("getsockopt SO_ERROR", to.to_string(), errno);
    }
    if (error != 0) return errno_status("connect", to.to_string(), error);
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    if (::getpeername(handle.fd(), reinterpret_cast<sockaddr*>(&peer), &peer_length) == 0) return Status();
    if (errno != ENOTCONN) return errno_status("getpeername", to.to_string(), errno);
  }
}

}  // namespace

Result<std::unique_ptr<Listener>> listen_tcp(Reactor& reactor, const std::string& host, uint16_t port) {
  const Address address{host, port};
  SLUICE_ASSIGN_OR_RETURN(SocketAddress local, to_socket_address(address));
  SLUICE_ASSIGN_OR_RETURN(UniqueFd fd, new_socket(local.family(), SOCK_STREAM, "listen " + address.to_string()));
  // SO_REUSEADDR: a restarted node can listen again while old connections sit in TIME_WAIT.
  SLUICE_TRY(set_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"));
  if (::bind(fd.get(), local.get(), local.length) != 0) return errno_status("bind", address.to_string(), errno);
  if (::listen(fd.get(), kListenBacklogMax) != 0) return errno_status("listen", address.to_string(), errno);
  auto listener = std::make_unique<EpollListener>(reactor, std::move(fd));
  SLUICE_TRY(listener->start());
  return std::unique_ptr<Listener>(std::move(listener));
}

Result<std::unique_ptr<Stream>> connect_tcp(Reactor& reactor, const Address& to, Duration timeout) {
  const Instant deadline = deadline_after(reactor.now(), timeout);
  SLUICE_ASSIGN_OR_RETURN(SocketAddress remote, to_socket_address(to));
  SLUICE_ASSIGN_OR_RETURN(UniqueFd fd, new_socket(remote.family(), SOCK_STREAM, "connect " + to.to_string()));
  const bool in_progress = ::connect(fd.get(), remote.get(), remote.length) != 0;
  // EINTR leaves the connect running asynchronously, exactly like EINPROGRESS.
  if (in_progress && errno != EINPROGRESS && errno != EINTR) return errno_status("connect", to.to_string(), errno);
  auto stream = std::make_unique<EpollStream>(reactor, std::move(fd), to);
  // Registered after connect(): epoll reports the state at registration and every later change.
  SLUICE_TRY(stream->handle().register_fd());
  if (in_progress) SLUICE_TRY(wait_connected(stream->handle(), to, deadline));
  SLUICE_TRY(stream->configure());
  return std::unique_ptr<Stream>(std::move(stream));
}

Result<std::unique_ptr<DatagramSocket>> bind_udp(Reactor& reactor, const std::string& host, uint16_t port) {
  const Address address{host, port};
  SLUICE_ASSIGN_OR_RETURN(SocketAddress local, to_socket_address(address));
  SLUICE_ASSIGN_OR_RETURN(UniqueFd fd, new_socket(local.family(), SOCK_DGRAM, "bind_datagram " + address.to_string()));
  if (::bind(fd.get(), local.get(), local.length) != 0) return errno_status("bind", address.to_string(), errno);
  return adopt_udp(reactor, std::move(fd));
}

Result<std::unique_ptr<DatagramSocket>> adopt_udp(Reactor& reactor, UniqueFd fd) {
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) return errno_status("fcntl O_NONBLOCK", "", errno);
  auto socket = std::make_unique<EpollDatagramSocket>(reactor, std::move(fd));
  SLUICE_TRY(socket->start());
  return std::unique_ptr<DatagramSocket>(std::move(socket));
}

}  // namespace sluice::runtime::epoll
