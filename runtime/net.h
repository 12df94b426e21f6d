// Network types of the runtime seam: addresses, datagram sockets, streams and listeners. All calls
// block only the calling fiber; every failure is a Status.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "node/base/bytes.h"
#include "runtime/errors.h"
#include "runtime/time.h"

namespace sluice::runtime {

// A host and port. Hosts are numeric IPv4/IPv6 literals on the real runtime and simulated host
// names ("n1", "n2", ...) in the simulator.
struct Address {
  std::string host;
  uint16_t port = 0;

  std::string to_string() const;
  // Parses "host:port" or "[v6]:port". Errors name what is wrong.
  static Result<Address> parse(std::string_view text);
  friend auto operator<=>(const Address&, const Address&) = default;
};

// Largest datagram payload either runtime accepts (the IPv4 UDP maximum). Protocols keep to far
// less (SWIM: 1400 bytes) so datagrams are never fragmented.
inline constexpr size_t kDatagramBytesMax = 65507;

struct Datagram {
  Address from;
  Bytes payload;
};

class DatagramSocket {
 public:
  virtual ~DatagramSocket() = default;
  virtual Address local_address() const = 0;
  // Best effort, like UDP: ok means handed to the network, not delivered.
  virtual Status send_to(const Address& to, ByteSpan payload) = 0;
  virtual Result<Datagram> receive(Instant deadline = kInstantMax) = 0;
  // Wakes blocked receivers with `closed`. Idempotent; the destructor closes.
  virtual void close() = 0;
};

class Stream {
 public:
  virtual ~Stream() = default;
  virtual Address local_address() const = 0;
  virtual Address peer_address() const = 0;
  // Reads what is available, at least one byte; 0 means the peer closed its side cleanly.
  virtual Result<size_t> read(MutableByteSpan buffer, Instant deadline = kInstantMax) = 0;
  // Writes every byte or fails; on timeout some prefix may have been written.
  virtual Status write(ByteSpan bytes, Instant deadline = kInstantMax) = 0;
  // Closes both directions; blocked readers and writers get `closed`. Idempotent.
  virtual void close() = 0;

  // Reads exactly buffer.size() bytes; `connection_reset` if the stream ends first.
  Status read_exact(MutableByteSpan buffer, Instant deadline = kInstantMax);
};

class Listener {
 public:
  virtual ~Listener() = default;
  virtual Address local_address() const = 0;
  virtual Result<std::unique_ptr<Stream>> accept(Instant deadline = kInstantMax) = 0;
  virtual void close() = 0;
};

}  // namespace sluice::runtime
