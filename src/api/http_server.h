// HttpServer: HTTP/1.1 with keep-alive on Boost.Beast/Asio, knowing nothing of OpenAI. Each
// request is handed to the handler as an HttpExchange, which answers it once, either whole
// (Respond) or as a chunked stream (StartStream, Write..., End), from any thread. A connection
// serves one exchange at a time, in order; while an exchange is open the server watches the
// socket and tells the exchange when the client goes away, so its work can be cancelled.
//
// Every connection runs on its own strand of one io_context served by `num_threads` threads;
// exchange methods post onto that strand, so the handler never touches a socket directly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace brisk::api {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, e.g. "/v1/models?x=1"
  std::string body;
  HttpHeaders headers;  // names lower-cased, in arrival order
  int64_t received_us = 0;  // base::NowMicros() when the whole request was read

  // The first value of header `name` (lower-case), or "" when absent.
  std::string_view Header(std::string_view name) const;
  // target without the query string.
  std::string_view path() const;
};

class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual const HttpRequest& request() const = 0;

  // Sends a complete response with Content-Length. Call at most once, and not after
  // StartStream. Thread-safe.
  virtual void Respond(int status, std::string_view content_type, std::string body,
                       HttpHeaders headers = {}) = 0;
  // Sends the status line and headers of a chunked response; Write() then sends chunks and
  // End() the last one. Thread-safe; the calls are applied in the order made.
  virtual void StartStream(int status, std::string_view content_type,
                           HttpHeaders headers = {}) = 0;
  virtual void Write(std::string data) = 0;
  virtual void End() = 0;

  // Registers `on_disconnect`, called once on a server thread if the client closes the
  // connection before the response is complete (at once if it already has). Thread-safe.
  virtual void OnDisconnect(std::function<void()> on_disconnect) = 0;
  virtual bool disconnected() const = 0;

  // Runs `fn` on the connection's strand (a server thread), in order with the calls above and
  // never concurrently with another function posted for this exchange. Thread-safe.
  virtual void Post(std::function<void()> fn) = 0;
};

using HttpHandler = std::function<void(std::shared_ptr<HttpExchange> exchange)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;        // 0: any free port (see HttpServer::port())
  int num_threads = 2;    // io threads; request parsing, tokenization and JSON run on them
  int64_t max_body_bytes = int64_t{16} << 20;  // larger bodies get 413
  // A request must arrive whole within this many seconds of the connection becoming idle;
  // otherwise the connection closes (stalled clients, idle keep-alive connections).
  double read_timeout_s = 60;
  // The body of the errors the server answers itself (400 unparsable HTTP, 413 too large),
  // given the status and a message; plain text when unset.
  std::function<std::string(int status, std::string_view message)> error_body;
  std::string error_content_type = "application/json";
};

class HttpServer {
 public:
  // Binds, listens and starts the io threads. Unavailable naming the address when the port
  // cannot be bound (in use, no permission); InvalidArgument for a bad host.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           HttpHandler handler);
  // Stops accepting, closes every connection and joins the io threads.
  ~HttpServer();

  int port() const;  // the bound port

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace brisk::api
