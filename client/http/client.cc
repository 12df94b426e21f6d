#include "client/http/client.h"

#include <algorithm>
#include <utility>

#include "node/base/assert.h"

namespace sluice::client {

namespace {

// One read's worth: a chunk of a response, not a limit on it.
constexpr size_t kReadChunkBytes = 16 * 1024;
constexpr std::string_view kUserAgent = "sluice-client";

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) { return !text.empty() && std::all_of(text.begin(), text.end(), is_token_char); }

// Visible ASCII and tabs/spaces only: CR or LF would end the field early (request splitting).
bool is_field_value(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c == '\t' || (c >= ' ' && c != 0x7f); });
}

bool is_target(std::string_view text) {
  return !text.empty() && (text[0] == '/' || text == "*") &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c != 0x7f; });
}

// Headers the client writes itself; a caller's copy would contradict the framing.
bool is_reserved(std::string_view lower_name, bool has_token) {
  return lower_name == "host" || lower_name == "content-length" || lower_name == "transfer-encoding" ||
         lower_name == "connection" || lower_name == "user-agent" || (has_token && lower_name == "authorization");
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

rt::Status check_request(const HttpClientRequest& request, std::string_view bearer_token) {
  if (!is_token(request.method)) return rt::Status(rt::Errc::invalid_argument, "bad method \"" + request.method + "\"");
  if (!is_target(request.target)) return rt::Status(rt::Errc::invalid_argument, "bad target \"" + request.target + "\"");
  if (!is_field_value(bearer_token)) return rt::Status(rt::Errc::invalid_argument, "bearer token has control characters");
  for (const http::HttpHeader& header : request.headers) {
    if (!is_token(header.name) || !is_field_value(header.value)) {
      return rt::Status(rt::Errc::invalid_argument, "bad header \"" + header.name + "\"");
    }
    if (is_reserved(lower(header.name), !bearer_token.empty())) {
      return rt::Status(rt::Errc::invalid_argument, "header \"" + header.name + "\" is written by the client");
    }
  }
  return rt::Status();
}

// RFC 9110 §8.6: no Content-Length on a request without content whose method expects none.
bool sends_content_length(const HttpClientRequest& request) {
  return !request.body.empty() || !(request.method == "GET" || request.method == "HEAD" || request.method == "DELETE");
}

bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE";
}

void append_text(Bytes& out, std::string_view text) { append_bytes(out, as_bytes(text)); }

}  // namespace

rt::Result<Bytes> encode_request(const HttpClientRequest& request, std::string_view host, std::string_view bearer_token) {
  SLUICE_TRY(check_request(request, bearer_token));
  std::string head = request.method + " " + request.target + " HTTP/1.1\r\n";
  head += "Host: " + std::string(host) + "\r\n";
  head += "User-Agent: " + std::string(kUserAgent) + "\r\n";
  for (const http::HttpHeader& header : request.headers) head += header.name + ": " + header.value + "\r\n";
  if (!bearer_token.empty()) head += "Authorization: Bearer " + std::string(bearer_token) + "\r\n";
  if (sends_content_length(request)) head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  head += "\r\n";
  Bytes wire;
  wire.reserve(head.size() + request.body.size());
  append_text(wire, head);
  append_bytes(wire, request.body);
  return wire;
}

// --- the pool ---

struct HttpClient::Connection {
  uint64_t id = 0;
  std::unique_ptr<rt::Stream> stream;
  rt::Instant idle_since;
  bool reused = false;  // served a request before this one
};

struct HttpClient::Pool {
  std::vector<std::unique_ptr<Connection>> idle;  // oldest first; reuse takes the newest
  std::map<uint64_t, rt::Stream*> busy;           // by connection id: close() closes them
  size_t connecting = 0;                          // slots held by connects in progress
  rt::WaitList waiters;                           // callers waiting for a slot

  size_t open() const { return idle.size() + busy.size() + connecting; }
};

// A busy connection, given back to its pool when the call is done with it, also when the calling
// fiber is unwound (a crash): then it is closed, not reused.
class HttpClient::Lease {
 public:
  Lease(HttpClient& client, Pool& pool, std::unique_ptr<Connection> connection)
      : client_(&client), pool_(&pool), connection_(std::move(connection)) {
    pool_->busy[connection_->id] = connection_->stream.get();
  }
  Lease(Lease&& other) noexcept
      : client_(other.client_), pool_(other.pool_), connection_(std::move(other.connection_)) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (connection_ != nullptr) release(false);
  }

  Connection& connection() { return *connection_; }
  Pool& pool() { return *pool_; }
  void release(bool reusable) { client_->release(*pool_, std::move(connection_), reusable); }

 private:
  HttpClient* client_;
  Pool* pool_;
  std::unique_ptr<Connection> connection_;
};

