#include "client/consumer.h"

#include <algorithm>
#include <charconv>

#include "client/resolver.h"
#include "node/base/assert.h"
#include "node/log/codec.h"

namespace sluice::client {

using Json = nlohmann::json;

namespace {

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<std::vector<uint64_t>> parse_offsets(std::string_view text) {
  std::vector<uint64_t> offsets;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::optional<uint64_t> offset = parse_u64(text.substr(0, comma));
    if (!offset) return std::nullopt;
    offsets.push_back(*offset);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return offsets;
}

std::string_view header_of(const HttpClientResponse& response, std::string_view name) {
  const std::string* value = response.header(name);
  return value == nullptr ? std::string_view() : std::string_view(*value);
}

std::string partition_path(const std::string& topic, uint32_t partition) {
  return "/v1/topics/" + path_segment(topic) + "/partitions/" + std::to_string(partition);
}

}  // namespace

Consumer::Consumer(Client& client, ConsumerConfig config) : client_(client), config_(config) {}

Consumer::~Consumer() = default;

Status Consumer::assign(const std::string& topic, uint32_t partition, StartAt from) {
  assigned_[{topic, partition}] = Assigned{from, std::nullopt, std::nullopt};
  return Status();
}

Status Consumer::assign_all(const std::string& topic, StartAt from) {
  Result<uint32_t> count = client_.resolver().partition_count(topic, client_.runtime().now() + config_.request_timeout);
  if (!count.ok()) return count.status();
  for (uint32_t p = 0; p < *count; ++p) SLUICE_TRY(assign(topic, p, from));
  return Status();
}

Status Consumer::seek(const std::string& topic, uint32_t partition, StartAt from) {
  auto it = assigned_.find({topic, partition});
  if (it == assigned_.end()) return Status(Errc::invalid_request, topic + "/" + std::to_string(partition) + " is not assigned");
  it->second.start = from;
  it->second.position.reset();
  return Status();
}

std::optional<uint64_t> Consumer::position(const std::string& topic, uint32_t partition) const {
  auto it = assigned_.find({topic, partition});
  return it == assigned_.end() ? std::nullopt : it->second.position;
}

std::optional<uint64_t> Consumer::high_watermark(const std::string& topic, uint32_t partition) const {
  auto it = assigned_.find({topic, partition});
  return it == assigned_.end() ? std::nullopt : it->second.high_watermark;
}

// The offset `from` names, asked of the partition's leader (list offsets).
Status Consumer::resolve_start(const std::string& topic, uint32_t partition, Assigned& assigned, rt::Instant deadline) {
  if (assigned.start.kind == StartAt::Kind::offset) {
    assigned.position = static_cast<uint64_t>(assigned.start.value);
    return Status();
  }
  std::string at = assigned.start.kind == StartAt::Kind::earliest ? "earliest"
                   : assigned.start.kind == StartAt::Kind::latest ? "latest"
                                                                  : std::to_string(assigned.start.value);
  Result<ResolvedRoute> route = client_.resolver().route(topic, partition, deadline);
  if (!route.ok()) return route.status();
  HttpClientRequest request;
  request.target = partition_path(topic, partition) + "/offsets?at=" + at;
  Result<HttpClientResponse> response = client_.call_at(route->leader, request, deadline);
  if (!response.ok()) {
    if (stale_route(response.code())) client_.resolver().report_stale(topic, partition, route->generation);
    return response.status();
  }
  try {
    assigned.position = Json::parse(as_string_view(response->body)).at("offset").get<uint64_t>();
  } catch (const Json::exception& error) {
    return Status(Errc::protocol_error, std::string("list offsets: ") + error.what());
  }
  return Status();
}

Result<PollResult> Consumer::poll(rt::Instant deadline) {
  PollResult out;
  // First every partition without waiting; only when none had anything, one round of long-polls.
  for (rt::Duration wait : {rt::Duration::zero(), config_.wait}) {
    Status failed;
    size_t failures = 0;
    for (auto& [key, assigned] : assigned_) {
      if (client_.runtime().now() >= deadline) break;
      const rt::Duration this_wait = assigned_.size() == 1 || wait == rt::Duration::zero() ? wait : wait / static_cast<int64_t>(assigned_.size());
      Status fetched = fetch_one(key.first, key.second, assigned, this_wait, deadline, out);
      if (!fetched.ok()) {
        ++failures;
        failed = fetched;
      }
    }
    if (!out.records.empty() || !out.gaps.empty()) return out;
    if (failures > 0 && !retriable(failed.code())) return failed;
    if (wait == rt::Duration::zero() && config_.wait == rt::Duration::zero()) break;
  }
  return out;
}

// One fetch of one partition: its records from the position on, or a gap when retention removed
// the position; a moved leader only marks the route stale (the next poll goes to the new one).
Status Consumer::fetch_one(const std::string& topic, uint32_t partition, Assigned& assigned, rt::Duration wait, rt::Instant deadline,
                           PollResult& out) {
  const rt::Instant call_deadline = std::min(deadline, client_.runtime().now() + config_.request_timeout + wait);
  if (!assigned.position) SLUICE_TRY(resolve_start(topic, partition, assigned, call_deadline));
  Result<ResolvedRoute> route = client_.resolver().route(topic, partition, call_deadline);
  if (!route.ok()) return route.status();
  const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count();
  HttpClientRequest request;
  request.target = partition_path(topic, partition) + "/records?offset=" + std::to_string(*assigned.position) +
                   "&max_bytes=" + std::to_string(config_.max_bytes) + "&wait_ms=" + std::to_string(wait_ms) +
                   (config_.confirm_high_watermark ? "&confirm_high_watermark=1" : "");
  request.headers.push_back(http::HttpHeader{"accept", "application/vnd.sluice.batch"});
  Result<HttpClientResponse> response = client_.call_at(route->leader, request, call_deadline);
  if (!response.ok()) {
    if (response.code() == Errc::offset_out_of_range) return note_gap(topic, partition, assigned, call_deadline, out);
    // A poll shorter than the long-poll wait ends in a timeout with the leader where it was: only
    // the request's own timeout running out says the node may not be answering.
    const bool callers_deadline = response.code() == Errc::timeout && call_deadline == deadline;
    if (stale_route(response.code()) && !callers_deadline) client_.resolver().report_stale(topic, partition, route->generation);
    return response.status();
  }
  return take_batches(topic, partition, assigned, *response, out);
}

// The position is out of the range the leader holds. Below its start (retention removed it): go on
// from the earliest offset, reporting [position, earliest) as a gap. Past its end: the leader has
// not re-applied everything yet (it restarted, or was just elected): keep the position and ask
// again — never rewind, which would hand out records already returned.
Status Consumer::note_gap(const std::string& topic, uint32_t partition, Assigned& assigned, rt::Instant deadline, PollResult& out) {
  const uint64_t was = *assigned.position;
  Assigned earliest{StartAt::earliest(), std::nullopt, std::nullopt};
  SLUICE_TRY(resolve_start(topic, partition, earliest, deadline));
  if (*earliest.position > was) {
    out.gaps.push_back(Gap{topic, partition, was, *earliest.position});
    assigned.position = earliest.position;
  }
  return Status();
}

Status Consumer::take_batches(const std::string& topic, uint32_t partition, Assigned& assigned, const HttpClientResponse& response,
                              PollResult& out) {
  const std::optional<std::vector<uint64_t>> bases = parse_offsets(header_of(response, "x-sluice-base-offsets"));
  if (!bases) return Status(Errc::protocol_error, "x-sluice-base-offsets is not a list of offsets");
  if (std::optional<uint64_t> high = parse_u64(header_of(response, "x-sluice-high-watermark"))) assigned.high_watermark = high;
  const std::optional<uint64_t> start = parse_u64(header_of(response, "x-sluice-start-offset"));
  if (start && *start > *assigned.position) {
    // Retention ran between the position and the batches the leader sent from its start.
    out.gaps.push_back(Gap{topic, partition, *assigned.position, *start});
    assigned.position = *start;
  }
  log::Result<std::vector<ByteSpan>> batches = log::split_batches(response.body);
  if (!batches.ok()) return Status(Errc::protocol_error, "fetched batches: " + batches.status().to_string());
  if (batches->size() != bases->size()) return Status(Errc::protocol_error, "one base offset a batch expected");
  for (size_t b = 0; b < batches->size(); ++b) {
    const ByteSpan batch = (*batches)[b];
    log::Result<log::BatchHeader> header = log::decode_batch_header(batch);
    if (!header.ok()) return Status(Errc::protocol_error, header.status().to_string());
    log::Result<std::vector<log::RecordView>> records = log::decode_records(batch, *header);
    if (!records.ok()) return Status(Errc::protocol_error, records.status().to_string());
    for (size_t i = 0; i < records->size(); ++i) {
      const uint64_t offset = (*bases)[b] + i;
      if (offset < *assigned.position) continue;  // the first batch may start before the position
      if (offset != *assigned.position) return Status(Errc::protocol_error, "offsets are not dense at " + std::to_string(offset));
      const log::RecordView& view = (*records)[i];
      std::optional<Bytes> key;
      if (!view.key.empty()) key = Bytes(view.key.begin(), view.key.end());
      out.records.push_back(ConsumedRecord{topic, partition, offset, view.timestamp_ms, std::move(key), Bytes(view.value.begin(), view.value.end())});
      assigned.position = offset + 1;
    }
  }
  return Status();
}

}  // namespace sluice::client
