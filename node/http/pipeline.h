// The request pipeline (docs/http.md): every request a connection decoded passes the same layers,
// each a small unit with one job and one interface, composed in one place (Pipeline):
//
//   decode (target, route) -> authenticate -> authorize -> stats (start) -> execute -> encode -> stats (end)
//
// A layer that fails a request sets `exchange.error`; the layers after it up to encode skip it,
// encode turns the error into the one JSON error shape, and stats counts it like any reply. No
// exception crosses a layer. The server (server.h) sends what the pipeline returns.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/base/bytes.h"
#include "node/http/auth.h"
#include "node/http/metrics.h"
#include "node/http/request_parser.h"
#include "node/http/response.h"
#include "node/http/routes.h"
#include "node/http/server.h"
#include "runtime/runtime.h"

namespace sluice::http {

// The one error shape: {"error":{"code":..,"message":..,"leader":..,"leader_address":..}}.
struct ApiError {
  int status = 500;
  std::string code;     // machine-readable: "not_leader", "unknown_topic", ...
  std::string message;  // for people
  uint64_t leader = 0;  // not_leader: the node that leads, when known (0: unknown)
  std::string leader_address;
};
ApiError make_error(int status, std::string code, std::string message);
ApiError bad_request(std::string message);

// What execute produced: the body in the representation it chose.
struct ApiReply {
  int status = 200;
  std::string content_type = "application/json";
  Bytes body;
  std::vector<HttpHeader> headers;
};

// One request on its way through the layers.
struct Exchange {
  const HttpRequest* request = nullptr;
  ConnectionInfo connection;
  runtime::Instant started{};
  runtime::Instant deadline{};
  Target target;
  RouteMatch route;
  std::string route_name = "unmatched";  // the metrics' route label
  Caller caller;
  std::optional<ApiError> error;
  ApiReply reply;
  HttpResponse response;  // set by encode
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual void handle(Exchange& exchange) = 0;
};

// decode: splits the target and finds the route (404, 405 with Allow, 400 for a bad target).
class DecodeLayer final : public Layer {
 public:
  explicit DecodeLayer(const RouteTable& routes, std::map<RouteId, std::string> route_names)
      : routes_(routes), route_names_(std::move(route_names)) {}
  void handle(Exchange& exchange) override;

 private:
  const RouteTable& routes_;
  std::map<RouteId, std::string> route_names_;
};

// authenticate: names the caller from the Authorization header (auth.h). A header that is not a
// known bearer token is a 401 on any route.
class AuthenticateLayer final : public Layer {
 public:
  explicit AuthenticateLayer(const AuthConfig& config) : config_(config) {}
  void handle(Exchange& exchange) override;

 private:
  const AuthConfig& config_;
};

// What a route needs: nothing (health, metrics), or a permission on a topic ("" : the cluster).
struct Requirement {
  bool open = false;
  Permission permission = Permission::read;
  std::string topic;
};
using Require = std::function<Requirement(const Exchange& exchange)>;

// authorize: the caller may do what the route needs. No (or anonymous when it is off): 401 with
// WWW-Authenticate; known but without the grant: 403.
class AuthorizeLayer final : public Layer {
 public:
  AuthorizeLayer(const AuthConfig& config, Require require) : config_(config), require_(std::move(require)) {}
  void handle(Exchange& exchange) override;

 private:
  const AuthConfig& config_;
  Require require_;
};

// execute: hands the request to the API (the node's router or controller); its answer or error.
using Execute = std::function<void(Exchange& exchange)>;
class ExecuteLayer final : public Layer {
 public:
  explicit ExecuteLayer(Execute execute) : execute_(std::move(execute)) {}
  void handle(Exchange& exchange) override;

 private:
  Execute execute_;
};

// encode: the reply (or the error, as JSON) as the HTTP response.
class EncodeLayer final : public Layer {
 public:
  void handle(Exchange& exchange) override;
};

// stats: the request count and latency per route and status (http_requests_total,
// http_request_seconds), counted when the response is ready.
class StatsLayer final : public Layer {
 public:
  StatsLayer(runtime::TimerSource& clock, Metrics& metrics);
  void handle(Exchange& exchange) override;

 private:
  runtime::TimerSource& clock_;
  Metrics& metrics_;
};

struct PipelineParts {
  const RouteTable* routes = nullptr;
  std::map<RouteId, std::string> route_names;
  const AuthConfig* auth = nullptr;  // outlives the pipeline
  Require require;
  Execute execute;
};

class Pipeline {
 public:
  // `clock`: the node's runtime (only now() is read).
  Pipeline(runtime::TimerSource& clock, Metrics& metrics, PipelineParts parts);
  // The server's Handler.
  HttpResponse handle(const HttpRequest& request, const ConnectionInfo& connection, runtime::Instant deadline);

 private:
  runtime::TimerSource& clock_;
  DecodeLayer decode_;
  AuthenticateLayer authenticate_;
  AuthorizeLayer authorize_;
  ExecuteLayer execute_;
  EncodeLayer encode_;
  StatsLayer stats_;
};

}  // namespace sluice::http
