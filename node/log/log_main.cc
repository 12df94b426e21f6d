// sluice-log: inspect and exercise a log directory on the real file system, through the same
// Log code the node runs (on the epoll runtime with DIR as its data directory).
//   sluice-log append DIR [--term N] [--batch-records N] [--segment-bytes N]   stdin lines -> records
//   sluice-log dump DIR [--records]     segments, marks, batches, offsets, timestamps
//   sluice-log verify DIR               every CRC, mark and index; damage names file and byte offset
// Exit codes: 0 ok, 1 failure or damage found, 2 usage error.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "node/log/log.h"
#include "node/log/io_errors.h"
#include "node/log/segment_io.h"
#include "node/log/verify.h"
#include "runtime/epoll/epoll_runtime.h"

namespace sluice::log {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct AppendArgs {
  uint64_t term = 0;  // 0: the log's last term, or 1 for an empty log
  size_t batch_records = 100;
  uint64_t segment_bytes = LogOptions{}.segment_bytes_max;
};

// Printable form of a key or value: text as is, other bytes as \xHH.
std::string printable(ByteSpan bytes) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    const auto c = static_cast<unsigned char>(b);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

Status append_batch(Log& log, uint64_t term, const std::vector<std::string>& lines, int64_t now_ms, uint64_t& batches) {
  std::vector<Record> records;
  records.reserve(lines.size());
  for (const std::string& line : lines) records.push_back({now_ms, ByteSpan(), as_bytes(line), {}});
  SLUICE_TRY(log.append(term, records).status());
  ++batches;
  return Status();
}

int run_append(runtime::Runtime& rt, const AppendArgs& args) {
  LogOptions options;
  options.segment_bytes_max = args.segment_bytes;
  // Small segments for experiments: shrink the batch limit with them.
  if (args.segment_bytes > kSegmentHeaderBytes) {
    options.batch_bytes_max = std::min<uint64_t>(options.batch_bytes_max, args.segment_bytes - kSegmentHeaderBytes);
  }
  Result<std::unique_ptr<Log>> log = Log::open(rt.fs(), "", options);
  if (!log.ok()) {
    std::cerr << "sluice-log: open: " << log.status().to_string() << "\n";
    return kExitFailed;
  }
  const uint64_t term = args.term != 0 ? args.term : std::max<uint64_t>(1, (*log)->last_term());
  const uint64_t first_offset = (*log)->end_offset();
  uint64_t batches = 0;
  std::vector<std::string> lines;
  std::string line;
  Status status;
  while (status.ok() && std::getline(std::cin, line)) {
    lines.push_back(line);
    if (lines.size() < args.batch_records) continue;
    status = append_batch(**log, term, lines, rt.wall_now().time_since_epoch().count() / 1'000'000, batches);
    lines.clear();
  }
  if (status.ok() && !lines.empty()) {
    status = append_batch(**log, term, lines, rt.wall_now().time_since_epoch().count() / 1'000'000, batches);
  }
  if (status.ok()) status = (*log)->close();
  if (!status.ok()) {
    std::cerr << "sluice-log: append: " << status.to_string() << "\n";
    return kExitFailed;
  }
  std::cout << "records=" << (*log)->end_offset() - first_offset << "\nbatches=" << batches << "\nfirst_offset=" << first_offset
            << "\nend_offset=" << (*log)->end_offset() << "\nterm=" << term << "\nsegments=" << (*log)->segments().size() << "\n";
  return 0;
}

void dump_batch(ByteSpan batch, const BatchHeader& header, uint64_t position, bool records) {
  std::cout << "  batch position=" << position << " base_offset=" << header.base_offset << " last_offset=" << header.last_offset()
            << " records=" << header.record_count << " term=" << header.term
            << " first_timestamp_ms=" << header.first_timestamp_ms << " max_timestamp_ms=" << header.max_timestamp_ms
            << " bytes=" << header.batch_bytes << "\n";
  if (!records) return;
  Result<std::vector<RecordView>> views = decode_records(batch, header);
  if (!views.ok()) return;
  for (size_t i = 0; i < views->size(); ++i) {
    const RecordView& view = (*views)[i];
    std::cout << "    record offset=" << header.base_offset + i << " timestamp_ms=" << view.timestamp_ms << " key=\""
              << printable(view.key) << "\" value=\"" << printable(view.value) << "\" headers=" << view.headers.size() << "\n";
  }
}

// Prints one data file as it is on disk (no recovery): marks, then batches until the end or the
// first that fails.
Status dump_segment(runtime::Filesystem& fs, const std::string& name, uint64_t base_offset, bool records) {
  runtime::Result<std::unique_ptr<runtime::File>> file = fs.open(name, runtime::OpenMode::read_only);
  if (!file.ok()) return from_runtime(file.status(), name);
  runtime::Result<uint64_t> size_bytes = (*file)->size();
  if (!size_bytes.ok()) return from_runtime(size_bytes.status(), name);
  SLUICE_ASSIGN_OR_RETURN(MarkPair marks, read_marks(**file, name));
  std::cout << "segment file=" << name << " base_offset=" << base_offset << " size_bytes=" << *size_bytes;
  if (marks.newest) {
    std::cout << " mark_sequence=" << marks.newest->sequence << " synced_bytes=" << marks.newest->synced_bytes
              << " prev_term=" << marks.newest->prev_term;
  } else {
    std::cout << " mark=none";
  }
  std::cout << "\n";
  FileWindow window(**file, name, *size_bytes, 1 << 20);
  uint64_t position = kSegmentHeaderBytes;
  while (position < *size_bytes) {
    SLUICE_ASSIGN_OR_RETURN(ByteSpan head, window.get(position, kBatchHeaderBytes));
    Result<BatchHeader> header = decode_batch_header(head);
    Result<ByteSpan> batch = header.ok() ? window.get(position, header->batch_bytes) : Result<ByteSpan>(header.status());
    Result<BatchHeader> verified = batch.ok() ? verify_batch(*batch) : Result<BatchHeader>(batch.status());
    if (!verified.ok()) {
      std::cout << "  stop position=" << position << " reason=" << verified.status().to_string() << "\n";
      break;
    }
    dump_batch(*batch, *verified, position, records);
    position += verified->batch_bytes;
  }
  return Status();
}

int run_dump(runtime::Runtime& rt, bool records) {
  runtime::Result<std::vector<std::string>> names = rt.fs().list("");
  if (!names.ok()) {
    std::cerr << "sluice-log: dump: " << names.status().to_string() << "\n";
    return kExitFailed;
  }
  for (const std::string& name : *names) {
    const std::optional<SegmentFileName> parsed = parse_segment_file_name(name);
    if (!parsed || parsed->kind != SegmentFileKind::data) continue;
    if (Status dumped = dump_segment(rt.fs(), name, parsed->base_offset, records); !dumped.ok()) {
      std::cerr << "sluice-log: dump: " << dumped.to_string() << "\n";
      return kExitFailed;
    }
  }
  return 0;
}

int run_verify(runtime::Runtime& rt) {
  Result<VerifyReport> report = verify_log(rt.fs(), "");
  if (!report.ok()) {
    std::cerr << "sluice-log: verify: " << report.status().to_string() << "\n";
    return kExitFailed;
  }
  for (const std::string& note : report->notes) std::cout << "note " << note << "\n";
  for (const Damage& damage : report->damage) {
    std::cout << "damage file=" << damage.file << " position=" << damage.position << " what=\"" << damage.what << "\"\n";
    std::cerr << "sluice-log: verify: " << damage.file << " is damaged at byte " << damage.position << ": " << damage.what << "\n";
  }
  std::cout << "segments=" << report->segments << "\nbatches=" << report->batches << "\nrecords=" << report->records
            << "\nbytes=" << report->data_bytes << "\nresult=" << (report->ok() ? "ok" : "damaged") << "\n";
  return report->ok() ? 0 : kExitFailed;
}

// Runs `command` as the main fiber of an epoll runtime rooted at `dir`.
int with_runtime(const std::string& dir, const std::function<int(runtime::Runtime&)>& command) {
  auto runtime = runtime::epoll::EpollRuntime::create({.data_dir = dir});
  if (!runtime.ok()) {
    std::cerr << "sluice-log: " << dir << ": " << runtime.status().to_string() << "\n";
    return kExitFailed;
  }
  int code = kExitFailed;
  runtime::Status ran = (*runtime)->run([&] { code = command(**runtime); });
  if (!ran.ok()) {
    std::cerr << "sluice-log: runtime: " << ran.to_string() << "\n";
    return kExitFailed;
  }
  return code;
}

}  // namespace
}  // namespace sluice::log

