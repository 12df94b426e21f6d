// Frames over a runtime stream, shared by the RPC server and client: a buffered reader and a
// writer that holds the connection's mutex for one whole frame.
#pragma once

#include <cstddef>
#include <optional>

#include "node/base/bytes.h"
#include "node/rpc/frame.h"
#include "runtime/net.h"
#include "runtime/sync.h"

namespace sluice::rpc {

// Reads frames off a stream. What arrived is kept in the reader's buffer, so a read that times
// out (the idle check) loses nothing and the next read goes on where it stopped.
class FrameReader {
 public:
  // With `cluster_key`, every frame must be followed by its MAC trailer (frame.h).
  FrameReader(runtime::Stream& stream, size_t frame_bytes_max, const std::optional<ClusterKey>& cluster_key)
      : stream_(stream), frame_bytes_max_(frame_bytes_max), cluster_key_(cluster_key) {}

  // The next whole frame; a stream error (timeout, closed, connection_reset, cancelled), or
  // invalid_argument for a frame that does not decode or (then unauthenticated() is true) whose
  // MAC does not verify (the message says why).
  runtime::Result<Frame> next(runtime::Instant deadline);
  bool unauthenticated() const { return unauthenticated_; }

 private:
  runtime::Status fill(size_t bytes_wanted, runtime::Instant deadline);
  ByteSpan buffered() const { return ByteSpan(buffer_).subspan(begin_, end_ - begin_); }

  runtime::Stream& stream_;
  size_t frame_bytes_max_;
  const std::optional<ClusterKey>& cluster_key_;
  bool unauthenticated_ = false;
  Bytes buffer_;  // bytes [begin_, end_) arrived and are not consumed yet
  size_t begin_ = 0;
  size_t end_ = 0;
};

// When a connection quiet since `last_active_at` has been idle for `idle_timeout`. While busy
// (calls in flight or pending) it is never idle: its reader looks again one idle_timeout later.
// A reader whose read timed out goes on reading while this is still ahead of `now`.
inline runtime::Instant idle_deadline(bool busy, runtime::Instant last_active_at, runtime::Duration idle_timeout,
                                      runtime::Instant now) {
  return busy ? now + idle_timeout : last_active_at + idle_timeout;
}

// Writes one whole frame under `mutex`, so frames of concurrent writers never interleave. A
// failed write may have left part of the frame on the stream: the stream is then closed (the
// framing cannot be trusted) and the error returned. Waiting for the mutex until `deadline`
// closes nothing.
runtime::Status write_frame(runtime::Mutex& mutex, runtime::Stream& stream, ByteSpan frame, runtime::Instant deadline);

}  // namespace sluice::rpc
