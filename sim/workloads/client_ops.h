// Client operations of the cluster workload by a stable identity, and the ranges of them a
// scenario drops (`[workload] skip_ops`, docs/formats/scenario.md; issue 15's shrink over client
// operations). An operation is a produced record: (stream, seq) where the stream names the
// producer ("client<h>.p<k>") and seq counts its records from 0, whether sent or skipped; or a
// round of the admin client's topic churn (kAdminChurnStream, seq its round from 0); or a poll of a
// consumer ("client<h>.c<k>", seq its poll from 0). A skipped record still draws its payload and
// think time, so every other record keeps its payload, partition and timing; the ledger never sees
// it. A producer's probe is never skipped. A skipped poll is a pause as long as the consumer's
// long-poll wait (at least 10 ms): the consumer reads the same records later, in bigger batches.
#pragma once

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::sim {

enum class ClientOpKind : uint8_t {
  produce,      // a produced record
  topic_cycle,  // one round of the admin client's topic churn: create, alter, delete a scratch topic
  poll,         // one poll of a consumer (a fetch of every partition it reads)
};

struct ClientOp {
  std::string stream;  // "client<h>.p<k>" (a producer), "client<h>.c<k>" (a consumer) or kAdminChurnStream
  uint64_t seq = 0;
  ClientOpKind kind = ClientOpKind::produce;
  uint32_t partition = 0;  // a record: where it went, seq mod the topic's partitions (not the producer's round-robin)
  uint64_t record = 0;     // a record: the hash of its value, as the ledger knows it
  auto operator<=>(const ClientOp&) const = default;
};

// The admin client's topic churn as a stream of operations: seq n is its round n+1 (topic
// "scratch-<n+1>"). A skipped round still waits its interval; the next round keeps its name.
inline constexpr std::string_view kAdminChurnStream = "client0.admin";

// Dropped operations, per stream; each skip_ops entry is "STREAM:FIRST" or "STREAM:FIRST-LAST".
using SkippedOps = std::map<std::string, std::set<uint64_t>>;

constexpr size_t kSkipOpsRangeMax = 1'000'000;  // operations one range may name

inline std::optional<uint64_t> parse_op_seq(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Adds one entry to `out`; "" when it parses, else what is wrong with it.
inline std::string parse_skip_range(std::string_view entry, SkippedOps& out) {
  const size_t colon = entry.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return "'" + std::string(entry) + "': expected STREAM:FIRST or STREAM:FIRST-LAST";
  const std::string_view range = entry.substr(colon + 1);
  const size_t dash = range.find('-');
  const std::optional<uint64_t> first = parse_op_seq(range.substr(0, dash));
  const std::optional<uint64_t> last = dash == std::string_view::npos ? first : parse_op_seq(range.substr(dash + 1));
  if (!first || !last) return "'" + std::string(entry) + "': a range is FIRST or FIRST-LAST, unsigned integers";
  if (*last < *first) return "'" + std::string(entry) + "': the range runs backwards";
  if (*last - *first >= kSkipOpsRangeMax) return "'" + std::string(entry) + "': a range names at most " + std::to_string(kSkipOpsRangeMax) + " operations";
  std::set<uint64_t>& seqs = out[std::string(entry.substr(0, colon))];
  for (uint64_t seq = *first; seq <= *last; ++seq) seqs.insert(seq);
  return "";
}

// The compact form: consecutive sequence numbers as one range, streams in order.
inline std::vector<std::string> format_skip_ops(const SkippedOps& skipped) {
  std::vector<std::string> out;
  for (const auto& [stream, seqs] : skipped) {
    for (auto it = seqs.begin(); it != seqs.end();) {
      const uint64_t first = *it;
      uint64_t last = first;
      for (++it; it != seqs.end() && *it == last + 1; ++it) last = *it;
      out.push_back(stream + ":" + std::to_string(first) + (last == first ? "" : "-" + std::to_string(last)));
    }
  }
  return out;
}

}  // namespace sluice::sim