int main(int argc, char** argv) {
  using namespace sluice::log;
  CLI::App app("sluice-log: append to, dump and verify a sluice partition log directory");
  app.require_subcommand(1);
  std::string dir;
  AppendArgs append_args;
  bool records = false;
  CLI::App* append = app.add_subcommand("append", "append stdin lines as records (created if missing), then sync");
  append->add_option("DIR", dir, "log directory")->required();
  append->add_option("--term", append_args.term, "Raft term of the batches (default: the log's last term, or 1)");
  append->add_option("--batch-records", append_args.batch_records, "records per batch")
      ->check(CLI::Range(size_t{1}, size_t{100'000}));
  append->add_option("--segment-bytes", append_args.segment_bytes, "segment_bytes_max (roll size)");
  CLI::App* dump = app.add_subcommand("dump", "print segments, sync marks and batches as stored (no recovery)");
  dump->add_option("DIR", dir, "log directory")->required()->check(CLI::ExistingDirectory);
  dump->add_flag("--records", records, "also print every record");
  CLI::App* verify = app.add_subcommand("verify", "check every CRC, mark and index; exit 1 naming the damage if any");
  verify->add_option("DIR", dir, "log directory")->required()->check(CLI::ExistingDirectory);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  if (*append) {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) {
      std::cerr << "sluice-log: " << dir << ": " << error.message() << "\n";
      return kExitFailed;
    }
    return with_runtime(dir, [&](sluice::runtime::Runtime& rt) { return run_append(rt, append_args); });
  }
  if (*dump) return with_runtime(dir, [&](sluice::runtime::Runtime& rt) { return run_dump(rt, records); });
  return with_runtime(dir, [](sluice::runtime::Runtime& rt) { return run_verify(rt); });
}
