#include "tests/e2e/realfault/history.h"

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <type_traits>

namespace sluice::realfault {
namespace {

using nlohmann::json;

const char* kind_name(HistoryEvent::Kind kind) {
  switch (kind) {
    case HistoryEvent::Kind::header: return "header";
    case HistoryEvent::Kind::acked: return "acked";
    case HistoryEvent::Kind::consumed: return "consumed";
    case HistoryEvent::Kind::skipped: return "skipped";
    case HistoryEvent::Kind::end: return "end";
  }
  return "?";
}

std::optional<HistoryEvent::Kind> kind_of(const std::string& name) {
  for (HistoryEvent::Kind kind : {HistoryEvent::Kind::header, HistoryEvent::Kind::acked, HistoryEvent::Kind::consumed,
                                  HistoryEvent::Kind::skipped, HistoryEvent::Kind::end}) {
    if (name == kind_name(kind)) return kind;
  }
  return std::nullopt;
}

// A field that is not what the writer writes (a float, a negative count, a partition past u32):
// refused, never converted (nlohmann's get<> would convert it silently).
struct FieldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T integer_of(const json& value, const char* key) {
  if (value.is_number_unsigned() && value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())) {
    return static_cast<T>(value.get<uint64_t>());
  }
  if constexpr (std::is_signed_v<T>) {
    if (value.is_number_integer() && !value.is_number_unsigned()) return static_cast<T>(value.get<int64_t>());
  }
  throw FieldError(std::string(key) + " is not an integer in range: " + value.dump());
}

template <typename T>
T integer_at(const json& object, const char* key) {
  return integer_of<T>(object.at(key), key);
}

// Reads the fields of `kind` from `object`; throws json errors on a missing field, FieldError on
// a mistyped one.
HistoryEvent event_of(HistoryEvent::Kind kind, const json& object) {
  HistoryEvent event;
  event.kind = kind;
  if (kind == HistoryEvent::Kind::header) {
    event.idempotent = object.at("idempotent").get<bool>();
    return event;
  }
  event.partition = integer_at<uint32_t>(object, "partition");
  event.offset = integer_at<uint64_t>(object, "offset");
  if (kind != HistoryEvent::Kind::acked) event.consumer = integer_at<uint64_t>(object, "consumer");
  if (kind == HistoryEvent::Kind::skipped) return event;
  if (kind == HistoryEvent::Kind::end) {
    if (object.contains("acked_before")) event.acked_before = integer_at<uint64_t>(object, "acked_before");
    return event;
  }
  const json& records = object.at("records");
  if (!records.is_array()) throw FieldError("records is not an array");
  if (records.size() > kHistoryRecordsPerEventMax) throw FieldError("more than " + std::to_string(kHistoryRecordsPerEventMax) + " records");
  for (const json& record : records) event.records.push_back(integer_of<uint64_t>(record, "a record id"));
  if (kind == HistoryEvent::Kind::consumed) {
    event.expected = integer_at<uint64_t>(object, "expected");
    event.first_timestamp_ms = integer_at<int64_t>(object, "first_timestamp_ms");
    event.max_timestamp_ms = integer_at<int64_t>(object, "max_timestamp_ms");
  }
  return event;
}

}  // namespace

std::string to_json_line(const HistoryEvent& event) {
  json object = {{"kind", kind_name(event.kind)}};
  if (event.kind == HistoryEvent::Kind::header) {
    object["idempotent"] = event.idempotent;
    return object.dump();
  }
  object["partition"] = event.partition;
  object["offset"] = event.offset;
  if (event.kind != HistoryEvent::Kind::acked) object["consumer"] = event.consumer;
  if (event.kind == HistoryEvent::Kind::skipped) return object.dump();
  if (event.kind == HistoryEvent::Kind::end) {
    if (event.acked_before) object["acked_before"] = *event.acked_before;
    return object.dump();
  }
  object["records"] = event.records;
  if (event.kind == HistoryEvent::Kind::consumed) {
    object["expected"] = event.expected;
    object["first_timestamp_ms"] = event.first_timestamp_ms;
    object["max_timestamp_ms"] = event.max_timestamp_ms;
  }
  return object.dump();
}

