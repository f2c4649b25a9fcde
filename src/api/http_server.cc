// Layout of one connection (all on its strand):
//
//   DoRead ─► OnRead ─► handler(exchange) ─► Respond | StartStream, Write..., End
//     ▲         │ ArmWatch: async_wait(read) on the idle socket; a readable socket with
//     │         │ nothing to peek means the client left: the exchange's OnDisconnect fires
//     └─ OnWrite: queue drained and the response complete ─► keep-alive ? DoRead : close
#include "api/http_server.h"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <deque>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/clock.h"
#include "base/logging.h"

namespace brisk::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// Requests larger than this in their header block get 400: no client of ours sends more.
constexpr uint32_t kMaxHeaderBytes = 64 << 10;
// A refused body is read and dropped up to this much before the connection closes.
constexpr int64_t kLingerBytes = int64_t{64} << 20;

std::string StatusLine(int status) {
  const beast::string_view reason = http::obsolete_reason(http::int_to_status(status));
  return absl::StrCat("HTTP/1.1 ", status, " ", std::string(reason), "\r\n");
}

std::string HeaderBlock(int status, std::string_view content_type, const HttpHeaders& headers,
                        bool keep_alive) {
  std::string out = StatusLine(status);
  absl::StrAppend(&out, "Content-Type: ", std::string(content_type), "\r\n");
  absl::StrAppend(&out, "Connection: ", keep_alive ? "keep-alive" : "close", "\r\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  return out;
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return {};
}

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

class Session;

struct ServerShared {
  HttpServerOptions options;
  HttpHandler handler;
};

class Exchange final : public HttpExchange {
 public:
  Exchange(std::shared_ptr<Session> session, uint64_t seq, HttpRequest request)
      : session_(std::move(session)), seq_(seq), request_(std::move(request)) {}
  const HttpRequest& request() const override { return request_; }
  void Respond(int status, std::string_view content_type, std::string body,
               HttpHeaders headers) override;
  void StartStream(int status, std::string_view content_type, HttpHeaders headers) override;
  void Write(std::string data) override;
  void End() override;
  void OnDisconnect(std::function<void()> on_disconnect) override;
  bool disconnected() const override { return disconnected_.load(); }
  void Post(std::function<void()> fn) override;

  std::atomic<bool> disconnected_{false};

 private:
  std::shared_ptr<Session> session_;
  const uint64_t seq_;
  const HttpRequest request_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const ServerShared> shared)
      : socket_(std::move(socket)), shared_(std::move(shared)) {}

  void Start() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
  }

  // Runs `fn` on this connection's strand.
  template <typename Fn>
  void Post(Fn&& fn) {
    net::post(socket_.get_executor(), std::forward<Fn>(fn));
  }

  // The following run on the strand. `seq` names the exchange a call comes from; calls from
  // an exchange that is over are ignored.
  void Respond(uint64_t seq, int status, std::string_view content_type, std::string body,
               const HttpHeaders& headers) {
    if (!Current(seq)) return;
    BRISK_CHECK(!stream_started_) << "Respond after StartStream";
    std::string out = HeaderBlock(status, content_type, headers, keep_alive_);
    absl::StrAppend(&out, "Content-Length: ", body.size(), "\r\n\r\n");
    out += body;
    Enqueue(std::move(out), /*completes=*/true);
  }
  void StartStream(uint64_t seq, int status, std::string_view content_type,
                   const HttpHeaders& headers) {
    if (!Current(seq)) return;
    BRISK_CHECK(!stream_started_) << "StartStream twice";
    stream_started_ = true;
    std::string out = HeaderBlock(status, content_type, headers, keep_alive_);
    out += "Transfer-Encoding: chunked\r\n\r\n";
    Enqueue(std::move(out), false);
  }
  void Write(uint64_t seq, std::string data) {
    if (!Current(seq) || data.empty()) return;  // an empty chunk would end the stream
    BRISK_CHECK(stream_started_) << "Write before StartStream";
    std::string out = absl::StrCat(absl::Hex(data.size()), "\r\n");
    out += data;
    out += "\r\n";
    Enqueue(std::move(out), false);
  }
  void End(uint64_t seq) {
    if (!Current(seq)) return;
    BRISK_CHECK(stream_started_) << "End before StartStream";
    Enqueue("0\r\n\r\n", true);
  }
  void SetOnDisconnect(uint64_t seq, std::function<void()> fn) {
    if (seq != seq_) return;
    if (exchange_ != nullptr && exchange_->disconnected()) {
      fn();
    } else {
      on_disconnect_ = std::move(fn);
    }
  }

 private:
  bool Current(uint64_t seq) const { return seq == seq_ && !response_complete_ && !closed_; }

  // Reads the next request: the header first, so that a client waiting for "100 Continue" gets
  // it (or the 413) before sending its body. The whole request must arrive within
  // read_timeout_s, which also closes idle keep-alive connections and stalled clients.
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(static_cast<uint64_t>(shared_->options.max_body_bytes));
    parser_->header_limit(kMaxHeaderBytes);
    ArmReadTimer();
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void ArmReadTimer() {
    read_timer_.expires_after(std::chrono::milliseconds(
        static_cast<int64_t>(shared_->options.read_timeout_s * 1000)));
    reading_ = true;
    read_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && self->reading_) self->Close();  // the pending read fails: operation_aborted
    });
  }

  void OnHeader(error_code ec) {
    if (ec) return OnRead(ec);
    auto continue_body = [self = shared_from_this()] {
      http::async_read(self->socket_, self->buffer_, *self->parser_,
                       [self](error_code ec, size_t) { self->OnRead(ec); });
    };
    const std::string expect =
        absl::AsciiStrToLower(std::string(parser_->get()[http::field::expect]));
    if (expect == "100-continue" && !parser_->is_done()) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                       [continue_body](error_code ec, size_t) {
                         if (!ec) continue_body();
                       });
      return;
    }
    continue_body();
  }

  void OnRead(error_code ec) {
    reading_ = false;
    read_timer_.cancel();
    if (ec == http::error::body_limit) {
      return RespondAndClose(413, absl::StrCat("the request body is larger than the limit of ",
                                               shared_->options.max_body_bytes, " bytes"));
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return Close();
    }
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category()) {  // malformed
        return RespondAndClose(400, absl::StrCat("malformed HTTP request: ", ec.message()));
      }
      return Close();
    }
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.body = std::move(msg.body());
    for (const auto& field : msg) {
      req.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                               std::string(field.value()));
    }
    req.received_us = base::NowMicros();
    keep_alive_ = msg.keep_alive();
    ++seq_;
    stream_started_ = false;
    response_complete_ = false;
    on_disconnect_ = nullptr;
    exchange_ = std::make_shared<Exchange>(shared_from_this(), seq_, std::move(req));
    ArmWatch();
    shared_->handler(exchange_);
  }

  // Watches the idle read side while the exchange runs: readable with nothing to read = EOF.
  void ArmWatch() {
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this(), seq = seq_](error_code ec) {
                         self->OnWatch(ec, seq);
                       });
  }

  void OnWatch(error_code ec, uint64_t seq) {
    if (ec || seq != seq_ || response_complete_ || closed_) return;
    char c;
    const ssize_t n = ::recv(socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      ArmWatch();  // spurious wake-up
      return;
    }
    if (n > 0) return;  // a pipelined request waits: the client is there
    PeerGone();
  }

  void PeerGone() {
    if (exchange_ != nullptr && !response_complete_) {
      exchange_->disconnected_ = true;
      if (on_disconnect_) std::exchange(on_disconnect_, nullptr)();
    }
    Close();
  }

  void Enqueue(std::string bytes, bool completes) {
    queue_.push_back(std::move(bytes));
    if (completes) response_complete_ = true;
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    writing_ = true;
    net::async_write(socket_, net::buffer(queue_.front()),
                     [self = shared_from_this()](error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(error_code ec) {
    queue_.pop_front();
    if (ec) {
      // The client cannot be written to any more: it is gone for the exchange too.
      response_complete_ = false;
      return PeerGone();
    }
    if (!queue_.empty()) return DoWrite();
    writing_ = false;
    if (!response_complete_ || closed_) return;
    exchange_.reset();
    on_disconnect_ = nullptr;
    if (keep_alive_) {
      DoRead();
    } else {
      Linger();
    }
  }

  // Closes after a response without keep-alive. The client may still be sending (a body we
  // refused with 413): closing at once would reset the connection and could destroy the
  // response before the client reads it, so the rest is read and dropped first, for at most
  // kLingerBytes or the read timeout.
  void Linger() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    ArmReadTimer();
    DiscardInput();
  }

  void DiscardInput() {
    socket_.async_read_some(net::buffer(discard_), [self = shared_from_this()](error_code ec,
                                                                                size_t n) {
      self->num_discarded_ += n;
      if (ec || self->num_discarded_ > kLingerBytes) {
        self->read_timer_.cancel();
        return self->Close();
      }
      self->DiscardInput();
    });
  }

  void RespondAndClose(int status, const std::string& message) {
    keep_alive_ = false;
    ++seq_;
    stream_started_ = false;
    response_complete_ = false;
    const auto& o = shared_->options;
    const bool json = static_cast<bool>(o.error_body);
    Respond(seq_, status, json ? o.error_content_type : "text/plain",
            json ? o.error_body(status, message) : message + "\n", {});
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    read_timer_.cancel();
    exchange_.reset();  // breaks the session <-> exchange cycle; the handler may hold its own
    on_disconnect_ = nullptr;
    error_code ignored;
    socket_.close(ignored);
  }

  tcp::socket socket_;
  std::shared_ptr<const ServerShared> shared_;
  net::steady_timer read_timer_{socket_.get_executor()};
  std::array<char, 16384> discard_;
  int64_t num_discarded_ = 0;
  bool reading_ = false;  // a read is pending under read_timer_
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // The current exchange.
  uint64_t seq_ = 0;
  std::shared_ptr<Exchange> exchange_;
  std::function<void()> on_disconnect_;
  bool keep_alive_ = true;
  bool stream_started_ = false;
  bool response_complete_ = false;
  // Writes.
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closed_ = false;
};

void Exchange::Respond(int status, std::string_view content_type, std::string body,
                       HttpHeaders headers) {
  session_->Post([s = session_, seq = seq_, status, ct = std::string(content_type),
                  b = std::move(body), h = std::move(headers)]() mutable {
    s->Respond(seq, status, ct, std::move(b), h);
  });
}

void Exchange::StartStream(int status, std::string_view content_type, HttpHeaders headers) {
  session_->Post([s = session_, seq = seq_, status, ct = std::string(content_type),
                  h = std::move(headers)] { s->StartStream(seq, status, ct, h); });
}

void Exchange::Write(std::string data) {
  session_->Post([s = session_, seq = seq_, d = std::move(data)]() mutable {
    s->Write(seq, std::move(d));
  });
}

void Exchange::End() {
  session_->Post([s = session_, seq = seq_] { s->End(seq); });
}

void Exchange::OnDisconnect(std::function<void()> on_disconnect) {
  session_->Post([s = session_, seq = seq_, fn = std::move(on_disconnect)]() mutable {
    s->SetOnDisconnect(seq, std::move(fn));
  });
}

void Exchange::Post(std::function<void()> fn) { session_->Post(std::move(fn)); }

struct HttpServer::Impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::shared_ptr<const ServerShared> shared;
  std::vector<std::thread> threads;
  int port = 0;

  void DoAccept() {
    acceptor.async_accept(net::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // tokens go out as they come
        std::make_shared<Session>(std::move(socket), shared)->Start();
      } else {
        BRISK_LOG(kWarning) << "accept failed: " << ec.message();
      }
      DoAccept();
    });
  }
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              HttpHandler handler) {
  if (options.num_threads < 1 || options.max_body_bytes < 1) {
    return absl::InvalidArgumentError("HTTP server needs num_threads >= 1 and max_body_bytes >= 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->shared = std::make_shared<ServerShared>(ServerShared{options, std::move(handler)});
  error_code ec;
  const net::ip::address address = net::ip::make_address(options.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on host '", options.host, "': not an IP address"));
  }
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(options.port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.host, ":",
                                               options.port, ": ", ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->DoAccept();
  for (int i = 0; i < options.num_threads; ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] { ioc->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  net::post(impl_->ioc, [impl = impl_.get()] {
    error_code ignored;
    impl->acceptor.close(ignored);
  });
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads) t.join();
}

int HttpServer::port() const { return impl_->port; }

}  // namespace brisk::api
