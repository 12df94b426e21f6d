#include "node/http/request_parser.h"

#include "node/http/header_fields.h"

#include <llhttp.h>

#include <deque>
#include <utility>

#include "node/base/assert.h"

namespace sluice::http {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::malformed: return "malformed";
    case Errc::target_too_large: return "target_too_large";
    case Errc::header_too_large: return "header_too_large";
    case Errc::too_many_headers: return "too_many_headers";
    case Errc::body_too_large: return "body_too_large";
    case Errc::unsupported_version: return "unsupported_version";
    case Errc::unsupported_method: return "unsupported_method";
    case Errc::too_many_pipelined: return "too_many_pipelined";
  }
  return "unknown";
}

int http_status_for(Errc code) {
  switch (code) {
    case Errc::ok: break;
    case Errc::malformed: return 400;         // Bad Request
    case Errc::target_too_large: return 414;  // URI Too Long
    case Errc::header_too_large: return 431;  // Request Header Fields Too Large
    case Errc::too_many_headers: return 431;
    case Errc::body_too_large: return 413;       // Content Too Large
    case Errc::unsupported_version: return 505;  // HTTP Version Not Supported
    case Errc::unsupported_method: return 501;   // Not Implemented
    case Errc::too_many_pipelined: return 429;   // Too Many Requests
  }
  SLUICE_ASSERT(code != Errc::ok && "http_status_for: ok is not an error");
  SLUICE_UNREACHABLE();
}

const HttpHeader* HttpRequest::find_header(std::string_view lower_name) const {
  for (const HttpHeader& header : headers) {
    if (header.name == lower_name) return &header;
  }
  return nullptr;
}

namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace

struct RequestParser::State {
  explicit State(const Limits& limits_in);

  Limits limits;
  llhttp_t llhttp;
  HttpRequest current;       // the request being parsed
  HeaderFields fields;       // of the current request, its limits counted per request
  bool in_trailers = false;  // headers are complete: further fields are trailers
  std::deque<HttpRequest> completed;
  bool continue_expected = false;
  bool input_closed = false;  // a request with keep_alive false completed
  // Set by a callback that stops llhttp for one of our own limits or rules; llhttp then only
  // reports a generic callback error, so the reason travels here.
  Errc callback_errc = Errc::ok;
  std::string callback_message;
  Status failure;
  uint64_t bytes_fed_total = 0;

  // --- llhttp callbacks; parser->data is the State ---
  static const llhttp_settings_t& callbacks();
  static State& of(llhttp_t* parser) { return *static_cast<State*>(parser->data); }
  static int on_message_begin(llhttp_t* parser);
  static int on_url(llhttp_t* parser, const char* at, size_t length);
  static int on_header_field(llhttp_t* parser, const char* at, size_t length);
  static int on_header_field_complete(llhttp_t* parser);
  static int on_header_value(llhttp_t* parser, const char* at, size_t length);
  static int on_header_value_complete(llhttp_t* parser);
  static int on_headers_complete(llhttp_t* parser);
  static int on_body(llhttp_t* parser, const char* at, size_t length);
  static int on_message_complete(llhttp_t* parser);

  // Records why parsing stops; returns the value that makes llhttp stop.
  int stop(Errc code, std::string message) {
    callback_errc = code;
    callback_message = std::move(message);
    return HPE_USER;
  }
  // 0, or the stop value for `error`.
  int stop_if(std::optional<Status> error) { return error ? stop(error->code(), error->message()) : 0; }
  int check_request_head();
  Status failure_status(llhttp_errno_t error, const char* data) const;
};

// Immutable and shared by every parser: llhttp keeps a pointer to it for the parser's lifetime.
const llhttp_settings_t& RequestParser::State::callbacks() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t table;
    llhttp_settings_init(&table);
    table.on_message_begin = on_message_begin;
    table.on_url = on_url;
    table.on_header_field = on_header_field;
    table.on_header_field_complete = on_header_field_complete;
    table.on_header_value = on_header_value;
    table.on_header_value_complete = on_header_value_complete;
    table.on_headers_complete = on_headers_complete;
    table.on_body = on_body;
    table.on_message_complete = on_message_complete;
    return table;
  }();
  return settings;
}

