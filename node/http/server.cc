// HttpServer (server.h): one fiber per connection reads, parses and answers.
#include "node/http/server.h"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "node/base/assert.h"
#include "node/base/coverage.h"

namespace sluice::http {

namespace rt = sluice::runtime;

namespace {

// What one read asks of the stream; the parser's limits bound what it keeps.
constexpr size_t kReadBufferBytes = 16 * 1024;
// feed_probing() feeds at most this many trailing CR/LF bytes one at a time.
constexpr size_t kBoundaryProbeBytesMax = 8;

bool is_line_end(std::byte b) { return b == std::byte{'\r'} || b == std::byte{'\n'}; }

// Finds the blank line that ends a request's header section, across pieces. It only decides which
// timeout the next read runs under: the parser alone decides what the bytes mean, so a wrong guess
// here (bare CR, a request whose start was not seen) changes a timeout, never a request.
class HeaderEndScanner {
 public:
  static constexpr size_t npos = static_cast<size_t>(-1);

  // A new header section. `mid_line`: scanning starts inside a line whose start was not seen.
  void start(bool mid_line) {
    in_line_ = mid_line;
    seen_line_ = mid_line;
  }
  // The position just past the line end of the blank line in `bytes`, or npos (then all of
  // `bytes` was scanned).
  size_t scan(ByteSpan bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (bytes[i] == std::byte{'\r'}) continue;  // CR LF and bare LF end a line alike
      if (bytes[i] != std::byte{'\n'}) {
        in_line_ = true;
        continue;
      }
      if (!in_line_ && seen_line_) return i + 1;
      seen_line_ = seen_line_ || in_line_;
      in_line_ = false;
    }
    return npos;
  }

 private:
  bool in_line_ = false;    // a byte of the current line other than CR was seen
  bool seen_line_ = false;  // a non-empty line (the request line) was seen
};

Bytes json_error_body(Errc code, const std::string& message) {
  using Json = nlohmann::json;
  const Json body = {{"error", {{"code", std::string(to_string(code))}, {"message", message}}}};
  return to_bytes(body.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
}

}  // namespace

// One connection, on its fiber. Reads only when every byte read so far is parsed and every
// complete request answered, so a client that reads no responses is held back by TCP.
class HttpServer::Connection {
 public:
  Connection(HttpServer& server, rt::Stream& stream, uint64_t id)
      : server_(server),
        stream_(stream),
        info_{stream.peer_address(), id},
        parser_(server.config_.limits),
        buffer_(kReadBufferBytes),
        waiting_since_(server.runtime_.now()) {}

  // Until the connection is to close: by the peer, a timeout, an error, or Connection: close.
  void run();

 private:
  // Which deadline the next read runs under, and since when the server waits on the client.
  enum class Phase { between_requests, headers, body };

  struct Fed {
    bool completed = false;       // a request completed in the piece
    bool ended_between = false;   // and after the last one only CR/LF followed
  };

  void ingest();
  Fed feed(ByteSpan piece);
  Fed feed_probing(ByteSpan piece);
  void consume(size_t bytes) { begin_ += bytes; }
  ByteSpan buffered() const { return ByteSpan(buffer_).subspan(begin_, end_ - begin_); }
  void enter(Phase phase, bool mid_line = false);
  void after_completion(const Fed& fed);

  bool answer(const HttpRequest& request);
  void answer_parse_error();
  bool write(ByteSpan bytes, int status);
  bool read_more();
  rt::Instant read_deadline() const;
  void linger();

