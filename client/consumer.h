// The consumer (issue 14): assign partitions, seek, and poll records with long-poll fetches of
// the log's batches. It follows leader changes (the topic resolver; a fetch is answered by any
// replica's leader) and resumes at the next offset it has not returned, and it reports records
// removed by retention before it read them as an explicit Gap, never as a silent skip.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"

namespace sluice::client {

struct StartAt {
  enum class Kind : uint8_t { earliest, latest, offset, timestamp };
  Kind kind = Kind::earliest;
  int64_t value = 0;  // offset, or timestamp in ms
  static StartAt earliest() { return {Kind::earliest, 0}; }
  static StartAt latest() { return {Kind::latest, 0}; }
  static StartAt offset(uint64_t offset) { return {Kind::offset, static_cast<int64_t>(offset)}; }
  static StartAt timestamp(int64_t ms) { return {Kind::timestamp, ms}; }
};

struct ConsumedRecord {
  std::string topic;
  uint32_t partition = 0;
  uint64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::optional<Bytes> key;
  Bytes value;
};

// Records [from, to) of a partition were removed by retention before this consumer read them.
struct Gap {
  std::string topic;
  uint32_t partition = 0;
  uint64_t from = 0;
  uint64_t to = 0;
};

struct PollResult {
  std::vector<ConsumedRecord> records;  // per partition in offset order
  std::vector<Gap> gaps;
};

struct ConsumerConfig {
  size_t max_bytes = 1 << 20;                          // one fetch's answer
  rt::Duration wait = std::chrono::milliseconds(500);  // long-poll at the end of a partition
  rt::Duration request_timeout = std::chrono::seconds(10);
  // Each fetch asks for a high watermark confirmed by a read-index round on the leader: it then
  // covers every record acknowledged before the fetch, which reading "to the end" needs; without,
  // a leader cut off from its quorum may report a lagging end for up to an election timeout.
  bool confirm_high_watermark = false;
};

class Consumer {
 public:
  Consumer(Client& client, ConsumerConfig config);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Reads `partition` of `topic` from `from` on (resolved to an offset at the first poll).
  Status assign(const std::string& topic, uint32_t partition, StartAt from);
  // Every partition of `topic` (asks the metadata for the count).
  Status assign_all(const std::string& topic, StartAt from);
  Status seek(const std::string& topic, uint32_t partition, StartAt from);
  // The next offset poll() returns for the partition (nullopt: not resolved yet or unassigned).
  std::optional<uint64_t> position(const std::string& topic, uint32_t partition) const;
  // The partition's high watermark as the last fetch reported it.
  std::optional<uint64_t> high_watermark(const std::string& topic, uint32_t partition) const;

  // Fetches from every assigned partition once, returning what arrived; waits (long-poll) up to
  // `wait` when nothing did, never past `deadline`. Retriable errors (a leader moving) are retried
  // on later polls; others are returned.
  Result<PollResult> poll(rt::Instant deadline);

 private:
  struct Assigned {
    StartAt start;
    std::optional<uint64_t> position;
    std::optional<uint64_t> high_watermark;
  };
  Status resolve_start(const std::string& topic, uint32_t partition, Assigned& assigned, rt::Instant deadline);
  Status fetch_one(const std::string& topic, uint32_t partition, Assigned& assigned, rt::Duration wait, rt::Instant deadline,
                   PollResult& out);
  Status note_gap(const std::string& topic, uint32_t partition, Assigned& assigned, rt::Instant deadline, PollResult& out);
  Status take_batches(const std::string& topic, uint32_t partition, Assigned& assigned, const HttpClientResponse& response,
                      PollResult& out);

  Client& client_;
  ConsumerConfig config_;
  std::map<std::pair<std::string, uint32_t>, Assigned> assigned_;
};

}  // namespace sluice::client