RequestParser::State::State(const Limits& limits_in)
    : limits(limits_in), fields(limits_in.header_bytes_max, limits_in.headers_max, "header") {
  llhttp_init(&llhttp, HTTP_REQUEST, &callbacks());
  llhttp.data = this;
}

int RequestParser::State::on_message_begin(llhttp_t* parser) {
  State& state = of(parser);
  if (state.completed.size() >= state.limits.requests_queued_max) {
    return state.stop(Errc::too_many_pipelined, "another request begins while " +
                                                    std::to_string(state.completed.size()) +
                                                    " complete requests wait, requests_queued_max is " +
                                                    std::to_string(state.limits.requests_queued_max));
  }
  state.current = HttpRequest();
  state.fields.clear_field();
  state.fields.reset_counts();
  state.in_trailers = false;
  return 0;
}

int RequestParser::State::on_url(llhttp_t* parser, const char* at, size_t length) {
  State& state = of(parser);
  const size_t target_bytes = state.current.target.size() + length;
  if (target_bytes > state.limits.target_bytes_max) {
    return state.stop(Errc::target_too_large, "request target is longer than target_bytes_max " +
                                                  std::to_string(state.limits.target_bytes_max));
  }
  state.current.target.append(at, length);
  return 0;
}

int RequestParser::State::on_header_field(llhttp_t* parser, const char* at, size_t length) {
  return of(parser).stop_if(of(parser).fields.name_piece(std::string_view(at, length)));
}

int RequestParser::State::on_header_field_complete(llhttp_t* parser) { return of(parser).stop_if(of(parser).fields.name_complete()); }

int RequestParser::State::on_header_value(llhttp_t* parser, const char* at, size_t length) {
  return of(parser).stop_if(of(parser).fields.value_piece(std::string_view(at, length)));
}

int RequestParser::State::on_header_value_complete(llhttp_t* parser) {
  State& state = of(parser);
  (state.in_trailers ? state.current.trailers : state.current.headers).push_back(state.fields.take_field());
  return 0;
}

// Rules decided once the request line and headers are known. Returns 0 or a stop value.
int RequestParser::State::check_request_head() {
  if (llhttp.http_major != 1) {
    return stop(Errc::unsupported_version, "HTTP/" + std::to_string(llhttp.http_major) + "." +
                                               std::to_string(llhttp.http_minor) +
                                               " is not supported, only HTTP/1.0 and HTTP/1.1");
  }
  if (llhttp.method == HTTP_CONNECT) return stop(Errc::unsupported_method, "CONNECT is not supported");
  const bool has_length = (llhttp.flags & F_CONTENT_LENGTH) != 0 && (llhttp.flags & F_CHUNKED) == 0;
  // Refused before the body arrives, so a client waiting for 100 Continue never sends it.
  if (has_length && llhttp.content_length > limits.body_bytes_max) {
    return stop(Errc::body_too_large, "Content-Length " + std::to_string(llhttp.content_length) +
                                          " exceeds body_bytes_max " + std::to_string(limits.body_bytes_max));
  }
  return 0;
}

int RequestParser::State::on_headers_complete(llhttp_t* parser) {
  State& state = of(parser);
  if (int stopped = state.check_request_head(); stopped != 0) return stopped;
  state.current.method = llhttp_method_name(static_cast<llhttp_method_t>(parser->method));
  state.current.version_major = parser->http_major;
  state.current.version_minor = parser->http_minor;
  state.in_trailers = true;
  const HttpHeader* expect = state.current.find_header("expect");
  const bool body_follows = (parser->flags & F_CHUNKED) != 0 || parser->content_length > 0;
  // HTTP/1.0 clients cannot expect 100 Continue (RFC 9110 §10.1.1 says to ignore it there).
  const bool http_1_1 = parser->http_minor >= 1;
  state.continue_expected =
      http_1_1 && body_follows && expect != nullptr && equals_ignoring_case(expect->value, "100-continue");
  return 0;
}

int RequestParser::State::on_body(llhttp_t* parser, const char* at, size_t length) {
  State& state = of(parser);
  if (state.current.body.size() + length > state.limits.body_bytes_max) {
    return state.stop(Errc::body_too_large,
                      "body exceeds body_bytes_max " + std::to_string(state.limits.body_bytes_max));
  }
  append_bytes(state.current.body, as_bytes(std::string_view(at, length)));
  return 0;
}

