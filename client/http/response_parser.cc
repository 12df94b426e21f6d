#include "client/http/response_parser.h"

#include "node/http/header_fields.h"

#include <llhttp.h>

#include <utility>

#include "node/base/assert.h"

namespace sluice::client {

using http::Errc;
using http::Status;

const std::string* HttpClientResponse::header(std::string_view lower_name) const {
  for (const http::HttpHeader& field : headers) {
    if (field.name == lower_name) return &field.value;
  }
  return nullptr;
}

namespace {

// RFC 9110 §6.4.1: these never carry a body, whatever their framing headers say (a 304 may
// announce the Content-Length of the representation it stands for).
bool bodiless(bool head_request, int status) { return head_request || status / 100 == 1 || status == 204 || status == 304; }

}  // namespace

struct ResponseParser::State {
  State(std::string_view request_method, const Limits& limits_in);

  Limits limits;
  llhttp_t llhttp;
  bool head_request = false;
  HttpClientResponse current;  // the response being parsed (an interim one is dropped when done)
  http::HeaderFields fields;    // limits counted over every response of the exchange (interim ones too)
  bool in_trailers = false;  // the head is complete: further fields are trailers (dropped)
  bool complete = false;        // the final response is complete; llhttp is paused behind it
  bool keep_alive = false;      // of the final response
  bool bytes_after_response = false;
  // Set by a callback that stops llhttp for one of our own limits or rules (see RequestParser).
  Errc callback_errc = Errc::ok;
  std::string callback_message;
  Status failure;
  uint64_t bytes_fed_total = 0;

  static const llhttp_settings_t& callbacks();
  static State& of(llhttp_t* parser) { return *static_cast<State*>(parser->data); }
  static int on_message_begin(llhttp_t* parser);
  static int on_header_field(llhttp_t* parser, const char* at, size_t length);
  static int on_header_field_complete(llhttp_t* parser);
  static int on_header_value(llhttp_t* parser, const char* at, size_t length);
  static int on_header_value_complete(llhttp_t* parser);
  static int on_headers_complete(llhttp_t* parser);
  static int on_body(llhttp_t* parser, const char* at, size_t length);
  static int on_message_complete(llhttp_t* parser);

