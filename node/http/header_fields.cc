#include "node/http/header_fields.h"

#include <utility>

namespace sluice::http {

namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::optional<Status> HeaderFields::add_bytes(size_t length) {
  bytes_ += length;
  if (bytes_ <= header_bytes_max_) return std::nullopt;
  return Status(Errc::header_too_large, what_ + " names and values exceed header_bytes_max " + std::to_string(header_bytes_max_));
}

std::optional<Status> HeaderFields::name_piece(std::string_view piece) {
  if (std::optional<Status> stop = add_bytes(piece.size())) return stop;
  for (char c : piece) name_.push_back(ascii_lower(c));
  return std::nullopt;
}

std::optional<Status> HeaderFields::name_complete() {
  if (++fields_ > headers_max_) {
    return Status(Errc::too_many_headers, "more than headers_max " + std::to_string(headers_max_) + " " + what_ + " fields");
  }
  if (name_.find_first_of(" \t") != std::string::npos) return Status(Errc::malformed, "whitespace in " + what_ + " name \"" + name_ + "\"");
  return std::nullopt;
}

std::optional<Status> HeaderFields::value_piece(std::string_view piece) {
  if (std::optional<Status> stop = add_bytes(piece.size())) return stop;
  value_.append(piece);
  return std::nullopt;
}

// Optional whitespace (RFC 9110 §5.6.3) is not part of a field value. llhttp drops the leading
// part; the trailing part reaches us and goes here.
HttpHeader HeaderFields::take_field() {
  while (!value_.empty() && (value_.back() == ' ' || value_.back() == '\t')) value_.pop_back();
  HttpHeader field{std::move(name_), std::move(value_)};
  clear_field();
  return field;
}

void HeaderFields::clear_field() {
  name_.clear();
  value_.clear();
}

}  // namespace sluice::http