std::optional<HistoryEvent> parse_history_line(const std::string& line, std::string& error) {
  if (line.size() > kHistoryLineBytesMax) {
    error = "longer than " + std::to_string(kHistoryLineBytesMax) + " bytes";
    return std::nullopt;
  }
  json object = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object() || !object.contains("kind") || !object["kind"].is_string()) {
    error = "not a JSON object with a \"kind\"";
    return std::nullopt;
  }
  std::optional<HistoryEvent::Kind> kind = kind_of(object["kind"].get<std::string>());
  if (!kind) {
    error = "unknown kind " + object["kind"].dump();
    return std::nullopt;
  }
  try {
    return event_of(*kind, object);
  } catch (const json::exception& e) {  // nlohmann's typed getters report by exception only
    error = std::string(kind_name(*kind)) + ": " + e.what();
  } catch (const FieldError& e) {
    error = std::string(kind_name(*kind)) + ": " + e.what();
  }
  return std::nullopt;
}

void feed(const HistoryEvent& event, checkers::PartitionLedger& ledger) {
  switch (event.kind) {
    case HistoryEvent::Kind::header: return;
    case HistoryEvent::Kind::acked: return ledger.acked(event.partition, event.offset, event.records);
    case HistoryEvent::Kind::consumed:
      return ledger.consumed(event.partition, event.consumer, event.expected, event.offset, event.records, event.first_timestamp_ms,
                             event.max_timestamp_ms);
    case HistoryEvent::Kind::skipped: return ledger.skipped(event.partition, event.consumer, event.offset);
    case HistoryEvent::Kind::end: return ledger.high_watermark(event.partition, event.consumer, event.offset, event.acked_before);
  }
}

HistoryRecorder::HistoryRecorder(std::FILE* out, bool idempotent) : out_(out), ledger_(idempotent) {
  HistoryEvent header;
  header.idempotent = idempotent;
  record(header);
}

void HistoryRecorder::record(const HistoryEvent& event) {
  if (out_ != nullptr) {
    const std::string line = to_json_line(event) + "\n";
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
  }
  feed(event, ledger_);
}

std::optional<checkers::PartitionLedger> replay_history(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  std::optional<checkers::PartitionLedger> ledger;
  std::string line;
  for (uint64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::string where = path + ": line " + std::to_string(number) + ": ";
    std::optional<HistoryEvent> event = parse_history_line(line, error);
    if (!event) {
      error = where + error;
      return std::nullopt;
    }
    if (event->kind == HistoryEvent::Kind::header) {
      if (!ledger) ledger.emplace(event->idempotent);
      continue;
    }
    if (!ledger) {
      error = where + "an event before the header";
      return std::nullopt;
    }
    feed(*event, *ledger);
  }
  if (!ledger) error = path + ": no header line (empty history)";
  return ledger;
}

LedgerVerdict judge(const checkers::PartitionLedger& ledger) {
  LedgerVerdict verdict;
  verdict.figures = {{"records_acked", std::to_string(ledger.acked_records())},
                     {"records_consumed", std::to_string(ledger.consumed_records())},
                     {"lost_acked_records", std::to_string(ledger.lost_acked())},
                     {"duplicates", std::to_string(ledger.duplicate_records())},
                     {"divergences", std::to_string(ledger.divergences())},
                     {"timestamp_regressions", std::to_string(ledger.time_regressions())},
                     {"confirmed_ends_checked", std::to_string(ledger.high_watermarks_checked())}};
  if (const auto& violation = ledger.violation()) {
    verdict.violation = "partition_ledger: " + *violation;
  } else if (ledger.lost_acked() > 0) {
    verdict.violation = "lost_acked: " + ledger.first_lost();
  }
  return verdict;
}

}  // namespace sluice::realfault
