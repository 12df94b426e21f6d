// Layouts: docs/formats/rpc.md, "Partition calls". Little-endian; texts are a u16 length and
// their bytes; no trailing bytes.
#include "node/server/partition_rpc.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "node/base/byte_io.h"

namespace sluice::server {
namespace {

enum class CallKind : uint8_t { produce = 0, fetch = 1, list_offsets = 2 };
enum class ValueKind : uint8_t { none = 0, produce = 1, fetch = 2, offset = 3 };
constexpr uint8_t kForwarded = 1;
constexpr uint8_t kLocalOnly = 2;
constexpr uint8_t kConfirmEnd = 4;  // a fetch's FetchRequest::confirm_end (refused on other calls)
// A fetch reply's high watermark when the replica cannot vouch for its end (FetchReply): no log
// reaches this offset, and a node that predates the field's optionality reads it as "not there yet".
constexpr uint64_t kHighWatermarkNotVouched = UINT64_MAX;

uint32_t whole_ms(runtime::Duration duration) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(ms, 0, UINT32_MAX));
}

// Not inlined: GCC 12 then misreads the writer's growth as out of bounds (-Warray-bounds).
[[gnu::noinline]] void put_call_fields(ByteWriter& out, const partition::Request& request) {
  if (const auto* produce = std::get_if<partition::ProduceRequest>(&request)) {
    out.put<uint32_t>(whole_ms(produce->timeout));
    out.put<uint32_t>(static_cast<uint32_t>(produce->batch.size()));
    out.put_bytes(produce->batch);
  } else if (const auto* fetch = std::get_if<partition::FetchRequest>(&request)) {
    out.put<uint64_t>(fetch->offset);
    out.put<uint32_t>(static_cast<uint32_t>(std::min<size_t>(fetch->bytes_max, UINT32_MAX)));
    out.put<uint32_t>(whole_ms(fetch->wait));
  } else {
    const auto& list = std::get<partition::ListOffsetsRequest>(request);
    out.put<uint8_t>(static_cast<uint8_t>(list.query));
    out.put<int64_t>(list.timestamp_ms);
  }
}

std::optional<partition::Request> get_call_fields(CallKind kind, ByteReader& in) {
  switch (kind) {
    case CallKind::produce: {
      if (!in.has(8)) return std::nullopt;
      partition::ProduceRequest produce;
      produce.timeout = std::chrono::milliseconds(in.get<uint32_t>());
      if (!in.get_bytes(in.get<uint32_t>(), produce.batch)) return std::nullopt;
      return partition::Request(std::move(produce));
    }
    case CallKind::fetch: {
      if (!in.has(16)) return std::nullopt;
      partition::FetchRequest fetch;
      fetch.offset = in.get<uint64_t>();
      fetch.bytes_max = in.get<uint32_t>();
      fetch.wait = std::chrono::milliseconds(in.get<uint32_t>());
      return partition::Request(fetch);
    }
    case CallKind::list_offsets: {
      if (!in.has(9)) return std::nullopt;
      const uint8_t query = in.get<uint8_t>();
      if (query > static_cast<uint8_t>(partition::OffsetQuery::timestamp)) return std::nullopt;
      return partition::Request(partition::ListOffsetsRequest{static_cast<partition::OffsetQuery>(query), in.get<int64_t>()});
    }
  }
  return std::nullopt;
}

void put_value(ByteWriter& out, const partition::Reply& reply) {
  if (const auto* produced = std::get_if<partition::ProduceReply>(&reply.value)) {
    out.put<uint8_t>(static_cast<uint8_t>(ValueKind::produce));
    out.put<uint64_t>(produced->base_offset);
    out.put<uint64_t>(produced->last_offset);
    out.put<int64_t>(produced->timestamp_ms);
    out.put<uint8_t>(produced->duplicate ? 1 : 0);
  } else if (const auto* fetched = std::get_if<partition::FetchReply>(&reply.value)) {
    SLUICE_ASSERT_LE(fetched->base_offsets.size(), kPartitionRpcBatchesMax);
    out.put<uint8_t>(static_cast<uint8_t>(ValueKind::fetch));
    out.put<uint64_t>(fetched->high_watermark.value_or(kHighWatermarkNotVouched));
    out.put<uint64_t>(fetched->start_offset);
    out.put<uint32_t>(static_cast<uint32_t>(fetched->base_offsets.size()));
    for (uint64_t base : fetched->base_offsets) out.put<uint64_t>(base);
    out.put<uint32_t>(static_cast<uint32_t>(fetched->batches.size()));
    out.put_bytes(fetched->batches);
  } else if (const auto* offset = std::get_if<uint64_t>(&reply.value)) {
    out.put<uint8_t>(static_cast<uint8_t>(ValueKind::offset));
    out.put<uint64_t>(*offset);
  } else {
    out.put<uint8_t>(static_cast<uint8_t>(ValueKind::none));
  }
}