  int stop(Errc code, std::string message) {
    callback_errc = code;
    callback_message = std::move(message);
    return HPE_USER;
  }
  // 0, or the stop value for `error`.
  int stop_if(std::optional<Status> error) { return error ? stop(error->code(), error->message()) : 0; }
  int check_head();
  Status fail(llhttp_errno_t error, const char* error_pos, const char* data);
};

const llhttp_settings_t& ResponseParser::State::callbacks() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t table;
    llhttp_settings_init(&table);
    table.on_message_begin = on_message_begin;
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

ResponseParser::State::State(std::string_view request_method, const Limits& limits_in)
    : limits(limits_in),
      head_request(request_method == "HEAD"),
      fields(limits_in.header_bytes_max, limits_in.headers_max, "response header") {
  llhttp_init(&llhttp, HTTP_RESPONSE, &callbacks());
  llhttp.data = this;
}

int ResponseParser::State::on_message_begin(llhttp_t* parser) {
  State& state = of(parser);
  state.current = HttpClientResponse();
  state.fields.clear_field();
  state.in_trailers = false;
  return 0;
}

int ResponseParser::State::on_header_field(llhttp_t* parser, const char* at, size_t length) {
  return of(parser).stop_if(of(parser).fields.name_piece(std::string_view(at, length)));
}

int ResponseParser::State::on_header_field_complete(llhttp_t* parser) { return of(parser).stop_if(of(parser).fields.name_complete()); }

int ResponseParser::State::on_header_value(llhttp_t* parser, const char* at, size_t length) {
  return of(parser).stop_if(of(parser).fields.value_piece(std::string_view(at, length)));
}

int ResponseParser::State::on_header_value_complete(llhttp_t* parser) {
  State& state = of(parser);
  http::HttpHeader field = state.fields.take_field();
  // Trailers are read (and limited) but not returned: sluice sends none the client needs.
  if (!state.in_trailers) state.current.headers.push_back(std::move(field));
  return 0;
}

// Rules decided once the status line and headers are known. Returns 0 or a stop value.
int ResponseParser::State::check_head() {
  if (llhttp.http_major != 1) {
    return stop(Errc::unsupported_version, "HTTP/" + std::to_string(llhttp.http_major) + "." +
                                               std::to_string(llhttp.http_minor) + " response, only HTTP/1.x is read");
  }
  const int status = llhttp.status_code;
  if (status < 100 || status > 599) return stop(Errc::malformed, "status " + std::to_string(status) + " outside 100..599");
  // We never ask to switch protocols: what follows would not be HTTP.
  if (status == 101) return stop(Errc::malformed, "101 Switching Protocols that was not asked for");
  const bool has_length = (llhttp.flags & F_CONTENT_LENGTH) != 0 && (llhttp.flags & F_CHUNKED) == 0;
  if (!bodiless(head_request, status) && has_length && llhttp.content_length > limits.body_bytes_max) {
    return stop(Errc::body_too_large, "Content-Length " + std::to_string(llhttp.content_length) +
                                          " exceeds body_bytes_max " + std::to_string(limits.body_bytes_max));
  }
  return 0;
}

int ResponseParser::State::on_headers_complete(llhttp_t* parser) {
  State& state = of(parser);
  if (int stopped = state.check_head(); stopped != 0) return stopped;
  state.current.status = parser->status_code;
  state.in_trailers = true;
  return bodiless(state.head_request, parser->status_code) ? 1 : 0;  // 1: llhttp reads no body
}

int ResponseParser::State::on_body(llhttp_t* parser, const char* at, size_t length) {
  State& state = of(parser);
  if (state.current.body.size() + length > state.limits.body_bytes_max) {
    return state.stop(Errc::body_too_large,
                      "response body exceeds body_bytes_max " + std::to_string(state.limits.body_bytes_max));
  }
  append_bytes(state.current.body, as_bytes(std::string_view(at, length)));
  return 0;
}

int ResponseParser::State::on_message_complete(llhttp_t* parser) {
  State& state = of(parser);
  if (state.current.status < 200) return 0;  // interim: the final response follows
  state.complete = true;
  state.keep_alive = llhttp_should_keep_alive(parser) != 0;
  return HPE_PAUSED;  // stop behind it: anything further is not ours to parse
}

Status ResponseParser::State::fail(llhttp_errno_t error, const char* error_pos, const char* data) {
  const uint64_t position = bytes_fed_total + (error_pos != nullptr && data != nullptr ? static_cast<uint64_t>(error_pos - data) : 0);
  const std::string where = " at response byte " + std::to_string(position);
  if (callback_errc != Errc::ok) {
    failure = Status(callback_errc, callback_message + where);
  } else {
    const char* reason = llhttp_get_error_reason(&llhttp);
    failure = Status(Errc::malformed, std::string(reason != nullptr ? reason : "parse error") + " (" +
                                          llhttp_errno_name(error) + ")" + where);
  }
  return failure;
}

ResponseParser::ResponseParser(std::string_view request_method, Limits limits) {
  SLUICE_ASSERT_GT(limits.header_bytes_max, 0u);
  SLUICE_ASSERT_GT(limits.headers_max, 0u);
  state_ = std::make_unique<State>(request_method, limits);
}

ResponseParser::~ResponseParser() = default;
ResponseParser::ResponseParser(ResponseParser&&) noexcept = default;
ResponseParser& ResponseParser::operator=(ResponseParser&&) noexcept = default;

Status ResponseParser::feed(ByteSpan bytes) {
  SLUICE_ASSERT(state_ != nullptr);  // not moved from
  State& state = *state_;
  if (!state.failure.ok()) {
    return Status(state.failure.code(), "input refused after an earlier error: " + state.failure.message());
  }
  if (state.complete || bytes.empty()) {
    state.bytes_after_response = state.bytes_after_response || (state.complete && !bytes.empty());
    state.bytes_fed_total += bytes.size();
    return Status();
  }
  const char* data = reinterpret_cast<const char*>(bytes.data());
  const llhttp_errno_t error = llhttp_execute(&state.llhttp, data, bytes.size());
  if (error == HPE_PAUSED && state.complete) {
    const size_t parsed = static_cast<size_t>(llhttp_get_error_pos(&state.llhttp) - data);
    state.bytes_after_response = parsed < bytes.size();
  } else if (error != HPE_OK) {
    (void)state.fail(error, llhttp_get_error_pos(&state.llhttp), data);
  }
  state.bytes_fed_total += bytes.size();
  return state.failure;
}

Status ResponseParser::finish() {
  SLUICE_ASSERT(state_ != nullptr);
  State& state = *state_;
  if (!state.failure.ok() || state.complete) return state.failure;
  const llhttp_errno_t error = llhttp_finish(&state.llhttp);
  if (state.complete) return Status();  // a body delimited by the end of the connection
  if (error != HPE_OK) return state.fail(error, nullptr, nullptr);
  state.failure = Status(Errc::malformed, "connection ended before the response was complete, after " +
                                              std::to_string(state.bytes_fed_total) + " bytes");
  return state.failure;
}

bool ResponseParser::complete() const { return state_->complete; }

HttpClientResponse ResponseParser::take_response() {
  SLUICE_ASSERT(state_ != nullptr && state_->complete);
  return std::move(state_->current);
}

bool ResponseParser::keep_alive() const {
  return state_->complete && state_->keep_alive && !state_->bytes_after_response;
}

const Status& ResponseParser::status() const { return state_->failure; }
const ResponseParser::Limits& ResponseParser::limits() const { return state_->limits; }
uint64_t ResponseParser::bytes_fed_total() const { return state_->bytes_fed_total; }

}  // namespace sluice::client
