// The HTTP API's body codecs (node/server/api_codec.h): produce bodies in JSON and NDJSON, topic
// bodies, content negotiation, fetch encodings.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "node/log/codec.h"
#include "node/partition/partitioner.h"
#include "node/server/api_codec.h"

namespace sluice::server {
namespace {

using Json = nlohmann::json;

std::vector<ProducedRecord> records_or_fail(const ApiOutcome& outcome) {
  if (const auto* error = std::get_if<http::ApiError>(&outcome)) ADD_FAILURE() << error->code << ": " << error->message;
  const auto* records = std::get_if<std::vector<ProducedRecord>>(&outcome);
  return records == nullptr ? std::vector<ProducedRecord>{} : *records;
}

std::string error_code(const ApiOutcome& outcome) {
  const auto* error = std::get_if<http::ApiError>(&outcome);
  return error == nullptr ? "ok" : error->code;
}

TEST(ApiCodec, ProduceJsonPlacesRecordsByPartitionKeyOrTurn) {
  uint64_t unkeyed = 0;
  const ProduceDecodeContext context{4, 10, &unkeyed};
  const std::vector<ProducedRecord> records = records_or_fail(decode_produce_json(
      as_bytes(std::string_view(R"({"records":[{"value":"a","partition":3},{"key":"user-7","value":"b"},{"value":"c"},{"value":"d"}]})")),
      context));
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].partition, 3u);
  EXPECT_EQ(records[1].partition, partition::partition_for_key(as_bytes(std::string_view("user-7")), 4));
  EXPECT_EQ(records[2].partition, 0u);
  EXPECT_EQ(records[3].partition, 1u);
  const std::vector<ProducedRecord> binary =
      records_or_fail(decode_produce_json(as_bytes(std::string_view(R"({"encoding":"base64","records":[{"key":"AAE=","value":"/w=="}]})")), context));
  ASSERT_EQ(binary.size(), 1u);
  EXPECT_EQ(binary[0].key, (Bytes{std::byte{0}, std::byte{1}}));
  EXPECT_EQ(binary[0].value, (Bytes{std::byte{0xff}}));
}

TEST(ApiCodec, MalformedProduceBodiesGetTheirError) {
  uint64_t unkeyed = 0;
  const ProduceDecodeContext context{2, 3, &unkeyed};
  const std::pair<const char*, const char*> cases[] = {
      {"", "bad_request"},
      {"[]", "bad_request"},
      {R"({"records":[]})", "bad_request"},
      {R"({"records":{}})", "bad_request"},
      {R"({"records":[1]})", "bad_request"},
      {R"({"records":[{"value":1}]})", "bad_request"},
      {R"({"encoding":"hex","records":[{"value":"a"}]})", "bad_request"},
      {R"({"encoding":"base64","records":[{"value":"%%"}]})", "bad_request"},
      {R"({"records":[{"value":"a","partition":2}]})", "unknown_partition"},
      {R"({"records":[{"value":"a","partition":-1}]})", "unknown_partition"},
      {R"({"records":[{},{},{},{}]})", "too_large"},
  };
  for (const auto& [body, code] : cases) EXPECT_EQ(error_code(decode_produce_json(as_bytes(std::string_view(body)), context)), code) << body;
}

TEST(ApiCodec, AProducerStampNeedsValidFieldsAndOnePartition) {
  uint64_t unkeyed = 0;
  const ProduceDecodeContext context{2, 10, &unkeyed};
  std::optional<log::ProducerStamp> stamp;
  records_or_fail(decode_produce_json(
      as_bytes(std::string_view(R"({"producer":{"id":5,"epoch":1,"sequence":7},"records":[{"value":"a","partition":1}]})")), context, &stamp));
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(stamp->producer_id, 5u);
  EXPECT_EQ(stamp->epoch, 1);
  EXPECT_EQ(stamp->first_sequence, 7u);
  for (const char* body : {R"({"producer":{"id":0,"epoch":0,"sequence":0},"records":[{"value":"a"}]})",
                           R"({"producer":{"id":1,"epoch":70000,"sequence":0},"records":[{"value":"a"}]})",
                           R"({"producer":{"id":1,"epoch":0},"records":[{"value":"a"}]})",
                           R"({"producer":5,"records":[{"value":"a"}]})",
                           R"({"producer":{"id":1,"epoch":0,"sequence":0},"records":[{"value":"a","partition":0},{"value":"b","partition":1}]})"}) {
    std::optional<log::ProducerStamp> refused;
    EXPECT_EQ(error_code(decode_produce_json(as_bytes(std::string_view(body)), context, &refused)), "bad_request") << body;
  }
}

