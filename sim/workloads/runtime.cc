#include "sim/workloads/runtime.h"

#include <flatbuffers/flatbuffers.h>

#include <deque>
#include <optional>

#include "node/base/hash.h"
#include "node/wire/workload_generated.h"
#include "sim/scenario.h"
#include "sim/sim_runtime.h"
#include "sim/toml_reader.h"

namespace sluice::sim {
namespace {

// runtime's Errc and Status get their own names here: sim::Errc and sim::Status are in scope.
using runtime::Address;
using runtime::Duration;
using RtErrc = runtime::Errc;
using runtime::Instant;
using RtStatus = runtime::Status;

constexpr size_t kFrameBytesMax = 128 * 1024;
constexpr size_t kFramesInFlightMax = 256;
constexpr size_t kServeFibersMax = 64;
constexpr uint64_t kDatagramBurstMax = 3;
constexpr Duration kConnectTimeout = std::chrono::seconds(1);
constexpr Duration kWriteTimeout = std::chrono::seconds(5);
constexpr Duration kRetryDelayMin = std::chrono::milliseconds(100);
constexpr Duration kRetryDelayMax = std::chrono::milliseconds(800);
constexpr size_t kRecordHeaderBytes = 4 + 8 + 8;  // payload length, sequence, checksum
constexpr const char* kRecordDir = "data";
constexpr const char* kRecordPath = "data/records.log";

struct Message {
  uint32_t sender = 0;
  uint64_t incarnation = 0;
  wire::WorkloadChannel channel = wire::WorkloadChannel::Datagram;
  uint64_t connection = 0;
  uint64_t sequence = 0;
  uint64_t payload_hash = 0;
  bool payload_intact = false;
};

Bytes encode_message(const Message& message, ByteSpan payload) {
  flatbuffers::FlatBufferBuilder builder(256 + payload.size());
  auto payload_offset =
      builder.CreateVector(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  auto root = wire::CreateWorkloadMessage(builder, message.sender, message.incarnation, message.channel,
                                          message.connection, message.sequence, payload_offset, hash_bytes(payload));
  builder.Finish(root, wire::WorkloadMessageIdentifier());
  auto* data = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return Bytes(data, data + builder.GetSize());
}

// Verifies structure and identifier; nullopt for anything malformed.
std::optional<Message> decode_message(ByteSpan bytes) {
  auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  flatbuffers::Verifier verifier(data, bytes.size());
  if (!wire::VerifyWorkloadMessageBuffer(verifier)) return std::nullopt;
  const wire::WorkloadMessage* root = wire::GetWorkloadMessage(data);
  Message message{root->sender(), root->incarnation(), root->channel(), root->connection(), root->sequence(),
                  root->payload_hash(), false};
  const flatbuffers::Vector<uint8_t>* payload = root->payload();
  const ByteSpan payload_bytes = payload == nullptr
                                     ? ByteSpan()
                                     : ByteSpan(reinterpret_cast<const std::byte*>(payload->data()), payload->size());
  message.payload_intact = hash_bytes(payload_bytes) == message.payload_hash;
  return message;
}

void put_u32(Bytes& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>(value >> (8 * i)));
}
void put_u64(Bytes& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>(value >> (8 * i)));
}
uint64_t get_le(ByteSpan bytes, size_t offset, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(bytes[offset + static_cast<size_t>(i)]);
  return value;
}

RtStatus write_frame(runtime::Stream& stream, ByteSpan message, Instant deadline) {
  Bytes frame;
  frame.reserve(4 + message.size());
  put_u32(frame, static_cast<uint32_t>(message.size()));
  append_bytes(frame, message);
  return stream.write(frame, deadline);
}

runtime::Result<Bytes> read_frame(runtime::Stream& stream) {
  std::byte header[4];
  SLUICE_TRY(stream.read_exact(header));
  const size_t length = get_le(header, 0, 4);
  if (length > kFrameBytesMax) return RtStatus(RtErrc::invalid_argument, "frame too large");
  Bytes message(length);
  SLUICE_TRY(stream.read_exact(message));
  return message;
}

uint64_t record_checksum(uint64_t sequence, ByteSpan payload) { return hash_bytes(payload, mix64(sequence + 1)); }

// Record format (docs/formats/workload.md): u32 payload length, u64 sequence, u64 checksum, payload.
Bytes encode_record(uint64_t sequence, ByteSpan payload) {
  Bytes record;
  put_u32(record, static_cast<uint32_t>(payload.size()));
  put_u64(record, sequence);
  put_u64(record, record_checksum(sequence, payload));
  append_bytes(record, payload);
  return record;
}

struct RecoveredLog {
  uint64_t records = 0;
  uint64_t valid_bytes = 0;
  bool damaged = false;  // stopped on a bad record before the end of the file
};

RecoveredLog scan_records(ByteSpan content, uint32_t payload_bytes_max) {
  RecoveredLog log;
  size_t offset = 0;
  while (offset + kRecordHeaderBytes <= content.size()) {
    const uint64_t length = get_le(content, offset, 4);
    const uint64_t sequence = get_le(content, offset + 4, 8);
    const uint64_t checksum = get_le(content, offset + 12, 8);
    if (length > payload_bytes_max || offset + kRecordHeaderBytes + length > content.size()) break;
    ByteSpan payload = content.subspan(offset + kRecordHeaderBytes, length);
    if (sequence != log.records || checksum != record_checksum(sequence, payload)) break;
    offset += kRecordHeaderBytes + length;
    ++log.records;
  }
  log.valid_bytes = offset;
  log.damaged = offset < content.size();
  return log;
}

class WorkloadApp final : public NodeAgent {
 public:
  WorkloadApp(SimRuntime& runtime, Oracle& oracle, const RuntimeWorkloadConfig& config, size_t node_count)
      : runtime_(runtime), oracle_(oracle), config_(config), node_count_(node_count),
        self_(static_cast<uint32_t>(runtime.node())), next_datagram_sequence_(node_count, 0) {
    runtime_.spawn("datagrams", [this] { run_datagrams(); });
    runtime_.spawn("stream-client", [this] { run_stream_client(); });
    runtime_.spawn("stream-server", [this] { run_stream_server(); });
    runtime_.spawn("file-writer", [this] { run_file_writer(); });
  }

