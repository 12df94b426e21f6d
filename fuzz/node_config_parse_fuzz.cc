// Fuzzes sluice-node's config file parser (node/server/config_file.h, docs/formats/node-config.md):
// an operator's file is outside bytes. Any input is accepted or refused with a message naming the
// file, without a crash; an accepted one validates without a crash, and its auth section converts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "node/base/assert.h"
#include "node/server/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = sluice::server::parse_node_config(text, "fuzz.toml");
  if (!parsed.ok()) {
    SLUICE_ASSERT(parsed.status().message().find("fuzz.toml") != std::string::npos);
    return 0;
  }
  if (sluice::server::validate_node_settings(*parsed).ok()) (void)sluice::server::auth_config(*parsed);
  return 0;
}
