#include "node/server/api_codec.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "node/log/codec.h"
#include "node/partition/partitioner.h"

namespace sluice::server {
namespace {

using Json = nlohmann::json;
using http::ApiError;

std::optional<Json> parse_object(ByteSpan body) {
  Json parsed = Json::parse(as_string_view(body), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

Json text_json(ByteSpan bytes, TextEncoding encoding) {
  return encoding == TextEncoding::base64 ? Json(base64_encode(bytes)) : Json(std::string(as_string_view(bytes)));
}

std::string dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

// One record object: its key, value and partition; an error naming what is wrong.
std::optional<ApiError> read_record(const Json& record, TextEncoding encoding, const ProduceDecodeContext& context, ProducedRecord& out) {
  if (!record.is_object()) return http::bad_request("a record is a JSON object");
  for (auto [name, field] : {std::pair{"key", &out.key}, std::pair{"value", &out.value}}) {
    if (!record.contains(name)) continue;
    if (!record[name].is_string()) return http::bad_request(std::string("a record's ") + name + " is a string");
    const std::string& text = record[name].get_ref<const std::string&>();
    if (encoding == TextEncoding::utf8) {
      *field = to_bytes(text);
    } else if (std::optional<Bytes> decoded = base64_decode(text)) {
      *field = std::move(*decoded);
    } else {
      return http::bad_request(std::string("a record's ") + name + " is not base64");
    }
  }
  out.keyed = record.contains("key");
  if (record.contains("partition")) {
    if (!record["partition"].is_number_unsigned() || record["partition"].get<uint64_t>() >= context.partitions) {
      return http::make_error(404, "unknown_partition", "the topic has " + std::to_string(context.partitions) + " partitions");
    }
    out.partition = static_cast<uint32_t>(record["partition"].get<uint64_t>());
  } else if (out.keyed) {
    out.partition = partition::partition_for_key(out.key, context.partitions);
  } else {
    out.partition = static_cast<uint32_t>((*context.unkeyed_next)++ % context.partitions);
  }
  return std::nullopt;
}

ApiError too_many(size_t max) { return http::make_error(413, "too_large", "more than " + std::to_string(max) + " records"); }

}  // namespace

http::RouteTable api_routes() {
  http::RouteTable routes;
  auto add = [&routes](const char* method, const char* pattern, Route route) { routes.add(method, pattern, static_cast<http::RouteId>(route)); };
  add("GET", "/healthz", Route::healthz);
  add("GET", "/readyz", Route::readyz);
  add("GET", "/metrics", Route::metrics);
  add("GET", "/v1/cluster", Route::cluster);
  add("GET", "/v1/topics", Route::topics_list);
  add("POST", "/v1/topics", Route::topic_create);
  add("GET", "/v1/topics/{topic}", Route::topic_describe);
  add("DELETE", "/v1/topics/{topic}", Route::topic_delete);
  add("PUT", "/v1/topics/{topic}/config", Route::topic_alter);
  add("GET", "/v1/topics/{topic}/metadata", Route::topic_metadata);
  add("POST", "/v1/topics/{topic}/records", Route::produce);
  add("GET", "/v1/topics/{topic}/partitions/{partition}/records", Route::fetch);
  add("GET", "/v1/topics/{topic}/partitions/{partition}/offsets", Route::list_offsets);
  add("POST", "/v1/cluster/nodes/{node}/decommission", Route::node_decommission);
  add("POST", "/v1/producers", Route::producer_ids);
  add("GET", "/", Route::console);
  return routes;
}

std::map<http::RouteId, std::string> api_route_names() {
  return {{static_cast<http::RouteId>(Route::healthz), "healthz"},
          {static_cast<http::RouteId>(Route::readyz), "readyz"},
          {static_cast<http::RouteId>(Route::metrics), "metrics"},
          {static_cast<http::RouteId>(Route::cluster), "cluster"},
          {static_cast<http::RouteId>(Route::topics_list), "topics_list"},
          {static_cast<http::RouteId>(Route::topic_create), "topic_create"},
          {static_cast<http::RouteId>(Route::topic_describe), "topic_describe"},
          {static_cast<http::RouteId>(Route::topic_delete), "topic_delete"},
          {static_cast<http::RouteId>(Route::topic_alter), "topic_alter"},
          {static_cast<http::RouteId>(Route::topic_metadata), "topic_metadata"},
          {static_cast<http::RouteId>(Route::produce), "produce"},
          {static_cast<http::RouteId>(Route::fetch), "fetch"},
          {static_cast<http::RouteId>(Route::list_offsets), "list_offsets"},
          {static_cast<http::RouteId>(Route::node_decommission), "node_decommission"},
          {static_cast<http::RouteId>(Route::console), "console"},
          {static_cast<http::RouteId>(Route::producer_ids), "producer_ids"}};
}

std::optional<BodyFormat> format_of(std::string_view header) {
  const std::string_view type = header.substr(0, header.find(';'));  // parameters (charset) do not matter
  auto trimmed = [](std::string_view text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    return text;
  };
  const std::string_view name = trimmed(type);
  if (name.empty() || name == "*/*" || name == "application/*" || name == kJson) return BodyFormat::json;
  if (name == kNdjson) return BodyFormat::ndjson;
  if (name == kBatch) return BodyFormat::batch;
  return std::nullopt;
}

std::optional<TextEncoding> encoding_of(std::string_view text) {
  if (text == "utf8") return TextEncoding::utf8;
  if (text == "base64") return TextEncoding::base64;
  return std::nullopt;
}

std::string base64_encode(ByteSpan bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  // An empty text is no bytes. Not handed to libsodium: the empty buffer's data() is null, and
  // sodium_base642bin declares its output nonnull (UBSan stops there even with nothing to write).
  if (text.empty()) return Bytes{};
  Bytes out(text.size());
  size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr, &length, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

namespace {

// "producer":{"id":>0,"epoch":u16,"sequence":u32}: the stamp an idempotent producer's batch carries.
std::optional<ApiError> read_producer(const Json& body, std::optional<log::ProducerStamp>* out) {
  if (!body.contains("producer")) return std::nullopt;
  const Json& producer = body["producer"];
  auto field = [&](const char* name, uint64_t max) -> std::optional<uint64_t> {
    if (!producer.is_object() || !producer.contains(name) || !producer[name].is_number_unsigned()) return std::nullopt;
    const uint64_t value = producer[name].get<uint64_t>();
    return value <= max ? std::optional<uint64_t>(value) : std::nullopt;
  };
  const std::optional<uint64_t> id = field("id", UINT64_MAX), epoch = field("epoch", UINT16_MAX), sequence = field("sequence", UINT32_MAX);
  if (!id || *id == 0 || !epoch || !sequence || out == nullptr) {
    return http::bad_request("producer is {\"id\": > 0, \"epoch\": 0..65535, \"sequence\": 0..2^32-1}");
  }
  *out = log::ProducerStamp{*id, static_cast<uint16_t>(*epoch), static_cast<uint32_t>(*sequence)};
  return std::nullopt;
}

}  // namespace

ApiOutcome decode_produce_json(ByteSpan body, const ProduceDecodeContext& context, std::optional<log::ProducerStamp>* producer) {
  std::optional<Json> parsed = parse_object(body);
  if (!parsed) return http::bad_request("the body must be a JSON object");
  if (std::optional<ApiError> error = read_producer(*parsed, producer)) return *error;
  const Json& encoding_field = parsed->contains("encoding") ? (*parsed)["encoding"] : Json("utf8");
  std::optional<TextEncoding> encoding = encoding_field.is_string() ? encoding_of(encoding_field.get_ref<const std::string&>()) : std::nullopt;
  if (!encoding) return http::bad_request("encoding is utf8 or base64");
  if (!parsed->contains("records") || !(*parsed)["records"].is_array() || (*parsed)["records"].empty()) {
    return http::bad_request("records must be a non-empty array");
  }
  if ((*parsed)["records"].size() > context.records_max) return too_many(context.records_max);
  std::vector<ProducedRecord> records;
  for (const Json& record : (*parsed)["records"]) {
    ProducedRecord produced;
    if (std::optional<ApiError> error = read_record(record, *encoding, context, produced)) return *error;
    records.push_back(std::move(produced));
  }
  const bool one_partition = std::all_of(records.begin(), records.end(), [&](const ProducedRecord& r) { return r.partition == records[0].partition; });
  if (producer != nullptr && producer->has_value() && !one_partition) {
    return http::bad_request("an idempotent produce (with a producer) sends records of one partition");
  }
  return records;
}

ApiOutcome decode_produce_ndjson(ByteSpan body, TextEncoding encoding, const ProduceDecodeContext& context) {
  std::vector<ProducedRecord> records;
  std::string_view rest = as_string_view(body);
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (records.size() >= context.records_max) return too_many(context.records_max);
    Json record = Json::parse(line, nullptr, false);
    if (record.is_discarded()) return http::bad_request("line " + std::to_string(records.size() + 1) + " is not JSON");
    ProducedRecord produced;
    if (std::optional<ApiError> error = read_record(record, encoding, context, produced)) return *error;
    records.push_back(std::move(produced));
  }
  if (records.empty()) return http::bad_request("no records");
  return records;
}

namespace {

// The config fields `object` gives replace those of `config`.
std::optional<ApiError> read_config(const Json& object, controller::TopicConfig& config) {
  for (auto [name, field] : {std::pair{"retention_ms", &config.retention_ms}, std::pair{"retention_bytes", &config.retention_bytes},
                             std::pair{"segment_bytes", &config.segment_bytes}}) {
    if (!object.contains(name)) continue;
    if (!object[name].is_number_integer()) return http::bad_request(std::string(name) + " must be an integer");
    *field = object[name].get<int64_t>();
  }
  return std::nullopt;
}

}  // namespace

std::variant<controller::TopicConfig, ApiError> decode_topic_config(ByteSpan body, controller::TopicConfig config) {
  std::optional<Json> parsed = parse_object(body);
  if (!parsed) return http::bad_request("the body must be a JSON object");
  if (std::optional<ApiError> error = read_config(*parsed, config)) return *error;
  return config;
}

std::variant<controller::CreateTopic, ApiError> decode_topic_create(ByteSpan body) {
  std::optional<Json> parsed = parse_object(body);
  if (!parsed) return http::bad_request("the body must be a JSON object");
  if (!parsed->contains("name") || !(*parsed)["name"].is_string()) return http::bad_request("name must be a string");
  controller::CreateTopic create;
  create.name = (*parsed)["name"].get<std::string>();
  for (auto [name, field] : {std::pair{"partitions", &create.partitions}, std::pair{"replication", &create.replication}}) {
    const Json value = parsed->contains(name) ? (*parsed)[name] : Json(uint64_t{1});  // unsigned, as a client's 1 parses
    if (!value.is_number_unsigned() || value.get<uint64_t>() > UINT32_MAX) {
      return http::bad_request(std::string(name) + " must be a positive integer");
    }
    *field = static_cast<uint32_t>(value.get<uint64_t>());
  }
  if (parsed->contains("config")) {
    if (!(*parsed)["config"].is_object()) return http::bad_request("config must be an object");
    if (std::optional<ApiError> error = read_config((*parsed)["config"], create.config)) return *error;
  }
  return create;
}

std::variant<std::vector<FetchedRecord>, ApiError> fetched_records(const partition::FetchReply& fetched, uint64_t from) {
  log::Result<std::vector<ByteSpan>> batches = log::split_batches(fetched.batches);
  if (!batches.ok() || batches->size() != fetched.base_offsets.size()) {
    return http::make_error(500, "internal", "the replica returned damaged batches");
  }
  std::vector<FetchedRecord> records;
  for (size_t b = 0; b < batches->size(); ++b) {
    log::Result<log::BatchHeader> header = log::verify_batch((*batches)[b]);
    if (!header.ok()) return http::make_error(500, "internal", "a fetched batch does not verify");
    log::Result<std::vector<log::RecordView>> views = log::decode_records((*batches)[b], *header);
    if (!views.ok()) return http::make_error(500, "internal", "a fetched batch does not decode");
    for (size_t r = 0; r < views->size(); ++r) {
      const uint64_t at = fetched.base_offsets[b] + r;
      if (at >= from) records.push_back(FetchedRecord{at, (*views)[r].timestamp_ms, (*views)[r].key, (*views)[r].value});
    }
  }
  return records;
}

namespace {

Json record_json(const FetchedRecord& record, TextEncoding encoding) {
  return Json{{"offset", record.offset}, {"timestamp_ms", record.timestamp_ms}, {"key", text_json(record.key, encoding)},
              {"value", text_json(record.value, encoding)}};
}

}  // namespace

Bytes encode_fetch_json(const std::vector<FetchedRecord>& records, uint64_t next_offset, const partition::FetchReply& fetched,
                        TextEncoding encoding) {
  Json list = Json::array();
  for (const FetchedRecord& record : records) list.push_back(record_json(record, encoding));
  return to_bytes(dump(Json{{"records", list}, {"next_offset", next_offset}, {"high_watermark", fetched.high_watermark ? Json(*fetched.high_watermark) : Json(nullptr)},
                            {"start_offset", fetched.start_offset}}) +
                  "\n");
}

Bytes encode_fetch_ndjson(const std::vector<FetchedRecord>& records, TextEncoding encoding) {
  std::string out;
  for (const FetchedRecord& record : records) out += dump(record_json(record, encoding)) + "\n";
  return to_bytes(out);
}

}  // namespace sluice::server
