// Non-virtual helpers of the seam, shared by both runtimes.
#include <algorithm>
#include <charconv>

#include "node/base/random.h"
#include "runtime/fs.h"
#include "runtime/net.h"
#include "runtime/runtime.h"

namespace sluice::runtime {

// In steps of at most 1 MiB from one shared buffer of zeros: a step is one write of the runtime
// (one file-worker job in the epoll runtime), and no call allocates its own buffer.
Status File::preallocate(uint64_t offset, uint64_t length_bytes) {
  constexpr uint64_t kStepBytes = 1 << 20;
  static const Bytes zeros(kStepBytes);
  for (uint64_t done = 0; done < length_bytes;) {
    const uint64_t step = std::min(kStepBytes, length_bytes - done);
    if (Status written = write_at(offset + done, ByteSpan(zeros).first(step)); !written.ok()) return written;
    done += step;
  }
  return length_bytes == 0 ? Status() : sync();
}

std::string Address::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<Address> Address::parse(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Status(Errc::invalid_argument, "address needs host:port");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return Status(Errc::invalid_argument, "address has an empty host");
  if (host.find_first_of("[] ") != std::string_view::npos) {
    return Status(Errc::invalid_argument, "address host has a stray bracket or space");
  }
  unsigned port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535 || port_text.empty()) {
    return Status(Errc::invalid_argument, "address port must be 0..65535");
  }
  return Address{std::string(host), static_cast<uint16_t>(port)};
}

Status Stream::read_exact(MutableByteSpan buffer, Instant deadline) {
  size_t filled = 0;
  while (filled < buffer.size()) {
    Result<size_t> got = read(buffer.subspan(filled), deadline);
    if (!got.ok()) return got.status();
    if (*got == 0) return Status(Errc::connection_reset, "stream ended inside a message");
    filled += *got;
  }
  return Status();
}

Status validate_path(std::string_view path) {
  if (path.empty()) return Status(Errc::invalid_argument, "empty path");
  if (path.front() == '/') return Status(Errc::invalid_argument, "path must be relative: " + std::string(path));
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") {
      return Status(Errc::invalid_argument, "bad path component in " + std::string(path));
    }
    start = slash + 1;
  }
  return Status();
}

namespace {

Status remove_under(Filesystem& fs, const std::string& path, int depth_left) {
  if (fs.remove(path).ok()) return Status();  // a file, or an empty directory
  if (depth_left <= 0) return Status(Errc::limit_exceeded, "remove_tree: " + path + " is nested too deep");
  Result<std::vector<std::string>> children = fs.list(path);
  if (!children.ok()) return children.status();
  for (const std::string& child : *children) SLUICE_TRY(remove_under(fs, path + "/" + child, depth_left - 1));
  return fs.remove(path);
}

}  // namespace

Status remove_tree(Filesystem& fs, std::string_view path, int depth_max) {
  Result<bool> exists = fs.exists(path);
  if (!exists.ok()) return exists.status();
  if (!*exists) return Status();
  SLUICE_TRY(remove_under(fs, std::string(path), depth_max));
  return fs.sync_dir(parent_dir(path));
}

std::string_view parent_dir(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

uint64_t Runtime::random_below(uint64_t bound) {
  return sluice::random_below([this] { return random(); }, bound);
}

}  // namespace sluice::runtime
