#include "node/http/response.h"

#include <cstring>
#include <string>

#include "node/base/assert.h"

namespace sluice::http {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

namespace {

// RFC 9110 §5.6.2: tchar.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// The headers whose values the encoder decides: a second copy from the caller would contradict them.
bool is_framing_header(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = ascii_lower(c);
  return lower == "content-length" || lower == "transfer-encoding" || lower == "connection";
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void check_header(const HttpHeader& header) {
  SLUICE_ASSERT(is_token(header.name) && "response header name must be a token");
  SLUICE_ASSERT(header.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos &&
                "response header value must not contain CR, LF or NUL");
  SLUICE_ASSERT(!is_framing_header(header.name) && "the encoder writes Content-Length and Connection itself");
}

}  // namespace

Bytes encode_response(const HttpResponse& response, bool keep_alive, bool head_request) {
  SLUICE_ASSERT_GE(response.status, 200);
  SLUICE_ASSERT_LE(response.status, 599);
  const bool bodiless_status = response.status == 204 || response.status == 304;
  if (bodiless_status) SLUICE_ASSERT_EQ(response.body.size(), 0u);

  // The head is composed as text, then copied once next to the body.
  std::string head;
  head.reserve(64 + response.headers.size() * 48);
  head += "HTTP/1.1 ";
  head += std::to_string(response.status);
  head += ' ';
  head += reason_phrase(response.status);
  head += "\r\n";
  for (const HttpHeader& header : response.headers) {
    check_header(header);
    append_header(head, header.name, header.value);
  }
  if (!bodiless_status) append_header(head, "Content-Length", std::to_string(response.body.size()));
  if (!keep_alive) append_header(head, "Connection", "close");
  head += "\r\n";

  const size_t body_bytes = head_request ? 0 : response.body.size();
  Bytes out(head.size() + body_bytes);
  std::memcpy(out.data(), head.data(), head.size());
  if (body_bytes > 0) std::memcpy(out.data() + head.size(), response.body.data(), body_bytes);
  return out;
}

Bytes encode_continue() { return to_bytes("HTTP/1.1 100 Continue\r\n\r\n"); }

}  // namespace sluice::http