  HttpServer& server_;
  rt::Stream& stream_;
  const ConnectionInfo info_;
  RequestParser parser_;
  Bytes buffer_;  // bytes [begin_, end_) are read and not yet fed to the parser
  size_t begin_ = 0;
  size_t end_ = 0;
  Phase phase_ = Phase::between_requests;
  // The phase's start, moved to the last response when later: the time the server spends
  // answering is not the client's.
  rt::Instant waiting_since_;
  HeaderEndScanner header_end_;
};

void HttpServer::Connection::run() {
  while (true) {
    ingest();
    while (std::optional<HttpRequest> request = parser_.next_request()) {
      if (!answer(*request)) return;
    }
    if (!parser_.status().ok()) return answer_parse_error();
    if (begin_ < end_) continue;  // ingest stopped at a full queue: parse the rest first
    if (parser_.take_continue_expected()) {
      if (!write(encode_continue(), 100)) return;
      waiting_since_ = server_.runtime_.now();  // the body is asked for now
    }
    if (!read_more()) return;
  }
}

// Feeds the buffered bytes to the parser, in pieces cut where the phase changes: at the first byte
// of a request and at the end of its headers. Stops early while the parser's queue is full, and
// before a body while requests wait, so the queue limit holds back a pipelining client instead
// of failing it.
void HttpServer::Connection::ingest() {
  while (begin_ < end_ && parser_.status().ok()) {
    const size_t queued = parser_.requests_queued();
    if (queued >= parser_.limits().requests_queued_max) return;
    const ByteSpan rest = buffered();
    switch (phase_) {
      case Phase::between_requests: {
        size_t first = 0;  // the parser skips line ends between requests (RFC 9112 §2.2)
        while (first < rest.size() && is_line_end(rest[first])) ++first;
        if (first == rest.size()) {
          (void)feed(rest);
          consume(rest.size());
        } else {
          enter(Phase::headers);
        }
        break;
      }
      case Phase::headers: {
        const size_t end = header_end_.scan(rest);
        const ByteSpan piece = end == HeaderEndScanner::npos ? rest : rest.first(end);
        const Fed fed = feed(piece);
        consume(piece.size());
        if (fed.completed) {
          // Without a body a request completes with its headers, so exactly at `end`.
          after_completion(Fed{true, end != HeaderEndScanner::npos});
        } else if (end != HeaderEndScanner::npos) {
          enter(Phase::body);
        }
        break;
      }
      case Phase::body: {
        if (queued > 0) return;
        const Fed fed = feed_probing(rest);
        consume(rest.size());
        if (fed.completed) after_completion(fed);
        break;
      }
    }
  }
}

HttpServer::Connection::Fed HttpServer::Connection::feed(ByteSpan piece) {
  const size_t before = parser_.requests_queued();
  (void)parser_.feed(piece);  // an error stays in parser_.status()
  const bool completed = parser_.requests_queued() > before;
  return Fed{completed, false};
}

// Feeds `piece` and tells whether a request completed at its end, so that only CR/LF (which the
// parser skips) came after: the trailing CR/LF bytes and the byte before them go one at a time.
// When a body ends inside a piece, where exactly is not known otherwise.
HttpServer::Connection::Fed HttpServer::Connection::feed_probing(ByteSpan piece) {
  size_t line_ends = 0;
  while (line_ends < piece.size() && line_ends < kBoundaryProbeBytesMax && is_line_end(piece[piece.size() - 1 - line_ends])) {
    ++line_ends;
  }
  const size_t probed = std::min(piece.size(), line_ends + 1);
  Fed fed = feed(piece.first(piece.size() - probed));
  for (size_t i = piece.size() - probed; i < piece.size() && parser_.status().ok(); ++i) {
    if (feed(piece.subspan(i, 1)).completed) fed = Fed{true, true};
  }
  return fed;
}

void HttpServer::Connection::enter(Phase phase, bool mid_line) {
  phase_ = phase;
  waiting_since_ = server_.runtime_.now();
  if (phase == Phase::headers) header_end_.start(mid_line);
}

// A request completed. If more than line ends followed it in the same piece, the next request has
// begun at a place the parser does not tell: it is timed as if its headers were still arriving.
void HttpServer::Connection::after_completion(const Fed& fed) {
  if (fed.ended_between) return enter(Phase::between_requests);
  SLUICE_COVER("http.server.request_begun_mid_piece");
  enter(Phase::headers, /*mid_line=*/true);
}

// Hands `request` to the handler and writes the response. False: the connection is to close.
bool HttpServer::Connection::answer(const HttpRequest& request) {
  ++server_.stats_.requests;
  // An HTTP/1.0 client keeps the connection only if the reply says "Connection: keep-alive";
  // such clients are rare, so they get one request per connection.
  const bool keep_alive = request.keep_alive && request.version_minor >= 1;
  const rt::Instant deadline = server_.runtime_.now() + server_.config_.request_timeout_max;
  const HttpResponse response = server_.handler_(request, info_, deadline);
  if (!write(encode_response(response, keep_alive, request.method == "HEAD"), response.status)) return false;
  waiting_since_ = server_.runtime_.now();
  return keep_alive;
}

// The requests before the error were answered; nothing after it can be trusted (smuggling).
void HttpServer::Connection::answer_parse_error() {
  ++server_.stats_.parse_errors;
  const Status& error = parser_.status();
  HttpResponse response;
  response.status = http_status_for(error.code());
  response.headers.push_back(HttpHeader{"content-type", "application/json"});
  response.body = json_error_body(error.code(), error.message());
  if (write(encode_response(response, /*keep_alive=*/false, /*head_request=*/false), response.status)) linger();
}

bool HttpServer::Connection::write(ByteSpan bytes, int status) {
  const rt::Status written = stream_.write(bytes, server_.runtime_.now() + server_.config_.write_timeout);
  if (!written.ok()) {
    ++server_.stats_.write_failures;
    return false;
  }
  ++server_.stats_.responses_by_class[static_cast<size_t>(status / 100)];
  return true;
}

// Reads the next bytes into the (empty) buffer. False: the connection is to close.
bool HttpServer::Connection::read_more() {
  SLUICE_ASSERT_EQ(begin_, end_);
  begin_ = end_ = 0;
  const rt::Result<size_t> read = stream_.read(MutableByteSpan(buffer_), read_deadline());
  if (read.code() == rt::Errc::timeout) {
    if (phase_ == Phase::between_requests) {
      ++server_.stats_.idle_closed;
    } else {
      SLUICE_COVER("http.server.slow_client_cut");
      ++server_.stats_.slow_clients_cut;
    }
    return false;
  }
  if (!read.ok() || *read == 0) return false;
  end_ = *read;
  return true;
}

rt::Instant HttpServer::Connection::read_deadline() const {
  const HttpServerConfig& config = server_.config_;
  switch (phase_) {
    case Phase::between_requests: return waiting_since_ + config.idle_timeout;
    case Phase::headers: return waiting_since_ + config.header_read_timeout;
    case Phase::body: return waiting_since_ + config.body_read_timeout;
  }
  SLUICE_UNREACHABLE();
}

// Drops what the client still sends (the rest of a refused body) until it closes, for at most
// error_linger_timeout and error_linger_bytes_max (server.h says why).
void HttpServer::Connection::linger() {
  const rt::Instant deadline = server_.runtime_.now() + server_.config_.error_linger_timeout;
  size_t dropped = 0;
  while (dropped < server_.config_.error_linger_bytes_max) {
    const rt::Result<size_t> read = stream_.read(MutableByteSpan(buffer_), deadline);
    if (!read.ok() || *read == 0) return;
    dropped += *read;
  }
}

HttpServer::HttpServer(rt::Runtime& runtime, HttpServerConfig config, Handler handler)
    : runtime_(runtime),
      config_(std::move(config)),
      handler_(std::move(handler)),
      acceptor_(runtime, "http", config_.connections_max) {
  SLUICE_ASSERT(handler_ != nullptr);
  SLUICE_ASSERT_GT(config_.header_read_timeout.count(), 0);
  SLUICE_ASSERT_GT(config_.body_read_timeout.count(), 0);
  SLUICE_ASSERT_GT(config_.idle_timeout.count(), 0);
  SLUICE_ASSERT_GT(config_.write_timeout.count(), 0);
}

HttpServer::~HttpServer() { SLUICE_ASSERT_EQ(streams_.size(), 0u); }

rt::Status HttpServer::start() {
  return acceptor_.start(config_.port, [this](std::unique_ptr<rt::Stream> stream) { serve(std::move(stream)); });
}

void HttpServer::start(std::unique_ptr<rt::Listener> listener) {
  acceptor_.start(std::move(listener), [this](std::unique_ptr<rt::Stream> stream) { serve(std::move(stream)); });
}

void HttpServer::close() {
  closed_ = true;
  acceptor_.close();
  for (auto& [id, stream] : streams_) stream->close();
}

HttpServerStats HttpServer::stats() const {
  HttpServerStats stats = stats_;
  stats.connections_accepted = acceptor_.stats().accepted;
  stats.connections_refused = acceptor_.stats().refused;
  stats.connections_open = acceptor_.stats().open;
  return stats;
}

void HttpServer::serve(std::unique_ptr<rt::Stream> stream) {
  if (closed_) return stream->close();
  // Listed while the connection runs, also when a shutdown unwinds its fiber.
  struct Listed {
    std::map<uint64_t, rt::Stream*>& streams;
    uint64_t id;
    ~Listed() { streams.erase(id); }
  } listed{streams_, next_connection_id_++};
  streams_.emplace(listed.id, stream.get());
  Connection(*this, *stream, listed.id).run();
  stream->close();
}

}  // namespace sluice::http
