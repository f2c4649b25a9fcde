// HttpConnection on Boost.Beast. Every call starts one asynchronous Beast operation on the
// connection's private io_context and runs that context until the operation completes: the
// caller sees a blocking call, and beast::tcp_stream's expiry gives every connect, write and
// read a deadline (plain blocking sockets have no portable read timeout under Asio).
#include "bench/serve/http_client.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace brisk::loadgen {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::string_view kScheme = "http://";

// This abseil build has its own string_view type; convert at the calls into absl.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
// Error bodies are for a person to read; keeping more than this only bloats the report.
constexpr size_t kMaxErrorBodyBytes = 64 * 1024;
// Per-read scratch buffer. An SSE token event is ~100-300 bytes, so one read usually holds
// every event that has arrived; the size only bounds how much is handed over per call.
constexpr size_t kReadChunkBytes = 16 * 1024;

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

absl::Status BadUrl(std::string_view url, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("bad URL \"", Sv(url), "\": ", Sv(why)));
}

// True for the errors a keep-alive connection gives when the server closed it while idle.
bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted;
}

}  // namespace

absl::StatusOr<Url> ParseUrl(std::string_view url) {
  if (!StartsWithNoCase(url, kScheme)) {
    if (url.find("://") != std::string_view::npos) {
      return BadUrl(url, "only http:// URLs are supported (no TLS); use http://host:port");
    }
    return BadUrl(url, "expected http://host:port");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return BadUrl(url, "a query or fragment is not allowed");
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return BadUrl(url, "user names in URLs are not supported");
  }
  Url out;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl(url, "unterminated [IPv6 address]");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return BadUrl(url, "expected :port after ]");
      port_text = after.substr(1);
      if (port_text.empty()) return BadUrl(url, "empty port");
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return BadUrl(url, "empty port");
    }
  }
  if (out.host.empty()) return BadUrl(url, "missing host");
  if (!port_text.empty()) {
    uint32_t port = 0;
    const bool digits = std::all_of(port_text.begin(), port_text.end(),
                                    [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || !absl::SimpleAtoi(Sv(port_text), &port) || port == 0 || port > 65535) {
      return BadUrl(url, absl::StrCat("port must be 1-65535, got \"", Sv(port_text), "\""));
    }
    out.port = static_cast<uint16_t>(port);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.base_path = std::string(path);
  return out;
}

// ---------------------------------------------------------------------------------------------
// SseParser

void SseParser::Feed(std::string_view bytes, const EventCallback& on_event) {
  for (const char c : bytes) {
    if (c == '\n' && last_was_cr_) {  // second half of a CRLF
      last_was_cr_ = false;
      continue;
    }
    last_was_cr_ = c == '\r';
    if (c == '\n' || c == '\r') {
      EndLine(on_event);
    } else {
      line_.push_back(c);
    }
  }
}

void SseParser::EndLine(const EventCallback& on_event) {
  if (line_.empty()) {  // blank line: the event is complete
    if (has_data_) on_event(data_);
    data_.clear();
    has_data_ = false;
    return;
  }
  std::string_view line = line_;
  if (line.front() != ':') {  // lines starting with ':' are comments
    const size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
      if (has_data_) data_.push_back('\n');
      data_.append(value);
      has_data_ = true;
    }
  }
  line_.clear();
}

// ---------------------------------------------------------------------------------------------
// HttpConnection

struct HttpConnection::Impl {
  explicit Impl(Url u) : url(std::move(u)), stream(ioc) {}

  // Starts one async operation via `initiate(handler)` and runs the io_context until it is
  // done; returns the operation's error code.
  template <typename Initiate>
  beast::error_code Run(Initiate&& initiate) {
    beast::error_code result;
    initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  std::string Endpoint() const {
    const bool v6 = url.host.find(':') != std::string::npos;
    return v6 ? absl::StrCat("[", url.host, "]:", url.port) : absl::StrCat(url.host, ":", url.port);
  }

  absl::Status ErrorStatus(std::string_view what, const beast::error_code& ec) const {
    if (ec == beast::error::timeout) {
      return absl::DeadlineExceededError(absl::StrCat(Sv(what), " ", Endpoint(), ": timed out"));
    }
    return absl::UnavailableError(absl::StrCat(Sv(what), " ", Endpoint(), ": ", ec.message()));
  }

  void Close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    buffer.clear();
    open = false;
  }

