// Fuzzes the client's HTTP/1.1 response parser (client/http/response_parser.h). The first input
// byte picks the request method (HEAD or GET) and where the rest is split in two; the parser must
// never crash, must keep its limits, and must reach the same result (complete, status, headers,
// body, keep-alive, error code) whether the bytes come in one piece or in two.
#include <cstddef>
#include <cstdint>

#include "client/http/response_parser.h"
#include "node/base/assert.h"

namespace {

namespace client = sluice::client;

struct Parsed {
  client::ResponseParser parser;
  sluice::http::Status status;
};

void finish(Parsed& parsed) {
  if (parsed.status.ok()) parsed.status = parsed.parser.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool head = (data[0] & 1) != 0;
  const sluice::ByteSpan input(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  const size_t split = input.empty() ? 0 : (data[0] >> 1) % input.size();
  client::ResponseLimits limits;
  limits.header_bytes_max = 512;
  limits.headers_max = 16;
  limits.body_bytes_max = 1024;

  Parsed whole{client::ResponseParser(head ? "HEAD" : "GET", limits), {}};
  whole.status = whole.parser.feed(input);
  finish(whole);
  Parsed pieces{client::ResponseParser(head ? "HEAD" : "GET", limits), {}};
  pieces.status = pieces.parser.feed(input.first(split));
  if (pieces.status.ok()) pieces.status = pieces.parser.feed(input.subspan(split));
  finish(pieces);

  SLUICE_ASSERT_EQ(static_cast<int>(whole.status.code()), static_cast<int>(pieces.status.code()));
  SLUICE_ASSERT_EQ(whole.parser.complete(), pieces.parser.complete());
  SLUICE_ASSERT_EQ(whole.parser.keep_alive(), pieces.parser.keep_alive());
  if (!whole.parser.complete()) {
    SLUICE_ASSERT(!whole.status.ok());
    return 0;
  }
  const client::HttpClientResponse a = whole.parser.take_response();
  const client::HttpClientResponse b = pieces.parser.take_response();
  SLUICE_ASSERT(a.status >= 200 && a.status <= 599);
  SLUICE_ASSERT_LE(a.body.size(), limits.body_bytes_max);
  SLUICE_ASSERT(!head || a.body.empty());
  SLUICE_ASSERT_EQ(a.status, b.status);
  SLUICE_ASSERT(a.headers == b.headers);
  SLUICE_ASSERT(a.body == b.body);
  return 0;
}
