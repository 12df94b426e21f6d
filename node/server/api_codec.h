// The HTTP API's bodies (docs/formats/http-api.md): produce requests in JSON, NDJSON or the binary
// batch format, fetch answers in the same three, topic bodies. Pure: bytes in, values or a typed
// ApiError out; JSON is parsed with exceptions off and every field's type is checked before it is
// read, so any input gets an answer (fuzz target fuzz_http_api_decode).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "node/base/bytes.h"
#include "node/controller/metadata.h"
#include "node/http/pipeline.h"
#include "node/log/codec.h"
#include "node/partition/router.h"

namespace sluice::server {

enum class Route : http::RouteId {
  healthz = 1,
  readyz,
  metrics,
  cluster,
  topics_list,
  topic_create,
  topic_describe,
  topic_delete,
  topic_alter,
  topic_metadata,
  produce,
  fetch,
  list_offsets,
  node_decommission,
  console,
  producer_ids,
};

// The API's route table and the routes' names (the metrics' route label).
http::RouteTable api_routes();
std::map<http::RouteId, std::string> api_route_names();

inline constexpr std::string_view kJson = "application/json";
inline constexpr std::string_view kNdjson = "application/x-ndjson";
inline constexpr std::string_view kBatch = "application/vnd.sluice.batch";

enum class BodyFormat : uint8_t { json, ndjson, batch };
// The format a Content-Type (produce) or Accept (fetch) header names; json when absent or "*/*";
// nullopt for anything else (415 / 406).
std::optional<BodyFormat> format_of(std::string_view header);

enum class TextEncoding : uint8_t { utf8, base64 };

struct ProducedRecord {
  uint32_t partition = 0;
  Bytes key;
  Bytes value;
  bool keyed = false;
};

// Where records without a key or partition go: round-robin from `next`.
struct ProduceDecodeContext {
  uint32_t partitions = 1;
  size_t records_max = 10'000;
  uint64_t* unkeyed_next = nullptr;
};

using ApiOutcome = std::variant<std::vector<ProducedRecord>, http::ApiError>;

// {"encoding":"utf8"|"base64","records":[{"key","value","partition"}],
//  "producer":{"id","epoch","sequence"}} — the producer (idempotence) only with one partition.
ApiOutcome decode_produce_json(ByteSpan body, const ProduceDecodeContext& context,
                               std::optional<log::ProducerStamp>* producer = nullptr);
// One record object a line; `encoding` from the query (?encoding=base64).
ApiOutcome decode_produce_ndjson(ByteSpan body, TextEncoding encoding, const ProduceDecodeContext& context);

std::optional<TextEncoding> encoding_of(std::string_view text);  // "utf8" | "base64"
std::string base64_encode(ByteSpan bytes);
std::optional<Bytes> base64_decode(std::string_view text);

// POST /v1/topics: {"name","partitions","replication","config":{..}}.
std::variant<controller::CreateTopic, http::ApiError> decode_topic_create(ByteSpan body);
// PUT /v1/topics/{topic}/config: the fields given replace those of `config`.
std::variant<controller::TopicConfig, http::ApiError> decode_topic_config(ByteSpan body, controller::TopicConfig config);

struct FetchedRecord {
  uint64_t offset = 0;
  int64_t timestamp_ms = 0;
  ByteSpan key;
  ByteSpan value;
};
// The records of a fetch answer at or after `from` (the first batch may start before it).
std::variant<std::vector<FetchedRecord>, http::ApiError> fetched_records(const partition::FetchReply& fetched, uint64_t from);
// {"records":[..],"next_offset","high_watermark","start_offset"} / one record a line.
Bytes encode_fetch_json(const std::vector<FetchedRecord>& records, uint64_t next_offset, const partition::FetchReply& fetched,
                        TextEncoding encoding);
Bytes encode_fetch_ndjson(const std::vector<FetchedRecord>& records, TextEncoding encoding);

}  // namespace sluice::server