  absl::Status Connect(SteadyTime deadline) {
    beast::error_code ec;
    if (endpoints.empty()) {
      tcp::resolver resolver(ioc);
      endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
      if (ec) return ErrorStatus("cannot resolve", ec);
    }
    stream.expires_at(deadline);
    ec = Run([&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
    if (ec) {
      Close();
      return ErrorStatus("cannot connect to", ec);
    }
    stream.socket().set_option(tcp::no_delay(true), ec);  // small requests, send at once
    buffer.clear();
    open = true;
    return absl::OkStatus();
  }

  http::request<http::string_body> MakeRequest(http::verb verb, std::string_view path,
                                               std::string body) const {
    http::request<http::string_body> req{verb, absl::StrCat(url.base_path, Sv(path)), 11};
    req.set(http::field::host, Endpoint());
    req.set(http::field::user_agent, "brisk-bench-serve");
    req.keep_alive(true);
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.set(http::field::accept, "text/event-stream");
      req.body() = std::move(body);
      req.prepare_payload();
    }
    return req;
  }

  // Sends `req` and reads the response header into a fresh `parser`, reconnecting as needed
  // and retrying once when a reused connection proves to have been closed by the server.
  template <typename Body>
  absl::Status SendAndReadHeader(const http::request<http::string_body>& req,
                                 std::optional<http::response_parser<Body>>& parser,
                                 SteadyTime deadline) {
    for (int attempt = 0;; ++attempt) {
      const bool reused = open;
      if (!open) BRISK_RETURN_IF_ERROR(Connect(deadline));
      stream.expires_at(deadline);
      parser.emplace();
      // No body limit. Not boost::none: Beast 1.74 compares a Content-Length against the
      // optional limit directly, and every length compares greater than an empty optional.
      parser->body_limit(std::numeric_limits<std::uint64_t>::max());
      beast::error_code ec =
          Run([&](auto handler) { http::async_write(stream, req, std::move(handler)); });
      if (!ec) {
        ec = Run([&](auto handler) {
          http::async_read_header(stream, buffer, *parser, std::move(handler));
        });
      }
      if (!ec) return absl::OkStatus();
      Close();
      if (!(reused && attempt == 0 && IsStaleConnectionError(ec))) {
        return ErrorStatus("request to", ec);
      }
    }
  }

  // Reads the rest of the body of `parser`'s message, handing each piece to `on_bytes` as it
  // arrives. Closes the connection afterwards unless the server keeps it alive.
  absl::Status ReadBody(http::response_parser<http::buffer_body>& parser,
                        const std::function<void(std::string_view)>& on_bytes) {
    char chunk[kReadChunkBytes];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof(chunk);
      beast::error_code ec = Run([&](auto handler) {
        http::async_read_some(stream, buffer, parser, std::move(handler));
      });
      if (ec == http::error::need_buffer) ec = {};  // chunk full: not an error
      if (ec) {
        Close();
        return ErrorStatus("reading the response from", ec);
      }
      const size_t num_bytes = sizeof(chunk) - parser.get().body().size;
      if (num_bytes > 0) on_bytes(std::string_view(chunk, num_bytes));
    }
    if (!parser.keep_alive()) Close();
    return absl::OkStatus();
  }

  // Constant after construction.
  const Url url;
  // I/O state, used by one thread at a time.
  net::io_context ioc;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  tcp::resolver::results_type endpoints;
  bool open = false;
};

HttpConnection::HttpConnection(Url url) : impl_(std::make_unique<Impl>(std::move(url))) {}

HttpConnection::~HttpConnection() {
  if (impl_->open) impl_->Close();
}

absl::StatusOr<HttpResponse> HttpConnection::Get(std::string_view path, SteadyTime deadline) {
  const auto req = impl_->MakeRequest(http::verb::get, path, "");
  std::optional<http::response_parser<http::buffer_body>> parser;
  BRISK_RETURN_IF_ERROR(impl_->SendAndReadHeader(req, parser, deadline));
  HttpResponse response;
  response.status = static_cast<int>(parser->get().result_int());
  BRISK_RETURN_IF_ERROR(impl_->ReadBody(
      *parser, [&](std::string_view bytes) { response.body.append(bytes); }));
  return response;
}

absl::StatusOr<StreamResponse> HttpConnection::PostStream(
    std::string_view path, std::string json_body, const SseParser::EventCallback& on_event,
    SteadyTime deadline) {
  const auto req = impl_->MakeRequest(http::verb::post, path, std::move(json_body));
  std::optional<http::response_parser<http::buffer_body>> parser;
  BRISK_RETURN_IF_ERROR(impl_->SendAndReadHeader(req, parser, deadline));
  StreamResponse response;
  response.status = static_cast<int>(parser->get().result_int());
  if (response.status != 200) {
    BRISK_RETURN_IF_ERROR(impl_->ReadBody(*parser, [&](std::string_view bytes) {
      const size_t room = kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, response.body.size());
      response.body.append(bytes.substr(0, room));
    }));
    return response;
  }
  SseParser sse;
  BRISK_RETURN_IF_ERROR(
      impl_->ReadBody(*parser, [&](std::string_view bytes) { sse.Feed(bytes, on_event); }));
  return response;
}

}  // namespace brisk::loadgen