bool get_fetch(ByteReader& in, partition::FetchReply& fetched) {
  if (!in.has(20)) return false;
  const uint64_t high_watermark = in.get<uint64_t>();
  if (high_watermark != kHighWatermarkNotVouched) fetched.high_watermark = high_watermark;
  fetched.start_offset = in.get<uint64_t>();
  const uint32_t count = in.get<uint32_t>();
  if (count > kPartitionRpcBatchesMax || !in.has(size_t{count} * 8 + 4)) return false;
  for (uint32_t i = 0; i < count; ++i) fetched.base_offsets.push_back(in.get<uint64_t>());
  return in.get_bytes(in.get<uint32_t>(), fetched.batches);
}

bool get_value(ByteReader& in, partition::Reply& reply) {
  if (!in.has(1)) return false;
  switch (static_cast<ValueKind>(in.get<uint8_t>())) {
    case ValueKind::none: return true;
    case ValueKind::produce: {
      if (!in.has(25)) return false;
      partition::ProduceReply produced;
      produced.base_offset = in.get<uint64_t>();
      produced.last_offset = in.get<uint64_t>();
      produced.timestamp_ms = in.get<int64_t>();
      const uint8_t duplicate = in.get<uint8_t>();
      if (duplicate > 1) return false;
      produced.duplicate = duplicate == 1;
      reply.value = produced;
      return true;
    }
    case ValueKind::fetch: {
      partition::FetchReply fetched;
      if (!get_fetch(in, fetched)) return false;
      reply.value = std::move(fetched);
      return true;
    }
    case ValueKind::offset:
      if (!in.has(8)) return false;
      reply.value = in.get<uint64_t>();
      return true;
  }
  return false;
}

}  // namespace

Bytes encode_partition_call(const PartitionCall& call) {
  SLUICE_ASSERT(call.request.index() <= 2);  // produce, fetch, list offsets: the others are local
  ByteWriter out;
  out.put<uint8_t>(kPartitionRpcVersion);
  out.put<uint8_t>(static_cast<uint8_t>(call.request.index()));
  const auto* fetch = std::get_if<partition::FetchRequest>(&call.request);
  const bool confirm_end = fetch != nullptr && fetch->confirm_end;
  out.put<uint8_t>(static_cast<uint8_t>((call.flags.forwarded ? kForwarded : 0) | (call.flags.local_only ? kLocalOnly : 0) |
                                        (confirm_end ? kConfirmEnd : 0)));
  out.put<uint64_t>(call.partition.topic);
  out.put<uint32_t>(call.partition.index);
  put_call_fields(out, call.request);
  return out.take();
}

std::optional<PartitionCall> decode_partition_call(ByteSpan bytes) {
  ByteReader in(bytes);
  if (!in.has(15) || in.get<uint8_t>() != kPartitionRpcVersion) return std::nullopt;
  const uint8_t kind = in.get<uint8_t>();
  const uint8_t flags = in.get<uint8_t>();
  if (kind > static_cast<uint8_t>(CallKind::list_offsets) || (flags & ~(kForwarded | kLocalOnly | kConfirmEnd)) != 0) return std::nullopt;
  if ((flags & kConfirmEnd) != 0 && kind != static_cast<uint8_t>(CallKind::fetch)) return std::nullopt;
  PartitionCall call;
  call.flags = CallFlags{(flags & kForwarded) != 0, (flags & kLocalOnly) != 0};
  call.partition.topic = in.get<uint64_t>();
  call.partition.index = in.get<uint32_t>();
  std::optional<partition::Request> request = get_call_fields(static_cast<CallKind>(kind), in);
  if (!request || in.left() != 0) return std::nullopt;
  if (auto* fetch = std::get_if<partition::FetchRequest>(&*request)) fetch->confirm_end = (flags & kConfirmEnd) != 0;
  call.request = std::move(*request);
  return call;
}

Bytes encode_partition_reply(const partition::Reply& reply) {
  ByteWriter out;
  out.put<uint8_t>(kPartitionRpcVersion);
  out.put<uint8_t>(static_cast<uint8_t>(reply.status.code()));
  out.put<uint64_t>(reply.leader);
  out.put_text(std::string_view(reply.leader_address).substr(0, kPartitionRpcTextBytesMax));
  const std::string message = reply.status.message();
  out.put_text(std::string_view(message).substr(0, kPartitionRpcTextBytesMax));
  put_value(out, reply);
  return out.take();
}

std::optional<partition::Reply> decode_partition_reply(ByteSpan bytes) {
  ByteReader in(bytes);
  if (!in.has(10) || in.get<uint8_t>() != kPartitionRpcVersion) return std::nullopt;
  const uint8_t code = in.get<uint8_t>();
  if (code > static_cast<uint8_t>(partition::Errc::invalid_request)) return std::nullopt;
  partition::Reply reply;
  reply.leader = in.get<uint64_t>();
  std::string message;
  if (!in.get_text(reply.leader_address) || !in.get_text(message)) return std::nullopt;
  if (reply.leader_address.size() > kPartitionRpcTextBytesMax || message.size() > kPartitionRpcTextBytesMax) return std::nullopt;
  if (code != 0) reply.status = partition::Status(static_cast<partition::Errc>(code), std::move(message));
  if (code == 0 && !message.empty()) return std::nullopt;  // an ok status carries no message
  if (!get_value(in, reply) || in.left() != 0) return std::nullopt;
  return reply;
}

}  // namespace sluice::server
