#include "node/http/pipeline.h"

#include <nlohmann/json.hpp>

#include <utility>

namespace sluice::http {
namespace {

using Json = nlohmann::json;

Bytes error_body(const ApiError& error) {
  Json inner = {{"code", error.code}, {"message", error.message}};
  if (error.leader != 0) inner["leader"] = error.leader;
  if (!error.leader_address.empty()) inner["leader_address"] = error.leader_address;
  return to_bytes(Json{{"error", inner}}.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
}

}  // namespace

ApiError make_error(int status, std::string code, std::string message) {
  ApiError error;
  error.status = status;
  error.code = std::move(code);
  error.message = std::move(message);
  return error;
}

ApiError bad_request(std::string message) { return make_error(400, "bad_request", std::move(message)); }

void DecodeLayer::handle(Exchange& exchange) {
  std::optional<Target> target = parse_target(exchange.request->target);
  if (!target) {
    exchange.error = bad_request("the request target is not a valid origin-form path and query");
    return;
  }
  exchange.target = std::move(*target);
  MatchResult found = routes_.match(exchange.request->method, exchange.target.segments);
  if (found.outcome == MatchOutcome::not_found) {
    exchange.error = make_error(404, "not_found", "no route " + exchange.request->method + " " + exchange.request->target);
    return;
  }
  if (found.outcome == MatchOutcome::method_not_allowed) {
    std::string allow;
    for (const std::string& method : found.allowed) allow += (allow.empty() ? "" : ", ") + method;
    exchange.error = make_error(405, "method_not_allowed", exchange.request->method + " is not one of " + allow);
    exchange.reply.headers.push_back(HttpHeader{"allow", allow});
    return;
  }
  exchange.route = std::move(found.match);
  auto name = route_names_.find(exchange.route.id);
  if (name != route_names_.end()) exchange.route_name = name->second;
}

namespace {

void unauthorized(Exchange& exchange, std::string message) {
  exchange.error = make_error(401, "unauthorized", std::move(message));
  exchange.reply.headers.push_back(HttpHeader{"www-authenticate", "Bearer realm=\"sluice\""});
}

}  // namespace

void AuthenticateLayer::handle(Exchange& exchange) {
  if (exchange.error) return;
  exchange.caller = identify(config_, *exchange.request);
  if (exchange.caller.kind == Caller::Kind::invalid) unauthorized(exchange, "the bearer token is not valid");
}

void AuthorizeLayer::handle(Exchange& exchange) {
  if (exchange.error) return;
  const Requirement requirement = require_(exchange);
  if (requirement.open) return;
  switch (decide(config_, exchange.caller, requirement.permission, requirement.topic)) {
    case Decision::allow: return;
    case Decision::unauthenticated: return unauthorized(exchange, "a bearer token is required");
    case Decision::forbidden:
      exchange.error = make_error(403, "forbidden", exchange.caller.name() + " may not " + exchange.route_name +
                                                      (requirement.topic.empty() ? std::string() : " on " + requirement.topic));
      return;
  }
}

void ExecuteLayer::handle(Exchange& exchange) {
  if (exchange.error) return;
  execute_(exchange);
}

void EncodeLayer::handle(Exchange& exchange) {
  HttpResponse& response = exchange.response;
  response.headers = exchange.reply.headers;
  if (exchange.error) {
    response.status = exchange.error->status;
    response.headers.push_back(HttpHeader{"content-type", "application/json"});
    response.body = error_body(*exchange.error);
    return;
  }
  response.status = exchange.reply.status;
  response.headers.push_back(HttpHeader{"content-type", exchange.reply.content_type});
  response.body = std::move(exchange.reply.body);
}

StatsLayer::StatsLayer(runtime::TimerSource& clock, Metrics& metrics) : clock_(clock), metrics_(metrics) {
  metrics_.describe("http_requests_total", MetricType::counter, "HTTP requests answered, by route and status.");
  metrics_.describe("http_request_seconds", MetricType::histogram, "Time from a request's arrival in the pipeline to its response.");
}

void StatsLayer::handle(Exchange& exchange) {
  const Labels labels{{"route", exchange.route_name}, {"status", std::to_string(exchange.response.status)}};
  metrics_.add("http_requests_total", labels);
  const double seconds = static_cast<double>(runtime::to_ns(clock_.now() - exchange.started)) / 1e9;
  metrics_.observe("http_request_seconds", {{"route", exchange.route_name}}, seconds);
}

Pipeline::Pipeline(runtime::TimerSource& clock, Metrics& metrics, PipelineParts parts)
    : clock_(clock),
      decode_(*parts.routes, std::move(parts.route_names)),
      authenticate_(*parts.auth),
      authorize_(*parts.auth, std::move(parts.require)),
      execute_(std::move(parts.execute)),
      stats_(clock, metrics) {}

HttpResponse Pipeline::handle(const HttpRequest& request, const ConnectionInfo& connection, runtime::Instant deadline) {
  Exchange exchange;
  exchange.request = &request;
  exchange.connection = connection;
  exchange.started = clock_.now();
  exchange.deadline = deadline;
  Layer* const layers[] = {&decode_, &authenticate_, &authorize_, &execute_, &encode_, &stats_};
  for (Layer* layer : layers) layer->handle(exchange);
  return std::move(exchange.response);
}

}  // namespace sluice::http
