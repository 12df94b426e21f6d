#include "sim/checkers/sealed_segments.h"

#include <algorithm>
#include <map>

#include "node/log/codec.h"
#include "node/log/segment_format.h"

namespace sluice::checkers {
namespace {

// Every batch of a sealed segment's data (after its header) verifies.
bool batches_intact(ByteSpan data) {
  while (!data.empty()) {
    log::Result<log::BatchHeader> header = log::decode_batch_header(data);
    if (!header.ok() || header->batch_bytes > data.size() || !log::verify_batch(data.first(header->batch_bytes)).ok()) return false;
    data = data.subspan(header->batch_bytes);
  }
  return true;
}

// The sorted names in `path` that `keep` accepts (none when the directory is missing).
template <typename Keep>
std::vector<std::string> names_in(const ReplicaFiles& replica, const std::string& path, Keep keep) {
  std::vector<std::string> out;
  if (std::optional<std::vector<std::string>> names = replica.list(path)) {
    for (std::string& name : *names) {
      if (keep(name)) out.push_back(std::move(name));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Adds the intact sealed segments of one replica's partition directory to `sealed` (file name ->
// its data after the header, one entry per replica holding it).
void collect_sealed(const ReplicaFiles& replica, const std::string& dir, std::map<std::string, std::vector<Bytes>>& sealed) {
  for (const std::string& log_dir : names_in(replica, dir, [](const std::string& name) { return name.starts_with("log-"); })) {
    const std::string path = dir + "/" + log_dir;
    std::vector<std::string> data = names_in(replica, path, [](const std::string& name) { return name.ends_with(".log"); });
    if (!data.empty()) data.pop_back();  // the active segment (names are zero-padded base offsets)
    for (const std::string& file : data) {
      std::optional<Bytes> bytes = replica.read(path + "/" + file);
      if (bytes && bytes->size() >= log::kSegmentHeaderBytes && batches_intact(ByteSpan(*bytes).subspan(log::kSegmentHeaderBytes))) {
        sealed[file].emplace_back(bytes->begin() + static_cast<ptrdiff_t>(log::kSegmentHeaderBytes), bytes->end());
      }
    }
  }
}

}  // namespace

SegmentsCompared compare_sealed_segments(const std::vector<ReplicaFiles>& replicas, const std::string& dir) {
  std::map<std::string, std::vector<Bytes>> sealed;
  for (const ReplicaFiles& replica : replicas) collect_sealed(replica, dir, sealed);
  SegmentsCompared result;
  for (const auto& entry : sealed) {
    const std::string& file = entry.first;
    const auto& copies = entry.second;  // not a structured binding: the lambda below captures it (clang 14)
    if (copies.size() < 2) continue;
    ++result.compared;
    if (std::all_of(copies.begin(), copies.end(), [&](const Bytes& copy) { return copy == copies.front(); })) continue;
    if (result.differing++ == 0) result.first_difference = "sealed segment " + file + " of " + dir + " differs between replicas";
  }
  return result;
}

}  // namespace sluice::checkers