int RequestParser::State::on_message_complete(llhttp_t* parser) {
  State& state = of(parser);
  state.current.keep_alive = llhttp_should_keep_alive(parser) != 0;
  // llhttp (lenient build) silently drops what follows a closing request; say so explicitly.
  if (!state.current.keep_alive) state.input_closed = true;
  state.continue_expected = false;
  state.completed.push_back(std::move(state.current));
  state.current = HttpRequest();
  return 0;
}

Status RequestParser::State::failure_status(llhttp_errno_t error, const char* data) const {
  const char* error_pos = llhttp_get_error_pos(&llhttp);
  const uint64_t position = bytes_fed_total + (error_pos != nullptr ? static_cast<uint64_t>(error_pos - data) : 0);
  const std::string where = " at byte " + std::to_string(position);
  if (callback_errc != Errc::ok) return Status(callback_errc, callback_message + where);
  // llhttp stops on "PRI * HTTP/2.0": a client speaking HTTP/2 with prior knowledge.
  if (error == HPE_PAUSED_H2_UPGRADE) {
    return Status(Errc::unsupported_version,
                  "HTTP/2 connection preface, only HTTP/1.0 and HTTP/1.1 are supported" + where);
  }
  const char* reason = llhttp_get_error_reason(&llhttp);
  std::string message = reason != nullptr ? reason : "parse error";
  message += " (";
  message += llhttp_errno_name(error);
  message += ")";
  return Status(Errc::malformed, message + where);
}

RequestParser::RequestParser(Limits limits) {
  SLUICE_ASSERT_GT(limits.target_bytes_max, 0u);
  SLUICE_ASSERT_GT(limits.header_bytes_max, 0u);
  SLUICE_ASSERT_GT(limits.headers_max, 0u);
  SLUICE_ASSERT_GT(limits.requests_queued_max, 0u);
  state_ = std::make_unique<State>(limits);
}

RequestParser::~RequestParser() = default;
RequestParser::RequestParser(RequestParser&&) noexcept = default;
RequestParser& RequestParser::operator=(RequestParser&&) noexcept = default;

Status RequestParser::feed(ByteSpan bytes) {
  SLUICE_ASSERT(state_ != nullptr);  // not moved from
  State& state = *state_;
  if (!state.failure.ok()) {
    return Status(state.failure.code(), "input refused after an earlier error: " + state.failure.message());
  }
  if (state.input_closed || bytes.empty()) {
    state.bytes_fed_total += bytes.size();
    return Status();
  }
  const char* data = reinterpret_cast<const char*>(bytes.data());
  size_t parsed_bytes = 0;
  for (;;) {
    const llhttp_errno_t error = llhttp_execute(&state.llhttp, data + parsed_bytes, bytes.size() - parsed_bytes);
    if (error == HPE_OK) break;
    if (error == HPE_PAUSED_UPGRADE && state.callback_errc == Errc::ok) {
      // A request carrying "Upgrade": we never switch protocols (RFC 9110 §7.8 lets a server
      // ignore the header), so the bytes that follow are the next HTTP/1.1 request.
      parsed_bytes = static_cast<size_t>(llhttp_get_error_pos(&state.llhttp) - data);
      llhttp_resume_after_upgrade(&state.llhttp);
      continue;
    }
    state.failure = state.failure_status(error, data);
    state.bytes_fed_total += bytes.size();
    return state.failure;
  }
  state.bytes_fed_total += bytes.size();
  return Status();
}

std::optional<HttpRequest> RequestParser::next_request() {
  SLUICE_ASSERT(state_ != nullptr);
  if (state_->completed.empty()) return std::nullopt;
  HttpRequest request = std::move(state_->completed.front());
  state_->completed.pop_front();
  return request;
}

size_t RequestParser::requests_queued() const { return state_->completed.size(); }

bool RequestParser::take_continue_expected() {
  SLUICE_ASSERT(state_ != nullptr);
  return std::exchange(state_->continue_expected, false);
}

const Status& RequestParser::status() const { return state_->failure; }
const RequestParser::Limits& RequestParser::limits() const { return state_->limits; }
uint64_t RequestParser::bytes_fed_total() const { return state_->bytes_fed_total; }

}  // namespace sluice::http