 private:
  Duration jittered(int64_t interval_ns) {
    return Duration(random_range([this] { return runtime_.random(); }, interval_ns / 2, interval_ns * 3 / 2));
  }
  Duration retry_delay() { return jittered((kRetryDelayMin.count() + kRetryDelayMax.count()) / 2); }
  Bytes random_payload() {
    Bytes payload(runtime_.random_below(config_.payload_bytes_max + 1));
    for (std::byte& b : payload) b = static_cast<std::byte>(runtime_.random());
    return payload;
  }
  Address peer_address(uint32_t peer, uint16_t port) const { return Address{"n" + std::to_string(peer + 1), port}; }

  void run_datagrams();
  void send_datagram(uint32_t peer);
  void receive_datagrams();
  void run_stream_client();
  void run_connection(runtime::Stream& stream, uint64_t connection);
  void run_stream_server();
  void serve_stream(runtime::Stream& stream);
  void run_file_writer();
  RtStatus recover_file(std::unique_ptr<runtime::File>& file, uint64_t& next_sequence, uint64_t& file_end);
  RtStatus append_record(runtime::File& file, uint64_t& next_sequence, uint64_t& file_end, uint32_t& unsynced);

  SimRuntime& runtime_;
  Oracle& oracle_;
  RuntimeWorkloadConfig config_;
  size_t node_count_;
  uint32_t self_;
  std::vector<uint64_t> next_datagram_sequence_;
  std::unique_ptr<runtime::DatagramSocket> datagrams_;
  size_t serve_fibers_ = 0;
};

void WorkloadApp::run_datagrams() {
  while (true) {
    auto bound = runtime_.bind_datagram(kWorkloadDatagramPort);
    if (bound.ok()) {
      datagrams_ = std::move(bound).value();
      break;
    }
    if (!runtime_.sleep_for(retry_delay()).ok()) return;
  }
  runtime_.spawn("datagram-receiver", [this] { receive_datagrams(); });
  while (runtime_.sleep_for(jittered(config_.datagram_interval_ns)).ok()) {
    const auto peer = static_cast<uint32_t>(
        node_count_ == 1 ? 0 : (self_ + 1 + runtime_.random_below(node_count_ - 1)) % node_count_);
    // A burst of up to kDatagramBurstMax back to back: per-packet latency then reorders them.
    const uint64_t burst = 1 + runtime_.random_below(kDatagramBurstMax);
    for (uint64_t i = 0; i < burst; ++i) send_datagram(peer);
  }
}

void WorkloadApp::send_datagram(uint32_t peer) {
  Bytes payload = random_payload();
  Message message{self_, runtime_.incarnation(), wire::WorkloadChannel::Datagram, 0,
                  next_datagram_sequence_[peer]++, hash_bytes(payload), true};
  Bytes bytes = encode_message(message, payload);
  oracle_.datagram_sent(self_, message.incarnation, peer, message.sequence, message.payload_hash);
  ++oracle_.stats().datagrams_sent;
  (void)datagrams_->send_to(peer_address(peer, kWorkloadDatagramPort), bytes);
}

void WorkloadApp::receive_datagrams() {
  while (true) {
    auto datagram = datagrams_->receive();
    if (!datagram.ok()) return;  // cancelled (crash) or closed
    std::optional<Message> message = decode_message(datagram->payload);
    if (!message || !message->payload_intact || message->channel != wire::WorkloadChannel::Datagram) {
      oracle_.fail(std::string(runtime_.host()) + " received a malformed or corrupted datagram from " +
                   datagram->from.to_string());
      return;
    }
    oracle_.datagram_received(self_, message->sender, message->incarnation, message->sequence, message->payload_hash);
    oracle_.progress(self_, Oracle::Progress::datagram);
  }
}

void WorkloadApp::run_stream_client() {
  const auto peer = static_cast<uint32_t>((self_ + 1) % node_count_);
  uint64_t connection = 0;
  while (!runtime_.cancelled()) {
    auto stream = runtime_.connect(peer_address(peer, kWorkloadStreamPort), kConnectTimeout);
    if (stream.ok()) {
      ++oracle_.stats().stream_connects;
      run_connection(**stream, connection++);
      ++oracle_.stats().stream_breaks;
    } else {
      ++oracle_.stats().stream_connect_failures;
    }
    if (!runtime_.sleep_for(retry_delay()).ok()) return;
  }
}

// Pipelined frames: this fiber writes, a reader fiber checks that echoes come back in order.
void WorkloadApp::run_connection(runtime::Stream& stream, uint64_t connection) {
  std::deque<uint64_t> awaiting_echo;  // hashes of frames sent, oldest first
  runtime::Event broken(runtime_.scheduler());
  runtime::Task reader = runtime_.spawn("stream-echo-reader", [&] {
    while (true) {
      auto frame = read_frame(stream);
      if (!frame.ok()) break;
      if (awaiting_echo.empty() || hash_bytes(*frame) != awaiting_echo.front()) {
        oracle_.fail(std::string(runtime_.host()) + " got an echo that differs from the frame it sent");
        break;
      }
      awaiting_echo.pop_front();
      ++oracle_.stats().stream_frames_echoed;
      oracle_.progress(self_, Oracle::Progress::stream);
    }
    broken.set();
  });
  uint64_t sequence = 0;
  while (!broken.is_set() && !runtime_.cancelled()) {
    if (awaiting_echo.size() < kFramesInFlightMax) {
      Bytes payload = random_payload();
      Message message{self_, runtime_.incarnation(), wire::WorkloadChannel::Stream, connection, sequence++,
                      hash_bytes(payload), true};
      Bytes bytes = encode_message(message, payload);
      awaiting_echo.push_back(hash_bytes(bytes));
      if (!write_frame(stream, bytes, runtime_.now() + kWriteTimeout).ok()) break;
      ++oracle_.stats().stream_frames_sent;
      if (SLUICE_BUGGIFY(runtime_)) break;  // hang up early: exercises reconnects and peer EOF
    }
    (void)broken.wait(runtime_.now() + jittered(config_.stream_interval_ns));
  }
  stream.close();
  (void)reader.join();
}

void WorkloadApp::run_stream_server() {
  std::unique_ptr<runtime::Listener> listener;
  while (!listener) {
    auto listening = runtime_.listen(kWorkloadStreamPort);
    if (listening.ok()) {
      listener = std::move(listening).value();
    } else if (!runtime_.sleep_for(retry_delay()).ok()) {
      return;
    }
  }
  while (true) {
    auto accepted = listener->accept();
    if (!accepted.ok()) return;
    if (serve_fibers_ >= kServeFibersMax) continue;  // dropping the stream closes it
    ++serve_fibers_;
    std::shared_ptr<runtime::Stream> stream = std::move(accepted).value();
    runtime_.spawn("stream-serve", [this, stream] {
      serve_stream(*stream);
      --serve_fibers_;
    });
  }
}

// Checks that frames of one connection arrive complete, intact and in order, and echoes them.
void WorkloadApp::serve_stream(runtime::Stream& stream) {
  std::optional<Message> first;
  uint64_t expected_sequence = 0;
  while (true) {
    auto frame = read_frame(stream);
    if (!frame.ok()) return;
    std::optional<Message> message = decode_message(*frame);
    const std::string where = std::string(runtime_.host()) + " from " + stream.peer_address().to_string();
    if (!message || !message->payload_intact || message->channel != wire::WorkloadChannel::Stream) {
      return oracle_.fail(where + ": malformed or corrupted stream frame");
    }
    if (!first) first = message;
    if (message->sender != first->sender || message->incarnation != first->incarnation ||
        message->connection != first->connection || message->sequence != expected_sequence) {
      return oracle_.fail(where + ": stream frame out of order: expected sequence " + std::to_string(expected_sequence) +
                          " got " + std::to_string(message->sequence));
    }
    ++expected_sequence;
    if (!write_frame(stream, *frame, runtime_.now() + kWriteTimeout).ok()) return;
  }
}

void WorkloadApp::run_file_writer() {
  std::unique_ptr<runtime::File> file;
  uint64_t next_sequence = 0, file_end = 0;
  while (true) {
    RtStatus recovered = recover_file(file, next_sequence, file_end);
    if (recovered.ok()) break;
    if (recovered.code() == RtErrc::io_error) ++oracle_.stats().disk_io_errors;
    if (recovered.code() == RtErrc::no_space) ++oracle_.stats().disk_no_space;
    file.reset();
    if (!runtime_.sleep_for(retry_delay()).ok()) return;
  }
  uint32_t unsynced = 0;
  while (runtime_.sleep_for(jittered(config_.file_append_interval_ns)).ok()) {
    if (file_end >= config_.file_bytes_max) continue;  // full by design: stop growing
    RtStatus status = append_record(*file, next_sequence, file_end, unsynced);
    if (status.code() == RtErrc::no_space) ++oracle_.stats().disk_no_space;
    if (status.code() == RtErrc::io_error) ++oracle_.stats().disk_io_errors;
  }
}

RtStatus WorkloadApp::append_record(runtime::File& file, uint64_t& next_sequence, uint64_t& file_end, uint32_t& unsynced) {
  if (unsynced < config_.file_sync_every) {
    Bytes record = encode_record(next_sequence, random_payload());
    // Always at file_end: a failed write that left partial bytes is simply overwritten.
    SLUICE_TRY(file.write_at(file_end, record));
    file_end += record.size();
    oracle_.file_appended(self_, next_sequence);
    ++oracle_.stats().file_records_appended;
    ++next_sequence;
    ++unsynced;
  }
  if (unsynced < config_.file_sync_every) return RtStatus();
  if (SLUICE_BUGGIFY(runtime_)) SLUICE_TRY(runtime_.sleep_for(std::chrono::milliseconds(50)));
  RtStatus synced = file.sync();
  if (!synced.ok()) {
    ++oracle_.stats().sync_failures;
    return RtStatus();  // retried after the next interval; nothing is acknowledged meanwhile
  }
  unsynced = 0;
  ++oracle_.stats().file_syncs;
  oracle_.file_synced(self_, next_sequence);
  oracle_.progress(self_, Oracle::Progress::file);
  return RtStatus();
}

// Boot-time recovery: make the file and its directory entries durable, read every record, cut
// the file after the last valid one.
RtStatus WorkloadApp::recover_file(std::unique_ptr<runtime::File>& file, uint64_t& next_sequence, uint64_t& file_end) {
  runtime::Filesystem& fs = runtime_.fs();
  SLUICE_TRY(fs.create_dirs(kRecordDir));
  SLUICE_TRY(fs.sync_dir(""));
  SLUICE_ASSIGN_OR_RETURN(file, fs.open(kRecordPath, runtime::OpenMode::create));
  SLUICE_TRY(fs.sync_dir(kRecordDir));
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, file->size());
  Bytes content(size);
  size_t filled = 0;
  while (filled < content.size()) {
    SLUICE_ASSIGN_OR_RETURN(size_t got, file->read_at(filled, MutableByteSpan(content).subspan(filled)));
    if (got == 0) break;
    filled += got;
  }
  content.resize(filled);
  RecoveredLog log = scan_records(content, config_.payload_bytes_max);
  if (log.valid_bytes < content.size()) {
    SLUICE_TRY(file->truncate(log.valid_bytes));
    SLUICE_TRY(file->sync());
  }
  next_sequence = log.records;
  file_end = log.valid_bytes;
  ++oracle_.stats().file_recoveries;
  oracle_.stats().file_records_recovered += log.records;
  oracle_.file_recovered(self_, log.records, log.damaged);
  return RtStatus();
}

}  // namespace

