// A small HTTP/1.1 client for the serving load generator: URL parsing, an incremental parser
// for server-sent events, and HttpConnection, one keep-alive TCP connection that sends a GET
// or a streaming POST and hands each SSE event to the caller as its bytes arrive.
//
// Calls block the calling thread until the response is complete or the deadline passes; each
// connection runs its I/O on its own private io_context, so connections never share state and
// one thread per connection is all the concurrency there is. Only plain http:// is supported.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace brisk::loadgen {

using SteadyTime = std::chrono::steady_clock::time_point;

// "http://host:port/prefix" split into parts. `base_path` has no trailing slash ("" when the
// URL names only the server), so requests go to base_path + "/v1/...".
struct Url {
  std::string host;  // name or address; an IPv6 literal without its brackets
  uint16_t port = 80;
  std::string base_path;
};

// Parses an http:// URL. Port defaults to 80. InvalidArgument naming the problem for any other
// scheme (https included), a missing host, a bad port, or a query or fragment.
absl::StatusOr<Url> ParseUrl(std::string_view url);

// Splits a text/event-stream body into events, however its bytes are cut into pieces.
// An event ends at a blank line; its data is its `data:` lines joined by "\n" (one space after
// the colon is dropped, as the SSE spec says). Lines end in LF, CRLF or CR. Comment lines
// (":...") and other fields (event:, id:, retry:) are ignored, and so is an event with no
// data line. Not thread-safe; one parser per response.
class SseParser {
 public:
  using EventCallback = std::function<void(std::string_view data)>;

  // Consumes `bytes` and calls `on_event` for every event that they complete, in order.
  void Feed(std::string_view bytes, const EventCallback& on_event);

 private:
  void EndLine(const EventCallback& on_event);

  std::string line_;   // bytes of the current, unfinished line
  std::string data_;   // data of the current event so far
  bool has_data_ = false;
  bool last_was_cr_ = false;  // an LF right after a CR belongs to the same line end
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

// The outcome of a streaming POST that got an HTTP response. For status 200 the body went to
// the event callback and `body` is empty; otherwise `body` holds (up to 64 KiB of) the body.
struct StreamResponse {
  int status = 0;
  std::string body;
};

// One keep-alive connection to one server. It connects on first use, reconnects after the
// server or an error closes it, and retries a request once on a fresh connection when a
// reused one turns out to be closed before any response byte arrived.
// Not thread-safe: one thread uses a connection at a time.
class HttpConnection {
 public:
  explicit HttpConnection(Url url);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // GET base_path + path. Returns the response whatever its status. Unavailable for
  // resolution, connection and I/O errors; DeadlineExceeded when `deadline` passes first.
  absl::StatusOr<HttpResponse> Get(std::string_view path, SteadyTime deadline);

  // POST `json_body` to base_path + path, asking for text/event-stream. When the status is 200
  // the body is read as it arrives and each SSE event's data is passed to `on_event` on the
  // calling thread, at most a read's worth of bytes after it reached the socket (so the caller
  // may timestamp it); the call returns once the whole body has been read. Errors as Get();
  // an error after some events were delivered still returns the error.
  absl::StatusOr<StreamResponse> PostStream(std::string_view path, std::string json_body,
                                            const SseParser::EventCallback& on_event,
                                            SteadyTime deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brisk::loadgen
