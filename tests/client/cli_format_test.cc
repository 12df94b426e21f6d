// The CLI's record formats and bench figures (client/cli/format.h, bench_figures.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "client/cli/bench_figures.h"
#include "client/cli/format.h"

namespace sluice::client::cli {
namespace {

ConsumedRecord sample(std::optional<std::string> key = "k1") {
  ConsumedRecord record;
  record.topic = "orders";
  record.partition = 2;
  record.offset = 41;
  record.timestamp_ms = 1700000000123;
  if (key) record.key = to_bytes(*key);
  record.value = to_bytes("hello");
  return record;
}

std::string render(std::string_view format, const ConsumedRecord& record) {
  Result<OutputFormat> parsed = parse_output_format(format);
  EXPECT_TRUE(parsed.ok()) << format << ": " << parsed.status().to_string();
  return parsed.ok() ? render_record(*parsed, record) : "";
}

TEST(CliFormat, DefaultIsTheValue) { EXPECT_EQ(render_record(OutputFormat{}, sample()), "hello\n"); }

TEST(CliFormat, Templates) {
  EXPECT_EQ(render("{topic}/{partition}@{offset} {timestamp} {key}={value}", sample()), "orders/2@41 1700000000123 k1=hello\n");
  EXPECT_EQ(render("{key}|{value}", sample(std::nullopt)), "|hello\n");
  EXPECT_EQ(render("{{{value}}}", sample()), "{hello}\n");
  EXPECT_EQ(render("{offset}\\t{value}\\\\", sample()), "41\thello\\\n");
  EXPECT_EQ(render("literal", sample()), "literal\n");
}

TEST(CliFormat, BadTemplates) {
  EXPECT_FALSE(parse_output_format("{nope}").ok());
  EXPECT_FALSE(parse_output_format("{value").ok());
  EXPECT_FALSE(parse_output_format("value}").ok());
}

TEST(CliFormat, JsonLines) {
  Result<OutputFormat> format = parse_output_format("json");
  ASSERT_TRUE(format.ok());
  const nlohmann::json line = nlohmann::json::parse(render_record(*format, sample()));
  EXPECT_EQ(line["topic"], "orders");
  EXPECT_EQ(line["partition"], 2);
  EXPECT_EQ(line["offset"], 41);
  EXPECT_EQ(line["timestamp_ms"], 1700000000123);
  EXPECT_EQ(line["key"], "k1");
  EXPECT_EQ(line["value"], "hello");
  EXPECT_TRUE(nlohmann::json::parse(render_record(*format, sample(std::nullopt)))["key"].is_null());
  // Invalid UTF-8 still makes a JSON line.
  ConsumedRecord binary = sample();
  binary.value = Bytes{std::byte{0xff}, std::byte{'a'}};
  EXPECT_TRUE(nlohmann::json::parse(render_record(*format, binary), nullptr, false).is_object());
}

TEST(CliFormat, JsonInputLines) {
  Result<OutRecord> full = record_from_json_line(R"({"key":"k","value":"v","partition":3})");
  ASSERT_TRUE(full.ok()) << full.status().to_string();
  EXPECT_EQ(as_string_view(*full->key), "k");
  EXPECT_EQ(as_string_view(full->value), "v");
  EXPECT_EQ(full->partition, 3u);
  Result<OutRecord> bare = record_from_json_line(R"({"value":"v","key":null})");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->key.has_value());
  EXPECT_FALSE(bare->partition.has_value());
  EXPECT_FALSE(record_from_json_line("not json").ok());
  EXPECT_FALSE(record_from_json_line("[1]").ok());
  EXPECT_FALSE(record_from_json_line(R"({"key":"k"})").ok());
  EXPECT_FALSE(record_from_json_line(R"({"value":1})").ok());
  EXPECT_FALSE(record_from_json_line(R"({"value":"v","partition":-1})").ok());
  EXPECT_FALSE(record_from_json_line(R"({"value":"v","extra":1})").ok());
}

TEST(CliBenchFigures, Percentiles) {
  std::vector<uint32_t> sorted;
  for (uint32_t i = 1; i <= 100; ++i) sorted.push_back(i);
  EXPECT_EQ(percentile(sorted, 0.50), 50u);
  EXPECT_EQ(percentile(sorted, 0.99), 99u);
  EXPECT_EQ(percentile(sorted, 1.0), 100u);
  EXPECT_EQ(percentile({}, 0.5), 0u);
  EXPECT_EQ(percentile({7}, 0.99), 7u);
}

TEST(CliBenchFigures, ProduceFigures) {
  ProduceSamples samples;
  samples.latencies_us = {3000, 1000, 2000, 4000};
  samples.record_bytes = 1'000'000;
  samples.records_failed = 1;
  samples.elapsed = std::chrono::seconds(2);
  const std::string text = render_figures(produce_figures(samples), false);
  EXPECT_NE(text.find("records=4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("failed=1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("msg_s=2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("mb_s=2.00\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_ms_p50=2.000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_ms_p99=4.000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_ms_max=4.000\n"), std::string::npos) << text;
  const nlohmann::json json = nlohmann::json::parse(render_figures(produce_figures(samples), true));
  EXPECT_EQ(json["msg_s"], 2.0);
  EXPECT_EQ(json["latency_ms_p50"], 2.0);
}

TEST(CliBenchFigures, ConsumeFigures) {
  const std::string text = render_figures(consume_figures(1000, 2'000'000, std::chrono::milliseconds(500)), false);
  EXPECT_NE(text.find("msg_s=2000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("mb_s=4.00\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace sluice::client::cli
