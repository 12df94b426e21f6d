#include "node/server/identity.h"

#include <charconv>

#include "node/base/coverage.h"
#include "node/base/hash.h"

namespace sluice::server {
namespace {

namespace rt = sluice::runtime;

constexpr std::string_view kMagicLine = "sluice-identity 1\n";

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

rt::Status write_copy(rt::Filesystem& fs, std::string_view name, const Identity& identity) {
  const std::string temp = std::string(name) + ".tmp";
  const Bytes bytes = encode_identity(identity);
  {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<rt::File> file, fs.open(temp, rt::OpenMode::create));
    SLUICE_TRY(file->truncate(0));
    SLUICE_TRY(file->write_at(0, bytes));
    SLUICE_TRY(file->sync());
    SLUICE_TRY(file->close());
  }
  SLUICE_TRY(fs.rename(temp, name));
  return fs.sync_dir("");
}

// One copy: its identity, or why not (not_found when absent, invalid_argument when damaged).
rt::Result<Identity> read_copy(rt::Filesystem& fs, std::string_view name) {
  SLUICE_ASSIGN_OR_RETURN(bool exists, fs.exists(name));
  if (!exists) return rt::Status(rt::Errc::not_found, std::string(name) + " is missing");
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<rt::File> file, fs.open(name, rt::OpenMode::read_only));
  Bytes bytes(kIdentityFileBytesMax + 1);
  SLUICE_ASSIGN_OR_RETURN(size_t read, file->read_at(0, bytes));
  bytes.resize(read);
  rt::Result<Identity> identity = decode_identity(bytes);
  if (!identity.ok()) return rt::Status(rt::Errc::invalid_argument, std::string(name) + " is damaged");
  return identity;
}

rt::Status check_wanted(const Identity& stored, const Identity& wanted) {
  if (wanted.cluster_id != 0 && wanted.cluster_id != stored.cluster_id) {
    return rt::Status(rt::Errc::invalid_argument, "the data directory belongs to cluster " + std::to_string(stored.cluster_id) +
                                                      ", not " + std::to_string(wanted.cluster_id));
  }
  if (wanted.node_id != kNoNode && wanted.node_id != stored.node_id) {
    return rt::Status(rt::Errc::invalid_argument, "the data directory belongs to node " + std::to_string(stored.node_id) +
                                                      ", not " + std::to_string(wanted.node_id));
  }
  return rt::Status();
}

}  // namespace

Bytes encode_identity(const Identity& identity) {
  const std::string body = body_of(identity);
  const std::string text = body + "check=" + hex(hash_bytes(body)) + "\n";
  return to_bytes(text);
}

rt::Result<Identity> decode_identity(ByteSpan bytes) {
  const rt::Status bad(rt::Errc::invalid_argument, "not an identity file, or damaged");
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
  rt::Result<Identity> copies[2] = {read_copy(fs, kIdentityFiles[0]), read_copy(fs, kIdentityFiles[1])};
  for (const auto& copy : copies) {
    if (!copy.ok() && copy.code() != rt::Errc::not_found && copy.code() != rt::Errc::invalid_argument) return copy.status();
  }
  const bool none = copies[0].code() == rt::Errc::not_found && copies[1].code() == rt::Errc::not_found;
  if (none) {  // a new data directory
    Identity created = wanted;
    if (created.node_id == kNoNode) created.node_id = random_node_id == kNoNode ? 1 : random_node_id;
    SLUICE_TRY(write_copy(fs, kIdentityFiles[0], created));
    if (rt::Status second = write_copy(fs, kIdentityFiles[1], created); !second.ok()) {
      // Roll the creation back: a directory left with one copy for the time until the next start
      // would have no second copy to repair a damaged first one from. Removed, it is new again.
      SLUICE_COVER("server.identity_creation_rolled_back");
      if (fs.remove(kIdentityFiles[0]).ok()) (void)fs.sync_dir("");
      return second;
    }
    return created;
  }
  if (!copies[0].ok() && !copies[1].ok()) {
    return rt::Status(rt::Errc::invalid_argument, std::string(kIdentityLostMessage) + copies[0].status().message() + "; " +
                                                      copies[1].status().message());
  }
  if (copies[0].ok() && copies[1].ok() && *copies[0] != *copies[1]) {
    return rt::Status(rt::Errc::invalid_argument, "the two identity copies disagree");
  }
  const Identity stored = copies[0].ok() ? *copies[0] : *copies[1];
  SLUICE_TRY(check_wanted(stored, wanted));
  for (size_t i = 0; i < 2; ++i) {  // repair a damaged or missing copy from the good one
    if (!copies[i].ok()) SLUICE_TRY(write_copy(fs, kIdentityFiles[i], stored));
  }
  return stored;
}

rt::Result<size_t> scrub_identity(rt::Filesystem& fs, const Identity& identity) {
  size_t rewritten = 0;
  for (std::string_view name : kIdentityFiles) {
    const rt::Result<Identity> copy = read_copy(fs, name);
    if (copy.ok() && *copy == identity) continue;
    if (!copy.ok() && copy.code() != rt::Errc::not_found && copy.code() != rt::Errc::invalid_argument) return copy.status();
    SLUICE_COVER("server.identity_copy_scrub_repaired");
    SLUICE_TRY(write_copy(fs, name, identity));
    ++rewritten;
  }
  return rewritten;
}

}  // namespace sluice::server