TEST(ApiCodec, ProduceNdjsonTakesOneRecordALine) {
  uint64_t unkeyed = 0;
  const ProduceDecodeContext context{2, 10, &unkeyed};
  const std::vector<ProducedRecord> records =
      records_or_fail(decode_produce_ndjson(as_bytes(std::string_view("{\"value\":\"a\"}\r\n\n{\"value\":\"b\",\"partition\":0}\n")),
                                            TextEncoding::utf8, context));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].value, (Bytes{std::byte{'b'}}));
  EXPECT_EQ(error_code(decode_produce_ndjson(as_bytes(std::string_view("{\"value\":\"a\"}\nnot json\n")), TextEncoding::utf8, context)),
            "bad_request");
  EXPECT_EQ(error_code(decode_produce_ndjson(as_bytes(std::string_view("\n\n")), TextEncoding::utf8, context)), "bad_request");
}

// An empty base64 text is the encoding of no bytes (what base64_encode gives for an empty value),
// so an empty key or value round-trips. Decoding it handed libsodium the null data() of an empty
// buffer for a parameter declared nonnull: undefined behaviour, which the sanitizer build (asan
// preset) stops on. Found by fuzz_http_api_decode.
TEST(ApiCodec, EmptyBase64IsNoBytes) {
  EXPECT_EQ(base64_encode({}), "");
  EXPECT_EQ(base64_decode(""), std::optional<Bytes>(Bytes{}));
  EXPECT_EQ(base64_decode(std::string_view()), std::optional<Bytes>(Bytes{}));
  uint64_t unkeyed = 0;
  const ProduceDecodeContext context{2, 10, &unkeyed};
  const std::vector<ProducedRecord> records = records_or_fail(
      decode_produce_ndjson(as_bytes(std::string_view("{\"key\":\"\",\"value\":\"\"}\n")), TextEncoding::base64, context));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].value.empty());
}

TEST(ApiCodec, TopicBodiesAndNegotiation) {
  auto create = decode_topic_create(as_bytes(std::string_view(R"({"name":"t","partitions":3,"replication":2,"config":{"retention_ms":5}})")));
  ASSERT_TRUE(std::holds_alternative<controller::CreateTopic>(create));
  EXPECT_EQ(std::get<controller::CreateTopic>(create).partitions, 3u);
  EXPECT_EQ(std::get<controller::CreateTopic>(create).config.retention_ms, 5);
  EXPECT_TRUE(std::holds_alternative<http::ApiError>(decode_topic_create(as_bytes(std::string_view(R"({"name":"t","config":[]})")))));
  auto defaults = decode_topic_create(as_bytes(std::string_view(R"({"name":"d"})")));
  ASSERT_TRUE(std::holds_alternative<controller::CreateTopic>(defaults));
  EXPECT_EQ(std::get<controller::CreateTopic>(defaults).partitions, 1u);
  EXPECT_EQ(std::get<controller::CreateTopic>(defaults).replication, 1u);
  EXPECT_TRUE(std::holds_alternative<http::ApiError>(decode_topic_config(as_bytes(std::string_view(R"({"segment_bytes":"x"})")), {})));
  EXPECT_EQ(format_of(""), BodyFormat::json);
  EXPECT_EQ(format_of("*/*"), BodyFormat::json);
  EXPECT_EQ(format_of("application/json; charset=utf-8"), BodyFormat::json);
  EXPECT_EQ(format_of("application/x-ndjson"), BodyFormat::ndjson);
  EXPECT_EQ(format_of(kBatch), BodyFormat::batch);
  EXPECT_FALSE(format_of("text/html").has_value());
}

TEST(ApiCodec, FetchAnswersSkipRecordsBelowTheOffsetAskedFor) {
  const log::Record records[] = {{0, {}, as_bytes(std::string_view("r0")), {}}, {0, {}, as_bytes(std::string_view("r1")), {}}};
  partition::FetchReply fetched;
  fetched.batches = log::encode_batch(0, 0, records).value();
  fetched.base_offsets = {10};
  fetched.high_watermark = 12;
  auto listed = fetched_records(fetched, 11);
  ASSERT_TRUE(std::holds_alternative<std::vector<FetchedRecord>>(listed));
  const auto& list = std::get<std::vector<FetchedRecord>>(listed);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].offset, 11u);
  const Bytes json = encode_fetch_json(list, 12, fetched, TextEncoding::base64);
  const Json parsed = Json::parse(std::string(reinterpret_cast<const char*>(json.data()), json.size()));
  EXPECT_EQ(parsed["records"][0]["value"], "cjE=");
  EXPECT_EQ(parsed["next_offset"], 12);
  const Bytes ndjson = encode_fetch_ndjson(list, TextEncoding::utf8);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ndjson.data()), ndjson.size()),
            "{\"key\":\"\",\"offset\":11,\"timestamp_ms\":0,\"value\":\"r1\"}\n");
  fetched.batches.back() ^= std::byte{1};
  EXPECT_TRUE(std::holds_alternative<http::ApiError>(fetched_records(fetched, 0)));
}

}  // namespace
}  // namespace sluice::server