// --- Oracle ---

void Oracle::fail(std::string message) {
  if (!failure_.empty()) return;
  const int64_t now = world_.now_ns();
  failure_ = "t=" + std::to_string(now / 1'000'000'000) + "." + std::to_string(now / 1'000'000 % 1000) + "s " + message;
}

void Oracle::datagram_sent(uint32_t sender, uint64_t incarnation, uint32_t receiver, uint64_t sequence,
                           uint64_t payload_hash) {
  datagrams_sent_[{sender, incarnation, receiver, sequence}] = payload_hash;
}

void Oracle::datagram_received(uint32_t receiver, uint32_t sender, uint64_t incarnation, uint64_t sequence,
                               uint64_t payload_hash) {
  auto sent = datagrams_sent_.find({sender, incarnation, receiver, sequence});
  if (sent == datagrams_sent_.end() || sent->second != payload_hash) {
    return fail("n" + std::to_string(receiver + 1) + " received a datagram n" + std::to_string(sender + 1) +
                " never sent it (sequence " + std::to_string(sequence) + ")");
  }
  ++stats_.datagrams_received;
  std::set<uint64_t>& seen = datagrams_seen_[{sender, incarnation, receiver}];
  if (!seen.insert(sequence).second) {
    ++stats_.datagrams_duplicate;
  } else if (*seen.rbegin() != sequence) {
    ++stats_.datagrams_reordered;
  }
}

void Oracle::file_appended(uint32_t node, uint64_t sequence) { files_[node].appended_end = sequence + 1; }

void Oracle::file_synced(uint32_t node, uint64_t sequence_end) {
  FileState& file = files_[node];
  file.synced_end = std::max(file.synced_end, sequence_end);
}

void Oracle::file_recovered(uint32_t node, uint64_t sequence_end, bool damaged) {
  FileState& file = files_[node];
  const std::string who = "n" + std::to_string(node + 1);
  if (sequence_end > file.appended_end) {
    return fail(who + " recovered " + std::to_string(sequence_end) + " records but only " +
                std::to_string(file.appended_end) + " were appended");
  }
  if (sequence_end < file.synced_end) {
    if (flips_[node] == 0) {
      return fail(who + " lost synced records: recovered " + std::to_string(sequence_end) + " of " +
                  std::to_string(file.synced_end) + " synced (damaged=" + (damaged ? "yes" : "no") + ")");
    }
    ++stats_.file_corruption_detected;  // an injected bit flip was caught by the checksums
    stats_.file_records_lost_to_corruption += file.synced_end - sequence_end;
    flips_[node] = 0;
  }
  const uint64_t kept = std::max(sequence_end, file.synced_end);
  if (file.appended_end > kept) stats_.file_unsynced_lost += file.appended_end - kept;
  file.appended_end = sequence_end;
  file.synced_end = std::min(file.synced_end, sequence_end);
}

void Oracle::progress(uint32_t node, Progress what) { last_progress_ns_[{node, what}] = world_.now_ns(); }

std::string Oracle::progress_since(int64_t since_ns, size_t node_count) const {
  const char* names[] = {"datagram", "stream", "file"};
  for (uint32_t node = 0; node < node_count; ++node) {
    for (Progress what : {Progress::datagram, Progress::stream, Progress::file}) {
      auto it = last_progress_ns_.find({node, what});
      if (it == last_progress_ns_.end() || it->second <= since_ns) {
        return "n" + std::to_string(node + 1) + " made no " + names[static_cast<int>(what)] + " progress";
      }
    }
  }
  return "";
}

void RuntimeWorkload::report(Figures& figures) const {
  const WorkloadStats& w = oracle_.stats();
  auto add = [&figures](const char* key, uint64_t value) { figures.emplace_back(key, std::to_string(value)); };
  add("datagrams_received", w.datagrams_received);
  add("datagrams_duplicate", w.datagrams_duplicate);
  add("datagrams_reordered", w.datagrams_reordered);
  add("stream_connects", w.stream_connects);
  add("stream_breaks", w.stream_breaks);
  add("stream_frames_sent", w.stream_frames_sent);
  add("stream_frames_echoed", w.stream_frames_echoed);
  add("file_records_appended", w.file_records_appended);
  add("file_syncs", w.file_syncs);
  add("file_recoveries", w.file_recoveries);
  add("file_unsynced_lost", w.file_unsynced_lost);
  add("file_corruption_detected", w.file_corruption_detected);
  add("file_records_lost_to_corruption", w.file_records_lost_to_corruption);
  add("disk_no_space", w.disk_no_space);
  add("disk_io_errors", w.disk_io_errors);
  add("sync_failures", w.sync_failures);
}

std::unique_ptr<NodeAgent> RuntimeWorkload::node_started(SimRuntime& runtime, server::Node& /*node*/) {
  return std::make_unique<WorkloadApp>(runtime, oracle_, config_, node_count_);
}

std::shared_ptr<const WorkloadSpec> parse_runtime_workload(TableReader& reader, const Scenario& /*scenario*/) {
  RuntimeWorkloadConfig config;
  reader.duration("datagram_interval_ms", config.datagram_interval_ns, kNsPerMs, 0.1, 60'000);
  reader.duration("stream_interval_ms", config.stream_interval_ns, kNsPerMs, 0.1, 60'000);
  reader.duration("file_append_interval_ms", config.file_append_interval_ns, kNsPerMs, 0.1, 60'000);
  int64_t sync_every = config.file_sync_every, payload_max = config.payload_bytes_max;
  reader.integer("file_sync_every", sync_every, 1, 10'000);
  reader.integer("payload_bytes_max", payload_max, 0, 60'000);
  config.file_sync_every = static_cast<uint32_t>(sync_every);
  config.payload_bytes_max = static_cast<uint32_t>(payload_max);
  reader.finish();
  if (!reader.ok()) return nullptr;
  return std::make_shared<ConfigWorkloadSpec<RuntimeWorkload, RuntimeWorkloadConfig>>(config);
}

}  // namespace sluice::sim
