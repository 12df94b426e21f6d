// Fuzzes sluice::runtime::Address::parse: any input must be accepted or rejected without a crash,
// and an accepted address must survive printing and parsing again unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "node/base/assert.h"
#include "runtime/net.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = sluice::runtime::Address::parse(text);
  if (!parsed.ok()) return 0;

  const std::string printed = parsed->to_string();
  const auto reparsed = sluice::runtime::Address::parse(printed);
  SLUICE_ASSERT(reparsed.ok());
  SLUICE_ASSERT_EQ(reparsed->host, parsed->host);
  SLUICE_ASSERT_EQ(reparsed->port, parsed->port);
  SLUICE_ASSERT_EQ(reparsed->to_string(), printed);
  return 0;
}
