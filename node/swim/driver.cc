#include "node/swim/driver.h"

#include "node/base/coverage.h"
#include "node/swim/codec.h"

namespace sluice::swim {

using runtime::Instant;
namespace rt = sluice::runtime;

namespace {

constexpr size_t kFrameHeaderBytes = 4;

Instant instant_from_ms(uint64_t ms) { return rt::instant_from_ns(static_cast<int64_t>(ms) * 1'000'000); }

// Push-pull frames (docs/formats/swim.md): a 4-byte little-endian length, the state, and with a
// cluster key a 32-byte MAC of both. read_frame refuses a frame without a valid MAC with
// invalid_argument and sets `unauthenticated`, so the caller counts it apart (the runtime has no
// error code for it).
//
// Both are defined at the end of this file.
rt::Status write_frame(rt::Stream& stream, ByteSpan payload, Instant deadline,
                       const std::optional<ClusterKey>& key);
rt::Result<Bytes> read_frame(rt::Stream& stream, Instant deadline, const std::optional<ClusterKey>& key,
                             bool& unauthenticated);

// Without a key the bytes on the stream are exactly those of the format before the cluster
// secret: a push-pull between members of a cluster without a secret is unchanged, and so is
// every simulated run that sets none. The key is config_.core.cluster_key, the one the core
// MACs its datagrams with (codec.h: seal_datagram, open_datagram).

}  // namespace

Driver::Driver(rt::Runtime& runtime, DriverConfig config)
    : runtime_(runtime),
      config_(std::move(config)),
      push_pull_acceptor_(runtime, "swim-push-pull", config_.push_pulls_served_max),
      core_(config_.core, Prng(runtime.random()), static_cast<uint64_t>(rt::to_ns(runtime.now()) / 1'000'000)) {}

uint64_t Driver::now_ms() { return static_cast<uint64_t>(rt::to_ns(runtime_.now()) / 1'000'000); }

rt::Status Driver::start() {
  SLUICE_ASSIGN_OR_RETURN(socket_, runtime_.bind_datagram(config_.port));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<rt::Listener> listener, runtime_.listen(config_.port));
  core_.join(config_.seeds, now_ms());
  runtime_.spawn("swim-datagrams", [this] { run_datagrams(); });
  push_pull_acceptor_.start(std::move(listener), [this](std::unique_ptr<rt::Stream> stream) { serve_push_pull(*stream); });
  return rt::Status();
}

void Driver::leave() {
  leaving_ = true;
  core_.leave(now_ms());
  flush();
}

std::shared_ptr<rt::Channel<Event>> Driver::subscribe(size_t capacity) {
  SLUICE_ASSERT_LT(subscribers_.size(), config_.subscribers_max);
  subscribers_.push_back(std::make_shared<rt::Channel<Event>>(runtime_.scheduler(), capacity));
  return subscribers_.back();
}

// The only fiber that touches the socket: receive until the core's next deadline, then tick.
void Driver::run_datagrams() {
  while (!(leaving_ && core_.leave_done(now_ms()))) {
    auto received = socket_->receive(instant_from_ms(core_.next_tick_ms()));
    if (received.ok()) {
      (void)core_.on_datagram(received->from.to_string(), received->payload, now_ms());  // counted by the core
    } else if (received.code() != rt::Errc::timeout) {
      return;  // cancelled (node stopping) or closed
    }
    core_.tick(now_ms());
    flush();
  }
  socket_->close();
}

void Driver::flush() {
  Ready ready = core_.take_ready();
  // BUGGIFY: a datagram dropped at the sender (a full socket buffer): probes, acks and gossip
  // must survive losses that are not the network's.
  if (!ready.datagrams.empty() && SLUICE_BUGGIFY(runtime_)) {
    SLUICE_COVER("swim.datagram_dropped_at_send");
    ready.datagrams.erase(ready.datagrams.begin());
  }
  for (OutDatagram& datagram : ready.datagrams) {
    auto to = rt::Address::parse(datagram.to);
    if (!to.ok() || !socket_->send_to(*to, datagram.bytes).ok()) ++stats_.send_errors;
  }
  for (PushPullRequest& request : ready.push_pulls) {
    if (push_pulls_in_flight_ >= config_.push_pulls_in_flight_max) {
      ++stats_.push_pulls_skipped;
      continue;
    }
    ++push_pulls_in_flight_;
    runtime_.spawn("swim-push-pull", [this, to = request.to, join = request.join] {
      push_pull_with(to, join);
      --push_pulls_in_flight_;
    });
  }
  for (const Event& event : ready.events) {
    for (auto& subscriber : subscribers_) {
      Event copy = event;
      if (!subscriber->try_send(std::move(copy)).ok()) ++stats_.events_dropped;
    }
  }
}