struct HttpClient::Outcome {
  rt::Result<HttpClientResponse> result;
  bool reusable = false;  // the connection may carry a next request
  bool stale = false;     // it ended before any byte of a response: the request may be resent
};

HttpClient::HttpClient(rt::Runtime& runtime, HttpClientConfig config) : runtime_(runtime), config_(std::move(config)) {
  SLUICE_ASSERT_GT(config_.connections_per_address_max, 0u);
  SLUICE_ASSERT_GT(config_.response_header_bytes_max, 0u);
}

HttpClient::~HttpClient() {
  close();
  for (const auto& [address, pool] : pools_) {
    SLUICE_ASSERT(pool->busy.empty() && pool->connecting == 0 && "HttpClient destroyed with calls in flight");
  }
}

void HttpClient::close() {
  closed_ = true;
  for (auto& [address, pool] : pools_) {
    drop_idle(*pool);
    for (const auto& [id, stream] : pool->busy) stream->close();  // their calls fail with `closed`
    pool->waiters.wake_all(runtime_.scheduler());
  }
}

size_t HttpClient::connections_open(const rt::Address& to) const {
  auto found = pools_.find(to);
  return found == pools_.end() ? 0 : found->second->open();
}

void HttpClient::drop_idle(Pool& pool) {
  for (const std::unique_ptr<Connection>& connection : pool.idle) connection->stream->close();
  pool.idle.clear();
  pool.waiters.wake_one(runtime_.scheduler());
}

void HttpClient::expire_idle(Pool& pool) {
  const rt::Instant now = runtime_.now();
  // Oldest first, so the expired ones are a prefix.
  auto fresh = std::find_if(pool.idle.begin(), pool.idle.end(), [&](const std::unique_ptr<Connection>& connection) {
    return now - connection->idle_since < config_.idle_timeout;
  });
  for (auto it = pool.idle.begin(); it != fresh; ++it) (*it)->stream->close();
  stats_.idle_expired += static_cast<uint64_t>(fresh - pool.idle.begin());
  pool.idle.erase(pool.idle.begin(), fresh);
}

void HttpClient::release(Pool& pool, std::unique_ptr<Connection> connection, bool reusable) {
  SLUICE_ASSERT(connection != nullptr);
  pool.busy.erase(connection->id);
  if (reusable && !closed_) {
    connection->idle_since = runtime_.now();
    connection->reused = true;
    pool.idle.push_back(std::move(connection));
  } else {
    connection->stream->close();
  }
  pool.waiters.wake_one(runtime_.scheduler());
}

rt::Result<std::unique_ptr<rt::Stream>> HttpClient::connect(const rt::Address& to, rt::Instant deadline) {
  const rt::Instant now = runtime_.now();
  if (now >= deadline) return rt::Status(rt::Errc::timeout, "deadline passed before connecting to " + to.to_string());
  return runtime_.connect(to, std::min<rt::Duration>(config_.connect_timeout, deadline - now));
}

// A connection to `to`: an idle one (newest first), a new one while under the per-address limit,
// or, at the limit, the first one given back before `deadline`.
rt::Result<HttpClient::Lease> HttpClient::acquire(const rt::Address& to, rt::Instant deadline) {
  std::unique_ptr<Pool>& slot = pools_[to];
  if (slot == nullptr) slot = std::make_unique<Pool>();
  Pool& pool = *slot;
  const rt::Status waited = rt::wait_until(runtime_.scheduler(), pool.waiters, deadline, [&] {
    expire_idle(pool);  // frees slots held by connections too old to reuse
    return closed_ || !pool.idle.empty() || pool.open() < config_.connections_per_address_max;
  });
  // A woken waiter that leaves without a connection hands its wake to the next one.
  auto pass_on = [&] { pool.waiters.wake_one(runtime_.scheduler()); };
  if (!waited.ok()) {
    pass_on();
    return waited.with_context("waiting for a connection to " + to.to_string());
  }
  if (closed_) return rt::Status(rt::Errc::closed, "http client closed");
  if (!pool.idle.empty()) {
    std::unique_ptr<Connection> connection = std::move(pool.idle.back());
    pool.idle.pop_back();
    ++stats_.connections_reused;
    return Lease(*this, pool, std::move(connection));
  }
  rt::Result<std::unique_ptr<rt::Stream>> stream = [&] {
    // The slot is held across the connect, and given back also when the fiber is unwound in it.
    struct Held {
      Pool& pool;
      ~Held() { --pool.connecting; }
    } held{pool};
    ++pool.connecting;
    return connect(to, deadline);
  }();
  if (!stream.ok() || closed_) {
    if (stream.ok()) (*stream)->close();
    pass_on();
    return stream.ok() ? rt::Status(rt::Errc::closed, "http client closed") : stream.status();
  }
  ++stats_.connections_opened;
  auto connection = std::make_unique<Connection>();
  connection->id = next_connection_id_++;
  connection->stream = std::move(*stream);
  return Lease(*this, pool, std::move(connection));
}

