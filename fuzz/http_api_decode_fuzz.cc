// Fuzzes the HTTP API's whole request path short of the cluster (docs/http.md): the bytes of a
// connection go through the request parser, every complete request through the real pipeline
// (the API's route table, a token table, the authorize layer) to an execute layer that runs the
// API's body decoders (topic create and config, produce in JSON and NDJSON) and the fetch
// encoders, and every answer is encoded as the server would send it. Any input must give 4xx or
// 2xx answers (never 5xx from a decoder) without a crash; a parse error maps to its status.
#include <cstddef>
#include <cstdint>

#include "node/base/assert.h"
#include "node/http/pipeline.h"
#include "node/http/request_parser.h"
#include "node/http/response.h"
#include "node/server/api_codec.h"

namespace {

namespace http = sluice::http;
namespace server = sluice::server;

class FixedClock final : public sluice::runtime::TimerSource {
 public:
  sluice::runtime::Instant now() override { return sluice::runtime::Instant{}; }
  void wake_at(sluice::runtime::Instant, sluice::runtime::WakeToken) override {}
};

void execute(http::Exchange& exchange) {
  uint64_t unkeyed = 0;
  const server::ProduceDecodeContext context{4, 100, &unkeyed};
  const sluice::ByteSpan body = exchange.request->body;
  switch (static_cast<server::Route>(exchange.route.id)) {
    case server::Route::topic_create: {
      auto decoded = server::decode_topic_create(body);
      if (auto* error = std::get_if<http::ApiError>(&decoded)) exchange.error = *error;
      return;
    }
    case server::Route::topic_alter: {
      auto decoded = server::decode_topic_config(body, {});
      if (auto* error = std::get_if<http::ApiError>(&decoded)) exchange.error = *error;
      return;
    }
    case server::Route::produce: {
      auto json = server::decode_produce_json(body, context);
      auto ndjson = server::decode_produce_ndjson(body, server::TextEncoding::base64, context);
      if (auto* error = std::get_if<http::ApiError>(&json)) exchange.error = *error;
      (void)ndjson;
      return;
    }
    default: {
      // A fetch answer built from the body as if it were a replica's batches: refused or encoded.
      sluice::partition::FetchReply fetched;
      fetched.batches.assign(body.begin(), body.end());
      fetched.base_offsets.assign(1, 0);
      auto records = server::fetched_records(fetched, 0);
      if (auto* list = std::get_if<std::vector<server::FetchedRecord>>(&records)) {
        exchange.reply.body = server::encode_fetch_json(*list, 0, fetched, server::TextEncoding::utf8);
        (void)server::encode_fetch_ndjson(*list, server::TextEncoding::base64);
      }
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const http::RouteTable routes = server::api_routes();
  static const http::AuthConfig auth = [] {
    http::AuthConfig config;
    config.anonymous_allowed = true;
    config.anonymous.cluster_admin = true;
    config.tokens.push_back(*http::parse_token_entry_line(http::token_entry_line("t", "token", sluice::Bytes(http::kTokenSaltBytes))));
    return config;
  }();
  FixedClock clock;
  http::Metrics metrics;
  http::PipelineParts parts;
  parts.routes = &routes;
  parts.route_names = server::api_route_names();
  parts.auth = &auth;
  parts.require = [](const http::Exchange&) { return http::Requirement{false, http::Permission::read, "t"}; };
  parts.execute = execute;
  http::Pipeline pipeline(clock, metrics, std::move(parts));
  http::RequestParser parser;
  const http::Status fed = parser.feed(sluice::ByteSpan(reinterpret_cast<const std::byte*>(data), size));
  while (std::optional<http::HttpRequest> request = parser.next_request()) {
    const http::HttpResponse response = pipeline.handle(*request, http::ConnectionInfo{}, sluice::runtime::Instant{});
    SLUICE_ASSERT(response.status >= 200 && response.status < 500);
    (void)http::encode_response(response, request->keep_alive, request->method == "HEAD");
  }
  if (!fed.ok()) SLUICE_ASSERT(http::http_status_for(fed.code()) >= 400);
  return 0;
}