void Driver::push_pull_with(std::string to, bool join) {
  auto address = rt::Address::parse(to);
  if (!address.ok()) {
    ++stats_.push_pull_failures;
    return;
  }
  // BUGGIFY: a push-pull that fails before it starts (refused, unreachable): joins and healed
  // partitions must not depend on any one exchange.
  if (SLUICE_BUGGIFY(runtime_)) {
    ++stats_.push_pull_failures;
    return;
  }
  auto stream = runtime_.connect(*address, config_.push_pull_timeout);
  if (!stream.ok() || !exchange(**stream, true, join).ok()) ++stats_.push_pull_failures;
}

void Driver::serve_push_pull(rt::Stream& stream) {
  if (exchange(stream, false, false).ok()) {
    ++stats_.push_pulls_served;
  } else {
    ++stats_.push_pull_failures;
  }
}

// Both sides send their state and merge the other's; the initiator sends first.
rt::Status Driver::exchange(rt::Stream& stream, bool send_first, bool join) {
  const Instant deadline = runtime_.now() + config_.push_pull_timeout;
  auto send_ours = [&]() -> rt::Status {
    auto encoded = encode_push_pull(core_.full_state(join));
    if (!encoded.ok()) return rt::Status(rt::Errc::invalid_argument, encoded.status().to_string());
    return write_frame(stream, *encoded, deadline, config_.core.cluster_key);
  };
  if (send_first) SLUICE_TRY(send_ours());
  // BUGGIFY: the stream breaks halfway (the peer sent its state and gets nothing back): each side
  // must cope with a one-sided exchange.
  if (SLUICE_BUGGIFY(runtime_)) {
    stream.close();
    return rt::Status(rt::Errc::connection_reset, "buggify: push-pull stream cut halfway");
  }
  bool unauthenticated = false;
  rt::Result<Bytes> theirs = read_frame(stream, deadline, config_.core.cluster_key, unauthenticated);
  if (unauthenticated) {
    SLUICE_COVER("swim.push_pull_unauthenticated");
    ++stats_.push_pulls_unauthenticated;
    stream.close();  // nothing of ours goes to a peer that cannot prove it knows the secret
  }
  if (!theirs.ok()) return theirs.status();
  if (!send_first) SLUICE_TRY(send_ours());
  auto state = decode_push_pull(*theirs, config_.core.cluster_id);
  if (!state.ok() || !core_.merge_remote_state(*state, now_ms()).ok()) {
    return rt::Status(rt::Errc::invalid_argument, "push-pull state rejected");
  }
  flush();
  return rt::Status();
}

namespace {

// With a cluster key the frame ends in a MAC of its header and payload (docs/formats/swim.md).
rt::Status write_frame(rt::Stream& stream, ByteSpan payload, Instant deadline, const std::optional<ClusterKey>& key) {
  Bytes frame;
  frame.reserve(kFrameHeaderBytes + payload.size() + ClusterKey::kTagBytes);
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) frame.push_back(static_cast<std::byte>(payload.size() >> (8 * i)));
  append_bytes(frame, payload);
  if (key) key->seal(frame);
  return stream.write(frame, deadline);
}

rt::Result<Bytes> read_frame(rt::Stream& stream, Instant deadline, const std::optional<ClusterKey>& key,
                             bool& unauthenticated) {
  std::byte header[kFrameHeaderBytes];
  SLUICE_TRY(stream.read_exact(header, deadline));
  size_t length = 0;
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) length |= static_cast<size_t>(header[i]) << (8 * i);
  if (length > kPushPullBytesMax) return rt::Status(rt::Errc::limit_exceeded, "push-pull frame too large");
  Bytes payload(length + (key ? ClusterKey::kTagBytes : 0));
  SLUICE_TRY(stream.read_exact(payload, deadline));
  if (!key) return payload;
  Bytes covered;  // the MAC covers the header too
  covered.reserve(kFrameHeaderBytes + length);
  append_bytes(covered, header);
  append_bytes(covered, ByteSpan(payload).first(length));
  if (!key->verify(covered, ByteSpan(payload).subspan(length))) {
    unauthenticated = true;
    return rt::Status(rt::Errc::invalid_argument, "push-pull frame without a valid cluster-secret MAC");
  }
  payload.resize(length);
  return payload;
}

}  // namespace

}  // namespace sluice::swim
