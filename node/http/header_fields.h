// The header fields llhttp hands over in pieces, collected the same way for requests (the server,
// node/http/request_parser.cc) and responses (the client, client/http/response_parser.cc): names
// lower-cased, values without trailing whitespace, against a byte and a field limit. A name with
// whitespace is refused: llhttp's lenient build accepts "Name : value" and "Two words: value", and
// RFC 9112 §5.1 requires rejecting both, since peers disagree on what such a name means (request
// smuggling, response splitting).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "node/http/request_parser.h"

namespace sluice::http {

class HeaderFields {
 public:
  // `what` names the fields in errors ("header", "response header").
  HeaderFields(size_t header_bytes_max, size_t headers_max, std::string what)
      : header_bytes_max_(header_bytes_max), headers_max_(headers_max), what_(std::move(what)) {}

  // Each returns the error to stop parsing with, or nullopt to go on.
  std::optional<Status> name_piece(std::string_view piece);
  std::optional<Status> name_complete();
  std::optional<Status> value_piece(std::string_view piece);
  // The field whose value just completed; the next one starts empty.
  HttpHeader take_field();

  // Forgets the field in progress (a new message begins).
  void clear_field();
  // Also starts the byte and field counts again (a new message with limits of its own).
  void reset_counts() {
    bytes_ = 0;
    fields_ = 0;
  }

 private:
  std::optional<Status> add_bytes(size_t length);

  size_t header_bytes_max_;
  size_t headers_max_;
  std::string what_;
  std::string name_;
  std::string value_;
  size_t bytes_ = 0;   // names + values as received
  size_t fields_ = 0;
};

}  // namespace sluice::http