// --- one exchange ---

namespace {

// The connection broke (or ended) while sending or reading. `response_started`: some response
// byte had arrived, so the server answered and the request was not lost on a stale connection.
rt::Status broken(const rt::Status& status, bool response_started, bool client_closed) {
  switch (status.code()) {
    case rt::Errc::timeout:
    case rt::Errc::cancelled: return status;
    case rt::Errc::closed:
      if (client_closed) return rt::Status(rt::Errc::closed, "http client closed");
      break;
    default: break;
  }
  return rt::Status(rt::Errc::connection_reset, std::string(response_started ? "connection broke mid-response: "
                                                                             : "connection broke before a response: ") +
                                                    status.to_string());
}

rt::Status unreadable(const http::Status& parsed) {
  const bool too_large = parsed.code() == http::Errc::body_too_large || parsed.code() == http::Errc::header_too_large ||
                         parsed.code() == http::Errc::too_many_headers;
  return rt::Status(too_large ? rt::Errc::limit_exceeded : rt::Errc::io_error, "response refused: " + parsed.to_string());
}

}  // namespace

HttpClient::Outcome HttpClient::exchange(Connection& connection, ByteSpan wire, std::string_view method,
                                         rt::Instant deadline) {
  rt::Stream& stream = *connection.stream;
  // A connection at hand must not tempt us into sending what nobody waits for any more.
  if (runtime_.now() >= deadline) return Outcome{rt::Status(rt::Errc::timeout, "deadline passed before sending"), true};
  if (rt::Status written = stream.write(wire, deadline); !written.ok()) {
    const rt::Status status = broken(written, false, closed_);
    return Outcome{status, false, status.code() == rt::Errc::connection_reset};
  }
  ResponseLimits limits;
  limits.header_bytes_max = config_.response_header_bytes_max;
  limits.body_bytes_max = config_.response_bytes_max;
  ResponseParser parser(method, limits);
  Bytes buffer(kReadChunkBytes);
  while (!parser.complete()) {
    const bool started = parser.bytes_fed_total() > 0;
    rt::Result<size_t> read = stream.read(buffer, deadline);
    if (!read.ok()) {
      const rt::Status status = broken(read.status(), started, closed_);
      return Outcome{status, false, !started && status.code() == rt::Errc::connection_reset};
    }
    if (*read == 0) {
      if (parser.finish().ok()) break;  // a body that ran to the end of the connection
      const rt::Status status(rt::Errc::connection_reset, started ? "server closed the connection mid-response"
                                                                  : "server closed the connection before responding");
      return Outcome{status, false, !started};
    }
    if (http::Status parsed = parser.feed(ByteSpan(buffer).first(*read)); !parsed.ok()) {
      return Outcome{unreadable(parsed), false, false};
    }
  }
  return Outcome{parser.take_response(), parser.keep_alive(), false};
}

rt::Result<HttpClientResponse> HttpClient::send_with_retry(const rt::Address& to, std::string_view method, ByteSpan wire,
                                                           rt::Instant deadline) {
  for (int attempt = 0;; ++attempt) {
    SLUICE_ASSIGN_OR_RETURN(Lease lease, acquire(to, deadline));
    const bool reused = lease.connection().reused;
    Outcome outcome = exchange(lease.connection(), wire, method, deadline);
    Pool& pool = lease.pool();
    lease.release(outcome.reusable);
    if (outcome.result.ok()) {
      ++stats_.requests;
      return std::move(outcome.result);
    }
    if (!outcome.stale || !reused || attempt > 0) return outcome.result.status().with_context(to.to_string());
    // Idle connections older than the stale one most likely went the same way (the server's idle
    // timeout, or a restart): none is tried.
    drop_idle(pool);
    if (!idempotent(method)) {
      return outcome.result.status().with_context(
          to.to_string() + ": pooled connection was closed by the server; " + std::string(method) +
          " not resent, the server may have acted on it");
    }
    ++stats_.stale_retries;
  }
}

rt::Result<HttpClientResponse> HttpClient::call(const rt::Address& to, const HttpClientRequest& request,
                                                rt::Instant deadline) {
  if (closed_) return rt::Status(rt::Errc::closed, "http client closed");
  SLUICE_ASSIGN_OR_RETURN(Bytes wire, encode_request(request, to.to_string(), config_.bearer_token));
  return send_with_retry(to, request.method, wire, deadline);
}

}  // namespace sluice::client
