#include "node/rpc/frame_stream.h"

#include <algorithm>

namespace sluice::rpc {
namespace {

namespace rt = sluice::runtime;

// Each read asks for at least this much, so small frames arriving together cost one read.
constexpr size_t kReadChunkBytes = 64 * 1024;

rt::Status malformed(const FrameStatus& why) { return rt::Status(rt::Errc::invalid_argument, why.to_string()); }

}  // namespace

rt::Result<Frame> FrameReader::next(rt::Instant deadline) {
  SLUICE_TRY(fill(kFrameHeaderBytes, deadline));
  FrameResult<FrameHeader> header = decode_header(buffered(), frame_bytes_max_);
  if (!header.ok()) return malformed(header.status());
  const size_t frame_bytes = kFrameHeaderBytes + size_t{header->body_bytes};
  const size_t sealed_bytes = frame_bytes + (cluster_key_ ? ClusterKey::kTagBytes : 0);
  SLUICE_TRY(fill(sealed_bytes, deadline));
  if (cluster_key_) {
    if (FrameStatus authentic = verify_mac(buffered().first(sealed_bytes), *cluster_key_); !authentic.ok()) {
      unauthenticated_ = true;
      return malformed(authentic);
    }
  }
  const ByteSpan body = buffered().subspan(kFrameHeaderBytes, header->body_bytes);
  if (FrameStatus verified = verify_body(*header, body); !verified.ok()) return malformed(verified);
  FrameResult<Frame> frame = decode_body(body);
  if (!frame.ok()) return malformed(frame.status());
  begin_ += sealed_bytes;
  // A large frame grew the buffer; do not keep megabytes per idle connection.
  if (begin_ == end_ && buffer_.size() > kReadChunkBytes) buffer_ = Bytes();
  return std::move(frame).value();
}

rt::Status FrameReader::fill(size_t bytes_wanted, rt::Instant deadline) {
  while (end_ - begin_ < bytes_wanted) {
    if (begin_ > 0) {  // move the unconsumed bytes to the front, making room behind them
      std::copy(buffer_.begin() + static_cast<std::ptrdiff_t>(begin_), buffer_.begin() + static_cast<std::ptrdiff_t>(end_),
                buffer_.begin());
      end_ -= begin_;
      begin_ = 0;
    }
    buffer_.resize(std::max({buffer_.size(), bytes_wanted, kReadChunkBytes}));
    rt::Result<size_t> got = stream_.read(MutableByteSpan(buffer_).subspan(end_), deadline);
    if (!got.ok()) return got.status();
    if (*got == 0) {
      return rt::Status(rt::Errc::connection_reset, end_ == 0 ? "peer closed the connection" : "stream ended inside a frame");
    }
    end_ += *got;
  }
  return rt::Status();
}

rt::Status write_frame(rt::Mutex& mutex, rt::Stream& stream, ByteSpan frame, rt::Instant deadline) {
  SLUICE_TRY(mutex.lock(deadline));
  rt::MutexGuard guard(mutex);
  rt::Status written = stream.write(frame, deadline);
  if (!written.ok()) stream.close();
  return written;
}

}  // namespace sluice::rpc
