#include "node/server/identity.h"

#include <charconv>

#include "node/base/hash.h"

namespace sluice::server {
namespace {

namespace rt = sluice::runtime;

constexpr std::string_view kMagicLine = "sluice-identity 1\n";
constexpr std::string_view kTempFile = "node.identity.tmp";

std::string hex(uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) text[static_cast<size_t>(i)] = kDigits[value & 0xf];
  return text;
}

std::string body_of(const Identity& identity) {
  return std::string(kMagicLine) + "cluster_id=" + std::to_string(identity.cluster_id) + "\n" +
         "node_id=" + std::to_string(identity.node_id) + "\n";
}

// Consumes "<key>=<decimal>\n" from the front of `text`.
bool take_field(std::string_view& text, std::string_view key, uint64_t& value) {
  if (text.substr(0, key.size()) != key || text.size() <= key.size() || text[key.size()] != '=') return false;
  text.remove_prefix(key.size() + 1);
  const size_t end = text.find('\n');
  if (end == std::string_view::npos || end == 0) return false;
  auto [stop, error] = std::from_chars(text.data(), text.data() + end, value);
  if (error != std::errc() || stop != text.data() + end) return false;
  text.remove_prefix(end + 1);
  return true;
}

rt::Status write_identity(rt::Filesystem& fs, const Identity& identity) {
  const Bytes bytes = encode_identity(identity);
  {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<rt::File> file, fs.open(kTempFile, rt::OpenMode::create));
    SLUICE_TRY(file->truncate(0));
    SLUICE_TRY(file->write_at(0, bytes));
    SLUICE_TRY(file->sync());
    SLUICE_TRY(file->close());
  }
  SLUICE_TRY(fs.rename(kTempFile, kIdentityFile));
  return fs.sync_dir("");
}

}  // namespace

Bytes encode_identity(const Identity& identity) {
  const std::string body = body_of(identity);
  const std::string text = body + "check=" + hex(hash_bytes(body)) + "\n";
  return to_bytes(text);
}

rt::Result<Identity> decode_identity(ByteSpan bytes) {
  const rt::Status bad(rt::Errc::invalid_argument, std::string(kIdentityFile) + " is damaged or not an identity file");
  if (bytes.size() > kIdentityFileBytesMax) return bad;
  const std::string_view all = as_string_view(bytes);
  std::string_view text = all;
  if (text.substr(0, kMagicLine.size()) != kMagicLine) return bad;
  text.remove_prefix(kMagicLine.size());
  Identity identity;
  if (!take_field(text, "cluster_id", identity.cluster_id) || !take_field(text, "node_id", identity.node_id)) return bad;
  const std::string expected = "check=" + hex(hash_bytes(all.substr(0, all.size() - text.size()))) + "\n";
  if (text != expected || identity.node_id == kNoNode) return bad;
  return identity;
}

rt::Result<Identity> load_or_create_identity(rt::Filesystem& fs, Identity wanted, uint64_t random_node_id) {
  SLUICE_ASSIGN_OR_RETURN(bool exists, fs.exists(kIdentityFile));
  if (!exists) {
    Identity created = wanted;
    if (created.node_id == kNoNode) created.node_id = random_node_id == kNoNode ? 1 : random_node_id;
    SLUICE_TRY(write_identity(fs, created));
    return created;
  }
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<rt::File> file, fs.open(kIdentityFile, rt::OpenMode::read_only));
  Bytes bytes(kIdentityFileBytesMax + 1);
  SLUICE_ASSIGN_OR_RETURN(size_t read, file->read_at(0, bytes));
  bytes.resize(read);
  SLUICE_ASSIGN_OR_RETURN(Identity stored, decode_identity(bytes));
  if (wanted.cluster_id != 0 && wanted.cluster_id != stored.cluster_id) {
    return rt::Status(rt::Errc::invalid_argument, "the data directory belongs to cluster " + std::to_string(stored.cluster_id) +
                                                      ", not " + std::to_string(wanted.cluster_id));
  }
  if (wanted.node_id != kNoNode && wanted.node_id != stored.node_id) {
    return rt::Status(rt::Errc::invalid_argument, "the data directory belongs to node " + std::to_string(stored.node_id) +
                                                      ", not " + std::to_string(wanted.node_id));
  }
  return stored;
}

}  // namespace sluice::server
